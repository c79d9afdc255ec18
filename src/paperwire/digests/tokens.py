"""Signed links in mails: confirm, unsubscribe, preferences.

A token is ``base64url(payload) + "." + base64url(HMAC-SHA256(key, purpose + payload))`` where
the payload is ``subscriber id:expiry (unix seconds, 0 = none):nonce``. The purpose is part of
what is signed, so an unsubscribe token cannot confirm and a preferences token cannot
unsubscribe someone else. A confirmation token is single-use: its nonce must equal the one the
store holds for the subscriber, which confirming clears.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from paperwire.errors import ConfigError, TokenError

PURPOSES = ("confirm", "unsubscribe", "preferences", "click")  # click: a paper link in a digest
CONFIRM_VALID_FOR = timedelta(hours=48)


@dataclass(frozen=True)
class Claims:
    purpose: str
    subscriber_id: int
    expires: datetime | None
    nonce: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, purpose: str, payload: str) -> bytes:
    return hmac.new(key, f"{purpose}|{payload}".encode(), hashlib.sha256).digest()[:20]


def make_token(key: bytes, purpose: str, subscriber_id: int, *, nonce: str = "",
               expires: datetime | None = None) -> str:
    if purpose not in PURPOSES:
        raise ValueError(f"unknown token purpose {purpose!r}")
    stamp = int(expires.replace(tzinfo=UTC).timestamp()) if expires else 0
    payload = f"{subscriber_id}:{stamp}:{nonce}"
    return _b64(payload.encode()) + "." + _b64(_mac(key, purpose, payload))


def read_token(key: bytes, purpose: str, token: str, now: datetime) -> Claims:
    """Check the signature and expiry; raise TokenError (one line) otherwise."""
    try:
        head, _, sig = token.strip().partition(".")
        payload = _unb64(head).decode()
        given = _unb64(sig)
    except (ValueError, UnicodeDecodeError):
        raise TokenError("this link is damaged (copy the whole link from the mail)") from None
    if not hmac.compare_digest(given, _mac(key, purpose, payload)):
        raise TokenError("this link is not valid")
    sid, stamp, nonce = payload.split(":", 2)
    expires = datetime.fromtimestamp(int(stamp), UTC).replace(tzinfo=None) if int(stamp) else None
    if expires is not None and now >= expires:
        raise TokenError("this link has expired; ask for a new one")
    return Claims(purpose, int(sid), expires, nonce)


def new_nonce() -> str:
    return secrets.token_hex(12)


MIN_KEY_BYTES = 16


def secret_key(configured: str, home: Path) -> bytes:
    """The configured key, or one generated once into ``HOME/secret_key`` (mode 0600, written
    to disk before it is put in place). A key file too short to be one (e.g. left empty by a
    crash) is an error, never silently used: signing with it would make links forgeable."""
    if configured:
        return configured.encode()
    path = home / "secret_key"
    try:
        return _checked_key(path)
    except FileNotFoundError:
        pass
    home.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32).encode()
    # a name of its own per call: threads of one process share the pid, and one's cleanup
    # must not remove the file another is about to link
    tmp = home / f".secret_key.{os.getpid()}.{secrets.token_hex(8)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key)
        fh.flush()
        os.fsync(fh.fileno())
    try:
        os.link(tmp, path)  # first writer wins; a concurrent one reads the winner's key
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
    return _checked_key(path)


def _checked_key(path: Path) -> bytes:
    key = path.read_bytes().strip()
    if len(key) < MIN_KEY_BYTES:
        raise ConfigError(f"{path} holds no usable secret key ({len(key)} bytes); delete it to "
                          "generate a new one (links in mails sent so far stop working) or "
                          "set PAPERWIRE_SECRET_KEY")
    return key
