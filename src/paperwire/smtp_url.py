"""SMTP URLs (``PAPERWIRE_SMTP_URL``): parsed and checked into an :class:`SmtpTarget`.

Plain parsing, no I/O: the settings check the URL with it when they are loaded, and the
mailer (:mod:`paperwire.digests.mailer`) connects to what it names."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote, urlsplit

SECURITIES = ("starttls", "tls", "none")
URL_PARAMETERS = ("starttls", "timeout")
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


@dataclass(frozen=True)
class SmtpTarget:
    """Where and how to deliver. ``security``: ``starttls``, ``tls`` (implicit) or ``none``."""

    host: str
    port: int
    username: str | None
    password: str | None = field(repr=False)
    security: str
    timeout: float = 30.0

    @property
    def display_url(self) -> str:
        """The URL without the password, fit for logs and messages."""
        scheme = "smtps" if self.security == "tls" else "smtp"
        user = f"{self.username}@" if self.username else ""
        host = f"[{self.host}]" if ":" in self.host else self.host
        query = "?starttls=1" if self.security == "starttls" else ""
        return f"{scheme}://{user}{host}:{self.port}{query}"


def _flag(value: str) -> bool:
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise ValueError(f"SMTP URL starttls must be 1 or 0, not {value!r}")


def _timeout(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and 0 < seconds <= 3600):
        raise ValueError("SMTP URL timeout must be a number of seconds above 0, at most 3600")
    return seconds


def parse_smtp_url(url: str) -> SmtpTarget:
    """Parse ``smtp://[user:pass@]host[:port][?starttls=1&timeout=S]`` or ``smtps://...``.

    Ports default to 25 (``smtp``), 587 (``smtp`` with ``starttls=1``) and 465 (``smtps``,
    implicit TLS). User and password are percent-decoded and go together. A malformed URL
    raises :class:`ValueError` with one line that never repeats the password.
    """
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        if "port" in str(exc).lower():
            raise ValueError("SMTP URL port must be a whole number from 1 to 65535") from None
        raise ValueError(f"SMTP URL is malformed: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("smtp", "smtps"):
        shown = f"{parts.scheme}://" if parts.scheme else "none"
        raise ValueError(f"SMTP URL must start with smtp:// or smtps:// (scheme: {shown})")
    if not parts.hostname:
        raise ValueError("SMTP URL has no host (smtp://host:port)")
    if port == 0:
        raise ValueError("SMTP URL port must be a whole number from 1 to 65535")
    if parts.path not in ("", "/"):
        raise ValueError("SMTP URL must not have a path (only ?starttls=1 and ?timeout=S)")
    if parts.fragment:
        raise ValueError("SMTP URL must not have a #fragment")
    try:
        pairs = parse_qsl(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    except ValueError:
        raise ValueError("SMTP URL query must be name=value pairs joined by &") from None
    params: dict[str, str] = {}
    for key, value in pairs:
        if key not in URL_PARAMETERS:
            known = ", ".join(URL_PARAMETERS)
            raise ValueError(f"unknown SMTP URL parameter {key!r} (known: {known})")
        if key in params:
            raise ValueError(f"SMTP URL parameter {key!r} is given twice")
        params[key] = value
    starttls = _flag(params["starttls"]) if "starttls" in params else False
    if starttls and scheme == "smtps":
        raise ValueError("SMTP URL: starttls=1 cannot be used with smtps:// (already TLS)")
    timeout = _timeout(params["timeout"]) if "timeout" in params else 30.0
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    if username is None and password:
        raise ValueError("SMTP URL has a password but no user name")
    if username is not None and password is None:
        raise ValueError("SMTP URL has a user name but no password (smtp://user:password@host)")
    if scheme == "smtps":
        security, default_port = "tls", 465
    elif starttls:
        security, default_port = "starttls", 587
    else:
        security, default_port = "none", 25
    return SmtpTarget(
        host=parts.hostname,
        port=port or default_port,
        username=username,
        password=password if username is not None else None,
        security=security,
        timeout=timeout,
    )
