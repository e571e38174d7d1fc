"""Email for password reset links, over the SMTP server of IMAGE2AD_SMTP_URL (standard library).

smtp://user:pass@host:587 upgrades with STARTTLS when the server offers it, smtps://…:465 is TLS
from the start, smtp://host:25 sends without logging in.
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
import ssl
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

from image2ad.config import Settings

log = logging.getLogger("image2ad.mail")
TIMEOUT_S = 10.0


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    implicit_tls: bool
    username: str | None
    password: str | None


def smtp_server(url: str) -> SmtpServer:
    parts = urlsplit(url)
    implicit_tls = parts.scheme == "smtps"
    return SmtpServer(
        host=parts.hostname or "",
        port=parts.port or (465 if implicit_tls else 25),
        implicit_tls=implicit_tls,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


def reset_message(settings: Settings, to: str, link: str, expires_at: datetime) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.resolved_mail_from
    message["To"] = to
    message["Subject"] = "Reset your image2ad password"
    message.set_content(
        "Someone (hopefully you) asked to reset the password of your image2ad account.\n\n"
        f"Choose a new password here (the link works once, until "
        f"{expires_at:%Y-%m-%d %H:%M} UTC):\n\n{link}\n\n"
        "If you did not ask for this, ignore this email: your password stays as it is.\n"
    )
    return message


def send(server: SmtpServer, message: EmailMessage) -> None:
    """Deliver `message` (blocking)."""
    context = ssl.create_default_context()
    smtp: smtplib.SMTP
    if server.implicit_tls:
        smtp = smtplib.SMTP_SSL(server.host, server.port, timeout=TIMEOUT_S, context=context)
    else:
        smtp = smtplib.SMTP(server.host, server.port, timeout=TIMEOUT_S)
    with smtp:
        smtp.ehlo()
        encrypted = server.implicit_tls
        if not encrypted and smtp.has_extn("starttls"):
            smtp.starttls(context=context)
            smtp.ehlo()
            encrypted = True
        if server.username:
            if not encrypted:
                # Never send the mail account's password in the clear.
                raise smtplib.SMTPException("the server offers no STARTTLS to log in over")
            smtp.login(server.username, server.password or "")
        smtp.send_message(message)


async def send_reset_link(settings: Settings, to: str, link: str, expires_at: datetime) -> bool:
    """Email a reset link; False (and a log line without the link) when that failed."""
    if settings.smtp_url is None:
        return False
    server = smtp_server(settings.smtp_url.get_secret_value())
    message = reset_message(settings, to, link, expires_at)
    try:
        await asyncio.to_thread(send, server, message)
    except (OSError, smtplib.SMTPException) as exc:
        log.warning(
            "could not email a password reset link via %s:%s: %s: %s",
            server.host,
            server.port,
            type(exc).__name__,
            exc,
        )
        return False
    return True
