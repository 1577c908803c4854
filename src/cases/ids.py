"""Identity: public ids (strings in the API) and aggregate ids (UUIDs in the store).

Every aggregate id is derived from the municipality, the kind and the public id,
so a caller of one municipality cannot address another's aggregates whatever
id it sends, and re-imports with the same catalogue code or external id are
idempotent.
"""

from __future__ import annotations

import re
from uuid import NAMESPACE_URL, UUID, uuid4, uuid5

from cases.errors import BadInputError

TEQUIO_NAMESPACE = uuid5(NAMESPACE_URL, "https://tequio.mx/ids")
PUBLIC_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$")


def aggregate_id(municipality: str, kind: str, public_id: str) -> UUID:
    return uuid5(TEQUIO_NAMESPACE, f"{municipality}/{kind}/{public_id}")


def new_public_id() -> str:
    return str(uuid4())


def case_id_for_external(municipality: str, external_id: str) -> str:
    """A case imported from another system keeps one id however often it is imported."""
    return str(uuid5(TEQUIO_NAMESPACE, f"{municipality}/external-case/{external_id}"))


def official_id_for(municipality: str, name: str) -> str:
    normalized = " ".join(name.split()).casefold()
    return str(uuid5(TEQUIO_NAMESPACE, f"{municipality}/official/{normalized}"))


def check_public_id(value: str, field: str) -> str:
    if not PUBLIC_ID.match(value):
        raise BadInputError("bad_id", value=value[:120], field=field)
    return value
