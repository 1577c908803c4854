"""Names in the order a Spanish reader expects, whatever PostgreSQL's collation."""

from __future__ import annotations

import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from projections.spanish_order import sorted_by_name, spanish_key


def ordered(*names: str) -> list[str]:
    return sorted(names, key=spanish_key)


def test_accented_capitals_sort_with_their_letter_not_after_z() -> None:
    assert ordered("Zona Norte", "Álvaro Obregón", "Benito Juárez") == [
        "Álvaro Obregón",
        "Benito Juárez",
        "Zona Norte",
    ]


def test_lowercase_names_sort_among_capitalised_ones() -> None:
    assert ordered("Zona Norte", "colonia Centro", "Barrio Alto") == [
        "Barrio Alto",
        "colonia Centro",
        "Zona Norte",
    ]


def test_enye_is_a_letter_after_n() -> None:
    assert ordered("Ñuu Savi", "Nube", "Obrera", "Nuño", "Nuno", "Núñez") == [
        "Nube",
        "Nuno",
        "Núñez",
        "Nuño",
        "Ñuu Savi",
        "Obrera",
    ]


def test_ch_and_ll_are_not_letters_of_their_own() -> None:
    assert ordered("Chalco", "Cuautla", "Llano", "Luna") == ["Chalco", "Cuautla", "Llano", "Luna"]


def test_accents_then_case_break_ties() -> None:
    assert ordered("Perú", "peru", "Peru", "perú") == ["peru", "Peru", "perú", "Perú"]


def test_opening_marks_and_quotes_do_not_send_a_name_after_z() -> None:
    assert ordered("Zapotitla", "¿Dónde?", "“El Molino”", "Barranca") == [
        "¿Dónde?",
        "“El Molino”",
        "Barranca",
        "Zapotitla",
    ]


def test_ordinals_and_no_break_spaces_read_as_letters_and_spaces() -> None:
    assert ordered("1b Sección", "1ª Ampliación") == ["1ª Ampliación", "1b Sección"]
    assert spanish_key("San\u00a0Juan")[0] == spanish_key("San Juan")[0]


def test_a_name_before_its_longer_forms() -> None:
    assert ordered("San Lorenzo Tezonco", "San Lorenzo", "San") == [
        "San",
        "San Lorenzo",
        "San Lorenzo Tezonco",
    ]


def test_composed_and_decomposed_accents_sort_together() -> None:
    composed = "Tláhuac"
    decomposed = unicodedata.normalize("NFD", composed)
    assert spanish_key(composed)[:3] == spanish_key(decomposed)[:3]


def test_rows_with_the_same_name_come_by_id() -> None:
    rows = [{"id": "b", "name": "Obras"}, {"id": "a", "name": "Obras"}, {"id": "c", "name": None}]
    assert [r["id"] for r in sorted_by_name(rows)] == ["c", "a", "b"]


@given(st.lists(st.text(max_size=12), max_size=8))
def test_the_order_does_not_depend_on_the_order_given(names: list[str]) -> None:
    assert sorted(names, key=spanish_key) == sorted(reversed(names), key=spanish_key)


@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyz ", max_size=10), st.text(max_size=10))
def test_plain_lowercase_words_keep_alphabetical_order(plain: str, other: str) -> None:
    # Without accents, ñ or capitals the order is the alphabet's.
    other = "".join(c for c in other if c in "abcdefghijklmnopqrstuvwxyz ")
    assert (spanish_key(plain) < spanish_key(other)) == (plain < other)
