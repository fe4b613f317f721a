"""Emails: rendered from templates (HTML and plain text), delivered by SMTP or into files."""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import functools
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiosmtplib
import jinja2

from shop_api.settings import Settings

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates" / "email"
SHOP_NAME = "Shop"

SUBJECTS = {
    "welcome": "Welcome to {shop}",
    "password_changed": "Your password was changed",
    "email_changed": "The email address of your account was changed",
    "order_confirmation": "Order #{order_id} confirmed",
    "order_shipped": "Order #{order_id} has shipped",
    "order_delivered": "Order #{order_id} was delivered",
    "order_cancelled": "Order #{order_id} was cancelled",
    "payment_receipt": "Receipt for order #{order_id}",
    "payment_failed": "Payment for order #{order_id} failed",
}


@functools.cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default=False),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


def render(kind: str, context: dict[str, Any]) -> RenderedEmail:
    order = context.get("order")
    subject = SUBJECTS[kind].format(shop=SHOP_NAME, order_id=order["id"] if order else "")
    full = {"shop_name": SHOP_NAME, "subject": subject, **context}
    environment = _environment()
    return RenderedEmail(
        subject=subject,
        text=environment.get_template(f"{kind}.txt").render(full),
        html=environment.get_template(f"{kind}.html").render(full),
    )


def message_id_for(settings: Settings, event_key: str) -> str:
    """Derived from the event, so a resend of the same event carries the same id and a
    receiving system can drop the copy."""
    domain = settings.mail_from.rpartition("@")[2].rstrip(">") or "shop.local"
    return f"<{uuid.uuid5(uuid.NAMESPACE_URL, event_key)}@{domain}>"


def send_deadline_seconds(settings: Settings) -> float:
    """The longest one SMTP exchange may take: connecting, then each command (EHLO, STARTTLS,
    EHLO, AUTH, MAIL, RCPT, DATA and the message, QUIT) within its own timeout."""
    return settings.smtp_connect_timeout + 8 * settings.smtp_timeout


def build_message(
    settings: Settings, *, to: str, rendered: RenderedEmail, event_key: str, message_id: str
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = to
    message["Subject"] = rendered.subject
    message["Date"] = email.utils.format_datetime(datetime.now(UTC))
    message["Message-ID"] = message_id
    message["X-Shop-Event"] = event_key
    message.set_content(rendered.text)
    message.add_alternative(rendered.html, subtype="html")
    return message


async def deliver(settings: Settings, message: EmailMessage) -> None:
    if settings.email_backend == "file":
        # Blocking file I/O: off the worker's event loop, which every actor of the process shares.
        await asyncio.to_thread(_write_file, Path(settings.email_file_dir), message)
        return
    client = aiosmtplib.SMTP(
        hostname=settings.smtp_host,
        port=settings.smtp_port,
        username=settings.smtp_user or None,
        password=settings.smtp_password or None,
        start_tls=settings.smtp_starttls,
        timeout=settings.smtp_timeout,  # each command; the connection has its own below
    )
    async with asyncio.timeout(send_deadline_seconds(settings)):
        await client.connect(timeout=settings.smtp_connect_timeout)
        try:
            await client.send_message(message)
        except BaseException:
            client.close()
            raise
        with contextlib.suppress(aiosmtplib.SMTPException, OSError):
            await client.quit()  # a courtesy: the server has taken the message already


def _write_file(folder: Path, message: EmailMessage) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    event = str(message["X-Shop-Event"]).replace(":", "-").replace("/", "-")
    path = folder / f"{stamp}-{event}.eml"
    path.write_bytes(bytes(message))
