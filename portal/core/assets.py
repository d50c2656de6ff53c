"""The named Flask-Assets bundles: one cache-busted CSS file and one JS file.

Bundles are built (only if their sources changed) when the app starts, and their
URLs are resolved once per process: asking webassets on every render costs more
than the rest of a small page. With ``ASSETS_DEBUG_REBUILD`` (the Flask debug
server) they are re-checked on every request, so an edited CSS file shows at once.
"""

from __future__ import annotations

from flask import Flask, current_app
from flask_assets import Bundle

from portal.core.extensions import assets

# Vendored files are already minified; only our own code goes through rjsmin.
js_app = Bundle(
    "vendor/htmx/htmx.min.js",
    "vendor/signature_pad/signature_pad.umd.min.js",
    Bundle("js/app.js", filters="rjsmin"),
    output="gen/app.%(version)s.js",
)
# The staff pipeline board's drag (touch included): its own bundle, loaded by the board
# page only, so no portal page carries it.
js_board = Bundle(
    "vendor/sortablejs/Sortable.min.js",
    Bundle("js/board.js", filters="rjsmin"),
    output="gen/board.%(version)s.js",
)
css_app = Bundle("css/app.css", filters="rcssmin", output="gen/app.%(version)s.css")

BUNDLES = {"js_app": js_app, "js_board": js_board, "css_app": css_app}


def init_assets(app: Flask) -> None:
    assets.init_app(app)
    for name, bundle in BUNDLES.items():
        if name not in assets:
            assets.register(name, bundle)
    app.extensions["asset_urls"] = {}
    app.add_template_global(asset_url)


def asset_url(name: str) -> str:
    """The cache-busted URL of a bundle, built on first use in this process."""
    urls = current_app.extensions["asset_urls"]
    if name not in urls or current_app.debug:
        bundle = assets[name]
        with current_app.app_context():
            urls[name] = bundle.urls()[0]
    return urls[name]
