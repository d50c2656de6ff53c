#!/usr/bin/env python
"""Porchlight benchmark: figures from one run on this machine. A report, not a test.

    python scripts/bench.py [--duration 8] [--concurrency 8] [--workers 2]
                            [--worker-class sync] [--threads 1] [--no-wrk]
                            [--tickets 100000] [--tickets-pg postgresql://.../scratch]
                            [--campaigns 10000] [--campaigns-pg postgresql://.../scratch]

Run it from the project root with the Python that has the project installed.

1. Prepares a throw-away instance (temporary INSTANCE_PATH, SQLite, ``flask db
   upgrade``, rate limits on as in production) with a delivered proposal of 20 lines, 5 optional.
2. Serves the portal and a bare one-route Flask app (``scripts/bench_bare.py``) with
   the same gunicorn settings, each on its own free loopback port.
3. Measures requests per second, same duration and concurrency, for the bare route,
   the portal proposal page and the htmx option toggle (session cookie and CSRF
   header as a browser sends them), with ``wrk`` when it is on PATH, otherwise with
   a built-in load generator (threads with keep-alive http.client connections).
4. Measures a phone's first load: the page and its CSS/JS with gzip, bytes as served.
5. Counts SQL statements per page with the Flask test client (5 vs 50 lines, 5 vs 50
   proposals): a fixed number of queries means the same count on both sides.
6. The ticket queue at 100,000 tickets (seeded in bulk into the instance by
   ``scripts/bench_tickets.py``): requests per second of the admin queue (first page,
   a search, a filter) and of the portal ticket list through gunicorn, as a ratio to the
   bare route; then the median server time of each queue page (Flask test client, in
   process) against the 100 ms budget, on SQLite and, with ``--tickets-pg URL``, on
   PostgreSQL too (that database is EMPTIED).
7. The Optional Service Opportunity campaign at 10,000 qualifying contracts
   (``scripts/bench_campaigns.py``): preview time, the run (opportunities and draft
   proposals) against a reference from the same run (the same rows written by bare
   ``INSERT ... SELECT``, rolled back) and a second run, on SQLite and on PostgreSQL: by default a throw-away
   database made on the local server and dropped after (``--campaigns-pg auto``; a line
   says so when no server answers), or ``--campaigns-pg URL`` (that database is
   EMPTIED), or ``none``.
8. Prints a table of figures, budgets and PASS/FAIL.

Exit status: 0 whatever the figures say, 1 when a server did not start.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import http.client
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from dataclasses import dataclass, field
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlencode, urlsplit

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = ROOT / "scripts"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

RATIO_BUDGET = 0.4
FIRST_LOAD_BYTES_BUDGET = 60 * 1024
FIRST_LOAD_REQUESTS_BUDGET = 4
TOGGLE_BYTES_BUDGET = 4 * 1024
STAFF_PASSWORD = "bench-password-not-secret"
TERMS = "Prices are valid for 30 days.\nInvoices are due 15 days after the work is completed."


# --- small HTTP helpers ----------------------------------------------------------


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    raw: bytes  # the body as it came over the wire (still compressed, chunking removed)

    @property
    def encoding(self) -> str:
        return (self.headers.get("Content-Encoding") or "").strip().lower()

    @property
    def text(self) -> str:
        data = self.raw
        if self.encoding == "gzip":
            data = gzip.decompress(data)
        elif self.encoding == "deflate":
            data = zlib.decompress(data)
        return data.decode("utf-8", "replace")

    def cookie(self, name: str) -> str | None:
        for value in self.headers.get_all("Set-Cookie") or []:
            first = value.split(";", 1)[0]
            key, _, val = first.partition("=")
            if key.strip() == name:
                return val.strip()
        return None


def fetch(
    port: int, method: str, path: str, headers: dict | None = None, body: bytes | None = None, timeout: float = 10
) -> Reply:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return Reply(response.status, response.headers, response.read())
    finally:
        conn.close()


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class AssetParser(HTMLParser):
    """The stylesheets and scripts a browser fetches on first load."""

    def __init__(self):
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = {k: (v or "") for k, v in attrs}
        if tag == "link" and "stylesheet" in a.get("rel", "").lower().split() and a.get("href"):
            self.urls.append(a["href"])
        elif tag == "script" and a.get("src"):
            self.urls.append(a["src"])


# --- the servers -------------------------------------------------------------------


class Server:
    """One gunicorn master (in its own session) and its workers."""

    def __init__(self, name: str, app_spec: str, chdir: Path, port: int, env: dict, options: list[str], log_path: Path):
        self.name, self.app_spec, self.chdir, self.port = name, app_spec, chdir, port
        self.env, self.options, self.log_path = env, options, log_path
        self.proc: subprocess.Popen | None = None
        self._log = None

    def start(self) -> None:
        self._log = open(self.log_path, "wb")
        cmd = [
            sys.executable,
            "-m",
            "gunicorn",
            "--bind",
            f"127.0.0.1:{self.port}",
            *self.options,
            "--chdir",
            str(self.chdir),
            self.app_spec,
        ]
        self.proc = subprocess.Popen(
            cmd,
            cwd=str(self.chdir),
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )

    def wait_ready(self, path: str, timeout: float = 30) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                return False
            try:
                if fetch(self.port, "GET", path, timeout=2).status == 200:
                    return True
            except (OSError, http.client.HTTPException):
                pass
            time.sleep(0.1)
        return False

    def stop(self) -> None:
        proc = self.proc
        if proc is not None:
            if proc.poll() is None:
                proc.terminate()  # SIGTERM to the master: it stops its own workers
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    self._kill_group()
                    proc.wait(5)
            self._kill_group()  # a worker left behind in the group we created
        if self._log:
            self._log.close()
            self._log = None

    def _kill_group(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def log_tail(self, lines: int = 25) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def gunicorn_options(args) -> list[str]:
    options = [
        "--workers",
        str(args.workers),
        "--worker-class",
        args.worker_class,
        "--threads",
        str(args.threads),
        "--log-level",
        "warning",
        "--graceful-timeout",
        "5",
        "--timeout",
        "60",
    ]
    # gunicorn >= 27 opens a control socket at one fixed path per user: two servers would clash.
    help_text = subprocess.run([sys.executable, "-m", "gunicorn", "--help"], capture_output=True, text=True).stdout
    if "--no-control-socket" in help_text:
        options.append("--no-control-socket")
    return options


# --- load generation ----------------------------------------------------------------


@dataclass
class Target:
    name: str
    port: int
    method: str
    path: str
    headers: dict = field(default_factory=dict)
    body: bytes | None = None


@dataclass
class LoadResult:
    tool: str
    ok: int  # completed 200 responses
    other: int  # completed responses with another status
    errors: int  # connect/read/write/timeout errors
    seconds: float
    p50_ms: float | None
    p99_ms: float | None

    @property
    def rps(self) -> float:
        return self.ok / self.seconds if self.seconds > 0 else 0.0


def _lua_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r") + '"'


WRK_LUA = """
wrk.method = {method}
{body}
{headers}
local threads = {{}}
function setup(thread) table.insert(threads, thread) end
function init(args) ok = 0; other = 0 end
function response(status, headers, body)
  if status == 200 then ok = ok + 1 else other = other + 1 end
end
function done(summary, latency, requests)
  local o, x = 0, 0
  for _, t in ipairs(threads) do o = o + t:get("ok"); x = x + t:get("other") end
  local e = summary.errors
  io.write(string.format("BENCH_RESULT %d %d %d %d %.3f %.3f\\n", o, x,
    e.connect + e.read + e.write + e.timeout, summary.duration,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
"""


def wrk_load(wrk: str, target: Target, seconds: int, concurrency: int, workdir: Path) -> LoadResult:
    script = workdir / f"wrk_{re.sub(r'[^a-z0-9]+', '_', target.name.lower())}.lua"
    script.write_text(
        WRK_LUA.format(
            method=_lua_string(target.method),
            body=f"wrk.body = {_lua_string(target.body.decode())}" if target.body else "",
            headers="\n".join(f"wrk.headers[{_lua_string(k)}] = {_lua_string(v)}" for k, v in target.headers.items()),
        )
    )
    cmd = [
        wrk,
        "-t",
        "1",
        "-c",
        str(concurrency),
        "-d",
        f"{max(1, seconds)}s",
        "--timeout",
        "10s",
        "-s",
        str(script),
        f"http://127.0.0.1:{target.port}{target.path}",
    ]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60)
    match = re.search(r"BENCH_RESULT (\d+) (\d+) (\d+) (\d+) ([\d.]+) ([\d.]+)", run.stdout)
    if run.returncode != 0 or not match:
        raise RuntimeError(f"wrk failed (exit {run.returncode}): {(run.stderr or run.stdout).strip()[:300]}")
    ok, other, errors, micros = (int(match.group(i)) for i in range(1, 5))
    return LoadResult("wrk", ok, other, errors, micros / 1e6, float(match.group(5)), float(match.group(6)))


def python_load(target: Target, seconds: float, concurrency: int) -> LoadResult:
    """N threads, each with a keep-alive http.client connection, for a fixed time."""
    start_at = time.perf_counter() + 0.3
    end_at = start_at + seconds
    results: list[tuple[int, int, int, list[float]]] = [(0, 0, 0, [])] * concurrency

    def worker(index: int) -> None:
        ok = other = errors = 0
        latencies: list[float] = []
        conn = None
        time.sleep(max(0.0, start_at - time.perf_counter()))
        while True:
            began = time.perf_counter()
            if began >= end_at:
                break
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", target.port, timeout=10)
                conn.request(target.method, target.path, body=target.body, headers=target.headers)
                response = conn.getresponse()
                response.read()  # http.client reconnects by itself when the server closed the connection
                finished = time.perf_counter()
                if finished > end_at:
                    break
                if response.status == 200:
                    ok += 1
                else:
                    other += 1
                latencies.append(finished - began)
            except (OSError, http.client.HTTPException):
                errors += 1
                if conn is not None:
                    conn.close()
                conn = None
        if conn is not None:
            conn.close()
        results[index] = (ok, other, errors, latencies)

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + 30)
    latencies = sorted(x for r in results for x in r[3])

    def pct(p: float) -> float | None:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000 if latencies else None

    return LoadResult(
        "python",
        sum(r[0] for r in results),
        sum(r[1] for r in results),
        sum(r[2] for r in results),
        seconds,
        pct(0.50),
        pct(0.99),
    )


def load(target: Target, seconds: float, concurrency: int, wrk: str | None, workdir: Path) -> LoadResult:
    if wrk:
        try:
            return wrk_load(wrk, target, round(seconds), concurrency, workdir)
        except (RuntimeError, OSError, subprocess.TimeoutExpired) as error:
            print(f"    ({error}; using the built-in load generator)")
    return python_load(target, seconds, concurrency)


# --- the data -----------------------------------------------------------------------


def make_proposal(rep, contact, title: str, lines: int, optional: int):
    """A draft with ``lines`` lines, the last ``optional`` of them optional."""
    from portal.domains.proposals import operations as proposals
    from portal.domains.proposals.operations import LineInput

    proposal = proposals.create_proposal(rep, contact, title, "USD", TERMS)
    proposal = proposals.load_proposal(proposal.id)
    for i in range(lines):
        proposals.add_line(
            proposal,
            LineInput(
                f"Service {i + 1}: seasonal grounds work",
                Decimal(1 + i % 4),
                Decimal("40.00") + i,
                i >= lines - optional,
            ),
        )
    return proposal


def make_people(password: str = STAFF_PASSWORD):
    from portal.core.extensions import db
    from portal.domains.customers.models import Contact, Organization
    from portal.domains.identity import staff as accounts

    staff = accounts.create_staff("bench-admin@bench.example", "Bench Admin", password, role="admin")
    org = Organization(name="Bench Property Management")
    db.session.add(org)
    db.session.flush()
    contact = Contact(organization_id=org.id, first_name="Bea", last_name="Bench", email="bea@bench.example")
    db.session.add(contact)
    db.session.flush()
    return staff, contact


def migrate(app) -> None:
    from flask_migrate import upgrade

    with app.app_context():
        upgrade()


def prepare_instance() -> dict:
    """Schema, people and one delivered proposal of 20 lines (5 optional) for the servers."""
    from portal import create_app
    from portal.core.extensions import db
    from portal.domains.proposals import operations as proposals

    app = create_app()
    migrate(app)
    with app.app_context():
        staff, contact = make_people()
        proposal = make_proposal(staff, contact, "Grounds maintenance (bench)", lines=20, optional=5)
        issued = proposals.deliver_proposal(proposal, staff)
        db.session.commit()
        proposal = proposals.load_proposal(proposal.id)
        info = {
            "proposal_id": proposal.id,
            "token": issued.token,
            "options": [line.id for line in proposal.lines if line.is_optional],
            "cookie_name": app.config["SESSION_COOKIE_NAME"],
        }
        # Build the CSS/JS bundles now, so two workers do not race to build them.
        with app.test_request_context():
            from portal.core.extensions import assets

            for bundle in assets:
                bundle.urls()
        db.session.remove()
        db.engine.dispose()
    return info


# --- 5. queries per page --------------------------------------------------------------


def count_queries(workdir: Path) -> dict:
    """SQL statements for one GET, small vs large data, with the Flask test client."""
    from sqlalchemy import event

    from portal import create_app
    from portal.core.extensions import db
    from portal.demo import DEMO_STROKES, demo_signature_png
    from portal.domains.proposals import operations as proposals
    from portal.domains.proposals.operations import SignInput

    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{workdir / 'queries.db'}",
            "WTF_CSRF_ENABLED": False,
            "RATELIMIT_ENABLED": False,
            "TESTING": True,
        }
    )
    migrate(app)
    signature_png = demo_signature_png()
    counter = {"n": 0}

    def add_listed_proposals(rep, contact, how_many: int) -> None:
        """Proposals for the admin list, in every state it shows (draft, delivered, signed)."""
        for _ in range(how_many):
            counter["n"] += 1
            n = counter["n"]
            proposal = make_proposal(rep, contact, f"Listed proposal {n}", lines=3, optional=1)
            if n % 3:
                proposals.deliver_proposal(proposal, rep)
            if n % 3 == 2:
                proposals.sign_proposal(
                    proposal,
                    contact,
                    None,
                    SignInput(
                        option_ids=[str(proposal.lines[-1].id)],
                        signer_name="Bea Bench",
                        consent=True,
                        signature_png=signature_png,
                        strokes=DEMO_STROKES,
                        seen_hash=proposals.content_hash(proposal),
                        ip="127.0.0.1",
                        user_agent="bench",
                    ),
                )
        db.session.commit()

    with app.app_context():
        engine = db.engine
        staff, contact = make_people()
        small = make_proposal(staff, contact, "Five lines", lines=5, optional=2)
        large = make_proposal(staff, contact, "Fifty lines", lines=50, optional=10)
        tokens = {5: proposals.deliver_proposal(small, staff).token, 50: proposals.deliver_proposal(large, staff).token}
        ids = {5: small.id, 50: large.id}
        add_listed_proposals(staff, contact, 3)  # 5 proposals in all
        db.session.commit()
        staff_email, contact_ids = staff.email, (staff.id, contact.id)
        db.session.remove()

    def counted(client, path: str, must_contain: str) -> list[str]:
        client.get(path)  # warm-up: first-request work (templates, session) is not what we count
        statements: list[str] = []

        def before(conn, cursor, statement, parameters, context, executemany):
            statements.append(statement)

        event.listen(engine, "before_cursor_execute", before)
        try:
            response = client.get(path)
        finally:
            event.remove(engine, "before_cursor_execute", before)
        if response.status_code != 200 or must_contain not in response.get_data(as_text=True):
            raise RuntimeError(f"GET {path} answered {response.status_code} without {must_contain!r}")
        return statements

    portal_client = app.test_client()
    for token in tokens.values():
        response = portal_client.get(f"/l/{token}")
        if response.status_code != 303:
            raise RuntimeError(f"/l/<token> answered {response.status_code}")
    page = {n: counted(portal_client, f"/p/proposals/{ids[n]}", f"Service {n}:") for n in (5, 50)}

    admin_client = app.test_client()
    response = admin_client.post("/admin/login", data={"email": staff_email, "password": STAFF_PASSWORD})
    if response.status_code != 303:
        raise RuntimeError(f"admin login answered {response.status_code}")
    admin = {5: counted(admin_client, "/admin/proposals/", "Listed proposal 3")}
    with app.app_context():
        from portal.domains.customers.models import Contact
        from portal.domains.identity.models import StaffUser

        add_listed_proposals(db.session.get(StaffUser, contact_ids[0]), db.session.get(Contact, contact_ids[1]), 45)
        from sqlalchemy import func, select

        from portal.domains.proposals.models import Proposal

        total = db.session.scalar(select(func.count()).select_from(Proposal))
        db.session.remove()
    if total != 50:
        raise RuntimeError(f"expected 50 proposals, found {total}")
    admin[50] = counted(admin_client, "/admin/proposals/", "Listed proposal 48")
    with app.app_context():
        db.engine.dispose()
    return {"page": page, "admin": admin}


# --- 6. tickets ----------------------------------------------------------------------------


def _portal_session(app, info: dict) -> dict:
    """A signed-in portal session of the bench contact, as the sign-in flow leaves it:
    the cookie's data, with its server-side record written."""
    import secrets

    from portal.core.extensions import db
    from portal.domains.identity.models import PortalSession

    sid = secrets.token_urlsafe(32)
    with app.app_context():
        db.session.add(PortalSession(id=sid, contact_id=info["portal_contact"]))
        db.session.commit()
        db.session.remove()
    return {
        "sid": sid,
        "contact": info["portal_contact"],
        "epoch": info["portal_epoch"],
        "links": [],
        "signed_in": True,
    }


def ticket_targets(port: int, app, info: dict, cookie_name: str) -> list[Target]:
    """The admin queue (first page, a search, a filter) as a signed-in admin, and the
    portal ticket list as a signed-in contact (organization level), over HTTP."""
    login_page = fetch(port, "GET", "/admin/login")
    cookie = login_page.cookie(cookie_name)
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', login_page.text)
    if login_page.status != 200 or not cookie or not match:
        raise RuntimeError(f"/admin/login answered {login_page.status} without a form")
    body = urlencode({"email": info["admin_email"], "password": STAFF_PASSWORD, "csrf_token": match.group(1)})
    signed_in = fetch(
        port,
        "POST",
        "/admin/login",
        {"Cookie": f"{cookie_name}={cookie}", "Content-Type": "application/x-www-form-urlencoded"},
        body.encode(),
    )
    staff_cookie = signed_in.cookie(cookie_name)
    if signed_in.status != 303 or not staff_cookie:
        raise RuntimeError(f"admin login answered {signed_in.status}")
    staff = {"Cookie": f"{cookie_name}={staff_cookie}", "Accept-Encoding": "gzip"}
    targets = [
        Target("queue: first page", port, "GET", "/admin/tickets/", staff),
        Target("queue: search a title word", port, "GET", "/admin/tickets/?q=boiler", staff),
        Target(
            "queue: filter urgent+unassigned", port, "GET", "/admin/tickets/?priority=urgent&assignee=unassigned", staff
        ),
    ]
    if "tickets.index" in app.view_functions:
        # A signed-in contact's session, signed with the instance's key (as sign-in would leave it).
        # With its server-side session record, which sign-in writes and every request checks.
        serializer = app.session_interface.get_signing_serializer(app)
        contact_cookie = serializer.dumps({"portal": _portal_session(app, info)})
        portal = {"Cookie": f"{cookie_name}={contact_cookie}", "Accept-Encoding": "gzip"}
        targets.append(Target("portal: ticket list", port, "GET", "/tickets", portal))
    for target in targets:
        reply = fetch(port, target.method, target.path, target.headers)
        if reply.status != 200:
            raise RuntimeError(f"{target.path} answered {reply.status}")
    return targets


# --- the report -------------------------------------------------------------------------


@dataclass
class Row:
    figure: str
    value: str
    budget: str
    verdict: str


def kb(n: int) -> str:
    return f"{n / 1024:.1f} KB ({n:,} B)"


def print_table(rows: list[Row]) -> None:
    widths = [
        max(len(getattr(r, f)) for r in rows + [Row("figure", "value", "budget", "result")])
        for f in ("figure", "value", "budget", "verdict")
    ]
    line = "  ".join("{:<%d}" % w for w in widths)
    print(line.format("figure", "value", "budget", "result"))
    print(line.format(*("-" * w for w in widths)))
    for r in rows:
        print(line.format(r.figure, r.value, r.budget, r.verdict))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=8.0, help="seconds per load measurement (default 8)")
    parser.add_argument("--concurrency", type=int, default=8, help="concurrent connections (default 8)")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds of warm-up load before each measurement")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers, both servers (default 2)")
    parser.add_argument("--worker-class", default="sync", help="gunicorn worker class, both servers (default sync)")
    parser.add_argument("--threads", type=int, default=1, help="gunicorn threads per worker (default 1)")
    parser.add_argument("--no-wrk", action="store_true", help="use the built-in load generator even if wrk exists")
    parser.add_argument("--tickets", type=int, default=100_000, help="tickets seeded for step 6 (default 100000)")
    parser.add_argument(
        "--tickets-pg",
        metavar="URL",
        help="also time the ticket queue on this PostgreSQL database (it is EMPTIED first)",
    )
    parser.add_argument(
        "--campaigns", type=int, default=10_000, help="qualifying contracts for step 7, the campaign run (0: skip)"
    )
    parser.add_argument(
        "--campaigns-pg",
        metavar="URL",
        default="auto",
        help="time the campaign run on this PostgreSQL database too (it is EMPTIED first); 'auto' (the default):"
        " a throw-away database on the local server (PORCHLIGHT_BENCH_PG_SERVER), dropped after; 'none': skip",
    )
    args = parser.parse_args()
    if args.tickets < 1:  # step 6 divides a year among the tickets: 0 crashed after the setup
        parser.error("--tickets must be at least 1 (use a small number, e.g. 200, for a quick run)")

    workdir = Path(tempfile.mkdtemp(prefix="porchlight-bench-"))
    servers: list[Server] = []
    rows: list[Row] = []
    exit_code = 0
    previous_term = signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        instance = workdir / "instance"
        instance.mkdir()
        portal_port, bare_port = free_port(), free_port()
        while bare_port == portal_port:
            bare_port = free_port()
        bench_env = {
            "INSTANCE_PATH": str(instance),
            "DATABASE_URL": f"sqlite:///{instance / 'porchlight.db'}",  # never an inherited database
            "BASE_URL": f"http://127.0.0.1:{portal_port}",
            # Rate limiting stays on, as in production: the page and the toggle carry no
            # limit of their own, but the limiter's per-request check is part of the cost.
            "RATELIMIT_ENABLED": "1",
            "SECRET_KEY": secrets.token_urlsafe(48),
            "MAIL_SERVER": "",  # delivery mail stays in the outbox
        }
        os.environ.update(bench_env)
        wrk = None if args.no_wrk else shutil.which("wrk")
        options = gunicorn_options(args)
        print(
            f"Porchlight bench: {os.cpu_count()} cores, Python {sys.version.split()[0]}, "
            f"load: {'wrk (1 thread)' if wrk else 'built-in Python generator'}, "
            f"{args.concurrency} connections, {args.duration:g} s per measurement"
        )
        print(f"gunicorn (both servers): {' '.join(options)}")
        print(f"instance: {instance}")
        print(
            f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())} "
            "(other work on this machine skews the rates)"
        )

        # 1. the instance
        started = time.monotonic()
        info = prepare_instance()
        pid, token, cookie_name = info["proposal_id"], info["token"], info["cookie_name"]
        print(f"\n1. instance ready in {time.monotonic() - started:.1f} s: proposal {pid}, 20 lines, 5 optional")
        import bench_tickets

        from portal import create_app

        ticket_app = create_app()
        ticket_info = bench_tickets.seed_tickets(ticket_app, args.tickets, admin_email="bench-admin@bench.example")
        print(f"   + {ticket_info['count']:,} tickets seeded in {ticket_info['seconds']:.1f} s (bulk insert)")

        # 2. the servers
        env = dict(os.environ)
        servers = [
            Server("bare", "bench_bare:app", SCRIPTS, bare_port, env, options, workdir / "bare.log"),
            Server("portal", "portal:create_app()", ROOT, portal_port, env, options, workdir / "portal.log"),
        ]
        for server in servers:
            server.start()
        ready = {s.name: s.wait_ready("/" if s.name == "bare" else "/healthz") for s in servers}
        for server in servers:
            print(f"2. {server.name} server on 127.0.0.1:{server.port}: {'up' if ready[server.name] else 'FAILED'}")
            if not ready[server.name]:
                print("   " + server.log_tail().replace("\n", "\n   "))
        if not all(ready.values()):
            exit_code = 1
            rows.append(Row("servers", "did not start", "start", "FAIL"))

        if exit_code == 0:
            # The contact's session: open the link, then load the page once (this is also
            # the phone's first load, measured in step 4).
            opened = fetch(portal_port, "GET", f"/l/{token}")
            cookie = opened.cookie(cookie_name)
            if opened.status != 303 or not cookie:
                raise RuntimeError(f"/l/<token> answered {opened.status} without a session cookie")
            page_path = urlsplit(opened.headers["Location"]).path
            first = fetch(
                portal_port, "GET", page_path, {"Cookie": f"{cookie_name}={cookie}", "Accept-Encoding": "gzip"}
            )
            if first.status != 200:
                raise RuntimeError(f"{page_path} answered {first.status}")
            cookie = first.cookie(cookie_name) or cookie  # the session now holds the CSRF secret
            html = first.text
            match = re.search(r'"X-CSRFToken":\s*"([^"]+)"', html)
            if not match:
                raise RuntimeError("no X-CSRFToken in the page's hx-headers")
            csrf_token = match.group(1)
            session_headers = {"Cookie": f"{cookie_name}={cookie}", "Accept-Encoding": "gzip"}
            toggle_body = urlencode([("option", i) for i in info["options"][:2]]).encode()
            toggle_headers = {
                **session_headers,
                "HX-Request": "true",
                "X-CSRFToken": csrf_token,
                "Content-Type": "application/x-www-form-urlencoded",
            }
            targets = [
                Target("bare route", bare_port, "GET", "/", {"Accept-Encoding": "gzip"}),
                Target("portal proposal page", portal_port, "GET", page_path, session_headers),
                Target("option toggle", portal_port, "POST", f"{page_path}/options", toggle_headers, toggle_body),
            ]
            toggle = fetch(portal_port, "POST", targets[2].path, toggle_headers, toggle_body)
            if toggle.status != 200 or 'id="totals"' not in toggle.text or "<html" in toggle.text:
                raise RuntimeError(f"the option toggle answered {toggle.status}: {toggle.text[:200]!r}")

            # 3. throughput
            print(
                f"\n3. throughput ({args.duration:g} s each, {args.concurrency} connections, "
                f"after {args.warmup:g} s warm-up)"
            )
            results: dict[str, LoadResult] = {}
            for target in targets:
                if args.warmup > 0:
                    load(target, args.warmup, args.concurrency, wrk, workdir)
                result = load(target, args.duration, args.concurrency, wrk, workdir)
                results[target.name] = result
                latency = (
                    f", p50 {result.p50_ms:.1f} ms, p99 {result.p99_ms:.1f} ms" if result.p50_ms is not None else ""
                )
                problems = (
                    f"  [{result.other} non-200, {result.errors} socket errors]"
                    if result.other or result.errors
                    else ""
                )
                print(
                    f"   {target.name:<22} {result.rps:9.1f} rps  ({result.ok} x 200 in "
                    f"{result.seconds:.1f} s via {result.tool}{latency}){problems}"
                )
            bare_rps = results["bare route"].rps
            rows.append(Row("bare route", f"{bare_rps:.0f} rps", "(reference)", "-"))
            for name in ("portal proposal page", "option toggle"):
                rps = results[name].rps
                ratio = rps / bare_rps if bare_rps else 0.0
                print(f"   {name:<22} ratio to bare route: {ratio:.2f}")
                rows.append(
                    Row(
                        f"{name} rps",
                        f"{rps:.0f} rps = {ratio:.2f} x bare",
                        f">= {RATIO_BUDGET:.2f} x bare",
                        "PASS" if ratio >= RATIO_BUDGET else "FAIL",
                    )
                )

            # 4. a phone's first load
            print("\n4. first load of a phone (Accept-Encoding: gzip; body bytes as served, headers not counted)")
            parser_ = AssetParser()
            parser_.feed(html)
            fetched = [(page_path, first)]
            for url in parser_.urls:
                parts = urlsplit(url)
                if parts.netloc and parts.netloc != f"127.0.0.1:{portal_port}":
                    print(f"   (skipped third-party asset {url})")
                    continue
                path = parts.path + (f"?{parts.query}" if parts.query else "")
                fetched.append((path, fetch(portal_port, "GET", path, session_headers)))
            uncompressed = []
            for path, reply in fetched:
                how = reply.encoding or "NOT compressed"
                if not reply.encoding:
                    uncompressed.append(path)
                print(f"   {reply.status} {len(reply.raw):>8,} B  {how:<15} {path}")
            total = sum(len(reply.raw) for _, reply in fetched)
            bad = [p for p, r in fetched if r.status != 200]
            print(
                f"   total: {len(fetched)} requests, {kb(total)}"
                + (f"; {len(uncompressed)} response(s) served without compression" if uncompressed else "")
            )
            rows.append(
                Row(
                    "first load requests",
                    str(len(fetched)),
                    f"<= {FIRST_LOAD_REQUESTS_BUDGET}",
                    "PASS" if len(fetched) <= FIRST_LOAD_REQUESTS_BUDGET and not bad else "FAIL",
                )
            )
            rows.append(
                Row(
                    "first load bytes",
                    kb(total) + (" (some uncompressed)" if uncompressed else ""),
                    f"<= {FIRST_LOAD_BYTES_BUDGET // 1024} KB",
                    "PASS" if total <= FIRST_LOAD_BYTES_BUDGET and not bad else "FAIL",
                )
            )
            toggle_how = toggle.encoding or "not compressed"
            print(f"   option toggle response: {len(toggle.raw):,} B ({toggle_how})")
            rows.append(
                Row(
                    "toggle response",
                    f"{len(toggle.raw):,} B ({toggle_how})",
                    f"< {TOGGLE_BYTES_BUDGET // 1024} KB",
                    "PASS" if len(toggle.raw) < TOGGLE_BYTES_BUDGET else "FAIL",
                )
            )

            # 4b. (step 6 of the docstring) the ticket queue and the portal ticket list through gunicorn
            seconds = min(args.duration, 4.0)
            print(
                f"\n4b. tickets through gunicorn at {ticket_info['count']:,} tickets "
                f"({seconds:g} s each, {args.concurrency} connections; bare route: {bare_rps:.0f} rps)"
            )
            try:
                for target in ticket_targets(portal_port, ticket_app, ticket_info, cookie_name):
                    if args.warmup > 0:
                        load(target, args.warmup, args.concurrency, wrk, workdir)
                    result = load(target, seconds, args.concurrency, wrk, workdir)
                    ratio = result.rps / bare_rps if bare_rps else 0.0
                    problems = (
                        f"  [{result.other} non-200, {result.errors} errors]" if result.other or result.errors else ""
                    )
                    print(
                        f"   {target.name:<30} {result.rps:8.1f} rps = {ratio:.2f} x bare, p50 "
                        f"{result.p50_ms or 0:.1f} ms{problems}"
                    )
                    rows.append(
                        Row(
                            f"{target.name} rps",
                            f"{result.rps:.0f} rps = {ratio:.2f} x bare",
                            "(report)",
                            "-" if not problems else "FAIL",
                        )
                    )
            except Exception as error:  # a report: say what broke and carry on
                print(f"   failed: {error!r}")
                rows.append(Row("tickets through gunicorn", f"error: {error}"[:60], "(report)", "FAIL"))

        # 5. queries per page (test client, its own database)
        print("\n5. SQL statements per GET (Flask test client)")
        try:
            counts = count_queries(workdir)
            for key, label, unit in (
                ("page", "portal proposal page", "lines"),
                ("admin", "admin proposal list", "proposals"),
            ):
                small, large = counts[key][5], counts[key][50]
                same = len(small) == len(large)
                print(
                    f"   {label:<22} 5 {unit}: {len(small):>3}   50 {unit}: {len(large):>3}"
                    + ("" if same else "   <- grows with the data")
                )
                if not same:
                    for statement in large[len(small) :][:5]:
                        print("      extra: " + " ".join(statement.split())[:160])
                rows.append(
                    Row(
                        f"queries {label}",
                        f"{len(small)} (5 {unit}) / {len(large)} (50 {unit})",
                        "equal",
                        "PASS" if same else "FAIL",
                    )
                )
        except Exception as error:  # a report: say what broke and carry on
            print(f"   failed: {error!r}")
            rows.append(Row("queries per page", f"error: {error}"[:60], "equal", "FAIL"))

        # 6. server time of each ticket page, in process
        engines = [("sqlite", ticket_app, ticket_info)]
        if args.tickets_pg:
            engines.append(("postgresql", None, None))
        for engine, engine_app, seeded in engines:
            print(f"\n6. ticket pages, server time in process (Flask test client, 30 requests each), {engine}")
            try:
                if engine_app is None:
                    engine_app = bench_tickets.prepare_database(args.tickets_pg)
                    seeded = bench_tickets.seed_tickets(engine_app, args.tickets)
                    print(f"   {seeded['count']:,} tickets seeded in {seeded['seconds']:.1f} s")
                results = bench_tickets.time_in_process(engine_app, seeded)
                bench_tickets.print_results(results, engine)
                bare_ms = results[0]["median"]
                pages = [r for r in results if r["rows"] is not None]
                worst = max(pages, key=lambda r: r["median"])
                for r in pages:
                    if r["label"] in (
                        "queue: first page",
                        "queue: search a title word",
                        "queue: filter urgent+unassigned",
                        "portal: ticket list (org level)",
                    ):
                        rows.append(
                            Row(
                                f"{r['label']} ({engine})",
                                f"{r['median']:.1f} ms median (bare {bare_ms:.2f} ms)",
                                f"< {bench_tickets.BUDGET_MS:.0f} ms",
                                "PASS" if r["median"] < bench_tickets.BUDGET_MS and r["status"] == 200 else "FAIL",
                            )
                        )
                rows.append(
                    Row(
                        f"slowest queue page ({engine})",
                        f"{worst['median']:.1f} ms: {worst['label']}",
                        f"< {bench_tickets.BUDGET_MS:.0f} ms",
                        "PASS"
                        if all(r["median"] < bench_tickets.BUDGET_MS and r["status"] == 200 for r in pages)
                        else "FAIL",
                    )
                )
            except Exception as error:  # a report: say what broke and carry on
                print(f"   failed: {error!r}")
                rows.append(Row(f"ticket pages ({engine})", f"error: {error}"[:60], "< 100 ms", "FAIL"))

        # 7. the Optional Service Opportunity campaign (scripts/bench_campaigns.py)
        if args.campaigns:
            import bench_campaigns

            with contextlib.ExitStack() as stack:
                pg_url = args.campaigns_pg
                if pg_url == "auto":
                    pg_url = stack.enter_context(bench_campaigns.throwaway_database())
                    if pg_url is None:
                        rows.append(Row("campaign run (postgresql)", "skipped: no server", "< 5 s", "SKIP"))
                elif pg_url == "none":
                    pg_url = None
                _campaign_rows(args, rows, [("sqlite", None)] + ([("postgresql", pg_url)] if pg_url else []))

        print(f"\nload average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        print("\nSummary")
        print_table(rows)
        return exit_code
    finally:
        for server in servers:
            server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
        signal.signal(signal.SIGTERM, previous_term)


def _campaign_rows(args, rows: list[Row], targets: list[tuple[str, str | None]]) -> None:
    """Step 7 on each engine: the figures printed, and a row each in the summary."""
    import bench_campaigns

    for engine, url in targets:
        print(f"\n7. campaign run, {args.campaigns:,} qualifying contracts, {engine}")
        try:
            figures = bench_campaigns.run(bench_campaigns._app(url), args.campaigns)
            bench_campaigns.report(engine, figures, args.campaigns)
            rows.append(
                Row(
                    f"campaign preview ({engine})",
                    f"{figures['preview_ms']:.0f} ms",
                    f"< {bench_campaigns.PREVIEW_BUDGET_MS:.0f} ms",
                    "PASS" if figures["preview_ms"] < bench_campaigns.PREVIEW_BUDGET_MS else "FAIL",
                )
            )
            made_all = figures["made"] == args.campaigns
            rows.append(
                Row(
                    f"campaign run ({engine})",
                    f"{figures['made']:,} made in {figures['run_seconds']:.2f} s"
                    f" = {figures['run_seconds'] / figures['raw_seconds']:.1f}x bare writes",
                    f"< {bench_campaigns.RUN_BUDGET_SECONDS:.0f} s",
                    "PASS" if made_all and figures["run_seconds"] < bench_campaigns.RUN_BUDGET_SECONDS else "FAIL",
                )
            )
            rows.append(
                Row(
                    f"campaign second run ({engine})",
                    f"{figures['second_made']} made in {figures['second_run_seconds']:.2f} s",
                    f"< {bench_campaigns.SECOND_RUN_BUDGET_SECONDS:.0f} s",
                    "PASS"
                    if figures["second_made"] == 0
                    and figures["second_run_seconds"] < bench_campaigns.SECOND_RUN_BUDGET_SECONDS
                    else "FAIL",
                )
            )
        except Exception as error:  # a report: say what broke and carry on
            print(f"   failed: {error!r}")
            rows.append(Row(f"campaign run ({engine})", f"error: {error}"[:60], "< 5 s", "FAIL"))


if __name__ == "__main__":
    sys.exit(main())
