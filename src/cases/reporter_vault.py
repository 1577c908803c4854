"""Reporters' contact data, sealed with a key of its own so that it can be erased.

Envelope encryption on top of the library's AES-GCM cipher: each case with a
reporter gets a random data key; the contact is encrypted with it before it
enters the ``Case.Raised`` event, and the data key is kept, wrapped by the
master key, in ``tequio_reporter_keys``. Erasing the reporter deletes that one
row (crypto-shredding): the sealed bytes stay in the immutable event history
but nothing can open them any more, and no other history is rewritten.

Every disclosure of a reporter's contact is recorded in ``tequio_reporter_reads``
before the contact is returned.
"""

from __future__ import annotations

import json
from base64 import b64decode, b64encode
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from Crypto.Hash import SHA256
from Crypto.Protocol.KDF import HKDF
from eventsourcing.cryptography import AESCipher
from eventsourcing.utils import Environment

KEYS = "tequio_reporter_keys"
READS = "tequio_reporter_reads"

# Used only when no TEQUIO_CIPHER_KEY is set, which production refuses.
DEVELOPMENT_MASTER_KEY = b64encode(b"tequio-development-reporter-key!!").decode()

ENVELOPE_VERSION = 1


class Transactions(Protocol):
    """The library's PostgreSQL datastore, as far as the vault needs it."""

    def transaction(self, *, commit: bool = False) -> Any: ...


def _cipher(key_b64: str) -> AESCipher:
    return AESCipher(Environment(env={AESCipher.CIPHER_KEY: key_b64}))


def derive_wrapping_key(master_key_b64: str) -> str:
    """A key used only to wrap data keys, derived from (never equal to) the master key."""
    master = b64decode(master_key_b64)
    derived = HKDF(master, 32, b"tequio", SHA256, context=b"reporter data keys")
    assert isinstance(derived, bytes)
    return b64encode(derived).decode()


class ReporterVault:
    def __init__(self, datastore: Transactions, master_key_b64: str | None) -> None:
        self._datastore = datastore
        self._wrapper = _cipher(derive_wrapping_key(master_key_b64 or DEVELOPMENT_MASTER_KEY))

    def create_tables(self) -> None:
        with self._datastore.transaction(commit=True) as curs:
            curs.execute(
                f"CREATE TABLE IF NOT EXISTS {KEYS} ("
                " case_uuid uuid PRIMARY KEY, wrapped_key bytea NOT NULL,"
                " created_at timestamptz NOT NULL DEFAULT now())"
            )
            curs.execute(
                f"CREATE TABLE IF NOT EXISTS {READS} ("
                " id bigserial PRIMARY KEY, municipality text NOT NULL,"
                " case_id text NOT NULL, actor text NOT NULL, at timestamptz NOT NULL)"
            )
            curs.execute(
                f"CREATE INDEX IF NOT EXISTS {READS}_case_idx"
                f" ON {READS} (municipality, case_id, id)"
            )

    def seal(self, case_uuid: UUID, contact: dict[str, str]) -> dict[str, Any]:
        """The contact encrypted with the case's data key (made now if the case has none)."""
        data_key = self._data_key(case_uuid, create=True)
        assert data_key is not None
        ciphertext = _cipher(data_key).encrypt(json.dumps(contact, sort_keys=True).encode())
        return {"v": ENVELOPE_VERSION, "ciphertext": b64encode(ciphertext).decode()}

    def open(self, case_uuid: UUID, sealed: dict[str, Any] | None) -> dict[str, str] | None:
        """The contact, or None when there is none or its key was destroyed."""
        if not sealed:
            return None
        if "plain" in sealed:
            # Recorded before contacts were sealed (see Case.Raised.upcast_v1_v2).
            return dict(sealed["plain"])
        data_key = self._data_key(case_uuid, create=False)
        if data_key is None:
            return None
        plaintext = _cipher(data_key).decrypt(b64decode(sealed["ciphertext"]))
        contact: dict[str, str] = json.loads(plaintext)
        return contact

    def destroy(self, case_uuid: UUID) -> bool:
        """Deletes the case's data key; True if there was one."""
        with self._datastore.transaction(commit=True) as curs:
            curs.execute(f"DELETE FROM {KEYS} WHERE case_uuid = %s", (case_uuid,))
            return bool(curs.rowcount)

    def has_key(self, case_uuid: UUID) -> bool:
        with self._datastore.transaction(commit=False) as curs:
            curs.execute(f"SELECT 1 FROM {KEYS} WHERE case_uuid = %s", (case_uuid,))
            return curs.fetchone() is not None

    def record_read(self, municipality: str, case_id: str, actor: str, at: datetime) -> None:
        with self._datastore.transaction(commit=True) as curs:
            curs.execute(
                f"INSERT INTO {READS} (municipality, case_id, actor, at) VALUES (%s, %s, %s, %s)",
                (municipality, case_id, actor, at),
            )

    def reads(self, municipality: str, case_id: str) -> list[dict[str, Any]]:
        with self._datastore.transaction(commit=False) as curs:
            curs.execute(
                f"SELECT actor, at FROM {READS} WHERE municipality = %s AND case_id = %s"
                " ORDER BY id",
                (municipality, case_id),
            )
            return [{"actor": row["actor"], "at": row["at"]} for row in curs.fetchall()]

    def _data_key(self, case_uuid: UUID, *, create: bool) -> str | None:
        with self._datastore.transaction(commit=True) as curs:
            if create:
                # Two racing raises of one external case must share one key, never
                # overwrite it: the loser's event would then be sealed for nobody.
                curs.execute(
                    f"INSERT INTO {KEYS} (case_uuid, wrapped_key) VALUES (%s, %s)"
                    " ON CONFLICT (case_uuid) DO NOTHING",
                    (case_uuid, self._wrapper.encrypt(AESCipher.create_key(32).encode())),
                )
            curs.execute(f"SELECT wrapped_key FROM {KEYS} WHERE case_uuid = %s", (case_uuid,))
            row = curs.fetchone()
        if row is None:
            return None
        return self._wrapper.decrypt(bytes(row["wrapped_key"])).decode()
