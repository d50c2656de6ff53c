"""Fixtures for the real-browser tests: a live server and a Chromium driven by Playwright.

The browser is Debian's Chromium (``/usr/bin/chromium``, or ``CHROMIUM_PATH``); Playwright's
own browser downloads are never used. When the browser or Playwright is missing the tests
are skipped, unless ``REQUIRE_BROWSER=1`` (CI), where a missing browser is a failure.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import pytest

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

# A phone: 390x844 CSS pixels at 2x, touch, mobile layout.
PHONE = dict(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True, has_touch=True)


def _unavailable(reason: str):
    """Skip, or fail when the run demands a browser (``REQUIRE_BROWSER=1``)."""
    if os.environ.get("REQUIRE_BROWSER") == "1":
        pytest.fail(f"REQUIRE_BROWSER=1 but the browser tests cannot run: {reason}", pytrace=False)
    pytest.skip(f"browser tests skipped: {reason}")


def _chromium_path() -> str:
    return os.environ.get("CHROMIUM_PATH") or "/usr/bin/chromium"


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = _chromium_path()
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        _unavailable(f"no Chromium executable at {path} (set CHROMIUM_PATH)")
    return path


@pytest.fixture(scope="session")
def browser(chromium_path):
    """One headless Chromium for the whole session."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        _unavailable(f"playwright is not importable ({exc})")
    manager = sync_playwright()
    playwright = manager.start()
    try:
        try:
            chromium = playwright.chromium.launch(executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS)
        except Exception as exc:  # a broken or incompatible Chromium
            _unavailable(f"Chromium at {chromium_path} did not start: {exc}")
        yield chromium
        chromium.close()
    finally:
        manager.__exit__(None, None, None)


# --- the live server ------------------------------------------------------------


class LiveServer:
    def __init__(self, app):
        from werkzeug.serving import make_server

        # Port 0: the OS picks a free port, with no window for another process to take it.
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.host = "127.0.0.1"
        self.port = self.server.server_port
        self.url = f"http://{self.host}:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, name="live-server", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


@pytest.fixture(scope="session")
def _live_server_process(app, browser) -> Iterator[LiveServer]:
    server = LiveServer(app)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def live_server(app, _live_server_process) -> Iterator[LiveServer]:
    """The running app; email links point at it (``BASE_URL``) and CSRF is on, as in production."""
    overrides = {"BASE_URL": _live_server_process.url, "WTF_CSRF_ENABLED": True}
    saved = {key: app.config[key] for key in overrides}
    app.config.update(overrides)
    yield _live_server_process
    app.config.update(saved)


# --- pages that watch what they do -------------------------------------------------


@dataclass
class PageWatch:
    """Requests to other hosts, CSP complaints and uncaught errors seen by a page."""

    origin: str
    foreign_requests: list[str] = field(default_factory=list)
    csp_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    def on_request(self, request) -> None:
        url = request.url
        if urlsplit(url).scheme in ("data", "blob", "about"):
            return
        parts = urlsplit(url)
        if f"{parts.scheme}://{parts.netloc}" != self.origin:
            self.foreign_requests.append(url)

    def on_console(self, message) -> None:
        text = message.text
        if "content-security-policy" in text.lower() or "content security policy" in text.lower():
            self.csp_errors.append(f"{message.type}: {text}")

    def assert_clean(self) -> None:
        assert not self.foreign_requests, f"requests left the live server: {self.foreign_requests}"
        assert not self.csp_errors, f"Content-Security-Policy complaints: {self.csp_errors}"
        assert not self.page_errors, f"uncaught errors in the page: {self.page_errors}"


def watch(page, origin: str) -> PageWatch:
    watcher = PageWatch(origin)
    page.on("request", watcher.on_request)
    page.on("console", watcher.on_console)
    page.on("pageerror", lambda error: watcher.page_errors.append(str(error)))
    return watcher


@pytest.fixture
def new_context(browser, live_server):
    """``new_context(**options)``: a fresh browser context (own cookies), closed after the test."""
    contexts = []

    def make_context(**options):
        options.setdefault("base_url", live_server.url)
        context = browser.new_context(**options)
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context

    yield make_context
    for context in contexts:
        context.close()


def staff_login(page, user, password: str | None = None) -> None:
    """Sign a staff member in through the real login form and wait for the admin area."""
    import re

    from tests.factories import PASSWORD

    page.goto("/admin/login")
    page.fill("#email", user.email)
    page.fill("#password", password or PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/admin/"))


# --- touch ---------------------------------------------------------------------------


def touch_draw(page, strokes, steps: int = 6) -> None:
    """Draw ``strokes`` (lists of (x, y) viewport points) with real touch events.

    Chromium's DevTools protocol (``Input.dispatchTouchEvent``) feeds the touches through
    the same input pipeline a finger uses: the page receives touch events and the pointer
    events derived from them (``pointerType == "touch"``), and the browser's own gesture
    handling applies, so a canvas without ``touch-action: none`` gets a scroll and a
    ``pointercancel`` instead of a stroke. ``page.mouse`` would bypass all of that.
    Each segment is split into ``steps`` moves, as a finger reports many small ones.
    """
    session = page.context.new_cdp_session(page)
    try:
        for stroke in strokes:
            points = [(float(x), float(y)) for x, y in stroke]
            assert points, "a stroke needs at least one point"

            def send(kind: str, point=None) -> None:
                touch = (
                    []
                    if point is None
                    else [{"x": point[0], "y": point[1], "id": 1, "radiusX": 4, "radiusY": 4, "force": 0.5}]
                )
                session.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": touch})

            send("touchStart", points[0])
            previous = points[0]
            for point in points[1:]:
                for step in range(1, steps + 1):
                    fraction = step / steps
                    send(
                        "touchMove",
                        (
                            previous[0] + (point[0] - previous[0]) * fraction,
                            previous[1] + (point[1] - previous[1]) * fraction,
                        ),
                    )
                previous = point
            send("touchEnd")
    finally:
        session.detach()
