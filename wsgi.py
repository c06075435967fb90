"""WSGI entry point: `gunicorn wsgi:app` or `flask --app wsgi run`."""
from lims import create_app, log_setup

log_setup.log_to_stderr()
app = create_app()
