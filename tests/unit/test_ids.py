"""Identity: aggregate ids are namespaced by municipality and kind; public ids are checked."""

from __future__ import annotations

import pytest

from cases.case import Case
from cases.commitment import Commitment
from cases.errors import BadInputError
from cases.ids import case_id_for_external, check_public_id, official_id_for


def test_same_public_id_in_two_municipalities_is_two_aggregates() -> None:
    assert Case.id_for("iztapalapa", "c1") != Case.id_for("coyoacan", "c1")


def test_same_public_id_of_two_kinds_is_two_aggregates() -> None:
    assert Case.id_for("iztapalapa", "x") != Commitment.id_for("iztapalapa", "x")


def test_aggregate_id_is_stable() -> None:
    assert Case.id_for("iztapalapa", "c1") == Case.create_id("iztapalapa", "c1")
    assert Case.id_for("iztapalapa", "c1") == Case.id_for("iztapalapa", "c1")


def test_external_case_id_is_stable_per_municipality() -> None:
    first = case_id_for_external("iztapalapa", "CAT-123")
    assert first == case_id_for_external("iztapalapa", "CAT-123")
    assert first != case_id_for_external("coyoacan", "CAT-123")
    assert first != case_id_for_external("iztapalapa", "CAT-124")


def test_official_id_ignores_case_and_spacing_of_the_name() -> None:
    assert official_id_for("iztapalapa", "Jorge  Sánchez ") == official_id_for(
        "iztapalapa", "jorge sánchez"
    )
    assert official_id_for("iztapalapa", "Jorge Sánchez") != official_id_for(
        "iztapalapa", "Laura Gómez"
    )


@pytest.mark.parametrize("value", ["obras", "SSC", "dgsu-01", "a.b:c_d", "x" * 100])
def test_catalogue_codes_are_valid_public_ids(value: str) -> None:
    assert check_public_id(value, "id") == value


@pytest.mark.parametrize("value", ["", "has space", "-leading-dash", "ñandú", "a/b", "x" * 101])
def test_malformed_public_ids_are_refused(value: str) -> None:
    with pytest.raises(BadInputError) as info:
        check_public_id(value, "agencyId")
    assert info.value.key == "bad_id"
    assert info.value.params["field"] == "agencyId"
