"""A minimal SMTP server on 127.0.0.1 that keeps every message it receives (stands in for a team's mail relay).

It speaks just enough SMTP for ``smtplib`` (EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT); no TLS, no auth.
"""

from __future__ import annotations

import email
import email.policy
import json
import socketserver
import threading
from email.message import EmailMessage
from typing import Any


class _Handler(socketserver.StreamRequestHandler):
    def reply(self, line: str) -> None:
        self.wfile.write(f"{line}\r\n".encode())

    def handle(self) -> None:
        self.reply("220 sink ESMTP")
        while raw := self.rfile.readline():
            verb = raw.decode(errors="replace").strip().split(" ", 1)[0].upper()
            if verb == "DATA":
                self.reply("354 end with <CRLF>.<CRLF>")
                lines = []
                while (line := self.rfile.readline()) not in (b".\r\n", b".\n", b""):
                    lines.append(line[1:] if line.startswith(b"..") else line)  # undo dot-stuffing
                self.server.messages.append(email.message_from_bytes(b"".join(lines), policy=email.policy.default))
                self.reply("250 OK queued")
            elif verb == "QUIT":
                self.reply("221 bye")
                return
            elif verb in ("EHLO", "HELO", "MAIL", "RCPT", "RSET", "NOOP"):
                self.reply("250 OK")
            else:
                self.reply("502 not implemented")


class SmtpSink(socketserver.ThreadingTCPServer):
    """``with SmtpSink() as sink:`` — ``sink.port``, ``sink.messages``, ``sink.connection_json()``."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.messages: list[EmailMessage] = []
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return self.server_address[1]

    def __enter__(self) -> SmtpSink:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.shutdown()
        self.server_close()

    def connection_json(self) -> str:
        """An Airflow SMTP connection (AIRFLOW_CONN_* JSON form) pointing at this sink."""
        return json.dumps({"conn_type": "smtp", "host": "127.0.0.1", "port": self.port,
                           "extra": {"disable_ssl": True, "disable_tls": True, "from_email": "airflow@example.gov",
                                     "retry_limit": 0, "timeout": 10}})

    def bodies(self) -> list[str]:
        """The text of every message received (subject line first)."""
        return [f"{m['subject']}\n{m.get_body(('html', 'plain')).get_content()}" for m in self.messages]
