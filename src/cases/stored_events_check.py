"""At start: can this process read the events already stored?

A cipher key that differs from the one the events were sealed with (a new key on a
pilot's database, a typo, a key left out) does not fail at start by itself: every
command on an existing aggregate would fail instead ("invalid tag"), new events
would be sealed with the new key (a log no single key reads), and a rebuild would
drop the read models before failing. So the first and the newest stored events
are opened when the application is made, and a mismatch stops it there (ADR 0025).
"""

from __future__ import annotations

import json
from typing import Any

import orjson


class StoredEventsUnreadable(RuntimeError):
    """The cipher key (or its absence) does not open the events already stored."""


def _parsed(state: bytes) -> Any:
    try:
        return orjson.loads(state)
    except orjson.JSONDecodeError:
        return json.loads(state)  # what orjson refuses and the library reads (NaN)


def check_stored_events_open(recorder: Any, cipher: Any, compressor: Any) -> None:
    newest = recorder.max_notification_id()
    if not newest:
        return
    first = recorder.select_notifications(start=1, limit=1)
    last = recorder.select_notifications(start=newest, limit=1)
    for notification in [*first, *last]:
        state = notification.state
        try:
            if cipher is not None:
                state = cipher.decrypt(state)
            if compressor is not None:
                state = compressor.decompress(state)
            _parsed(state)
        except Exception:
            if cipher is None:
                raise StoredEventsUnreadable(
                    "the events already stored are sealed, and TEQUIO_CIPHER_KEY is not set:"
                    " set the key they were sealed with"
                ) from None
            raise StoredEventsUnreadable(
                f"TEQUIO_CIPHER_KEY does not open the events already stored (event"
                f" {notification.id}): set the key they were sealed with. Tequio stops rather"
                " than seal new events with another key"
            ) from None
