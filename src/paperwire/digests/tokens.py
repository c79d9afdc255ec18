"""Signed links in mails: confirm, unsubscribe, preferences, sign in.

A token is ``base64url(payload) + "." + base64url(HMAC-SHA256(key, purpose + payload))`` where
the payload is ``subscriber id:expiry (unix seconds, 0 = none):nonce``. The purpose is part of
what is signed, so an unsubscribe token cannot confirm and a preferences token cannot
unsubscribe someone else. A confirmation token is single-use: its nonce must equal the one the
store holds for the subscriber, which confirming clears. A sign-in token (purpose ``signin``)
names an account instead of a subscriber and works the same way: its nonce must equal the
account's live ``login_nonce`` (cleared on use, replaced by each new link), and it expires after
:data:`SIGNIN_VALID_FOR`; no other purpose's token can sign anyone in.

Unsubscribe and preferences tokens carry the subscription's epoch (``e<n>`` in the nonce
field; each confirmation bumps it), so a resubscribe voids every link mailed before it, and
an expiry: :data:`UNSUBSCRIBE_VALID_FOR` (long: a mail read months later must still let its
reader stop the mail, RFC 8058) and :data:`PREFERENCES_VALID_FOR` (each digest brings a fresh
one). Decoding is strict: only the canonical unpadded base64url of the exact bytes signed is
accepted, so no two strings are the same token (``TOKEN==``, ``TOKEN!!`` are refused).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from paperwire.errors import ConfigError, TokenError

# click: a paper link in a digest; signin: a magic sign-in link (the id is an account's)
PURPOSES = ("confirm", "unsubscribe", "preferences", "click", "signin", "feedback")
CONFIRM_VALID_FOR = timedelta(hours=48)
SIGNIN_VALID_FOR = timedelta(minutes=15)
UNSUBSCRIBE_VALID_FOR = timedelta(days=365)
PREFERENCES_VALID_FOR = timedelta(days=60)
_B64URL = re.compile(r"[A-Za-z0-9_-]+")
_PAYLOAD = re.compile(r"([1-9][0-9]{0,17}):(0|[1-9][0-9]{0,11}):([A-Za-z0-9]{0,64})")


@dataclass(frozen=True)
class Claims:
    purpose: str
    subscriber_id: int
    expires: datetime | None
    nonce: str

    @property
    def epoch(self) -> int | None:
        """The subscription epoch an unsubscribe or preferences link was made for; links made
        before epochs existed (no nonce) count as epoch 0."""
        if not self.nonce:
            return 0
        if self.nonce[0] == "e" and self.nonce[1:].isdigit():
            return int(self.nonce[1:])
        return None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    """Strict: unpadded base64url in its one canonical form, else ValueError."""
    if not _B64URL.fullmatch(text) or len(text) % 4 == 1:
        raise ValueError("not canonical base64url")
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except binascii.Error:
        raise ValueError("not base64url") from None
    if _b64(data) != text:  # stray bits in the last character
        raise ValueError("not canonical base64url")
    return data


def _mac(key: bytes, purpose: str, payload: str) -> bytes:
    return hmac.new(key, f"{purpose}|{payload}".encode(), hashlib.sha256).digest()[:20]


def make_token(key: bytes, purpose: str, subscriber_id: int, *, nonce: str = "",
               expires: datetime | None = None) -> str:
    if purpose not in PURPOSES:
        raise ValueError(f"unknown token purpose {purpose!r}")
    stamp = int(expires.replace(tzinfo=UTC).timestamp()) if expires else 0
    payload = f"{subscriber_id}:{stamp}:{nonce}"
    if _PAYLOAD.fullmatch(payload) is None:  # read_token would refuse it: fail here, loudly
        raise ValueError(f"a token cannot carry {payload!r} (nonce: letters and digits only)")
    return _b64(payload.encode()) + "." + _b64(_mac(key, purpose, payload))


def read_token(key: bytes, purpose: str, token: str, now: datetime) -> Claims:
    """Check the signature and expiry; raise TokenError (one line) otherwise."""
    damaged = TokenError("this link is damaged (copy the whole link from the mail)")
    parts = token.split(".")
    if len(parts) != 2 or len(token) > 512:
        raise damaged
    try:
        payload = _unb64(parts[0]).decode("ascii")
        given = _unb64(parts[1])
    except (ValueError, UnicodeDecodeError):
        raise damaged from None
    if not hmac.compare_digest(given, _mac(key, purpose, payload)):
        raise TokenError("this link is not valid")
    match = _PAYLOAD.fullmatch(payload)
    if match is None:  # signed by us, so never in practice; refuse rather than guess
        raise damaged
    sid, stamp, nonce = match.groups()
    expires = datetime.fromtimestamp(int(stamp), UTC).replace(tzinfo=None) if int(stamp) else None
    if expires is not None and now >= expires:
        raise TokenError("this link has expired; ask for a new one")
    return Claims(purpose, int(sid), expires, nonce)


def link_token(key: bytes, purpose: str, subscriber_id: int, epoch: int,
               now: datetime) -> str:
    """An unsubscribe or preferences token for this subscription (epoch), expiring."""
    valid_for = UNSUBSCRIBE_VALID_FOR if purpose == "unsubscribe" else PREFERENCES_VALID_FOR
    return make_token(key, purpose, subscriber_id, nonce=f"e{epoch}", expires=now + valid_for)


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
