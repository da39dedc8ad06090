"""API keys: random tokens, stored only as salted HMACs, compared in constant time.

A key reads ``bst_<id>_<secret>``: ``id`` is 12 public hex digits that name the stored
record, ``secret`` 32 random bytes (256 bits) in URL-safe base64. The store keeps a random
16-byte salt and ``HMAC-SHA256(salt, secret)`` per key, never the key itself, so a leaked
database does not leak keys. A slow password hash is not needed: the secret is random, not
chosen by a person, so it cannot be guessed from its digest.

:class:`RedactKeys` is a logging filter that masks anything shaped like a key, so a key
pasted in the wrong place (a URL, an error message) never reaches a log file.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
from typing import Any

PREFIX = "bst_"
ID_HEX_DIGITS = 12
SECRET_BYTES = 32
SALT_BYTES = 16
KEY_PATTERN = re.compile(r"bst_([0-9a-f]{12})_[A-Za-z0-9_\-]{8,}")


def generate_key() -> tuple[str, str]:
    """A new key: ``(key_id, token)``; the token is shown once and never stored."""
    key_id = secrets.token_hex(ID_HEX_DIGITS // 2)
    return key_id, f"{PREFIX}{key_id}_{secrets.token_urlsafe(SECRET_BYTES)}"


def split_key(token: str) -> tuple[str, str] | None:
    """``(key_id, secret)`` of a well-formed token, or ``None``."""
    if not token.startswith(PREFIX) or len(token) < len(PREFIX) + ID_HEX_DIGITS + 2:
        return None
    key_id = token[len(PREFIX) : len(PREFIX) + ID_HEX_DIGITS]
    if token[len(PREFIX) + ID_HEX_DIGITS] != "_" or not re.fullmatch(r"[0-9a-f]+", key_id):
        return None
    return key_id, token[len(PREFIX) + ID_HEX_DIGITS + 1 :]


def new_salt() -> bytes:
    """A random salt for one key."""
    return secrets.token_bytes(SALT_BYTES)


def digest(secret: str, salt: bytes) -> bytes:
    """``HMAC-SHA256(salt, secret)``: what the store keeps instead of the secret."""
    return hmac.new(salt, secret.encode("utf-8"), hashlib.sha256).digest()


def matches(secret: str, salt: bytes, stored: bytes) -> bool:
    """Whether ``secret`` is the one whose digest is ``stored``, in constant time."""
    return hmac.compare_digest(digest(secret, salt), stored)


class VerifiedKeys:
    """The keys a gateway process has already verified, so that each is HMAC-checked once.

    It maps a key's public id to the SHA-256 of the secret that matched its stored HMAC
    (never the secret itself). A later request with the same id is accepted when the
    SHA-256 of its secret equals the remembered one (constant-time compare); any other
    secret goes through the full HMAC check. A key re-created under the same id with another
    salt is checked again. Only the secret's check is remembered: revocation and quota come
    from the key record (and, exactly, from the store's commit of each query).
    """

    def __init__(self) -> None:
        self._seen: dict[str, tuple[bytes, bytes]] = {}

    def check(self, record: Any, secret: str) -> bool:
        """Whether ``secret`` is the secret of ``record`` (a stored key with ``key_id``, ``salt``, ``digest``)."""
        fingerprint = hashlib.sha256(secret.encode("utf-8")).digest()
        seen = self._seen.get(record.key_id)
        if seen is not None and seen[0] == record.digest and hmac.compare_digest(seen[1], fingerprint):
            return True
        if not matches(secret, record.salt, record.digest):
            return False
        self._seen[record.key_id] = (record.digest, fingerprint)
        return True


def redact(text: str) -> str:
    """``text`` with every key-shaped token masked (its public id kept, for tracing)."""
    return KEY_PATTERN.sub(lambda match: f"{PREFIX}{match.group(1)}_<redacted>", text)


class RedactKeys(logging.Filter):
    """A logging filter that masks key-shaped tokens in every record it sees."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = redact(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True
