"""Sending email over SMTP, configured by one URL (MENTORING_SMTP_URL).

smtp://user:password@host:587 uses STARTTLS when the server offers it; smtps://… connects with TLS;
?from=address sets the sender. Without a URL nothing is sent."""

import smtplib
from collections.abc import Iterable
from email.message import EmailMessage
from urllib.parse import parse_qs, unquote, urlsplit


def sender(smtp_url: str) -> str:
    return parse_qs(urlsplit(smtp_url).query).get("from", ["mentoring@localhost"])[0]


def send(smtp_url: str, messages: Iterable[EmailMessage]) -> int:
    """Send every message over one connection; the caller sets To, Subject and body (From defaults to the
    URL's sender). Returns how many were sent; 0 without a URL."""
    messages = list(messages)
    if not smtp_url or not messages:
        return 0
    url = urlsplit(smtp_url)
    smtp_class = smtplib.SMTP_SSL if url.scheme == "smtps" else smtplib.SMTP
    with smtp_class(url.hostname or "localhost", url.port or (465 if url.scheme == "smtps" else 25),
                    timeout=30) as smtp:
        if url.scheme == "smtp":
            smtp.ehlo()
            if smtp.has_extn("starttls"):
                smtp.starttls()
        if url.username:
            smtp.login(unquote(url.username), unquote(url.password or ""))
        for msg in messages:
            if "From" not in msg:
                msg["From"] = sender(smtp_url)
            smtp.send_message(msg)
    return len(messages)
