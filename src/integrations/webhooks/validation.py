"""What an admin may register: where Tequio will POST, and which events.

Refusals are :class:`InvalidWebhook` with a message key (translated by the API).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from urllib.parse import urlsplit

# The same characters the domain refuses in any text (tabs and line breaks are fine).
from cases.application import CONTROL_CHARACTERS
from integrations.webhooks.errors import InvalidWebhook
from projections.feed.types import EVENT_TYPES

MAX_URL_LENGTH = 2000
MAX_EVENT_TYPES = 50
MAX_DESCRIPTION = 500
MAX_GRACE_HOURS = 168
ALL = "*"
WILDCARD = ".*"
# Plain http is for a receiver on the same machine, while developing.
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


def check_url(url: str, *, production: bool) -> str:
    if len(url) > MAX_URL_LENGTH:
        raise InvalidWebhook("webhook_url_too_long", max=MAX_URL_LENGTH)
    shown = url[:100]
    if not url.isprintable() or any(c.isspace() for c in url):
        raise InvalidWebhook("webhook_url_invalid", url=shown)
    try:
        parts = urlsplit(url)
        port = parts.port  # raises on a port that is not a number in range
    except ValueError:
        raise InvalidWebhook("webhook_url_invalid", url=shown) from None
    del port
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidWebhook("webhook_url_invalid", url=shown)
    if parts.username is not None or parts.password is not None:
        # It would be stored and listed in clear: the signature is the authentication.
        raise InvalidWebhook("webhook_url_credentials")
    if parts.fragment:
        raise InvalidWebhook("webhook_url_invalid", url=shown)
    if parts.scheme == "http" and (production or parts.hostname not in LOOPBACK_HOSTS):
        raise InvalidWebhook("webhook_url_https_required")
    return url


def check_event_types(types: Sequence[str]) -> list[str]:
    """The patterns, deduplicated in their order: known feed types, ``*`` (every type),
    or a prefix ending in ``.*`` that some known type starts with (``mx.tequio.case.*``)."""
    chosen = list(dict.fromkeys(types))
    if not chosen:
        raise InvalidWebhook("webhook_types_empty")
    if len(chosen) > MAX_EVENT_TYPES:
        raise InvalidWebhook("webhook_types_too_many", max=MAX_EVENT_TYPES)
    for pattern in chosen:
        if not any(matches(pattern, known) for known in EVENT_TYPES):
            raise InvalidWebhook("webhook_unknown_type", type=pattern[:100])
    return chosen


def check_description(description: str | None) -> str | None:
    if description is None:
        return None
    if len(description) > MAX_DESCRIPTION:
        raise InvalidWebhook("webhook_description_too_long", max=MAX_DESCRIPTION)
    if CONTROL_CHARACTERS.search(description):
        raise InvalidWebhook("webhook_description_control")
    return description


def check_grace_hours(hours: int) -> int:
    if not 0 <= hours <= MAX_GRACE_HOURS:
        raise InvalidWebhook("webhook_bad_grace", max=MAX_GRACE_HOURS, hours=hours)
    return hours


def matches(pattern: str, event_type: str) -> bool:
    if pattern == ALL:
        return True
    if pattern.endswith(WILDCARD):
        return event_type.startswith(pattern[:-1])
    return pattern == event_type


def matches_any(patterns: Iterable[str], event_type: str) -> bool:
    return any(matches(p, event_type) for p in patterns)
