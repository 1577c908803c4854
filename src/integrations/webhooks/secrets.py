"""Signing secrets at rest: AES-GCM with a key derived from ``TEQUIO_CIPHER_KEY``.

A database dump holds only ciphertext. The key is derived (HKDF, its own context) so
that it never equals the key of the events or of the reporters' data keys.
"""

from __future__ import annotations

from base64 import b64decode, b64encode

from Crypto.Hash import SHA256
from Crypto.Protocol.KDF import HKDF
from eventsourcing.cryptography import AESCipher
from eventsourcing.utils import Environment

# Used only when no TEQUIO_CIPHER_KEY is set, which production refuses.
DEVELOPMENT_MASTER_KEY = b64encode(b"tequio-development-webhook-key!!!").decode()


def derive_key(master_key_b64: str) -> str:
    derived = HKDF(b64decode(master_key_b64), 32, b"tequio", SHA256, context=b"webhook secrets")
    assert isinstance(derived, bytes)
    return b64encode(derived).decode()


class SecretBox:
    def __init__(self, master_key_b64: str | None) -> None:
        key = derive_key(master_key_b64 or DEVELOPMENT_MASTER_KEY)
        self._cipher = AESCipher(Environment(env={AESCipher.CIPHER_KEY: key}))

    def seal(self, secret: str) -> bytes:
        return self._cipher.encrypt(secret.encode())

    def open(self, sealed: bytes) -> str:
        return self._cipher.decrypt(bytes(sealed)).decode()

    def __repr__(self) -> str:  # never shows the key
        return "SecretBox(...)"
