"""Open311 GeoReport v2 at /open311/v2, as integrators meet it over HTTP: JSON and XML,
the public view of cases, POSTed requests becoming cases awaiting triage, the spec's
errors; and two third-party clients from PyPI (``georeport``, ``civicbot``) speaking to
a real server on a loopback port."""

from __future__ import annotations

import asyncio
import socket
import threading
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
import uvicorn
from asgi_lifespan import LifespanManager
from civicbot.http import HttpTransport, RateLimiter
from civicbot.open311 import Open311Client, ValidationError
from civicbot.registry import Endpoint
from georeport import GeoReport
from world import CABINET, LIGHTING_TABLE, MONDAY, PROGRESS, ROUTE, TRIAGE, World, module_world

from api.app import create_app
from cases.clock import FixedClock
from cases.values import Theme
from tequio.database import ConnectionInfo
from tequio.settings import Settings

world = module_world()

V2 = "/open311/v2"
MUNICIPALITY = "iztapalapa"
CASE_COUNT = "{ cases { totalCount } }"
PUBLIC_NOTE = "Se cambiaron 4 de 10 luminarias."
SECRET_NOTE = "Operativo encubierto con tres patrullas"
DECLINE_REASON = "Corresponde a la alcaldía vecina."
REPORTER = {
    "first_name": "Lucía",
    "last_name": "Hernández Ortiz",
    "phone": "5512345678",
    "email": "lucia.hernandez@example.mx",
}
REQUEST_FIELDS = [
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
]
DECLINE = """
mutation($id: ID!, $v: Int!, $reason: String!) {
  declineCase(caseId: $id, expectedVersion: $v, reason: $reason) { id status } }
"""
STAFF_VIEW = """
query($id: ID!) { case(id: $id) {
  status title description theme territory { id } location { lat long address }
  reporter { name phone email } timeline { type actor } } }
"""


# -- helpers ------------------------------------------------------------------------


class FakeTime:
    """A monotonic clock that stands still: the rate limit's bucket refills only when told."""

    now = 1000.0

    def __call__(self) -> float:
        return self.now


def xml_of(response: httpx.Response) -> ET.Element:
    assert response.headers["content-type"] == "text/xml; charset=utf-8", response.headers
    assert response.content.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n')
    return ET.fromstring(response.content)


def json_of(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    return response.json()


def record(element: ET.Element) -> dict[str, str | None]:
    return {child.tag: child.text for child in element}


def as_xml_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def json_error(response: httpx.Response, status: int) -> str:
    """Asserts the spec's JSON error document; returns its description."""
    body = json_of(response, status)
    assert isinstance(body, list) and len(body) == 1, body
    assert body[0]["code"] == status and set(body[0]) == {"code", "description"}, body
    return str(body[0]["description"])


def xml_error(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    root = xml_of(response)
    assert root.tag == "errors"
    (error,) = root.findall("error")
    assert error.findtext("code") == str(status)
    return error.findtext("description") or ""


async def case_count(world: World) -> int:
    data = await world.api.run(CASE_COUNT, token=world.coordinator)
    return int(data["cases"]["totalCount"])


def open311_post(world: World, fmt: str = "json", **fields: str) -> Any:
    return world.api.http.post(
        f"{V2}/requests.{fmt}",
        data=fields,
        headers={"Accept-Language": "en"},
    )


def a_request(world: World, **overrides: str) -> dict[str, str]:
    fields = {
        "api_key": world.api.token("integracion.buzon311", "integration"),
        "jurisdiction_id": MUNICIPALITY,
        "service_code": "WATER",
        "lat": "19.3512",
        "long": "-99.0176",
        "address_string": "Calle 5 esquina Camino Real",
        "attribute[territory]": "smt-mercado",
        "description": "Fuga de agua potable frente al mercado\nLleva tres días tirando agua.",
        **REPORTER,
    }
    fields.update(overrides)
    return {k: v for k, v in fields.items() if v != ""}


# -- the scene ------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def scene(world: World) -> dict[str, Any]:
    """Three cases: street lights (open, with a public commitment and a security-cabinet
    one whose note is the newest), a water leak (open), a declined pothole (closed)."""
    api = world.api
    lights = await world.raise_case("Luminarias apagadas en Av. Las Torres", theme="URBAN_SERVICES")
    lights = (
        await api.run(
            TRIAGE,
            {
                "id": lights["id"],
                "v": lights["version"],
                "theme": "URBAN_SERVICES",
                "priority": "HIGH",
            },
            token=world.coordinator,
        )
    )["triageCase"]
    await api.run(
        ROUTE,
        {"id": lights["id"], "v": lights["version"], "tables": [CABINET, LIGHTING_TABLE]},
        token=world.coordinator,
    )
    lamps = await world.commit(
        lights["id"], "Reparar luminarias", table=LIGHTING_TABLE, due="2026-11-20"
    )
    patrols = await world.commit(
        lights["id"], "Patrullajes nocturnos", agency="ssc", post="jefatura-sector-ssc",
        table=CABINET, due="2026-11-18",
    )  # fmt: skip
    await api.run(
        PROGRESS,
        {"id": lamps["id"], "v": lamps["version"], "p": 40, "note": PUBLIC_NOTE},
        token=world.secretary,
    )
    await api.run(
        PROGRESS,
        {"id": patrols["id"], "v": patrols["version"], "p": 10, "note": SECRET_NOTE},
        token=world.secretary,
    )
    water = await world.raise_case(
        "Fuga de agua en la calle 5", theme="WATER", territory="smt-mercado"
    )
    pothole = await world.raise_case("Bache en la calle 7")
    await api.run(
        DECLINE,
        {"id": pothole["id"], "v": pothole["version"], "reason": DECLINE_REASON},
        token=world.coordinator,
    )
    raised = await api.run("query($id: ID!) { case(id: $id) { raisedAt } }", {"id": lights["id"]})
    return {
        "lights": lights["id"],
        "water": water["id"],
        "pothole": pothole["id"],
        "lights_raised_at": datetime.fromisoformat(raised["case"]["raisedAt"]),
    }


# -- discovery and services ------------------------------------------------------------


async def test_discovery_names_this_endpoint_in_json_and_xml(world: World) -> None:
    body = json_of(await world.api.http.get(f"{V2}/discovery.json"))
    assert set(body) == {"changeset", "contact", "key_service", "endpoints"}
    (endpoint,) = body["endpoints"]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"] == "http://tequio.test/open311/v2"
    assert endpoint["formats"] == ["text/xml", "application/json"]
    assert endpoint["type"] == "test"  # a development server

    root = xml_of(await world.api.http.get(f"{V2}/discovery.xml"))
    assert root.tag == "discovery"
    assert root.findtext("changeset") == body["changeset"]
    assert [f.text for f in root.iterfind("endpoints/endpoint/formats/format")] == endpoint[
        "formats"
    ]
    assert root.findtext("endpoints/endpoint/url") == endpoint["url"]


async def test_services_are_the_fourteen_themes_in_spanish_or_english(world: World) -> None:
    http = world.api.http
    services = json_of(await http.get(f"{V2}/services.json"))
    assert [s["service_code"] for s in services] == [t.value for t in Theme]
    water = next(s for s in services if s["service_code"] == "WATER")
    assert water["service_name"] == "Agua"  # the jurisdiction's language by default
    assert water["metadata"] is True and water["type"] == "realtime"
    assert set(water) == {
        "service_code", "service_name", "description", "metadata", "type", "keywords", "group",
    }  # fmt: skip
    assert "fuga" in water["keywords"] and water["group"] == "Servicios públicos y entorno"

    english = json_of(await http.get(f"{V2}/services.json", headers={"Accept-Language": "en"}))
    assert next(s for s in english if s["service_code"] == "WATER")["service_name"] == "Water"
    by_param = json_of(await http.get(f"{V2}/services.json", params={"locale": "en-US"}))
    assert by_param == english

    root = xml_of(await http.get(f"{V2}/services.xml"))
    assert root.tag == "services"
    xml_services = [record(s) for s in root.findall("service")]
    assert xml_services == [{k: as_xml_text(v) for k, v in s.items()} for s in services]


async def test_a_service_definition_asks_for_the_neighbourhood(world: World) -> None:
    http = world.api.http
    definition = json_of(await http.get(f"{V2}/services/URBAN_SERVICES.json"))
    assert definition["service_code"] == "URBAN_SERVICES"
    (attribute,) = definition["attributes"]
    values = attribute.pop("values")
    assert attribute == {
        "variable": True,
        "code": "territory",
        "datatype": "singlevaluelist",
        "required": True,
        "datatype_description": "Elija una de las claves de la lista.",
        "order": 1,
        "description": "Colonia, barrio, pueblo o unidad habitacional donde está el problema.",
    }
    assert {"key": "smt-avisadero", "name": "San Miguel Teotongo Sección Avisadero"} in values
    assert {v["key"] for v in values} >= {"smt-mercado", "dt-teotongo", "iztapalapa"}

    root = xml_of(await http.get(f"{V2}/services/URBAN_SERVICES.xml"))
    assert root.tag == "service_definition" and root.findtext("service_code") == "URBAN_SERVICES"
    (xml_attribute,) = root.findall("attributes/attribute")
    assert xml_attribute.findtext("datatype") == "singlevaluelist"
    assert xml_attribute.findtext("required") == "true"
    assert [
        {"key": v.findtext("key"), "name": v.findtext("name")}
        for v in xml_attribute.iterfind("values/value")
    ] == values

    assert "no existe" in json_error(await http.get(f"{V2}/services/POTHOLES.json"), 404).lower()
    assert "POTHOLES" in xml_error(await http.get(f"{V2}/services/POTHOLES.xml"), 404)


# -- service requests: the public view -------------------------------------------------


async def test_a_request_shows_the_public_view_of_its_case(
    world: World, scene: dict[str, Any]
) -> None:
    http = world.api.http
    response = await http.get(f"{V2}/requests/{scene['lights']}.json")
    (request,) = json_of(response)
    assert list(request) == REQUEST_FIELDS
    assert request["service_request_id"] == scene["lights"]
    assert request["status"] == "open"
    assert request["service_code"] == "URBAN_SERVICES"
    assert request["service_name"] == "Servicios urbanos"
    assert request["description"] == "Luminarias apagadas en Av. Las Torres. Planteado en asamblea."
    # The cabinet's commitment (agency SSC, due the 18th, a newer note) stays out of sight.
    assert request["agency_responsible"] == "Dirección General de Servicios Urbanos"
    assert request["status_notes"] == PUBLIC_NOTE
    assert request["expected_datetime"] == "2026-11-20T23:59:59-06:00"
    assert request["service_notice"] == "Se tomaron acuerdos; en atención."
    assert request["address"] == "San Miguel Teotongo Sección Avisadero"
    assert request["address_id"] == "smt-avisadero"
    assert request["lat"] is None and request["media_url"] is None
    requested = datetime.fromisoformat(request["requested_datetime"])
    assert requested == scene["lights_raised_at"].replace(microsecond=0)  # w3, to the second
    assert requested.utcoffset() == timedelta(hours=-6)  # the municipality's offset
    assert datetime.fromisoformat(request["updated_datetime"]) >= requested
    for secret in ("Seguridad Ciudadana", "Patrullajes", SECRET_NOTE, "2026-11-18", CABINET):
        assert secret not in response.text

    xml_response = await http.get(f"{V2}/requests/{scene['lights']}.xml")
    root = xml_of(xml_response)
    assert root.tag == "service_requests"
    (element,) = root.findall("request")
    assert record(element) == {k: as_xml_text(v) for k, v in request.items()}
    for secret in ("Seguridad Ciudadana", SECRET_NOTE, "2026-11-18"):
        assert secret not in xml_response.text

    english = json_of(
        await http.get(f"{V2}/requests/{scene['lights']}.json", headers={"Accept-Language": "en"})
    )
    assert english[0]["service_name"] == "Urban services"


async def test_a_declined_case_is_a_closed_request_with_its_reason(
    world: World, scene: dict[str, Any]
) -> None:
    (request,) = json_of(await world.api.http.get(f"{V2}/requests/{scene['pothole']}.json"))
    assert request["status"] == "closed"
    assert request["status_notes"] == DECLINE_REASON
    assert request["service_notice"] == "No procedente."
    assert request["agency_responsible"] is None and request["expected_datetime"] is None


async def test_requests_filter_by_ids_code_status_and_dates(
    world: World, scene: dict[str, Any]
) -> None:
    http = world.api.http
    ours = {scene["lights"], scene["water"], scene["pothole"]}

    async def ids(**params: str) -> list[str]:
        body = json_of(await http.get(f"{V2}/requests.json", params=params))
        return [r["service_request_id"] for r in body if r["service_request_id"] in ours]

    # Several ids, in the order asked; an unknown one is simply not there; ids override
    # every other filter.
    asked = f"{scene['water']},nope-404,{scene['pothole']}"
    assert await ids(service_request_id=asked, service_code="SAFETY") == [
        scene["water"],
        scene["pothole"],
    ]
    assert await ids(service_code="WATER") == [scene["water"]]
    assert set(await ids(service_code="WATER,URBAN_SERVICES")) == ours
    assert set(await ids(status="open")) == {scene["lights"], scene["water"]}
    assert await ids(status="closed") == [scene["pothole"]]
    assert set(await ids(status="open,closed")) == ours
    assert set(await ids()) == ours  # the default window: the last 90 days
    # Newest first.
    assert await ids() == [scene["pothole"], scene["water"], scene["lights"]]

    raised = scene["lights_raised_at"]
    before = (raised - timedelta(days=3)).isoformat()
    just_before = (raised - timedelta(seconds=1)).isoformat()
    assert await ids(start_date=before, end_date=just_before) == []
    assert scene["lights"] in await ids(start_date=just_before, end_date=raised.isoformat())
    assert set(await ids(start_date=just_before)) == ours
    assert await ids(end_date=just_before) == []

    xml_ids = [
        e.text
        for e in xml_of(
            await http.get(f"{V2}/requests.xml", params={"service_code": "WATER"})
        ).iterfind("request/service_request_id")
    ]
    assert scene["water"] in xml_ids and scene["lights"] not in xml_ids


@pytest.mark.parametrize(
    ("params", "status", "words"),
    [
        ({"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-06-01T00:00:00Z"}, 400, "90"),
        (
            {"start_date": "2026-06-01T00:00:00Z", "end_date": "2026-01-01T00:00:00Z"},
            400,
            "end_date",
        ),
        ({"start_date": "ayer"}, 400, "'start_date' must be an ISO 8601 date"),
        ({"start_date": "9999-12-01"}, 400, "'start_date' must be between the years 1900 and 9000"),
        ({"end_date": "0001-01-02"}, 400, "'end_date' must be between the years 1900 and 9000"),
        ({"end_date": "9999-12-31T23:59:59-12:00"}, 400, "'end_date' must be between the years"),
        ({"start_date": "0001-01-01T00:00:00+14:00"}, 400, "'start_date' must be between the"),
        ({"start_date": "1899-12-31"}, 400, "'start_date' must be between the years 1900 and 9000"),
        ({"status": "pending"}, 400, "pending"),
        ({"service_code": "WATER,POTHOLES"}, 400, "POTHOLES"),
        ({"jurisdiction_id": "tlalpan"}, 404, "tlalpan"),
    ],
)
async def test_a_bad_search_is_the_specs_error(
    world: World, params: dict[str, str], status: int, words: str
) -> None:
    response = await world.api.http.get(
        f"{V2}/requests.json", params=params, headers={"Accept-Language": "en"}
    )
    assert words in json_error(response, status)
    xml = await world.api.http.get(
        f"{V2}/requests.xml", params=params, headers={"Accept-Language": "en"}
    )
    assert words in xml_error(xml, status)


async def test_unknown_resources_are_404_in_the_specs_format(world: World) -> None:
    http = world.api.http
    spanish = json_error(await http.get(f"{V2}/requests/no-such-case.json"), 404)
    assert spanish == "No existe una solicitud de servicio con el identificador 'no-such-case'."
    english = await http.get(
        f"{V2}/requests/no-such-case.xml", headers={"Accept-Language": "en-US,en;q=0.9"}
    )
    assert xml_error(english, 404) == "No service request with id 'no-such-case' exists."
    assert "token" in json_error(await http.get(f"{V2}/tokens/no-such-case.json"), 404)
    assert "yaml" in json_error(await http.get(f"{V2}/services.yaml"), 404)
    assert "yaml" in json_error(await http.get(f"{V2}/requests/abc.yaml"), 404)
    assert "everything" in json_error(await http.get(f"{V2}/everything.json"), 404)
    assert "everything" in xml_error(await http.get(f"{V2}/everything.xml"), 404)


# -- POST: a request becomes a case awaiting triage -------------------------------------


async def test_a_posted_request_becomes_a_raised_case_with_the_contact_sealed(
    world: World,
) -> None:
    http = world.api.http
    response = await open311_post(world, **a_request(world))
    (created,) = json_of(response)
    assert set(created) == {"service_request_id", "service_notice", "account_id"}
    assert created["account_id"] is None and "triage" in created["service_notice"]
    case_id = created["service_request_id"]

    # Staff see a case awaiting triage, raised by the integration, with the contact sealed
    # for the coordinator.
    case = (await world.api.run(STAFF_VIEW, {"id": case_id}, token=world.coordinator))["case"]
    assert case["status"] == "RAISED" and case["theme"] == "WATER"
    assert case["title"] == "Fuga de agua potable frente al mercado"
    assert case["description"].endswith("Lleva tres días tirando agua.")
    assert case["territory"] == {"id": "smt-mercado"}
    assert case["location"] == {
        "lat": 19.3512,
        "long": -99.0176,
        "address": "Calle 5 esquina Camino Real",
    }
    assert case["reporter"] == {
        "name": "Lucía Hernández Ortiz",
        "phone": REPORTER["phone"],
        "email": REPORTER["email"],
    }
    assert case["timeline"] == [{"type": "Raised", "actor": "integracion.buzon311"}]

    # Open311 shows the request at once and never the contact, to anyone, in any form.
    integration = world.api.token("integracion.buzon311", "integration")
    answers = [response]
    for path in (
        f"requests/{case_id}.json",
        f"requests/{case_id}.xml",
        f"tokens/{case_id}.json",
        f"tokens/{case_id}.xml",
    ):
        answers.append(await http.get(f"{V2}/{path}"))
    for fmt in ("json", "xml"):
        answers.append(
            await http.get(
                f"{V2}/requests.{fmt}",
                params={"service_request_id": case_id, "api_key": integration},
                headers={"Authorization": f"Bearer {world.coordinator}"},
            )
        )
    for answer in answers:
        assert answer.status_code == 200, answer.text
        for secret in ("Lucía", "Hernández", REPORTER["phone"], REPORTER["email"], "5512"):
            assert secret not in answer.text
    (request,) = json_of(answers[1])
    assert request["status"] == "open" and request["service_code"] == "WATER"
    assert request["address"] == "Calle 5 esquina Camino Real, San Miguel Teotongo Sección Mercado"
    assert (request["lat"], request["long"]) == (19.3512, -99.0176)
    assert request["service_notice"] == "Recibida; en espera de clasificación."
    assert json_of(answers[3]) == [{"service_request_id": case_id, "token": case_id}]
    token_xml = xml_of(answers[4]).find("request")
    assert token_xml is not None
    assert record(token_xml) == {"service_request_id": case_id, "token": case_id}


async def test_a_post_answers_in_xml_and_escapes_what_it_echoes(world: World) -> None:
    description = 'Basura & cascajo <junto> al "kínder" O\'Higgins'
    response = await open311_post(
        world, "xml", **a_request(world, description=description, service_code="URBAN_SERVICES")
    )
    assert response.status_code == 200, response.text
    root = xml_of(response)
    (created,) = root.findall("request")
    case_id = created.findtext("service_request_id")
    account = created.find("account_id")
    assert account is not None and account.text is None
    shown = xml_of(await world.api.http.get(f"{V2}/requests/{case_id}.xml"))
    assert shown.findtext("request/description") == description
    assert (await world.api.http.get(f"{V2}/requests/{case_id}.json")).json()[0][
        "description"
    ] == description


async def test_the_same_idempotency_key_makes_one_case(world: World) -> None:
    before = await case_count(world)
    fields = a_request(world, description="Coladera tapada en la calle 3")
    headers = {"Idempotency-Key": "buzon-2026-11-16-0007"}
    first = await world.api.http.post(f"{V2}/requests.json", data=fields, headers=headers)
    again = await world.api.http.post(f"{V2}/requests.json", data=fields, headers=headers)
    assert json_of(first)[0]["service_request_id"] == json_of(again)[0]["service_request_id"]
    assert await case_count(world) == before + 1


@pytest.mark.parametrize(
    ("change", "status", "words"),
    [
        ({"api_key": ""}, 403, "api_key is required"),
        ({"api_key": "not-a-token"}, 403, "malformed"),
        ({"api_key": "secretary"}, 403, "integration"),
        ({"api_key": "agency_staff"}, 403, "integration"),
        ({"api_key": "cabinet_member"}, 403, "integration"),
        ({"lat": "", "long": "", "address_string": ""}, 400, "location is required"),
        ({"lat": "norte"}, 400, "'lat' must be a number"),
        ({"long": "", "address_string": ""}, 400, "location is required"),
        ({"lat": "95"}, 400, "'lat' must be"),
        ({"address_string": "x" * 20_000}, 400, "'address_string' is too long"),
        ({"service_code": ""}, 400, "'service_code' is required"),
        ({"service_code": "POTHOLES"}, 404, "POTHOLES"),
        ({"attribute[territory]": "atlantida"}, 400, "'atlantida' is not a territory"),
        ({"attribute[territory]": ""}, 400, "attribute[territory]"),
        ({"address_id": "smt-avisadero"}, 400, "different territories"),
        ({"description": "   "}, 400, "'description' is required"),
        ({"description": "x" * 5001}, 400, "too long"),
        ({"jurisdiction_id": "tlalpan"}, 404, "tlalpan"),
        ({"email": "notanemail"}, 400, "'email' is not an e-mail address"),
        ({"description": "Fuga\uffffde agua"}, 400, "'description' contains control characters"),
    ],
    ids=lambda value: "+".join(value) if isinstance(value, dict) else str(value),
)
async def test_a_refused_post_is_the_specs_error_and_changes_nothing(
    world: World, change: dict[str, str], status: int, words: str
) -> None:
    before = await case_count(world)
    fields = a_request(world, **change)
    if fields.get("api_key") in ("secretary", "agency_staff", "cabinet_member"):
        role = fields["api_key"]
        fields["api_key"] = world.api.token(
            f"someone.{role}", role, agency="servicios-urbanos", tables=[CABINET]
        )
    response = await open311_post(world, **fields)
    assert words in json_error(response, status)
    assert await case_count(world) == before


async def test_a_body_that_is_not_utf8_is_refused_rather_than_stored_garbled(
    world: World,
) -> None:
    before = await case_count(world)
    body = urlencode(a_request(world, description="Fuga en la calle Peña"), encoding="latin-1")

    response = await world.api.http.post(
        f"{V2}/requests.json",
        content=body,
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept-Language": "en",
        },
    )

    assert "UTF-8" in json_error(response, 400)
    assert await case_count(world) == before


async def test_a_body_in_the_charset_its_content_type_names_is_read_in_it(world: World) -> None:
    fields = a_request(world, description="Fuga en la calle Peña", first_name="Lucía")
    response = await world.api.http.post(
        f"{V2}/requests.json",
        content=urlencode(fields, encoding="latin-1"),
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=ISO-8859-1"},
    )

    (created,) = json_of(response)
    case = (
        await world.api.run(
            STAFF_VIEW, {"id": created["service_request_id"]}, token=world.coordinator
        )
    )["case"]
    assert case["title"] == "Fuga en la calle Peña"
    assert case["reporter"]["name"].startswith("Lucía ")


async def test_refusals_read_in_spanish_and_in_xml(world: World) -> None:
    response = await world.api.http.post(
        f"{V2}/requests.xml",
        data=a_request(world, api_key=""),
        headers={"Accept-Language": "es-MX"},
    )
    assert (
        xml_error(response, 403) == "Se requiere un api_key para crear una solicitud de servicio."
    )
    not_a_form = await world.api.http.post(
        f"{V2}/requests.json",
        json=a_request(world),
        headers={"Accept-Language": "en"},
    )
    assert "x-www-form-urlencoded" in json_error(not_a_form, 400)


async def test_an_address_id_alone_places_the_request_in_its_territory(world: World) -> None:
    fields = a_request(world, lat="", long="", address_string="", address_id="smt-avisadero")
    fields.pop("attribute[territory]")
    (created,) = json_of(await open311_post(world, **fields))
    (request,) = json_of(
        await world.api.http.get(f"{V2}/requests/{created['service_request_id']}.json")
    )
    assert request["address_id"] == "smt-avisadero"
    assert request["address"] == "San Miguel Teotongo Sección Avisadero"
    assert request["lat"] is None


async def test_open311_keeps_the_apps_body_cap(world: World) -> None:
    before = await case_count(world)
    huge = a_request(world, description="x" * (1024 * 1024 + 10))
    response = await world.api.http.post(f"{V2}/requests.json", data=huge)
    assert response.status_code == 413
    assert await case_count(world) == before


async def test_open311_keeps_the_apps_rate_limit(world: World, server_info: ConnectionInfo) -> None:
    settings = Settings(
        DATABASE_URL=server_info.url(),
        TEQUIO_MUNICIPALITY=MUNICIPALITY,
        TEQUIO_POOL_SIZE=1,
        TEQUIO_RATE_LIMIT_PER_MINUTE=2,
    )
    app = create_app(
        settings, clock=FixedClock(MONDAY), run_projections=False, monotonic=FakeTime()
    )
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=30) as manager:
        transport = httpx.ASGITransport(app=manager.app, client=("10.1.2.3", 5000))
        async with httpx.AsyncClient(transport=transport, base_url="http://tequio.test") as http:
            for _ in range(2):
                assert (await http.get(f"{V2}/services.json")).status_code == 200
            refused = await http.get(f"{V2}/services.xml", headers={"Accept-Language": "en"})
            assert "Too many requests" in xml_error(refused, 429)
            assert refused.headers["Retry-After"] == "30"


# -- third-party clients against a real server -------------------------------------------


@pytest.fixture(scope="module")
async def live(world: World, server_info: ConnectionInfo) -> AsyncIterator[str]:
    """The app served by uvicorn on a loopback port (its own event loop, in a thread), on
    the module's database; the module's app keeps the read models up to date."""
    settings = Settings(
        DATABASE_URL=server_info.url(), TEQUIO_MUNICIPALITY=MUNICIPALITY, TEQUIO_POOL_SIZE=2
    )
    app = create_app(settings, clock=FixedClock(MONDAY), run_projections=False)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    for _ in range(600):
        if server.started or not thread.is_alive():
            break
        await asyncio.sleep(0.1)
    assert server.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{port}{V2}"
    finally:
        server.should_exit = True
        await asyncio.to_thread(thread.join, 30)
        sock.close()


async def test_georeport_client_reads_services_and_requests_in_json_and_xml(
    live: str, scene: dict[str, Any]
) -> None:
    def session(fmt: str) -> dict[str, Any]:
        client = GeoReport(live, jurisdiction=MUNICIPALITY, output_format=fmt)
        return {
            "services": client.get_service_list(),
            "definition": client.get_service_definition("URBAN_SERVICES"),
            "several": client.get_service_requests(
                service_request_id=f"{scene['lights']},{scene['water']}"
            ),
            "water": client.get_service_requests(service_code="WATER", status="open"),
            "one": client.get_service_request(scene["lights"]),
        }

    as_json = await asyncio.to_thread(session, "json")
    as_xml = await asyncio.to_thread(session, "xml")

    assert [s["service_code"] for s in as_json["services"]] == [t.value for t in Theme]
    assert [s["service_code"] for s in as_xml["services"]] == [t.value for t in Theme]
    assert as_xml["services"][0]["metadata"] == "true"
    json_attribute = as_json["definition"]["attributes"][0]
    xml_attribute = as_xml["definition"]["attributes"]["attribute"]
    assert json_attribute["code"] == xml_attribute["code"] == "territory"
    assert [v["key"] for v in json_attribute["values"]] == [
        v["key"] for v in xml_attribute["values"]["value"]
    ]
    assert [r["service_request_id"] for r in as_json["several"]] == [
        scene["lights"],
        scene["water"],
    ]
    assert [r["service_request_id"] for r in as_xml["several"]] == [scene["lights"], scene["water"]]
    water_ids = [r["service_request_id"] for r in as_json["water"]]
    assert scene["water"] in water_ids and scene["lights"] not in water_ids
    # xmltodict gives a lone request as a dict, several as a list.
    xml_water = as_xml["water"] if isinstance(as_xml["water"], list) else [as_xml["water"]]
    assert [r["service_request_id"] for r in xml_water] == water_ids

    one_json, one_xml = as_json["one"], as_xml["one"]
    assert one_json["agency_responsible"] == "Dirección General de Servicios Urbanos"
    assert {k: as_xml_text(v) for k, v in one_json.items()} == dict(one_xml)


async def test_civicbot_client_posts_a_request_checked_against_the_definition(
    world: World, live: str
) -> None:
    endpoint = Endpoint(id="tequio", name="Tequio", base_url=live, write=True)
    client = Open311Client(
        endpoint,
        transport=HttpTransport(rate_limiter=RateLimiter(min_interval=0)),
        jurisdiction_id=MUNICIPALITY,
    )
    api_key = world.api.token("integracion.civicbot", "integration")
    before = await case_count(world)

    def post(territory: str) -> Any:
        return client.create_request(
            "PUBLIC_SPACE",
            dry_run=False,
            confirm="SEND",
            api_key=api_key,
            validate_remote=True,  # fetches services and the definition, checks attributes
            lat=19.3467,
            lng=-99.0195,
            address_string="Parque Las Torres",
            description="Juegos infantiles rotos en el parque",
            attributes={"territory": territory},
            first_name="Ana",
            last_name="López",
            email="ana.lopez@example.mx",
        )

    # The client reads our definition and refuses a territory it does not list.
    with pytest.raises(ValidationError, match="territory"):
        await asyncio.to_thread(post, "atlantida")
    assert await case_count(world) == before

    prepared = await asyncio.to_thread(post, "smt-avisadero")
    (created,) = prepared.response
    case_id = created["service_request_id"]
    fetched = await asyncio.to_thread(client.get_request, case_id)
    assert fetched is not None and fetched["status"] == "open"
    assert fetched["service_code"] == "PUBLIC_SPACE" and fetched["address_id"] == "smt-avisadero"
    assert "López" not in str(fetched) and "ana.lopez" not in str(fetched)
    listed = await asyncio.to_thread(client.list_requests, service_request_ids=[case_id])
    assert [r["service_request_id"] for r in listed] == [case_id]
    assert await asyncio.to_thread(client.get_token, case_id) == [
        {"service_request_id": case_id, "token": case_id}
    ]
    assert await case_count(world) == before + 1


async def test_a_language_open311_does_not_speak_gets_spanish(world: World) -> None:
    http = world.api.http
    for headers, params in (
        ({"Accept-Language": "fr-FR,fr;q=0.9"}, {}),
        ({"Accept-Language": "*"}, {}),
        ({"Accept-Language": "en"}, {"locale": "es_MX"}),
        ({}, {"locale": "fr"}),
    ):
        services = json_of(await http.get(f"{V2}/services.json", headers=headers, params=params))
        names = {s["service_code"]: s["service_name"] for s in services}
        assert names["WATER"] == "Agua", (headers, params)
    english = json_of(await http.get(f"{V2}/services.json", params={"locale": "en_US"}))
    assert {s["service_code"]: s["service_name"] for s in english}["WATER"] == "Water"


async def test_search_bounds_are_both_included_and_filters_may_repeat(world: World) -> None:
    (created,) = json_of(await open311_post(world, **a_request(world)))
    (request,) = json_of(
        await world.api.http.get(f"{V2}/requests/{created['service_request_id']}.json")
    )
    at = request["requested_datetime"]  # to the second; the case's time has fractions

    async def found(**params: str) -> set[str]:
        answer = json_of(await world.api.http.get(f"{V2}/requests.json", params=params))
        return {r["service_request_id"] for r in answer}

    rid = created["service_request_id"]
    assert rid in await found(start_date=at, end_date=at)
    assert rid in await found(end_date=at[:10])  # a date: the whole day
    assert rid in await found(status="open,closed")
    both = world.api.http.get(
        f"{V2}/requests.json", params=[("status", "open"), ("status", "closed")]
    )
    assert {r["service_request_id"] for r in json_of(await both)} == await found(
        status="open,closed"
    )


async def test_a_charset_outside_the_known_few_is_refused_and_not_looked_up(
    world: World,
) -> None:
    import encodings

    before = len(encodings._cache)  # type: ignore[attr-defined]
    for n in range(20):
        response = await world.api.http.post(
            f"{V2}/requests.json",
            content=urlencode(a_request(world)),
            headers={
                "Content-Type": f"application/x-www-form-urlencoded; charset=x-made-up-{n}",
                "Accept-Language": "en",
            },
        )
        assert "UTF-8" in json_error(response, 400)
    # Python keeps every codec name it is asked for: none of these was asked.
    assert len(encodings._cache) == before  # type: ignore[attr-defined]
