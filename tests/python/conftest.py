"""Starts one real endsession-server for the whole run (free port, temporary data dir, API tokens for two accounts
and all three scopes) and stops it at the end. The restart tests start their own.

Binary: $ENDSESSION_SERVER_BIN, else ${CARGO_TARGET_DIR:-<repo>/target}/release/endsession-server.
With $ENDSESSION_PYTEST_DATABASE_URL (a Postgres admin URL) every server keeps its store in Postgres (support.py).
"""

from __future__ import annotations

import shutil

import pytest

from participant import Crowd
from support import STARTED, Kit, ServerProcess, Tokens, drop_databases, temp_data_dir


@pytest.fixture(scope="session")
def tokens() -> Tokens:
    return Tokens.generate()


@pytest.fixture(scope="session")
def server(tokens: Tokens):
    data = temp_data_dir()
    srv = ServerProcess(data, tokens)
    srv.start()
    yield srv
    srv.stop()
    shutil.rmtree(data.parent, ignore_errors=True)


@pytest.fixture(scope="session")
def admin(server: ServerProcess, tokens: Tokens) -> Kit:
    """Account A, scope `Realtime Admin`."""
    return Kit(server, tokens.a_admin)


@pytest.fixture(scope="session")
def writer(server: ServerProcess, tokens: Tokens) -> Kit:
    """Account A, scope `Realtime`."""
    return Kit(server, tokens.a_write)


@pytest.fixture(scope="session")
def reader(server: ServerProcess, tokens: Tokens) -> Kit:
    """Account A, scope `Realtime Read`."""
    return Kit(server, tokens.a_read)


@pytest.fixture(scope="session")
def other(server: ServerProcess, tokens: Tokens) -> Kit:
    """Account B, scope `Realtime Admin`."""
    return Kit(server, tokens.b_admin)


@pytest.fixture(scope="session")
def lister(server: ServerProcess, tokens: Tokens) -> Kit:
    """Account C, scope `Realtime Admin`: only for tests that list the account's apps."""
    return Kit(server, tokens.c_admin)


@pytest.fixture(scope="session")
def lister_reader(server: ServerProcess, tokens: Tokens) -> Kit:
    """Account C, scope `Realtime Read`."""
    return Kit(server, tokens.c_read)


@pytest.fixture
def crowd(server: ServerProcess):
    """Opens participant sockets for one test and closes them all when it ends."""
    c = Crowd(server.ws_url)
    yield c
    c.close()


@pytest.fixture(autouse=True)
def _server_still_up(request):
    """After every test that used the shared server: it must still be running (no crash on what the test sent)."""
    yield
    if "server" in request.fixturenames:
        srv = request.getfixturevalue("server")
        assert srv.alive(), f"endsession-server exited during this test; its output:\n{srv.output()}"


def pytest_sessionfinish(session, exitstatus):
    for srv in STARTED:
        srv.stop()
    drop_databases()


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if exitstatus == 0:
        return
    for srv in STARTED:
        terminalreporter.write_sep("-", f"last lines of endsession-server output ({srv.log_path})")
        terminalreporter.write_line(srv.output(40) or "(no output)")
