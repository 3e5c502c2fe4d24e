"""``uunet up --wait-ready`` returns once the stack in the state dir answers, and fails with one line
when nothing is there or ``dev.json`` is left over from a stack that is gone."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from uunet_cli.main import main


class _Ready(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/readyz" else 404)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def api_url() -> Iterator[str]:
    """A loopback HTTP server whose /readyz answers 200 (stands in for both APIs)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ready)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _write_dev_json(state: Path, public: str, private: str) -> None:
    state.mkdir(exist_ok=True)
    (state / "dev.json").write_text(json.dumps({"public_url": public, "private_url": private}))


def _wait(state: Path) -> int:
    return main(["up", "--wait-ready", "--state-dir", str(state), "--timeout", "1"])


def test_wait_ready_returns_when_both_apis_answer(
    tmp_path: Path, api_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _write_dev_json(tmp_path / "st", api_url, api_url)
    assert _wait(tmp_path / "st") == 0
    assert "is ready" in capsys.readouterr().err


@pytest.mark.parametrize("case", ["no dev.json", "stale dev.json"])
def test_wait_ready_fails_with_one_line_when_no_stack_answers(
    tmp_path: Path, api_url: str, case: str, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "st"
    if case == "stale dev.json":  # the private API of a stack killed hard: nobody listens there
        _write_dev_json(state, api_url, f"http://127.0.0.1:{_closed_port()}")
    assert _wait(state) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("uunet up: error:") and "not ready after 1 s" in err and "\n" not in err
