"""A mail server for tests that accepts every message and keeps it: EHLO, MAIL, RCPT, DATA, QUIT.

No STARTTLS and no AUTH, like a local relay on port 25.
"""

from __future__ import annotations

import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes, policy
from email.message import EmailMessage


class _Session(socketserver.StreamRequestHandler):
    server: _SinkServer

    def handle(self) -> None:
        self.wfile.write(b"220 sink ESMTP\r\n")
        for line in self.rfile:
            verb = line[:4].upper()
            if verb == b"QUIT":
                self.wfile.write(b"221 bye\r\n")
                return
            if verb == b"DATA":
                self.wfile.write(b"354 end with .\r\n")
                self.server.messages.append(self._read_message())
                self.wfile.write(b"250 queued\r\n")
            else:  # EHLO, HELO, MAIL, RCPT, RSET, NOOP
                self.wfile.write(b"250 ok\r\n")

    def _read_message(self) -> EmailMessage:
        lines = []
        for line in self.rfile:
            if line == b".\r\n":
                break
            lines.append(line[1:] if line.startswith(b".") else line)
        message = message_from_bytes(b"".join(lines), policy=policy.default)
        assert isinstance(message, EmailMessage)
        return message


class _SinkServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    messages: list[EmailMessage]


@contextmanager
def smtp_sink() -> Iterator[tuple[str, list[EmailMessage]]]:
    """Yield the sink's smtp:// URL and the list its messages arrive in."""
    with _SinkServer(("127.0.0.1", 0), _Session) as server:
        server.messages = []
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
        thread.start()
        try:
            yield f"smtp://127.0.0.1:{server.server_address[1]}", server.messages
        finally:
            server.shutdown()
            thread.join()
