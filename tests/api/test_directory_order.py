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


POSTS = "query($agency: ID) { posts(agencyId: $agency) { id title version holder { name } } }"
APPOINT = """mutation($post: ID!, $name: String!, $v: Int) {
  appointToPost(postId: $post, officialName: $name, expectedVersion: $v) { version } }"""


async def test_a_secretary_finds_an_agencys_posts_and_their_versions_to_appoint_with(
    api: GraphQLClient,
) -> None:
    admin = api.token("admin.sistema", "admin")
    for agency, name in (("obras", "Obras"), ("dgsu", "Servicios Urbanos")):
        await api.run(
            "mutation($id: ID!, $n: String!) { addAgency(id: $id, name: $n, level: MUNICIPAL)"
            " { id } }",
            {"id": agency, "n": name},
            token=admin,
        )
    for post, title, agency in (
        ("jud-alumbrado", "Jefatura de Alumbrado", "dgsu"),
        ("dir-obras", "Dirección de Obras", "obras"),
        ("ast-alumbrado", "Área de Atención Ciudadana", "dgsu"),
    ):
        await api.run(
            "mutation($id: ID!, $t: String!, $a: ID!) { addPost(id: $id, title: $t, agencyId: $a)"
            " { id } }",
            {"id": post, "t": title, "a": agency},
            token=admin,
        )
    listed = (await api.run(POSTS, {"agency": "dgsu"}))["posts"]
    assert [(p["id"], p["title"]) for p in listed] == [
        ("ast-alumbrado", "Área de Atención Ciudadana"),
        ("jud-alumbrado", "Jefatura de Alumbrado"),
    ]
    assert len((await api.run(POSTS))["posts"]) == 3

    (lighting,) = [p for p in listed if p["id"] == "jud-alumbrado"]
    appointed = await api.run(
        APPOINT,
        {"post": "jud-alumbrado", "name": "Jorge Sánchez", "v": lighting["version"]},
        token=admin,
    )
    assert appointed["appointToPost"]["version"] == lighting["version"] + 1
    # Another appointment made meanwhile: the version read before is stale.
    stale = await api.error(
        APPOINT,
        {"post": "jud-alumbrado", "name": "Laura Gómez", "v": lighting["version"]},
        token=admin,
    )
    assert stale["extensions"]["code"] == "CONFLICT"
    (now,) = [p for p in (await api.run(POSTS, {"agency": "dgsu"}))["posts"] if p["holder"]]
    assert now["holder"] == {"name": "Jorge Sánchez"}


async def test_posts_of_an_agency_id_with_a_nul_is_bad_input_not_an_internal_error(
    api: GraphQLClient,
) -> None:
    refusal = await api.error(POSTS, {"agency": "dgsu\u0000"})
    assert refusal["extensions"]["code"] == "BAD_USER_INPUT"
    assert (await api.run(POSTS, {"agency": "nadie"}))["posts"] == []
