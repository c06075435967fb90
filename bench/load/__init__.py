"""The LIMS under concurrent load: gunicorn on the lab's database, driven by locust (see ``bench.load.run``)."""
