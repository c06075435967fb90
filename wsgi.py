"""WSGI entry point: `gunicorn wsgi:app` or `flask --app wsgi run`."""

from lims import log_setup
from lims.app import create_app

log_setup.log_to_stderr()
app = create_app()
