"""Shared fixtures: archive databases (SQLite file and real PostgreSQL) and local sites."""

from __future__ import annotations

import contextlib
import email
import email.policy
import io
import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from click.testing import CliRunner, Result
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from archive.cli import DEMO_PORTAL, main
from archive.db import open_archive, session_factory
from archive.localsite import LocalSite, RecordingHandler
from archive.models import Article

POSTGRES_URL = os.environ.get(
    "NEWSARCHIVE_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
NEWSARCHIVE = [str(Path(sys.executable).with_name("newsarchive"))]
FAST_CRAWL = ["-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False"]


def _postgres_unavailable() -> str | None:
    engine = create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
    try:
        with engine.connect():
            return None
    except OperationalError as exc:
        return f"no PostgreSQL server answers at {POSTGRES_URL}: {str(exc.orig).strip()}"
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    """The PostgreSQL server; skipped where none answers, except in CI, where it must."""
    if reason := _postgres_unavailable():
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the PostgreSQL tests: {reason}")
        pytest.skip(reason)
    return POSTGRES_URL


@pytest.fixture
def postgres_url(postgres_admin_url: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    name = f"newsarchive_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    yield make_url(postgres_admin_url).set(database=name).render_as_string(False)
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The same test on a SQLite file and on a real PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'archive.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def demo_site() -> Iterator[LocalSite]:
    with LocalSite(DEMO_PORTAL) as site:
        yield site


# Where commands run when a test names no directory: crawls write WARC files to ./warc.
WORKDIR = Path(tempfile.mkdtemp(prefix="newsarchive-tests-"))


# Commands that run a Scrapy crawl, whose reactor runs once per process.
CRAWLING_COMMANDS = frozenset({"crawl", "demo"})


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 120):
    """Run `newsarchive ARGS` in `cwd` without NEWSARCHIVE_DB: in a subprocess for the
    commands that crawl, in this process for the others (what they log is not captured)."""
    if args[0] in CRAWLING_COMMANDS:
        return subprocess.run(
            [*NEWSARCHIVE, *args],
            capture_output=True,
            text=True,
            cwd=cwd or WORKDIR,
            timeout=timeout,
            env={**os.environ, "NEWSARCHIVE_DB": ""},
        )
    logged = io.StringIO()
    handler = logging.StreamHandler(logged)
    handler.setLevel(logging.WARNING)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        with contextlib.chdir(cwd or WORKDIR):
            result = CliRunner().invoke(
                main, args, env={"NEWSARCHIVE_DB": ""}, catch_exceptions=False
            )
    finally:
        root.removeHandler(handler)
    # What the command logs reaches stderr as in a process of its own (logging's last resort).
    stderr = logged.getvalue() + result.stderr
    return subprocess.CompletedProcess(
        [*NEWSARCHIVE, *args], result.exit_code, result.stdout, stderr
    )


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Runs `newsarchive ARGS` in this process, in tmp_path, with no NEWSARCHIVE_DB set;
    for every command but the crawls, which need a process of their own."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NEWSARCHIVE_DB", raising=False)
    runner = CliRunner()

    def invoke(*args: str, input: bytes | str | None = None) -> Result:
        return runner.invoke(main, list(args), input=input, catch_exceptions=False)

    return invoke


def wait_for_articles(sessions, count: int, timeout: float = 60) -> None:
    """Until a crawl running in another process has stored `count` articles."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with sessions() as session:
            if session.scalar(select(func.count(Article.id))) >= count:
                return
        time.sleep(0.05)
    raise AssertionError(f"the crawl stored fewer than {count} articles in {timeout} s")


HELD_PAGE = "/news/novyy-zavod-v-industrialnom-parke/"
DEMO_ARTICLES = 7


class HeldPageHandler(RecordingHandler):
    """Serves the demo portal, but holds the answer for HELD_PAGE until `release` is set."""

    arrived: threading.Event
    release: threading.Event

    def do_GET(self) -> None:
        if self.path == HELD_PAGE:
            self.arrived.set()
            self.release.wait(120)
        super().do_GET()


@pytest.fixture
def held_site() -> Iterator[LocalSite]:
    events = {"arrived": threading.Event(), "release": threading.Event()}
    handler = type("HeldPage", (HeldPageHandler,), events)
    with LocalSite(DEMO_PORTAL, handler=handler) as site:
        site.handler = handler
        yield site
        handler.release.set()


class OwnPostgres:
    """A PostgreSQL server of the test's own, on a free port, that the test may stop."""

    def __init__(self, bin_dir: Path, data: Path, port: int) -> None:
        self.bin_dir = bin_dir
        self.data = data
        self.port = port
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"

    def _pg_ctl(self, *args: str) -> None:
        command = [str(self.bin_dir / "pg_ctl"), "-D", str(self.data), *args]
        subprocess.run(_as_postgres(command), check=True, capture_output=True, timeout=60)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._pg_ctl("-o", options, "-l", str(self.data / "log"), "-w", "start")

    def stop(self) -> None:
        self._pg_ctl("-m", "fast", "-w", "stop")


def _as_postgres(command: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def own_postgres() -> Iterator[OwnPostgres]:
    """A fresh PostgreSQL cluster (initdb) running on a free port; skipped where the server
    programs are not installed, except in CI, where they must be."""
    bin_dirs = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not bin_dirs:
        reason = "no PostgreSQL server programs (initdb) in /usr/lib/postgresql"
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the database outage tests: {reason}")
        pytest.skip(reason)
    bin_dir = bin_dirs[-1].parent
    data = Path(tempfile.mkdtemp(prefix="newsarchive-pg-"))
    if os.geteuid() == 0:
        shutil.chown(data, "postgres", "postgres")
    initdb = [str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"]
    subprocess.run(_as_postgres(initdb), check=True, capture_output=True, timeout=120)
    server = OwnPostgres(bin_dir, data, _free_port())
    server.start()
    yield server
    with contextlib.suppress(subprocess.CalledProcessError):
        server.stop()
    shutil.rmtree(data, ignore_errors=True)


def start_held_crawl(site: LocalSite, db_url: str, cwd: Path, *settings: str) -> subprocess.Popen:
    """A crawl of the demo portal on `held_site` that has stored every article but the held
    one, and is waiting for that one."""
    sessions = session_factory(open_archive(db_url))
    crawl = subprocess.Popen(
        [
            *NEWSARCHIVE, "crawl", "--start-url", site.base_url + "/", "--db", db_url,
            *FAST_CRAWL, "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=2", "-s", "LOG_LEVEL=WARNING",
            *settings,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
    )  # fmt: skip
    wait_for_articles(sessions, DEMO_ARTICLES - 1)
    assert site.handler.arrived.wait(60)
    return crawl


@dataclass
class WebhookReceiver:
    """An HTTP server that records each POST and answers with `status` and `body`."""

    url: str
    posts: list[dict] = field(default_factory=list)
    status: int = 200
    body: bytes = b"ok"
    headers: dict[str, str] = field(default_factory=dict)


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            payload = self.rfile.read(int(self.headers["Content-Length"]))
            state.posts.append(
                {
                    "path": self.path,
                    "content_type": self.headers["Content-Type"],
                    "json": json.loads(payload),
                }
            )
            self.send_response(state.status)
            for name, value in state.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(state.body)))
            self.end_headers()
            self.wfile.write(state.body)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state = WebhookReceiver(f"http://127.0.0.1:{server.server_port}/hooks/T000/B000")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
    thread.join()


@dataclass
class Mailbox:
    """What an SMTP server received: envelopes with their parsed messages, and logins."""

    port: int
    messages: list[dict] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)
    refused: set[str] = field(default_factory=set)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options) -> str:
        if address in self.refused:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope) -> str:
        self.messages.append(
            {
                "mail_from": envelope.mail_from,
                "rcpt_tos": list(envelope.rcpt_tos),
                "tls": session.ssl is not None,
                # The message as sent, with the line ends of SMTP's wire format made Python's.
                "message": email.message_from_bytes(
                    envelope.content.replace(b"\r\n", b"\n"), policy=email.policy.default
                ),
            }
        )
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server() -> Iterator[Callable[..., Mailbox]]:
    """Starts an aiosmtpd server on 127.0.0.1 with the given SMTP parameters."""
    controllers = []

    def start(*, password: str | None = None, **parameters) -> Mailbox:
        mailbox = Mailbox(_free_port())

        def authenticate(server, session, envelope, mechanism, auth_data) -> AuthResult:
            assert isinstance(auth_data, LoginPassword)
            login = (auth_data.login.decode(), auth_data.password.decode())
            mailbox.logins.append(login)
            return AuthResult(success=login[1] == password, handled=False)

        if password is not None:
            parameters["authenticator"] = authenticate
        controller = Controller(mailbox, hostname="127.0.0.1", port=mailbox.port, **parameters)
        controller.start()
        controllers.append(controller)
        return mailbox

    yield start
    for controller in controllers:
        controller.stop()
