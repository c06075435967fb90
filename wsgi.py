"""WSGI entry point: `gunicorn wsgi:app` or `flask --app wsgi run`."""
from lims import create_app, security_log

security_log.log_to_stderr()
app = create_app()
