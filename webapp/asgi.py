"""ASGI entry point for servers that load the app by import string (`granian webapp.asgi:app --factory`).

Settings come from the environment, which `perpvol web` fills from the resolved settings (embedded
database and Redis URLs included) before starting the server.
"""

from __future__ import annotations

from core.lifeline import watch_parent
from core.settings import load_settings
from webapp.app import create_asgi
from webapp.collector import tune_for_serving
from webapp.views.public import ASGIApp


def app() -> ASGIApp:
    # Each server worker process builds the app here: it stops when `perpvol web` is gone.
    watch_parent()
    asgi = create_asgi(load_settings())
    tune_for_serving()
    return asgi
