#!/usr/bin/env python
"""Instructions per request of a cached page view, a toggle and the bare route (callgrind).

    python scripts/count_instructions.py [--requests 100] [bare healthz page toggle]

Requests per second move with whatever else the machine runs; the number of CPU
instructions a request executes does not. Each kind runs twice under ``valgrind
--tool=callgrind`` in a throw-away instance (the benchmark's proposal: 20 lines, 5
optional, opened through its portal link, with the session cookie and CSRF header a
phone sends), straight through the WSGI app: 100 requests to warm up, then N (or 2N)
with the garbage collector off; the difference of the two totals over N is the cost
of one request, start-up left out. ``bare`` is ``scripts/bench_bare.py``; ``healthz`` is
the portal's smallest route (the cost every request pays). Needs valgrind. A report,
not a test.
"""

from __future__ import annotations

import argparse
import gc
import io
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))
KINDS = ("bare", "healthz", "page", "toggle")
WARM_UP = 100


def _environ(method: str, path: str, headers: dict, body: bytes = b"") -> dict:
    from werkzeug.test import EnvironBuilder

    content_type = "application/x-www-form-urlencoded" if method == "POST" else None
    builder = EnvironBuilder(path=path, method=method, headers=headers, data=body, content_type=content_type)
    environ = builder.get_environ()
    builder.close()
    return environ


def _one_request(kind: str):
    """A function that sends one request of ``kind`` through the WSGI app."""
    body = b""
    if kind == "bare":
        import bench_bare

        app, environ = bench_bare.app, _environ("GET", "/", {"Accept-Encoding": "gzip"})
    else:
        from portal import create_app

        info = json.loads(os.environ["PORCHLIGHT_COUNT_INFO"])
        app = create_app()
        client = app.test_client()
        page_url = client.get(f"/l/{info['token']}").headers["Location"]
        html = client.get(page_url).get_data(as_text=True)
        token = re.search(r'"X-CSRFToken": "([^"]+)"', html).group(1)
        toggle_url = re.search(r'hx-post="([^"]*/options)"', html).group(1)
        cookie = client.get_cookie(info["cookie_name"]).value
        headers = {
            "Accept-Encoding": "gzip",
            "User-Agent": "Mozilla/5.0 (iPhone)",
            "Cookie": f"{info['cookie_name']}={cookie}",
        }
        if kind == "toggle":
            body = urlencode([("option", option) for option in info["options"][:2]]).encode()
            headers.update({"HX-Request": "true", "X-CSRFToken": token})
            environ = _environ("POST", toggle_url, headers, body)
        else:
            environ = _environ("GET", "/healthz" if kind == "healthz" else page_url, headers)

    def start_response(status, headers, exc_info=None):
        start_response.status = status

    def one() -> None:
        request = dict(environ)
        request["wsgi.input"] = io.BytesIO(body)
        result = app(request, start_response)
        for _chunk in result:
            pass
        if hasattr(result, "close"):
            result.close()
        assert start_response.status.startswith("200"), start_response.status

    return one


def child(kind: str, requests: int) -> None:
    one = _one_request(kind)
    for _ in range(WARM_UP):
        one()
    gc.collect()
    gc.disable()  # a collection's cost depends on the heap, not on the request
    for _ in range(requests):
        one()


def _instructions(kind: str, requests: int, workdir: Path, env: dict) -> int:
    out = workdir / f"callgrind.{kind}.{requests}"
    subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            f"--callgrind-out-file={out}",
            sys.executable,
            __file__,
            "--child",
            kind,
            "--requests",
            str(requests),
        ],
        check=True,
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    totals = re.search(r"^(?:summary|totals): (\d+)", out.read_text(errors="replace"), re.M)
    return int(totals.group(1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("kinds", nargs="*", metavar="kind", help=" ".join(KINDS) + " (all by default)")
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--child", choices=KINDS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.requests)
        return 0
    unknown = [kind for kind in args.kinds if kind not in KINDS]
    if unknown:
        parser.error(f"unknown kind {unknown[0]!r} (choose from {', '.join(KINDS)})")
    args.kinds = args.kinds or list(KINDS)
    workdir = Path(tempfile.mkdtemp(prefix="porchlight-count-"))
    env = dict(os.environ, PYTHONHASHSEED="0", INSTANCE_PATH=str(workdir / "instance"))
    env.setdefault("BASE_URL", "http://127.0.0.1:5000")
    os.environ.update(env)
    import bench

    info = bench.prepare_instance()
    env["PORCHLIGHT_COUNT_INFO"] = json.dumps(info)
    os.environ["PORCHLIGHT_COUNT_INFO"] = env["PORCHLIGHT_COUNT_INFO"]
    if "toggle" in args.kinds:
        # The first tap keeps the selection (a write): made here, so that neither counted
        # run pays for it and their difference is the tap alone.
        _one_request("toggle")()
    counts = {}
    for kind in args.kinds:
        once = _instructions(kind, args.requests, workdir, env)
        twice = _instructions(kind, 2 * args.requests, workdir, env)
        counts[kind] = (twice - once) / args.requests
        print(f"{kind:8s} {counts[kind]:>12,.0f} instructions per request", flush=True)
    if "bare" in counts:
        for kind in ("page", "toggle"):
            if kind in counts:
                print(f"{kind}: {counts[kind] / counts['bare']:.2f} x the bare route's instructions")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
