"""The lists staff pick from (territories, agencies, tables) come in Spanish
alphabetical order: accented capitals with their letter, ñ after n, lowercase among
capitals, not in the database's byte order."""

from __future__ import annotations

from graphql_client import GraphQLClient

TERRITORIES = ["Zona Norte", "Álvaro Obregón", "colonia Centro", "Ñuu Savi", "Nuevo León"]
AGENCIES = ["Servicios Urbanos", "Órgano de Control", "agua potable", "Dirección de Obras"]
TABLES = ["Seguridad", "Ámbito Rural", "alumbrado público"]


async def test_territories_agencies_and_tables_are_listed_in_spanish_order(
    api: GraphQLClient,
) -> None:
    admin = api.token("admin.sistema", "admin")
    add_territory = (
        'mutation($id: ID!, $name: String!) { addTerritory(id: $id, name: $name, kind: "colonia")'
        " { id } }"
    )
    add_agency = (
        "mutation($id: ID!, $name: String!) { addAgency(id: $id, name: $name, level: MUNICIPAL)"
        " { id } }"
    )
    for prefix, mutation, names in (("t", add_territory, TERRITORIES), ("a", add_agency, AGENCIES)):
        for n, name in enumerate(names):
            await api.run(mutation, {"id": f"{prefix}{n}", "name": name}, token=admin)
    for n, name in enumerate(TABLES):
        table = {"id": f"m{n}", "name": name, "kind": "WORKING_TABLE", "memberAgencyIds": ["a0"]}
        await api.run(
            "mutation($input: CreateTableInput!) { createTable(input: $input) { id } }",
            {"input": table},
            token=admin,
        )

    listed = await api.run(
        "{ territories { name } agencies { name } tables { name } }", token=admin
    )

    assert [t["name"] for t in listed["territories"]] == [
        "Álvaro Obregón",
        "colonia Centro",
        "Nuevo León",
        "Ñuu Savi",
        "Zona Norte",
    ]
    assert [a["name"] for a in listed["agencies"]] == [
        "agua potable",
        "Dirección de Obras",
        "Órgano de Control",
        "Servicios Urbanos",
    ]
    assert [t["name"] for t in listed["tables"]] == [
        "alumbrado público",
        "Ámbito Rural",
        "Seguridad",
    ]
