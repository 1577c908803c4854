"""The themes as Open311 services, and the words Open311 answers carry, in es-MX and English.

A service's ``service_code`` is the theme's enum value (``WATER``), so a code read in
Open311 is the same word the GraphQL API and the event feed use.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cases.values import Theme

SPEC = "http://wiki.open311.org/GeoReport_v2"
# Sortable; changes when the service list or a definition's shape changes (the territory
# values follow the directory and are not versioned here).
CHANGESET = "2026-11-16T00:00:00-06:00"
TERRITORY_ATTRIBUTE = "territory"
EMERGENCY_ES = " No es un servicio de emergencias: en una emergencia llame al 911."
EMERGENCY_EN = " Not for emergencies: in an emergency call 911."


@dataclass(frozen=True)
class Service:
    code: str
    names: tuple[str, str]  # (en, es)
    descriptions: tuple[str, str]
    keywords: tuple[str, str]
    group: str

    def localized(self, language: str) -> dict[str, Any]:
        i = 1 if language == "es" else 0
        return {
            "service_code": self.code,
            "service_name": self.names[i],
            "description": self.descriptions[i],
            "metadata": True,
            "type": "realtime",
            "keywords": self.keywords[i],
            "group": GROUPS[self.group][i],
        }


GROUPS = {
    "public_services": ("Public services and surroundings", "Servicios públicos y entorno"),
    "safety": ("Safety and protection", "Seguridad y protección"),
    "social": ("Well-being and social development", "Bienestar y desarrollo social"),
    "participation": ("Participation", "Participación"),
}


def _service(
    theme: Theme,
    names: tuple[str, str],
    descriptions: tuple[str, str],
    keywords: tuple[str, str],
    group: str,
    *,
    emergency_note: bool = False,
) -> Service:
    if emergency_note:
        descriptions = (descriptions[0] + EMERGENCY_EN, descriptions[1] + EMERGENCY_ES)
    return Service(theme.value, names, descriptions, keywords, group)


T = Theme
SERVICES: dict[str, Service] = {
    s.code: s
    for s in (
        _service(
            T.PARTICIPATION,
            ("Citizen participation", "Participación ciudadana"),
            (
                "Assemblies, consultations, participatory budgeting and neighbourhood organising.",
                "Asambleas, consultas, presupuesto participativo y organización vecinal.",
            ),
            (
                "assembly, consultation, participatory budget, neighbourhood committee",
                "asamblea, consulta, presupuesto participativo, comité vecinal",
            ),
            "participation",
        ),
        _service(
            T.ECONOMY,
            ("Economy", "Economía"),
            (
                "Jobs, local trade, markets and support for small businesses.",
                "Empleo, comercio local, mercados y apoyos a emprendimientos.",
            ),
            ("jobs, trade, markets, grants", "empleo, comercio, mercados, tianguis, apoyos"),
            "social",
        ),
        _service(
            T.CULTURE,
            ("Culture", "Cultura"),
            (
                "Cultural centres, events, heritage and traditional festivities.",
                "Casas de cultura, eventos, patrimonio y fiestas tradicionales.",
            ),
            (
                "cultural centre, events, heritage, festivities",
                "casa de cultura, eventos, patrimonio, fiestas",
            ),
            "social",
        ),
        _service(
            T.SAFETY,
            ("Safety", "Seguridad"),
            (
                "Crime, patrols, unsafe places and living together in the neighbourhood.",
                "Delitos, patrullaje, lugares inseguros y convivencia vecinal.",
            ),
            ("crime, patrols, theft, policing", "delincuencia, patrullaje, robo, vigilancia"),
            "safety",
            emergency_note=True,
        ),
        _service(
            T.ENVIRONMENT,
            ("Environment", "Medio ambiente"),
            (
                "Green areas, trees, pollution, waste and animals.",
                "Áreas verdes, arbolado, contaminación, residuos y animales.",
            ),
            (
                "trees, pruning, pollution, rubbish, green areas",
                "árboles, poda, contaminación, basura, áreas verdes",
            ),
            "public_services",
        ),
        _service(
            T.PUBLIC_SPACE,
            ("Public space", "Espacio público"),
            (
                "Parks, squares, pavements, spaces under bridges and street furniture.",
                "Parques, plazas, banquetas, bajo puentes y mobiliario urbano.",
            ),
            (
                "parks, squares, pavements, playgrounds",
                "parques, plazas, banquetas, juegos infantiles",
            ),
            "public_services",
        ),
        _service(
            T.WATER,
            ("Water", "Agua"),
            (
                "Water shortages, leaks, drainage, flooding and water quality.",
                "Falta de agua, fugas, drenaje, encharcamientos y calidad del agua.",
            ),
            (
                "leak, water truck, drainage, flooding",
                "fuga, pipa, drenaje, inundación, encharcamiento",
            ),
            "public_services",
        ),
        _service(
            T.HEALTH,
            ("Health", "Salud"),
            (
                "Health centres, medical campaigns, public health and pests.",
                "Centros de salud, jornadas médicas, salud pública y fauna nociva.",
            ),
            (
                "health centre, vaccination, medical campaign, pests",
                "centro de salud, vacunación, jornada médica, plagas",
            ),
            "social",
        ),
        _service(
            T.GENDER,
            ("Gender", "Género"),
            (
                "Gender-based violence, support for women and LGBT+ people, safe paths.",
                "Violencia de género, atención a mujeres y diversidad sexual, senderos seguros.",
            ),
            (
                "gender violence, women, safe path, diversity",
                "violencia de género, mujeres, sendero seguro, diversidad",
            ),
            "safety",
            emergency_note=True,
        ),
        _service(
            T.SPORTS,
            ("Sports", "Deporte"),
            (
                "Sports centres, courts, leagues and physical activity.",
                "Deportivos, canchas, ligas y actividad física.",
            ),
            (
                "sports centre, court, league, outdoor gym",
                "deportivo, cancha, liga, gimnasio al aire libre",
            ),
            "social",
        ),
        _service(
            T.MOBILITY,
            ("Mobility", "Movilidad"),
            (
                "Public transport, roads, traffic lights, signs and pedestrian crossings.",
                "Transporte público, vialidades, semáforos, señalización y pasos peatonales.",
            ),
            (
                "transport, traffic light, speed bump, signs, crossing",
                "transporte, semáforo, tope, señalización, paso peatonal",
            ),
            "public_services",
        ),
        _service(
            T.EDUCATION,
            ("Education", "Educación"),
            (
                "Schools, libraries, scholarships and school surroundings.",
                "Escuelas, bibliotecas, becas y entornos escolares.",
            ),
            (
                "school, library, scholarship, school surroundings",
                "escuela, biblioteca, beca, entorno escolar",
            ),
            "social",
        ),
        _service(
            T.CIVIL_PROTECTION,
            ("Civil protection", "Protección civil"),
            (
                "Hazards: ground cracks, damaged buildings, landslides, trees about to fall.",
                "Riesgos: grietas, inmuebles dañados, deslaves, árboles a punto de caer.",
            ),
            (
                "crack, hazard, landslide, earthquake, damaged building",
                "grieta, riesgo, deslave, sismo, inmueble dañado",
            ),
            "safety",
            emergency_note=True,
        ),
        _service(
            T.URBAN_SERVICES,
            ("Urban services", "Servicios urbanos"),
            (
                "Street lighting, potholes, rubbish collection, street cleaning and pruning.",
                "Alumbrado público, baches, recolección de basura, limpia y poda.",
            ),
            (
                "street light, lighting, pothole, rubbish, cleaning",
                "luminaria, alumbrado, bache, basura, limpia",
            ),
            "public_services",
        ),
    )
}
assert set(SERVICES) == {t.value for t in Theme}, "every theme is a service"


def service_definition(code: str, territories: list[dict[str, Any]], language: str) -> Any:
    """The spec's service definition: one required list attribute naming the territory."""
    es = language == "es"
    return {
        "service_code": code,
        "attributes": [
            {
                "variable": True,
                "code": TERRITORY_ATTRIBUTE,
                "datatype": "singlevaluelist",
                "required": True,
                "datatype_description": (
                    "Elija una de las claves de la lista."
                    if es
                    else "Choose one of the keys listed."
                ),
                "order": 1,
                "description": (
                    "Colonia, barrio, pueblo o unidad habitacional donde está el problema."
                    if es
                    else "The neighbourhood (colonia, barrio, pueblo, housing estate) where "
                    "the problem is."
                ),
                "values": [{"key": t["id"], "name": t["name"]} for t in territories],
            }
        ],
    }


# What a case's status means for the person who asked: Open311 only says open/closed.
STATUS_NOTICES = {
    "RAISED": ("Received; awaiting triage.", "Recibida; en espera de clasificación."),
    "TRIAGED": (
        "Triaged; to be taken to a working table.",
        "Clasificada; por turnarse a una mesa de trabajo.",
    ),
    "ROUTED": (
        "Taken to a working table; awaiting commitments.",
        "Turnada a una mesa de trabajo; en espera de acuerdos.",
    ),
    "IN_ATTENTION": (
        "Commitments were agreed; being attended.",
        "Se tomaron acuerdos; en atención.",
    ),
    "RESOLVED": ("Resolved.", "Resuelta."),
    "CLOSED": ("Closed.", "Cerrada."),
    "DECLINED": ("Declined.", "No procedente."),
    "MERGED": ("Merged as a duplicate of request {target}.", "Acumulada a la solicitud {target}."),
}


def status_notice(status: str, merged_into: str | None, language: str) -> str | None:
    texts = STATUS_NOTICES.get(status)
    if texts is None:
        return None
    return texts[1 if language == "es" else 0].format(target=merged_into or "?")


def created_notice(language: str) -> str:
    if language == "es":
        return (
            "Su solicitud quedó registrada y espera la clasificación de la coordinación; "
            "consulte su avance con el service_request_id."
        )
    return (
        "Your request was recorded and awaits triage by the coordination team; follow it "
        "with its service_request_id."
    )


def discovery(url: str, environment: str, language: str) -> dict[str, Any]:
    es = language == "es"
    return {
        "changeset": CHANGESET,
        "contact": (
            "Coordinación territorial de la alcaldía: escriba al área de participación ciudadana."
            if es
            else "The borough's territorial coordination: write to the citizen participation "
            "office."
        ),
        "key_service": (
            "Las llaves de integración (api_key) las emite la administración de Tequio: "
            "un token con el rol 'integration'."
            if es
            else "Integration keys (api_key) are issued by Tequio's administrators: a token "
            "with the 'integration' role."
        ),
        "endpoints": [
            {
                "specification": SPEC,
                "url": url,
                "changeset": CHANGESET,
                "type": "production" if environment == "production" else "test",
                "formats": ["text/xml", "application/json"],
            }
        ],
    }
