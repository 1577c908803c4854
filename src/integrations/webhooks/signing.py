"""Signing secrets and signatures as the Standard Webhooks specification has them.

A secret is ``whsec_`` followed by the base64 of random bytes; the HMAC key is those
decoded bytes, not the text. A signature is ``v1,`` and the base64 HMAC-SHA256 of
``{webhook-id}.{webhook-timestamp}.{body}``. While a rotated secret's predecessor is
still honoured, ``webhook-signature`` carries both signatures, space-separated, and a
receiver accepts the message if any of them checks.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from base64 import b64decode, b64encode
from collections.abc import Sequence

PREFIX = "whsec_"
SECRET_BYTES = 32  # the spec asks for 24 to 64


def new_secret() -> str:
    return PREFIX + b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def secret_key(secret: str) -> bytes:
    return b64decode(secret.removeprefix(PREFIX))


def signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + b64encode(digest).decode()


def headers(msg_id: str, timestamp: int, body: bytes, secrets: Sequence[str]) -> dict[str, str]:
    """The request headers of one attempt, signed with each of ``secrets``."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(signature(s, msg_id, timestamp, body) for s in secrets),
        "content-type": "application/json",
    }
