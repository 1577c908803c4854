"""The published SDL (docs/schema.graphql) is the schema the server runs."""

from __future__ import annotations

from pathlib import Path

from api.graphql.schema import build_schema

SDL = Path(__file__).resolve().parents[2] / "docs" / "schema.graphql"

CONTRACT_QUERIES = {
    "territories",
    "agencies",
    "case",
    "cases",
    "commitment",
    "commitments",
    "table",
    "tables",
    "agencyScorecards",
    "cabinetBriefing",
}
CONTRACT_MUTATIONS = {
    "raiseCase",
    "triageCase",
    "routeCase",
    "makeCommitment",
    "reportProgress",
    "rescheduleCommitment",
    "reportFulfilment",
    "validateFulfilment",
    "disputeFulfilment",
    "cancelCommitment",
    "addTerritory",
    "addAgency",
    "addPost",
    "appointToPost",
    "createTable",
    "holdAssembly",
    "holdSession",
}


def test_published_sdl_matches_the_running_schema() -> None:
    published = SDL.read_text(encoding="utf-8").strip()
    assert published == build_schema().as_str().strip(), (
        "docs/schema.graphql is out of date: run `uv run tequio schema > docs/schema.graphql`"
    )


def test_schema_has_every_query_and_mutation_of_the_contract() -> None:
    schema = build_schema()._schema
    assert set(schema.query_type.fields) >= CONTRACT_QUERIES
    assert set(schema.mutation_type.fields) >= CONTRACT_MUTATIONS
