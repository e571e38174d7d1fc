"""uvicorn's httptools protocol with a bound on a request's head (request line and headers).

httptools itself takes a header of any length, buffering it whole: one request with a 64 MiB
header holds 64 MiB and more until it is parsed. Here a head over MAX_HEAD_BYTES is answered
431 and the connection closed, having buffered at most the limit plus one read.
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

MAX_HEAD_BYTES = 32 * 1024
LINGER_S = 1.0
_REFUSAL = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
    b"content-type: text/plain; charset=utf-8\r\n"
    b"content-length: 32\r\n"
    b"connection: close\r\n"
    b"\r\n"
    b"Request header fields too large."
)


class BoundedHeadProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head = True
        self._head_bytes = 0  # parsed: request line and complete headers
        self._pending_bytes = 0  # received while a head is unfinished
        self._fresh_head = False
        self._too_large = False
        self._refused = False

    def data_received(self, data: bytes) -> None:
        if self._too_large:
            return
        super().data_received(data)
        if self._in_head and not self._too_large:
            # A read in which the previous message ended counts from the next one on: the
            # count may come short by one read, never long.
            self._pending_bytes += 0 if self._fresh_head else len(data)
            self._fresh_head = False
            if self._pending_bytes > MAX_HEAD_BYTES:
                self._too_large = True
        if self._too_large:
            self._refuse()

    def _refuse(self) -> None:
        if self.transport.is_closing() or self._refused:
            return
        self._refused = True
        previous = self.cycle
        # A pipelined response still being written cannot be followed by ours.
        if previous is None or previous.response_complete:
            self.transport.write(_REFUSAL)
        # Closing with the client's bytes unread would reset the connection, and the client
        # could lose the answer: read and drop what still comes for a moment first.
        self.loop.call_later(LINGER_S, self.transport.close)

    def eof_received(self) -> None:
        if self._refused:
            self.transport.close()
            return
        super().eof_received()

    def on_message_begin(self) -> None:
        if self._too_large:
            return
        self._in_head, self._head_bytes = True, 0
        super().on_message_begin()

    def on_url(self, url: bytes) -> None:
        if self._too_large:
            return
        self._head_bytes += len(url)
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        if self._too_large:
            return
        self._head_bytes += len(name) + len(value) + 4
        if self._head_bytes > MAX_HEAD_BYTES:
            self._too_large = True
            return
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        if self._too_large:
            return
        self._in_head = False
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if not self._too_large:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if self._too_large:
            return
        super().on_message_complete()
        self._in_head, self._pending_bytes, self._fresh_head = True, 0, True
