"""The named Flask-Assets bundles: one cache-busted CSS file and one JS file."""
from __future__ import annotations

from flask_assets import Bundle

# Vendored files are already minified; only our own code goes through rjsmin.
js_app = Bundle(
    "vendor/htmx/htmx.min.js",
    "vendor/signature_pad/signature_pad.umd.min.js",
    Bundle("js/app.js", filters="rjsmin"),
    output="gen/app.%(version)s.js",
)
css_app = Bundle("css/app.css", filters="rcssmin", output="gen/app.%(version)s.css")

BUNDLES = {"js_app": js_app, "css_app": css_app}
