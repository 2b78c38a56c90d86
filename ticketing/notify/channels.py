"""Sending one message: e-mail over SMTP, JSON to a webhook (group bots of WeCom, DingTalk,
Feishu, Slack, or any receiver of a plain JSON POST).

Configuration is explicit (:class:`ChannelConfig`, built by the process from its settings):
the addresses of servers and bot URLs are secrets and never appear in the policy or a log.
A failure raises :class:`DeliveryError`, saying whether a retry can help.
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any, Literal

import httpx

__all__ = ["WebhookFormat", "Webhook", "ChannelConfig", "DeliveryError", "send_email",
           "send_webhook", "webhook_payload"]

WebhookFormat = Literal["generic", "wecom", "dingtalk", "feishu", "slack"]


class DeliveryError(Exception):
    """A message was not delivered; ``permanent`` when trying again cannot help."""

    def __init__(self, message: str, *, permanent: bool, unconfigured: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent or unconfigured
        # The channel is not set up here (a demo, a site without mail): a state, not an
        # incident, so it is recorded but not shouted about.
        self.unconfigured = unconfigured


@dataclass(frozen=True, slots=True, kw_only=True)
class Webhook:
    url: str = field(repr=False)
    format: WebhookFormat = "generic"


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelConfig:
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_tls: Literal["none", "starttls", "ssl"] = "none"
    smtp_user: str | None = None
    smtp_password: str | None = field(default=None, repr=False)
    mail_from: str = "robowatch@localhost"
    webhooks: Mapping[str, Webhook] = field(default_factory=dict)
    # A mail server or bot that takes longer is treated as down: the message is retried.
    timeout_s: float = 10.0


def _send_email_blocking(config: ChannelConfig, host: str, *, to: str, subject: str,
                         body: str, message_id: str) -> None:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = config.mail_from, to, subject
    # A stable Message-ID: a receiving server or client can recognise a repeat.
    msg["Message-ID"] = message_id
    msg.set_content(body)
    smtp_class = smtplib.SMTP_SSL if config.smtp_tls == "ssl" else smtplib.SMTP
    with smtp_class(host, config.smtp_port, timeout=config.timeout_s) as smtp:
        if config.smtp_tls == "starttls":
            smtp.starttls(context=ssl.create_default_context())
        if config.smtp_user:
            smtp.login(config.smtp_user, config.smtp_password or "")
        smtp.send_message(msg)


async def send_email(config: ChannelConfig, *, to: str, subject: str, body: str,
                     delivery_id: int) -> None:
    """Send one mail (in a worker thread: smtplib blocks)."""
    if not config.smtp_host:
        raise DeliveryError("no SMTP server configured (ROBOWATCH_NOTIFY__SMTP_URL)",
                            permanent=True, unconfigured=True)
    message_id = make_msgid(idstring=f"robowatch-notification-{delivery_id}")
    try:
        await asyncio.to_thread(_send_email_blocking, config, config.smtp_host, to=to,
                                subject=subject, body=body, message_id=message_id)
    except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused,
            smtplib.SMTPAuthenticationError, smtplib.SMTPNotSupportedError) as exc:
        raise DeliveryError(f"SMTP refused: {exc}", permanent=True) from exc
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryError(f"SMTP failed: {exc}", permanent=False) from exc


def webhook_payload(fmt: WebhookFormat, *, subject: str, body: str,
                    extra: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON each kind of group bot accepts for a text message."""
    text = f"{subject}\n{body}"
    if fmt in ("wecom", "dingtalk"):
        return {"msgtype": "text", "text": {"content": text}}
    if fmt == "feishu":
        return {"msg_type": "text", "content": {"text": text}}
    if fmt == "slack":
        return {"text": text}
    return {"subject": subject, "text": body, **extra}


async def send_webhook(config: ChannelConfig, client: httpx.AsyncClient, *, name: str,
                       subject: str, body: str, delivery_id: int,
                       extra: Mapping[str, Any]) -> None:
    """POST one message to the webhook ``name``. 2xx is delivered; 408, 429 and 5xx or a lost
    connection are worth a retry; other 4xx are permanent (the request itself is wrong)."""
    hook = config.webhooks.get(name)
    if hook is None:
        raise DeliveryError(f"no webhook {name!r} configured (ROBOWATCH_NOTIFY__WEBHOOKS)",
                            permanent=True, unconfigured=True)
    payload = webhook_payload(hook.format, subject=subject, body=body, extra=extra)
    try:
        resp = await client.post(hook.url, json=payload, timeout=config.timeout_s,
                                 headers={"Idempotency-Key": f"robowatch-{delivery_id}"})
    except httpx.HTTPError as exc:
        raise DeliveryError(f"webhook {name}: {type(exc).__name__}: {exc}",
                            permanent=False) from exc
    if resp.is_success:
        return
    retry = resp.status_code in (408, 429) or resp.status_code >= 500
    raise DeliveryError(f"webhook {name}: HTTP {resp.status_code}", permanent=not retry)
