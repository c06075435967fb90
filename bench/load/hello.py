"""The baseline the load test compares with: a hello-world Flask app, served by gunicorn as the LIMS is."""

from __future__ import annotations

from flask import Flask

app = Flask(__name__)


@app.route("/")
def hello() -> str:
    return "Hello, lab."
