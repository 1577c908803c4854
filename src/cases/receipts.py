"""Idempotency receipts: the first result of a command, kept under its idempotency key.

A receipt is saved in the same transaction as the change it acknowledges, so a
retried request either finds the receipt (and gets the first result back) or
finds nothing was written at all.
"""

from __future__ import annotations

from typing import Any

from eventsourcing.domain import event

from cases.base import TequioAggregate


class IdempotencyReceipt(TequioAggregate):
    KIND = "idempotency-receipt"

    @event("Recorded")
    def __init__(
        self,
        *,
        municipality: str,
        public_id: str,
        command: str,
        fingerprint: str,
        result: dict[str, Any],
        actor: str,
    ) -> None:
        self.municipality = municipality
        self.public_id = public_id
        self.command = command
        self.fingerprint = fingerprint
        self.result = result
