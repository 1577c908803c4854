"""Fuzzing the GraphQL schema: every query and mutation, as the public and as an admin
(who may call every operation), with ids drawn from the seeded world as well as made up.

schemathesis generates documents from the introspected schema, valid ones and ones with
wrong argument types or missing required arguments (its negative mode), and checks
each answer with its default checks but two: ``not_a_server_error`` and
``positive_data_acceptance`` read every error that has a ``path`` and is not labelled
``BAD_USER_INPUT`` as a server fault, which would make the contract's typed refusals
(``NOT_FOUND``, ``FORBIDDEN``, ``CONFLICT``, ...) failures. ``typed_errors`` takes their
place: no HTTP 5xx, a JSON object, and every error carrying a code of the contract;
never ``INTERNAL_SERVER_ERROR``, never an error without a code.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
from fuzz_support import CONTRACT_CODES, LiveServer, fuzz
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.graphql import nodes
from schemathesis.specs.graphql.scalars import CUSTOM_SCALARS
from schemathesis.specs.openapi.checks import positive_data_acceptance

from api.graphql.schema import build_schema

SCHEMA = build_schema()


def _fields(root: str) -> list[str]:
    graphql_type = SCHEMA._schema.get_type(root)
    assert graphql_type is not None
    return list(graphql_type.fields)  # type: ignore[attr-defined]


# schemathesis' GraphQL generator draws from the ``random`` module in one place, which
# Hypothesis warns about; not this suite's strategies.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Do not use the `random` module:hypothesis.errors.HypothesisDeprecationWarning"
)

OPERATIONS = [f"{root}.{name}" for root in ("Query", "Mutation") for name in _fields(root)]
# Cases per operation and caller: the public is refused at once by most operations.
EXAMPLES = {"public": 6, "admin": 20}
JUNK = st.text(min_size=0, max_size=12)


def typed_errors(ctx: Any, response: Any, case: Any) -> bool | None:
    """No 5xx; a JSON object; every error with a code of the contract."""
    assert response.status_code < 500, response.content[:500]
    body = json.loads(response.content)
    assert isinstance(body, dict), body
    for error in body.get("errors") or []:
        code = (error.get("extensions") or {}).get("code")
        assert code in CONTRACT_CODES, error
    return None


@pytest.fixture(scope="module")
def graphql(live: LiveServer) -> Iterator[Any]:
    """The introspected schema, with ids of the seeded world among the generated ones
    and dates that are sometimes not dates."""
    known = live.known_ids()
    ids = st.one_of(st.sampled_from(known), st.sampled_from(known), JUNK).map(nodes.String)
    dates = st.one_of(st.dates().map(str), JUNK).map(nodes.String)
    instants = st.one_of(
        st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()), JUNK
    ).map(nodes.String)
    saved = dict(CUSTOM_SCALARS)
    CUSTOM_SCALARS.update({"ID": ids, "Date": dates, "DateTime": instants})
    try:
        yield schemathesis.graphql.from_url(f"{live.base_url}/graphql")
    finally:
        CUSTOM_SCALARS.clear()
        CUSTOM_SCALARS.update(saved)


@pytest.fixture(scope="module")
def session() -> Iterator[requests.Session]:
    with requests.Session() as http:
        yield http


def test_every_graphql_operation_is_fuzzed(graphql: Any) -> None:
    labels = {result.ok().label for result in graphql.get_all_operations()}
    assert labels == set(OPERATIONS)


@pytest.mark.parametrize("label", OPERATIONS)
@pytest.mark.parametrize("profile", list(EXAMPLES))
def test_graphql_operation(
    graphql: Any, live: LiveServer, session: requests.Session, profile: str, label: str
) -> None:
    root, field = label.split(".", 1)
    fuzz(
        graphql[root][field],
        headers=live.headers(profile),
        max_examples=EXAMPLES[profile],
        session=session,
        excluded_checks=[not_a_server_error, positive_data_acceptance],
        additional_checks=[typed_errors],
    )
