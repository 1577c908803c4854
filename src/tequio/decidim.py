"""Commitments as results of Decidim's accountability component (its CSV import layout).

Decidim (decidim-accountability) imports results from a CSV whose header names
the columns; what it reads is described in ``docs/integrations-csv.md`` with the
sources. Each public commitment becomes one flat result (no parent): the case's
title, the commitment's description, agreed and due dates, progress and, when
the operator maps them, the Decidim status ids. The Decidim ``id`` column is
left empty on purpose: Decidim looks results up by its own numeric id, so
Tequio's id travels in ``external_id``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from html import escape
from typing import Any

from cases.errors import STATUS_ES
from cases.values import CommitmentStatus

# Decidim.default_csv_col_sep (decidim-core): ";" unless DECIDIM_DEFAULT_CSV_COL_SEP says otherwise.
DECIDIM_DELIMITER = ";"
DEFAULT_LOCALES = ("es",)
LOCALE = re.compile(r"^[a-z]{2,3}(-[A-Za-z]{2,4})?$")


def columns(locales: Sequence[str]) -> tuple[str, ...]:
    """The header, in the order of Decidim's own results export."""
    return (
        "id",
        "category/id",
        "scope/id",
        "parent/id",
        *(f"title/{locale}" for locale in locales),
        *(f"description/{locale}" for locale in locales),
        "start_date",
        "end_date",
        "status/id",
        "progress",
        "proposal_urls",
        "external_id",
        "weight",
    )


class OptionError(ValueError):
    """A bad command-line value: ``key`` and ``params`` name the message (either language)."""

    def __init__(self, key: str, **params: str) -> None:
        super().__init__(key, params)
        self.key = key
        self.params = params


def parse_locales(value: str | None) -> tuple[str, ...]:
    """``"es,en"`` → ``("es", "en")``; ValueError names a malformed locale."""
    if not value:
        return DEFAULT_LOCALES
    locales = tuple(part.strip() for part in value.split(",") if part.strip())
    bad = [locale for locale in locales if not LOCALE.match(locale)]
    if bad or not locales:
        raise OptionError("bad_locale", value=", ".join(bad) or repr(value))
    return tuple(dict.fromkeys(locales))


def parse_status_map(values: Iterable[str] | None) -> dict[str, int]:
    """``["OPEN=1,IN_PROGRESS=2", "FULFILLED=3"]`` → ``{"OPEN": 1, ...}``: Tequio's
    commitment statuses to the ids of statuses created in the Decidim component."""
    mapping: dict[str, int] = {}
    for value in values or ():
        for pair in value.split(","):
            if not pair.strip():
                continue
            status, sep, number = pair.partition("=")
            status = status.strip().upper()
            if not sep or status not in CommitmentStatus.__members__:
                known = ", ".join(CommitmentStatus.__members__)
                raise OptionError("bad_status_pair", pair=pair.strip(), known=known)
            if not number.strip().isdigit() or int(number) <= 0:
                raise OptionError("bad_status_id", pair=pair.strip())
            mapping[status] = int(number)
    return mapping


def result_row(
    commitment: Mapping[str, Any],
    *,
    case_title: str,
    agency_name: str,
    locales: Sequence[str],
    status_ids: Mapping[str, int],
) -> dict[str, Any]:
    """One commitment as one Decidim result (values as Decidim's importer parses them)."""
    status = str(commitment["status"])
    description = (
        f"<p>{escape(str(commitment['description']))}</p>"
        f"<p>Responsable: {escape(agency_name)}. "
        f"Estado: {STATUS_ES.get(status, status)}.</p>"
    )
    row: dict[str, Any] = {
        "id": None,
        "parent/id": None,
        "category/id": None,
        "scope/id": None,
        "start_date": commitment["agreed_on"].isoformat(),
        "end_date": commitment["due_on"].isoformat(),
        "status/id": status_ids.get(status),
        "progress": int(commitment["progress"]),
        "proposal_urls": None,
        "external_id": commitment["id"],
        "weight": None,
    }
    for locale in locales:
        row[f"title/{locale}"] = case_title
        row[f"description/{locale}"] = description
    return row
