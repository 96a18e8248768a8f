"""Plumbing shared by the tests: starting a real endsession-server, raw HTTP calls, SDK clients, small waits.

Nothing here asserts behaviour of the server; the tests do that.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Optional

import cloudflare

REPO = Path(__file__).resolve().parents[2]
ADMIN = "Realtime Admin"
WRITE = "Realtime"
READ = "Realtime Read"
START_TIMEOUT = 30.0  # seconds for the server to print `listening on`
HTTP_TIMEOUT = 5.0  # seconds for one REST call

# The SDK's httpx client and the WebSocket client must never go through a proxy to reach 127.0.0.1.
os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"


def server_binary() -> Path:
    explicit = os.environ.get("ENDSESSION_SERVER_BIN")
    if explicit:
        return Path(explicit)
    target = os.environ.get("CARGO_TARGET_DIR") or str(REPO / "target")
    return Path(target) / "release" / "endsession-server"


# With ENDSESSION_PYTEST_DATABASE_URL (a Postgres admin URL, `postgres://USER@HOST:PORT/postgres`), every server
# these tests start keeps its store in Postgres (`--database`) instead of SQLite: scripts/test.sh runs the suite once
# on each. Each data directory gets a database of its own, so a restart on the same directory finds its data.
POSTGRES_ADMIN = os.environ.get("ENDSESSION_PYTEST_DATABASE_URL") or None
_DATABASES: dict[str, str] = {}  # data directory -> its database's URL


def _psql(sql: str) -> None:
    """Runs one statement on the Postgres admin database with `psql` (from the Debian postgresql package)."""
    assert POSTGRES_ADMIN
    subprocess.run(["psql", POSTGRES_ADMIN, "-v", "ON_ERROR_STOP=1", "-qc", sql], check=True, timeout=30,
                   stdout=subprocess.DEVNULL)


def database_for(data_dir: Path) -> Optional[str]:
    """The Postgres database of the server on `data_dir` (made on first use), or None when running on SQLite."""
    if not POSTGRES_ADMIN:
        return None
    key = str(data_dir.resolve())
    if key not in _DATABASES:
        name = f"endsession_py_{uuid.uuid4().hex}"
        _psql(f"CREATE DATABASE {name}")
        base = POSTGRES_ADMIN.split("?")[0].rsplit("/", 1)[0]
        _DATABASES[key] = f"{base}/{name}"
    return _DATABASES[key]


def drop_databases() -> None:
    """Drops every database this run made (at the end of the run)."""
    for url in _DATABASES.values():
        _psql(f"DROP DATABASE IF EXISTS {url.rsplit('/', 1)[1]} WITH (FORCE)")
    _DATABASES.clear()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def new_account_id() -> str:
    # Cloudflare account ids are 32 lowercase hex characters.
    return uuid.uuid4().hex


@dataclass(frozen=True)
class Token:
    account: str
    secret: str
    scope: str

    def arg(self) -> str:
        return f"{self.account}:{self.secret}:{self.scope}"


@dataclass
class Tokens:
    """API tokens: account A with all three scopes, account B with admin and read. Account C (admin and read) is
    kept for the few tests that list an account's apps, so that the apps every other test makes do not push
    theirs off the first page."""

    a_admin: Token
    a_write: Token
    a_read: Token
    b_admin: Token
    b_read: Token
    c_admin: Token
    c_read: Token

    @staticmethod
    def generate() -> "Tokens":
        a, b, c = new_account_id(), new_account_id(), new_account_id()
        s = lambda: secrets.token_urlsafe(24)  # noqa: E731
        return Tokens(
            a_admin=Token(a, s(), ADMIN),
            a_write=Token(a, s(), WRITE),
            a_read=Token(a, s(), READ),
            b_admin=Token(b, s(), ADMIN),
            b_read=Token(b, s(), READ),
            c_admin=Token(c, s(), ADMIN),
            c_read=Token(c, s(), READ),
        )

    def all(self) -> list[Token]:
        return [self.a_admin, self.a_write, self.a_read, self.b_admin, self.b_read, self.c_admin, self.c_read]


STARTED: list["ServerProcess"] = []  # every server this run started, for the failure summary


class ServerProcess:
    """One running endsession-server; its output is kept in memory and in `log_path`."""

    def __init__(self, data_dir: Path, tokens: Tokens, port: Optional[int] = None, args: Optional[list[str]] = None):
        self.data_dir = data_dir
        self.tokens = tokens
        self.port = port or free_port()
        self.extra_args = list(args or [])  # more command-line flags, e.g. ["--webhook-retry-base-ms", "50"]
        self.proc: Optional[subprocess.Popen] = None
        self.lines: list[str] = []
        logs = Path(tempfile.gettempdir()) / "endsession-pytest-logs"
        logs.mkdir(exist_ok=True)
        self.log_path = logs / f"server-{self.port}-{int(time.time() * 1000)}.log"
        self._listening = threading.Event()
        self.address: Optional[str] = None

    @property
    def base(self) -> str:
        return f"http://{self.address}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.address}/realtime/ws"

    def start(self) -> "ServerProcess":
        binary = server_binary()
        if not binary.is_file():
            raise RuntimeError(
                f"endsession-server binary not found at {binary}; build it with "
                "`cargo build --release -p endsession-server` or set ENDSESSION_SERVER_BIN"
            )
        args = [str(binary), "--listen", f"127.0.0.1:{self.port}", "--data", str(self.data_dir)]
        for token in self.tokens.all():
            args += ["--api-token", token.arg()]
        args += self.extra_args
        database = database_for(self.data_dir)
        if database:
            args += ["--database", database]
        env = {k: v for k, v in os.environ.items() if k != "ENDSESSION_API_TOKENS"}
        env.setdefault("RUST_BACKTRACE", "1")
        STARTED.append(self)
        self.proc = subprocess.Popen(
            args,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            text=True,
            bufsize=1,
        )
        threading.Thread(target=self._pump, daemon=True).start()
        deadline = time.monotonic() + START_TIMEOUT
        while not self._listening.wait(0.05):
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"endsession-server exited with {self.proc.returncode} before listening; output:\n{self.output()}"
                )
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(
                    f"endsession-server did not print `listening on` within {START_TIMEOUT}s; output:\n{self.output()}"
                )
        return self

    def _pump(self) -> None:
        assert self.proc and self.proc.stdout
        with open(self.log_path, "w", encoding="utf-8") as log:
            for line in self.proc.stdout:
                self.lines.append(line.rstrip("\n"))
                log.write(line)
                log.flush()
                if not self._listening.is_set():
                    m = re.search(r"listening on http://(\S+)", line)
                    if m:
                        self.address = m.group(1).rstrip("/")
                        self._listening.set()

    def output(self, last: int = 60) -> str:
        return "\n".join(self.lines[-last:])

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> None:
        if not self.proc or self.proc.poll() is not None:
            return
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)

    # --- clients -------------------------------------------------------------------------------------------------

    def sdk(self, token: Token) -> cloudflare.Cloudflare:
        """The official SDK pointed at this server. No retries: a failure must show at once, not three times."""
        return cloudflare.Cloudflare(
            api_token=token.secret,
            base_url=f"{self.base}/client/v4",
            max_retries=0,
            timeout=HTTP_TIMEOUT,
        )

    def raw(
        self,
        method: str,
        path: str,
        *,
        token: Optional[Token | str] = None,
        body: Any = None,
        headers: Optional[dict[str, str]] = None,
    ) -> "RawResponse":
        """One HTTP request without the SDK. `path` is below `/client/v4` unless it starts with `//`.

        `body` may be bytes/str (sent as is) or any other value (sent as JSON). `token` is a Token or a raw
        Authorization header value.
        """
        full = path[1:] if path.startswith("//") else "/client/v4" + path
        hdrs = {"Accept": "application/json"}
        if isinstance(token, Token):
            hdrs["Authorization"] = f"Bearer {token.secret}"
        elif isinstance(token, str):
            hdrs["Authorization"] = token
        data: Optional[bytes] = None
        if body is not None:
            if isinstance(body, bytes):
                data = body
            elif isinstance(body, str):
                data = body.encode()
            else:
                data = json.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"
        hdrs.update(headers or {})
        host, port = self.address.rsplit(":", 1)
        conn = http.client.HTTPConnection(host, int(port), timeout=HTTP_TIMEOUT)
        try:
            conn.request(method, full, body=data, headers=hdrs)
            resp = conn.getresponse()
            return RawResponse(resp.status, dict(resp.getheaders()), resp.read(), f"{method} {full}")
        finally:
            conn.close()

    def raw_oversized(self, method: str, path: str, *, token: Token, size: int) -> "RawResponse":
        """Sends a JSON body of `size` bytes. The server may answer and close before reading all of it, so a
        broken pipe while sending is not a failure: the answer is read anyway."""
        filler = b'{"title": "' + b"x" * max(0, size - 14) + b'"}'
        host, port = self.address.rsplit(":", 1)
        sock = socket.create_connection((host, int(port)), timeout=HTTP_TIMEOUT)
        try:
            head = (
                f"{method} /client/v4{path} HTTP/1.1\r\nHost: {self.address}\r\n"
                f"Authorization: Bearer {token.secret}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(filler)}\r\nConnection: close\r\n\r\n"
            ).encode()
            try:
                sock.sendall(head)
                view = memoryview(filler)
                for i in range(0, len(filler), 65536):
                    sock.sendall(view[i : i + 65536])
            except (BrokenPipeError, ConnectionResetError):
                pass
            response = http.client.HTTPResponse(sock, method=method)
            try:
                response.begin()
            except (ConnectionResetError, http.client.RemoteDisconnected) as e:
                raise AssertionError(
                    f"{method} {path} with a {size}-byte body: the server closed the connection without an HTTP "
                    f"answer ({e!r}); expected 413 with a JSON error body"
                ) from None
            return RawResponse(response.status, dict(response.getheaders()), response.read(), f"{method} {path}")
        finally:
            sock.close()


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes
    what: str = ""
    _json: Any = field(default=None, repr=False)

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            raise AssertionError(f"{self.what}: body is not JSON (status {self.status}): {self.body[:300]!r}") from None

    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def __str__(self) -> str:
        return f"{self.what} -> {self.status} {self.body[:400]!r}"


def assert_cloudflare_error(resp: RawResponse, status: int, *, mentions: tuple[str, ...] = ()) -> list[dict]:
    """The Cloudflare error envelope: the HTTP status, `success: false`, and `errors: [{code, message}, ...]`.

    Assumption: codes are integers, as in every Cloudflare v4 API error (`{"code": 10000, "message": "..."}`).
    `mentions` are words that must appear (case-insensitive) in at least one error message, e.g. the field name.
    """
    assert resp.status == status, f"expected HTTP {status}: {resp}"
    ctype = resp.headers.get("Content-Type") or resp.headers.get("content-type") or ""
    assert "application/json" in ctype, f"error body must be JSON (Content-Type {ctype!r}): {resp}"
    body = resp.json()
    assert isinstance(body, dict), f"error body must be a JSON object: {resp}"
    assert body.get("success") is False, f"`success` must be false: {resp}"
    errors = body.get("errors")
    assert isinstance(errors, list) and errors, f"`errors` must be a non-empty list: {resp}"
    for e in errors:
        assert isinstance(e, dict), f"each error must be an object: {resp}"
        assert isinstance(e.get("code"), int) and not isinstance(e.get("code"), bool), f"error code must be an integer: {resp}"
        assert isinstance(e.get("message"), str) and e["message"].strip(), f"error message must be a non-empty string: {resp}"
    text = " ".join(e["message"] for e in errors).lower()
    for word in mentions:
        assert word.lower() in text, f"error message should name {word!r}: {resp}"
    return errors


def parse_time(value: Any, what: str) -> datetime:
    """An ISO 8601 timestamp (the SDK types some as `datetime`, some as `str`)."""
    if isinstance(value, datetime):
        return value
    assert isinstance(value, str) and value, f"{what} must be an ISO 8601 timestamp, got {value!r}"
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise AssertionError(f"{what} is not an ISO 8601 timestamp: {value!r}") from None


def poll(fn: Callable[[], Any], until: Callable[[Any], bool], *, timeout: float = 5.0, what: str = "condition") -> Any:
    """Calls `fn` until `until(result)` holds; fails with the last result after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        last = fn()
        if until(last):
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}; last value: {last!r}")
        time.sleep(0.05)


def temp_data_dir() -> Path:
    root = Path(tempfile.mkdtemp(prefix="endsession-pytest-"))
    data = root / "data"
    data.mkdir()
    return data


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


class Kit:
    """The official SDK for one token, plus the few set-up steps most tests share. Each step checks what it gets,
    so a broken set-up fails the test with the step named."""

    def __init__(self, server: ServerProcess, token: Token):
        self.server = server
        self.token = token
        self.account = token.account
        self.cf = server.sdk(token)
        self.rk = self.cf.realtime_kit

    def new_app(self, name: Optional[str] = None) -> str:
        from cloudflare.types.realtime_kit import AppPostResponse

        name = name or unique("app")
        resp = self.rk.apps.post(account_id=self.account, name=name)
        assert isinstance(resp, AppPostResponse), type(resp)
        assert resp.success is True, f"apps.post: success must be true: {resp}"
        assert resp.data and resp.data.app and resp.data.app.id, f"apps.post: data.app.id missing: {resp}"
        assert resp.data.app.name == name, f"apps.post: data.app.name: {resp}"
        return resp.data.app.id

    def new_meeting(self, app_id: str, title: Optional[str] = None, **params: Any):
        resp = self.rk.meetings.create(app_id, account_id=self.account, title=title or unique("meeting"), **params)
        assert resp.success is True and resp.data and resp.data.id, f"meetings.create: {resp}"
        return resp.data

    def add(self, app_id: str, meeting_id: str, custom_id: Optional[str] = None,
            preset: str = "group_call_participant", name: Optional[str] = None):
        custom_id = custom_id or unique("cpid")
        resp = self.rk.meetings.add_participant(
            meeting_id, account_id=self.account, app_id=app_id, custom_participant_id=custom_id,
            preset_name=preset, name=name or custom_id,
        )
        assert resp.success is True and resp.data, f"meetings.add_participant: {resp}"
        assert isinstance(resp.data.token, str) and resp.data.token, f"add_participant: data.token empty: {resp}"
        return resp.data

    def active_session(self, app_id: str, meeting_id: str):
        return self.rk.active_session.get_active_session(meeting_id, account_id=self.account, app_id=app_id)

    def kick_all(self, app_id: str, meeting_id: str):
        return self.rk.active_session.kick_all_participants(meeting_id, account_id=self.account, app_id=app_id)

    def presets_by_name(self, app_id: str) -> dict[str, Any]:
        resp = self.rk.presets.get(app_id, account_id=self.account)
        return {p.name: p for p in resp.data or []}

    def kit_path(self, app_id: Optional[str] = None, account: Optional[str] = None) -> str:
        """`/accounts/{account}/realtime/kit[/{app_id}]` for raw calls."""
        base = f"/accounts/{account or self.account}/realtime/kit"
        return f"{base}/{app_id}" if app_id else base


def preset_body(kick_participant: bool) -> dict[str, Any]:
    """`config`, `permissions` and `ui` of a preset with every field the SDK marks Required
    (types/realtime_kit/preset_create_params.py)."""
    produce = {"can_produce": "ALLOWED"}
    return {
        "config": {
            "max_screenshare_count": 1,
            "max_video_streams": {"desktop": 9, "mobile": 4},
            "media": {
                "screenshare": {"frame_rate": 5, "quality": "hd"},
                "video": {"frame_rate": 30, "quality": "hd"},
            },
            "view_type": "GROUP_CALL",
        },
        "permissions": {
            "accept_waiting_requests": False,
            "can_accept_production_requests": False,
            "can_change_participant_permissions": False,
            "can_edit_display_name": True,
            "can_livestream": False,
            "can_record": False,
            "can_spotlight": False,
            "chat": {
                "private": {"can_receive": True, "can_send": True, "files": True, "text": True},
                "public": {"can_send": True, "files": True, "text": True},
            },
            "connected_meetings": {
                "can_alter_connected_meetings": False,
                "can_switch_connected_meetings": False,
                "can_switch_to_parent_meeting": False,
            },
            "disable_participant_audio": False,
            "disable_participant_screensharing": False,
            "disable_participant_video": False,
            "hidden_participant": False,
            "kick_participant": kick_participant,
            "media": {"audio": dict(produce), "screenshare": dict(produce), "video": dict(produce)},
            "pin_participant": False,
            "plugins": {"can_close": False, "can_edit_config": False, "can_start": False, "config": {}},
            "polls": {"can_create": False, "can_view": True, "can_vote": True},
            "recorder_type": "NONE",
            "show_participant_list": True,
            "waiting_room_type": "SKIP",
        },
        "ui": {
            "design_tokens": {
                "border_radius": "rounded",
                "border_width": "thin",
                "colors": {
                    "background": {"1000": "#000000", "600": "#222222", "700": "#1a1a1a", "800": "#111111", "900": "#0a0a0a"},
                    "brand": {"300": "#844d1c", "400": "#9d5b22", "500": "#b56927", "600": "#d37c30", "700": "#d9904f"},
                    "danger": "#FF2D2D",
                    "success": "#62A504",
                    "text": "#EEEEEE",
                    "text_on_brand": "#EEEEEE",
                    "video_bg": "#191919",
                    "warning": "#FFCD07",
                },
                "spacing_base": 4,
                "theme": "dark",
            }
        },
    }


def missing_id() -> str:
    """An id nothing has: a fresh UUID, the shape RealtimeKit's ids have."""
    return str(uuid.uuid4())
