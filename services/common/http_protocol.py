"""uvicorn's HTTP/1.1 protocol with a deadline for each request head.

uvicorn bounds idle keep-alive connections but not a client that sends its request line and
headers one byte at a time, which holds a connection (and a file descriptor) for ever. Here each
request head must be complete within ``timeout_s`` of the connection opening or of the previous
response; otherwise the server answers 408 and closes. Upload bodies are paced separately
(``services.common.uploads.paced``).
"""

from __future__ import annotations

import asyncio
import logging

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger(__name__)

_REQUEST_TIMEOUT = b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"


def head_timeout_protocol(timeout_s: float) -> type[H11Protocol]:
    """An ``H11Protocol`` subclass (for ``uvicorn.Config(http=...)``) enforcing ``timeout_s``."""

    class HeadDeadlineH11(H11Protocol):
        _deadline: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
            super().connection_lost(exc)

        def _arm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
            self._deadline = self.loop.call_later(timeout_s, self._expired)

        def _expired(self) -> None:
            # IDLE: the client has not finished a request head since the deadline was armed.
            if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
                log.info("closed a connection whose request head took over %.0f s", timeout_s)
                self.transport.write(_REQUEST_TIMEOUT)
                self.transport.close()

    return HeadDeadlineH11
