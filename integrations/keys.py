"""The API key format, `sr_<prefix>_<secret>`, and its keyed hash.

Keys are random (a 10-character prefix, a 43-character secret from 32 random
bytes), so a fast keyed hash is as strong as a slow one: a stolen table is
useless without API_KEY_PEPPER, and checking a key costs microseconds.
"""

import hashlib
import hmac
import re
import secrets
import string
from dataclasses import dataclass

from django.conf import settings

SCHEME = "Bearer"
_ALPHABET = string.ascii_lowercase + string.digits
PREFIX_LENGTH = 10
_KEY = re.compile(r"^sr_([a-z0-9]{10})_([A-Za-z0-9_-]{43})$")


@dataclass(frozen=True)
class NewKey:
    prefix: str
    key: str
    digest: str


def key_digest(key: str) -> str:
    """HMAC-SHA256 (hex) of the whole key with the API_KEY_PEPPER setting."""
    pepper = settings.API_KEY_PEPPER.encode()
    return hmac.new(pepper, key.encode(), hashlib.sha256).hexdigest()


def key_generate() -> NewKey:
    prefix = "".join(secrets.choice(_ALPHABET) for _ in range(PREFIX_LENGTH))
    key = f"sr_{prefix}_{secrets.token_urlsafe(32)}"
    return NewKey(prefix=prefix, key=key, digest=key_digest(key))


def key_prefix(key: str) -> str | None:
    """The prefix of a well-formed key, else None."""
    match = _KEY.match(key)
    return match.group(1) if match else None


def key_matches(*, key: str, digest: str) -> bool:
    return hmac.compare_digest(key_digest(key), digest)
