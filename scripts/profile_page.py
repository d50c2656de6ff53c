#!/usr/bin/env python
"""Where a portal proposal page view spends its time, in process (pyinstrument).

    python scripts/profile_page.py [--requests 2000] [--toggle] [--html out.html]

A throw-away instance (temporary INSTANCE_PATH, SQLite) with the benchmark's proposal
(20 lines, 5 optional), opened through its portal link; then the page (or, with
``--toggle``, the option toggle) is requested N times through the WSGI app with the
same cookies and headers a phone sends, under pyinstrument. Prints the share of time
per part: the access query, session and CSRF, compression, rendering, Flask itself.
A report, not a test; run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))


# (part, test on a frame): a sample belongs to the innermost frame on its stack that
# matches a part; what matches none is Flask's and Werkzeug's own request work.
PARTS = (
    ("Flask and Werkzeug request work (routing, contexts, response)", lambda f: f.function == "wsgi_app"),
    ("access query (contacts, stamp, page key)", lambda f: "portal/access/contacts.py" in (f.file_path or "")),
    ("access query (contacts, stamp, page key)", lambda f: f.function == "page_key"),
    ("session decode", lambda f: f.function == "open_session"),
    ("session save", lambda f: f.function == "save_session"),
    ("CSRF token and check", lambda f: "flask_wtf/csrf" in (f.file_path or "")),
    ("compression", lambda f: "flask_compress" in (f.file_path or "") or (f.file_path or "").endswith("gzip.py")),
    ("Babel locale and time zone", lambda f: "flask_babel" in (f.file_path or "")),
    ("render cache hit (pagecache)", lambda f: "portal/core/pagecache.py" in (f.file_path or "")),
    ("security headers", lambda f: "portal/core/security.py" in (f.file_path or "")),
    (
        "SQLAlchemy session and connection",
        lambda f: f.function in {"connection", "remove", "close"} and "sqlalchemy" in (f.file_path or ""),
    ),
    ("test client (not in a real server)", lambda f: "werkzeug/test.py" in (f.file_path or "")),
)


def print_breakdown(root, requests: int) -> None:
    """Share of the profiled time per part of a request."""
    totals: dict[str, float] = {}

    def walk(frame, part: str) -> None:
        for name, test in PARTS:
            if test(frame):
                part = name
                break
        totals[part] = totals.get(part, 0.0) + frame.total_self_time
        for child in frame.children:
            walk(child, part)

    walk(root, "test client (not in a real server)")
    client = totals.pop("test client (not in a real server)", 0.0)
    whole = sum(totals.values()) or 1.0
    print(f"{requests} requests, {whole / requests * 1e6:.0f} us each in the app, profiled")
    print(f"(the test client's own {client / requests * 1e6:.0f} us each are left out)")
    for name, seconds in sorted(totals.items(), key=lambda item: -item[1]):
        print(f"  {100 * seconds / whole:5.1f} %  {name}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--toggle", action="store_true")
    parser.add_argument("--html")
    parser.add_argument("--tree", action="store_true", help="also print pyinstrument's call tree")
    args = parser.parse_args()
    os.environ["INSTANCE_PATH"] = tempfile.mkdtemp(prefix="porchlight-profile-")
    os.environ.setdefault("BASE_URL", "http://127.0.0.1:5000")
    import bench
    from pyinstrument import Profiler

    info = bench.prepare_instance()
    from portal import create_app

    app = create_app()
    client = app.test_client()
    opened = client.get(f"/l/{info['token']}")
    page_url = opened.headers["Location"]
    page = client.get(page_url, headers={"Accept-Encoding": "gzip"})
    assert page.status_code == 200, page.status_code
    html = client.get(page_url).get_data(as_text=True)
    import re

    token = re.search(r'"X-CSRFToken": "([^"]+)"', html) or re.search(r'name="csrf_token" value="([^"]+)"', html)
    toggle_url = re.search(r'hx-post="([^"]*/options)"', html)
    headers = {"Accept-Encoding": "gzip", "User-Agent": "Mozilla/5.0 (iPhone)"}
    if args.toggle:
        assert toggle_url and token, "no toggle on the page"
        headers.update({"HX-Request": "true", "X-CSRFToken": token.group(1)})

        def one():
            client.post(toggle_url.group(1), data={"option": info["options"][:2]}, headers=headers)
    else:

        def one():
            client.get(page_url, headers=headers)

    for _ in range(50):
        one()
    profiler = Profiler(interval=0.0002)
    profiler.start()
    for _ in range(args.requests):
        one()
    profiler.stop()
    if args.tree:
        print(profiler.output_text(unicode=True, color=False, show_all=False))
    print_breakdown(profiler.last_session.root_frame(), args.requests)
    if args.html:
        Path(args.html).write_text(profiler.output_html())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
