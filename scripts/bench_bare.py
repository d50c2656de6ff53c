"""The reference app for ``scripts/bench.py``: bare Flask, one constant route.

Served by gunicorn with exactly the settings the portal gets, so the ratio of the
two request rates shows what the portal itself costs per request.
"""

from flask import Flask

app = Flask(__name__)


@app.get("/")
def hello() -> str:
    return "ok"
