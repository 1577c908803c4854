"""The demo's vocabulary: each problem has answers from agencies that exist, places that
fit it, and Spanish that reads right once the words are in."""

from __future__ import annotations

import random
import re

from tequio.demo import AGENCIES, ANSWERS, CASE_TEMPLATES, PLACES, PLACES_FOR, fill, place_for

PROBLEMS = [title for themed in CASE_TEMPLATES.values() for title, _ in themed]
WORDS = {"street": "Calle Morelos", "street2": "Calle Hidalgo", "colonia": "Citlalli", "n": 4}


def test_every_problem_has_answers_and_every_answer_a_problem() -> None:
    assert sorted(ANSWERS) == sorted(PROBLEMS)
    assert all(ANSWERS[problem] for problem in PROBLEMS)


def test_answers_are_given_by_agencies_of_the_directory_in_sensible_times() -> None:
    agencies = {agency[0] for agency in AGENCIES}
    for answers in ANSWERS.values():
        for agency, _text, low, high in answers:
            assert agency in agencies
            assert 1 <= low <= high <= 90


def test_places_named_for_a_problem_are_places_of_the_demo() -> None:
    assert set(PLACES_FOR) <= set(PROBLEMS)
    for places in PLACES_FOR.values():
        assert places and set(places) <= set(PLACES)
    rng = random.Random(7)
    chosen = {place_for("Acoso a estudiantes a la salida de {place}", rng) for _ in range(50)}
    assert chosen == {"la escuela primaria", "la secundaria técnica"}


def test_filled_texts_contract_de_el_and_a_el() -> None:
    assert fill("a la salida de {place}", {"place": "el mercado"}) == "a la salida del mercado"
    assert fill("frente a {place}", {"place": "el deportivo"}) == "frente al deportivo"
    # A proper name keeps its article; "el" inside a word is not one.
    assert fill("cerca de {place}", {"place": "El Molino"}) == "cerca de El Molino"
    assert fill("a {place}", {"place": "elotes"}) == "a elotes"


def test_no_filled_text_of_the_demo_reads_de_el_or_a_el() -> None:
    texts = [t for themed in CASE_TEMPLATES.values() for pair in themed for t in pair]
    texts += [text for answers in ANSWERS.values() for _, text, _, _ in answers]
    bad = re.compile(r"\b(de|a) el\b")
    for text in texts:
        for place in PLACES:
            filled = fill(text, {**WORDS, "place": place})
            assert "{" not in filled, filled
            assert not bad.search(filled), filled
