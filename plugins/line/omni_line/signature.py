"""Proof that a webhook comes from LINE: `x-line-signature`.

LINE signs the raw request body with HMAC-SHA256, keyed with the channel
secret, and sends the digest Base64-encoded in the `x-line-signature` header
(Messaging API reference, "Signature validation"). Only LINE and the
operator know the channel secret, so a matching signature proves the body is
LINE's, byte for byte. The check runs on the raw bytes before any parsing.
"""

import base64
import hashlib
import hmac
from typing import Optional

from .model import Refusal

HEADER = "x-line-signature"


def sign(channel_secret: str, body: bytes) -> str:
    """The signature LINE computes for `body`."""
    digest = hmac.new(channel_secret.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def verify(channel_secret: str, body: bytes, given: Optional[str]) -> None:
    """Raises an `unauthorized` refusal unless `given` is the body's signature.

    The comparison is constant-time (`hmac.compare_digest`) over bytes, so a
    header with any characters is compared, never rejected with an exception.
    """
    if given is None or given.strip() == "":
        raise Refusal("unauthorized", "missing x-line-signature header")
    expected = sign(channel_secret, body).encode("ascii")
    if not hmac.compare_digest(expected, given.strip().encode("utf-8", "replace")):
        raise Refusal("unauthorized", "x-line-signature does not match the body")
