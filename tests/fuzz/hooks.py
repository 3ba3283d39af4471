"""Schemathesis hooks (SCHEMATHESIS_HOOKS=tests.fuzz.hooks): hostile signature and key headers.

From the schema alone schemathesis makes `Payment-Signature` values that match
its pattern or are random text: it never tries a value that is almost right
(a `t` in another script's digits, a huge `t`, non-ASCII hex, a part twice).
And an `Idempotency-Key` only ever within or plainly beyond its length.
These hooks replace, in some of the cases where schemathesis made a header
that the schema calls valid, that header with a hostile value
(tests.security.strategies): the server must then answer the documented 400.
A header schemathesis made invalid on purpose (negative cases) is kept, so
the check that invalid data is refused still tests what it meant to.
"""

import re
import secrets
import time
from typing import Any

import schemathesis
from hypothesis import strategies as st

from tests.security.strategies import idempotency_keys, signature_headers

# As in core.idempotency and orders.payments (test_schemathesis checks they agree):
# the `st` process that loads these hooks has no Django to import them from.
IDEMPOTENCY_KEY = "Idempotency-Key"
KEY_MAX_LENGTH = 255
SIGNATURE = "Payment-Signature"
SIGNATURE_PATTERN = r"^t=([0-9]{1,12}),v1=([0-9a-f]{64})$"
_SIGNATURE = re.compile(SIGNATURE_PATTERN)


def sendable(value: str) -> bool:
    """A header value HTTP clients send as is: latin-1, no control characters, no outer spaces."""
    # str.strip() takes every Unicode space (NEL, NBSP, ...): requests refuses any of them first.
    return all(0x20 <= ord(c) <= 0xFF and c != "\x7f" for c in value) and value == value.strip()


def _valid_key(value: Any) -> bool:
    return isinstance(value, str) and 0 < len(value) <= KEY_MAX_LENGTH and sendable(value)


def _hostile_signature() -> st.SearchStrategy[str]:
    valid = f"t={int(time.time())},v1={secrets.token_hex(32)}"
    return signature_headers(valid).filter(sendable)


@schemathesis.hook
def flatmap_headers(ctx: Any, headers: dict[str, Any] | None) -> st.SearchStrategy:
    if not headers:
        return st.just(headers)
    replaced: dict[str, st.SearchStrategy] = {}
    signature = headers.get(SIGNATURE)
    if isinstance(signature, str) and _SIGNATURE.fullmatch(signature):
        replaced[SIGNATURE] = st.one_of(st.just(signature), _hostile_signature())
    key = headers.get(IDEMPOTENCY_KEY)
    if _valid_key(key):
        keys = idempotency_keys().filter(sendable)
        replaced[IDEMPOTENCY_KEY] = st.one_of(st.just(key), keys)
    if not replaced:
        return st.just(headers)
    return st.fixed_dictionaries(replaced).map(lambda values: {**headers, **values})
