"""The demo data set: a week in San Miguel Teotongo, inside a borough that lives around it.

Everything is written through the application service (``TequioApplication``),
never into the store directly, so the demo exercises the same rules a client
would meet. Loading is idempotent: every command carries an idempotency key
``demo:<stable step name>``, directory objects use catalogue codes, cases use
external ids, and the dates of the story are relative to an anchor that is
persisted the first time (the held-on date of the first assembly of the
story). Running the demo a second time, even weeks later, writes nothing.

Dates: the *anchor* is the Monday of the week the demo is first loaded. The
scenario's week (``scenario.md``) is the week before it, Monday to Saturday,
so the whole story has already happened when someone looks at it; the
borough's history spans the nine weeks before that. Commitments still owed
with a due date before "today" are overdue by the clock alone.

Each event is stamped with the moment of the story it tells (``_Loader.at``): a case
raised at an assembly nine weeks ago says so in ``raisedAt``, its timeline and the
event feed, rather than the minute the demo was loaded. The borough is told case by
case, so the log's order is not the story's: the clock goes back at each new case.
No aggregate's events go back in time, though (each table's, post's, case's and
commitment's next event comes after its last), and a commitment names whoever held
its post at the moment it was made.
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from typing import Any

from cases.application import CommandContext, CommandResult, TequioApplication
from cases.clock import events_stamped_by
from cases.errors import ConflictError, ForbiddenError, TequioError
from cases.forums import Assembly
from cases.ids import case_id_for_external, official_id_for
from cases.values import AssemblyKind, GovernmentLevel, Priority, TableKind, Theme

SEED = 2026
# Between two events of the story told on one day.
STORY_STEP = timedelta(seconds=40)
ROOT = "iztapalapa"

# -- actors ---------------------------------------------------------------------------

CATALOGUE = "admin:catalogo-alcaldia"
FACILITATOR = "coordinator:mariana.torres"
ROSA = "coordinator:rosa.martinez"
CABINET_SECRETARY = "secretary:gabinete-teotongo"
LIGHTING_SECRETARY = "secretary:mesa-alumbrado"
WATER_SECRETARY = "secretary:mesa-agua-teotongo"
SUAC = "integration:suac-cdmx"

STAFF = {
    "dgsu": "agency_staff:dgsu:ana.perez",
    "dgo": "agency_staff:dgo:luis.ortega",
    "ssc": "agency_staff:ssc:sector-teotongo",
    "fgj": "agency_staff:fgj:izp-8",
    "sacmex": "agency_staff:sacmex:oriente",
    "col-smt": "agency_staff:col-smt:carmen.reyes",
}


def staff(agency_id: str) -> str:
    return STAFF.get(agency_id, f"agency_staff:{agency_id}:enlace-tequio")


# -- the directory ----------------------------------------------------------------------

# (catalogue code, name); the 13 territorial directorates of Iztapalapa.
DIRECTORATES: list[tuple[str, str]] = [
    ("dt-aculco", "Aculco"),
    ("dt-atlalilco-axomulco", "Atlalilco-Axomulco"),
    ("dt-cabeza-de-juarez", "Cabeza de Juárez"),
    ("dt-centro", "Centro"),
    ("dt-ermita-zaragoza", "Ermita Zaragoza"),
    ("dt-estrella-huizachtepetl", "Estrella-Huizachtepetl"),
    ("dt-los-angeles-agrarista", "Los Ángeles-Agrarista"),
    ("dt-paraje-san-juan", "Paraje San Juan"),
    ("dt-reforma-politica", "Reforma Política"),
    ("dt-san-lorenzo-tezonco", "San Lorenzo Tezonco"),
    ("dt-santa-catarina", "Santa Catarina"),
    ("dt-santa-cruz-quetzalcoatl", "Santa Cruz-Quetzalcóatl"),
    ("dt-teotongo-acahualtepec", "Teotongo-Acahualtepec"),
]
TEOTONGO = "dt-teotongo-acahualtepec"

# (catalogue code, name, kind, directorate)
NEIGHBOURHOODS: list[tuple[str, str, str, str]] = [
    ("smt-avisadero", "San Miguel Teotongo Sección Avisadero", "colonia", TEOTONGO),
    ("smt-mercado", "San Miguel Teotongo Sección Mercado", "colonia", TEOTONGO),
    ("smt-torres", "San Miguel Teotongo Sección Torres", "colonia", TEOTONGO),
    ("smt-corrales", "San Miguel Teotongo Sección Corrales", "colonia", TEOTONGO),
    ("smt-rancho-bajo", "San Miguel Teotongo Sección Rancho Bajo", "colonia", TEOTONGO),
    ("ixtlahuacan", "Ixtlahuacan", "colonia", TEOTONGO),
    ("lomas-de-la-estancia", "Lomas de la Estancia", "colonia", TEOTONGO),
    ("santiago-acahualtepec", "Santiago Acahualtepec", "pueblo", TEOTONGO),
    ("du-quetzalcoatl", "Desarrollo Urbano Quetzalcóatl", "colonia", "dt-santa-cruz-quetzalcoatl"),
    ("santa-cruz-meyehualco", "Santa Cruz Meyehualco", "pueblo", "dt-santa-cruz-quetzalcoatl"),
    (
        "uh-santa-cruz-meyehualco",
        "Unidad Habitacional Santa Cruz Meyehualco",
        "unidad_habitacional",
        "dt-santa-cruz-quetzalcoatl",
    ),
    ("renovacion", "Renovación", "colonia", "dt-santa-cruz-quetzalcoatl"),
    ("miravalle", "Miravalle", "colonia", "dt-santa-catarina"),
    ("palmitas", "Palmitas", "colonia", "dt-santa-catarina"),
    ("xalpa", "Xalpa", "colonia", "dt-santa-catarina"),
    ("citlalli", "Citlalli", "colonia", "dt-santa-catarina"),
    ("buenavista", "Buenavista", "colonia", "dt-santa-catarina"),
    ("ejercito-de-oriente", "Ejército de Oriente", "colonia", "dt-cabeza-de-juarez"),
    (
        "uh-vicente-guerrero",
        "Unidad Habitacional Vicente Guerrero",
        "unidad_habitacional",
        "dt-cabeza-de-juarez",
    ),
    ("chinampac-de-juarez", "Chinampac de Juárez", "colonia", "dt-cabeza-de-juarez"),
    ("juan-escutia", "Juan Escutia", "colonia", "dt-cabeza-de-juarez"),
    ("barrio-san-lucas", "Barrio San Lucas", "barrio", "dt-centro"),
    ("barrio-san-pablo", "Barrio San Pablo", "barrio", "dt-centro"),
    ("barrio-san-ignacio", "Barrio San Ignacio", "barrio", "dt-centro"),
    ("barrio-santa-barbara", "Barrio Santa Bárbara", "barrio", "dt-centro"),
    ("pueblo-aculco", "Pueblo Aculco", "pueblo", "dt-aculco"),
    ("granjas-esmeralda", "Granjas Esmeralda", "colonia", "dt-aculco"),
    ("el-sifon", "El Sifón", "colonia", "dt-aculco"),
    ("barrio-san-miguel", "Barrio San Miguel", "barrio", "dt-atlalilco-axomulco"),
    ("barrio-san-jose", "Barrio San José", "barrio", "dt-atlalilco-axomulco"),
    ("el-santuario", "El Santuario", "colonia", "dt-atlalilco-axomulco"),
    ("santa-martha-acatitla", "Santa Martha Acatitla", "pueblo", "dt-ermita-zaragoza"),
    (
        "uh-ermita-zaragoza",
        "Unidad Habitacional Ermita Zaragoza",
        "unidad_habitacional",
        "dt-ermita-zaragoza",
    ),
    (
        "uh-fuentes-de-zaragoza",
        "Unidad Habitacional Fuentes de Zaragoza",
        "unidad_habitacional",
        "dt-ermita-zaragoza",
    ),
    ("el-manto", "El Manto", "colonia", "dt-estrella-huizachtepetl"),
    ("estrella-del-sur", "Estrella del Sur", "colonia", "dt-estrella-huizachtepetl"),
    ("pueblo-culhuacan", "Pueblo Culhuacán", "pueblo", "dt-estrella-huizachtepetl"),
    ("los-angeles", "Los Ángeles", "colonia", "dt-los-angeles-agrarista"),
    ("los-angeles-apanoaya", "Los Ángeles Apanoaya", "colonia", "dt-los-angeles-agrarista"),
    ("presidentes-de-mexico", "Presidentes de México", "colonia", "dt-los-angeles-agrarista"),
    ("paraje-san-juan", "Paraje San Juan", "colonia", "dt-paraje-san-juan"),
    ("consejo-agrarista", "Consejo Agrarista Mexicano", "colonia", "dt-paraje-san-juan"),
    ("ampliacion-paraje-san-juan", "Ampliación Paraje San Juan", "colonia", "dt-paraje-san-juan"),
    ("reforma-politica", "Reforma Política", "colonia", "dt-reforma-politica"),
    ("francisco-villa", "Francisco Villa", "colonia", "dt-reforma-politica"),
    ("carlos-hank-gonzalez", "Carlos Hank González", "colonia", "dt-reforma-politica"),
    (
        "pueblo-san-lorenzo-tezonco",
        "Pueblo San Lorenzo Tezonco",
        "pueblo",
        "dt-san-lorenzo-tezonco",
    ),
    ("lomas-de-san-lorenzo", "Lomas de San Lorenzo", "colonia", "dt-san-lorenzo-tezonco"),
    ("valle-de-san-lorenzo", "Valle de San Lorenzo", "colonia", "dt-san-lorenzo-tezonco"),
    ("ano-de-juarez", "Año de Juárez", "colonia", "dt-san-lorenzo-tezonco"),
]

M = GovernmentLevel.MUNICIPAL
C = GovernmentLevel.CITY
ST = GovernmentLevel.STATE
F = GovernmentLevel.FEDERAL
CO = GovernmentLevel.COMMUNITY

# (catalogue code, name, level, head post title, head post holder)
AGENCIES: list[tuple[str, str, GovernmentLevel, str, str]] = [
    (
        "dgppc",
        "Dirección General de Planeación y Participación Ciudadana",
        M,
        "Titular de la Dirección General de Planeación y Participación Ciudadana",
        "Elena Vázquez Moreno",
    ),
    (
        "dgsu",
        "Dirección General de Servicios Urbanos",
        M,
        "Titular de la Dirección General de Servicios Urbanos",
        "Ricardo Salgado Pérez",
    ),
    (
        "dgo",
        "Dirección General de Obras",
        M,
        "Titular de la Dirección General de Obras",
        "Fernando Ibarra Quintero",
    ),
    (
        "dpc",
        "Dirección de Protección Civil",
        M,
        "Titular de la Dirección de Protección Civil",
        "Raúl Mendoza Ávila",
    ),
    (
        "dtta",
        "Dirección Territorial Teotongo-Acahualtepec",
        M,
        "Titular de la Dirección Territorial Teotongo-Acahualtepec",
        "Alejandra Nava Rosales",
    ),
    (
        "dgds",
        "Dirección General de Desarrollo Social",
        M,
        "Titular de la Dirección General de Desarrollo Social",
        "Gabriela Fuentes Lara",
    ),
    (
        "dgob",
        "Dirección de Gobierno",
        M,
        "Titular de la Dirección de Gobierno",
        "Óscar Delgado Ruiz",
    ),
    (
        "dgde",
        "Dirección General de Desarrollo Económico",
        M,
        "Titular de la Dirección General de Desarrollo Económico",
        "Miguel Ángel Cortés Luna",
    ),
    (
        "dcult",
        "Dirección de Cultura",
        M,
        "Titular de la Dirección de Cultura",
        "Itzel Romero Galván",
    ),
    (
        "ddep",
        "Dirección de Deporte",
        M,
        "Titular de la Dirección de Deporte",
        "Jesús Navarro Téllez",
    ),
    (
        "dmas",
        "Dirección de Medio Ambiente y Sustentabilidad",
        M,
        "Titular de la Dirección de Medio Ambiente y Sustentabilidad",
        "Daniela Ochoa Marín",
    ),
    (
        "ssc",
        "Secretaría de Seguridad Ciudadana",
        C,
        "Coordinación Regional de Seguridad Oriente (SSC)",
        "Roberto Aguilar Solano",
    ),
    (
        "fgj",
        "Fiscalía General de Justicia",
        C,
        "Fiscalía de Investigación Territorial en Iztapalapa",
        "Verónica Guzmán Esquivel",
    ),
    (
        "sacmex",
        "Sistema de Aguas de la Ciudad de México",
        C,
        "Dirección de Agua Potable y Potabilización (SACMEX)",
        "Tomás Herrera Villalobos",
    ),
    (
        "c5",
        "Centro de Comando, Control, Cómputo, Comunicaciones y Contacto Ciudadano (C5)",
        C,
        "Enlace del C5 en Iztapalapa",
        "Karla Medina Ríos",
    ),
    (
        "semujeres",
        "Secretaría de las Mujeres",
        C,
        "Coordinación de LUNAS en Iztapalapa (Secretaría de las Mujeres)",
        "Adriana Peña Contreras",
    ),
    (
        "invi",
        "Instituto de Vivienda",
        C,
        "Enlace del Instituto de Vivienda",
        "Marco Antonio Gil Rangel",
    ),
    (
        "sobse",
        "Secretaría de Obras y Servicios",
        C,
        "Enlace de la Secretaría de Obras y Servicios",
        "Sergio Campos Arellano",
    ),
    (
        "sedesa",
        "Secretaría de Salud",
        C,
        "Jurisdicción Sanitaria Iztapalapa (Secretaría de Salud)",
        "Dra. Lucía Montes Arriaga",
    ),
    (
        "semovi",
        "Secretaría de Movilidad",
        C,
        "Enlace de la Secretaría de Movilidad",
        "Pablo Estrada Juárez",
    ),
    (
        "sedema",
        "Secretaría del Medio Ambiente",
        C,
        "Enlace de la Secretaría del Medio Ambiente",
        "Natalia Cruz Benítez",
    ),
    (
        "sgirpc",
        "Secretaría de Gestión Integral de Riesgos y Protección Civil",
        C,
        "Enlace de la Secretaría de Gestión Integral de Riesgos",
        "Iván Lozano Pineda",
    ),
    (
        "ssem",
        "Secretaría de Seguridad del Estado de México",
        ST,
        "Coordinación Regional La Paz (Secretaría de Seguridad del Estado de México)",
        "Eduardo Ríos Galindo",
    ),
    (
        "gn",
        "Guardia Nacional",
        F,
        "Coordinación de la Guardia Nacional en Iztapalapa",
        "Cap. Manuel Barrera Solís",
    ),
    (
        "cfe",
        "Comisión Federal de Electricidad",
        F,
        "Superintendencia de Zona Oriente (CFE)",
        "Ing. Hugo Valdez Cárdenas",
    ),
    (
        "bienestar",
        "Secretaría de Bienestar",
        F,
        "Coordinación de Programas para el Bienestar en Iztapalapa",
        "Claudia Serrano Vega",
    ),
    (
        "aefcm",
        "Autoridad Educativa Federal en la Ciudad de México",
        F,
        "Enlace de la Autoridad Educativa Federal en Iztapalapa",
        "Mtro. Javier Olmos Rebollo",
    ),
    (
        "col-smt",
        "Colectivo de Planeación San Miguel Teotongo",
        CO,
        "Vocería del Colectivo de Planeación San Miguel Teotongo",
        "Josefina Aranda Cruz",
    ),
    (
        "red-enlaces",
        "Red de Enlaces Comunitarios de Iztapalapa",
        CO,
        "Coordinación de la Red de Enlaces Comunitarios",
        "Pedro Castañeda Mora",
    ),
    (
        "col-scm",
        "Colectivo de Planeación Santa Cruz Meyehualco",
        CO,
        "Vocería del Colectivo de Planeación Santa Cruz Meyehualco",
        "Margarita Solís Bravo",
    ),
    (
        "col-mujeres-sierra",
        "Colectiva Mujeres de la Sierra de Santa Catarina",
        CO,
        "Vocería de la Colectiva Mujeres de la Sierra",
        "Yolanda Trejo Ramírez",
    ),
]

# Posts of the scenario: (catalogue code, title, agency, first holder)
SCENARIO_POSTS: list[tuple[str, str, str, str]] = [
    ("to-smt", "Responsable territorial de San Miguel Teotongo", "dtta", "Rosa Martínez"),
    (
        "jud-alumbrado",
        "Jefatura de Unidad Departamental de Alumbrado Público",
        "dgsu",
        "Jorge Sánchez",
    ),
    ("ssc-sector-teotongo", "Jefatura del Sector Teotongo (SSC)", "ssc", "Arturo Villegas Cruz"),
    (
        "fgj-mp-izp8",
        "Agencia del Ministerio Público IZP-8",
        "fgj",
        "Patricia Robles Ibarra",
    ),
    (
        "dgo-mantenimiento",
        "Subdirección de Mantenimiento de Infraestructura Urbana",
        "dgo",
        "Héctor Ramírez Solís",
    ),
    (
        "sacmex-oriente",
        "Gerencia de Operación Hidráulica Zona Oriente",
        "sacmex",
        "Beatriz Luna Castañeda",
    ),
    (
        "col-smt-enlace",
        "Enlace del Colectivo de Planeación San Miguel Teotongo",
        "col-smt",
        "Carmen Reyes Olvera",
    ),
    (
        "dgppc-asambleas",
        "Coordinación de Asambleas Comunitarias",
        "dgppc",
        "Mariana Torres Aguilar",
    ),
]

JORGE = "Jorge Sánchez"
LAURA = "Laura Gómez"
ROSA_NAME = "Rosa Martínez"
# The head of civil protection changes half-way through the borough's history.
DPC_SUCCESSOR = "Sofía Castillo Peña"


def head_post(agency_id: str) -> str:
    return f"titular-{agency_id}"


# Posts whose holder changes during the story (civil protection's head in the borough,
# public lighting's on the week's Wednesday).
SUCCEEDED_POSTS = frozenset({head_post("dpc"), "jud-alumbrado"})


# -- forums ------------------------------------------------------------------------------

CABINET = "gab-zonal-teotongo-acahualtepec"
GENERAL_CABINET = "gab-general"
LIGHTING_TABLE = "mesa-alumbrado-espacio-publico"
WATER_TABLE = "mesa-tecnica-agua-teotongo"

CABINET_CORE = ["ssc", "fgj", "gn", "c5", "dgob"]
BORDER_DIRECTORATES = {TEOTONGO, "dt-santa-catarina"}

# (id, name, kind, territory, members, weekday of its regular session)
TABLES: list[tuple[str, str, TableKind, str | None, list[str], int]] = [
    (
        GENERAL_CABINET,
        "Gabinete de Seguridad General de Iztapalapa",
        TableKind.SECURITY_CABINET,
        ROOT,
        [*CABINET_CORE, "semujeres", "dpc", "sgirpc", "ssem"],
        0,
    ),
    *[
        (
            f"gab-zonal-{code[3:]}",
            f"Gabinete de Seguridad Zonal {name}",
            TableKind.SECURITY_CABINET,
            code,
            [
                *CABINET_CORE,
                *(["dtta", "dpc"] if code == TEOTONGO else []),
                *(["ssem"] if code in BORDER_DIRECTORATES else []),
            ],
            1,
        )
        for code, name in DIRECTORATES
    ],
    (
        LIGHTING_TABLE,
        "Alumbrado y espacio público",
        TableKind.WORKING_TABLE,
        TEOTONGO,
        ["dgsu", "dgo", "dtta", "dgppc", "col-smt"],
        1,
    ),
    (
        WATER_TABLE,
        "Mesa técnica de resolución: agua en Teotongo-Acahualtepec",
        TableKind.TECHNICAL_TABLE,
        TEOTONGO,
        ["sacmex", "dtta", "dgo"],
        4,
    ),
    (
        "mesa-servicios-urbanos",
        "Mesa de servicios urbanos y obras",
        TableKind.WORKING_TABLE,
        ROOT,
        ["dgsu", "dgo", "sobse", "cfe", "dmas"],
        2,
    ),
    (
        "mesa-tecnica-agua-drenaje",
        "Mesa técnica de agua potable y drenaje",
        TableKind.TECHNICAL_TABLE,
        ROOT,
        ["sacmex", "dgo", "dgsu"],
        3,
    ),
    (
        "mesa-mujeres",
        "Mesa de mujeres y espacios seguros",
        TableKind.WORKING_TABLE,
        ROOT,
        ["semujeres", "dgds", "ssc", "dgsu", "col-mujeres-sierra"],
        2,
    ),
    (
        "mesa-tecnica-riesgos",
        "Mesa técnica de riesgos, grietas y laderas",
        TableKind.TECHNICAL_TABLE,
        ROOT,
        ["dpc", "sgirpc", "dgo", "invi"],
        3,
    ),
    (
        "mesa-salud",
        "Mesa de salud comunitaria",
        TableKind.WORKING_TABLE,
        ROOT,
        ["sedesa", "dgds", "bienestar"],
        2,
    ),
    (
        "mesa-movilidad",
        "Mesa de movilidad y transporte",
        TableKind.WORKING_TABLE,
        ROOT,
        ["semovi", "dgo", "ssc", "sobse"],
        3,
    ),
    (
        "mesa-bienestar",
        "Mesa de bienestar, cultura y deporte",
        TableKind.WORKING_TABLE,
        ROOT,
        ["dgds", "dcult", "ddep", "dgde", "bienestar"],
        3,
    ),
    (
        "mesa-educacion",
        "Mesa de educación",
        TableKind.WORKING_TABLE,
        ROOT,
        ["aefcm", "dgds", "dgo"],
        4,
    ),
    (
        "mesa-medio-ambiente",
        "Mesa de medio ambiente",
        TableKind.WORKING_TABLE,
        ROOT,
        ["sedema", "dmas", "dgsu"],
        4,
    ),
    (
        "mesa-participacion",
        "Mesa de planeación participativa",
        TableKind.WORKING_TABLE,
        ROOT,
        ["dgppc", "red-enlaces", "col-smt", "col-scm"],
        4,
    ),
]

THEME_TABLES: dict[Theme, list[str]] = {
    Theme.PARTICIPATION: ["mesa-participacion"],
    Theme.ECONOMY: ["mesa-bienestar"],
    Theme.CULTURE: ["mesa-bienestar"],
    Theme.SAFETY: ["<zonal>"],
    Theme.ENVIRONMENT: ["mesa-medio-ambiente"],
    Theme.PUBLIC_SPACE: ["mesa-servicios-urbanos"],
    Theme.WATER: ["mesa-tecnica-agua-drenaje"],
    Theme.HEALTH: ["mesa-salud"],
    Theme.GENDER: ["mesa-mujeres"],
    Theme.SPORTS: ["mesa-bienestar"],
    Theme.MOBILITY: ["mesa-movilidad"],
    Theme.EDUCATION: ["mesa-educacion"],
    Theme.CIVIL_PROTECTION: ["mesa-tecnica-riesgos"],
    Theme.URBAN_SERVICES: ["mesa-servicios-urbanos"],
}

# -- the story's stable names ---------------------------------------------------------------

SCENARIO_ASSEMBLY = "asm-smt-avisadero-dialogo"
SATURDAY_ASSEMBLY = "asm-smt-avisadero-seguimiento"

CASE_EXTERNAL_IDS = {
    "dark_street": "demo-smt-camino-real-oscuro",
    "dump": "demo-smt-tiradero-mercado",
    "water": "demo-smt-sin-agua-avisadero",
    "mural": "demo-smt-mural-primaria",
}

# Stable ids a client or a test can rely on (commitment and session ids are
# made by the application; they are in the DemoSummary).
DEMO_IDS: dict[str, str] = {
    "municipality_territory": ROOT,
    "directorate": TEOTONGO,
    "neighbourhood": "smt-avisadero",
    "market_section": "smt-mercado",
    "cabinet": CABINET,
    "general_cabinet": GENERAL_CABINET,
    "lighting_table": LIGHTING_TABLE,
    "water_table": WATER_TABLE,
    "monday_assembly": SCENARIO_ASSEMBLY,
    "saturday_assembly": SATURDAY_ASSEMBLY,
    "territorial_official_post": "to-smt",
    "lighting_post": "jud-alumbrado",
    "sector_chief_post": "ssc-sector-teotongo",
    "prosecutor_post": "fgj-mp-izp8",
    "works_post": "dgo-mantenimiento",
    "water_post": "sacmex-oriente",
    "collective_post": "col-smt-enlace",
    "planning_agency": "dgppc",
    "urban_services_agency": "dgsu",
    "works_agency": "dgo",
    "civil_protection_agency": "dpc",
    "territorial_directorate_agency": "dtta",
    "police_agency": "ssc",
    "prosecutor_agency": "fgj",
    "water_agency": "sacmex",
    "national_guard_agency": "gn",
    "collective_agency": "col-smt",
    **{f"{name}_case_external_id": ext for name, ext in CASE_EXTERNAL_IDS.items()},
}

# -- words ---------------------------------------------------------------------------------

STREETS = [
    "Calle Camino Real",
    "Calle Guelatao",
    "Av. Las Torres",
    "Av. Ermita Iztapalapa",
    "Calzada Ignacio Zaragoza",
    "Av. Tláhuac",
    "Av. Telecomunicaciones",
    "Calle Emiliano Zapata",
    "Calle Francisco I. Madero",
    "Calle Morelos",
    "Calle Hidalgo",
    "Calle Aldama",
    "Av. Rojo Gómez",
    "Calle Cuauhtémoc",
    "Calle 5 de Mayo",
    "Andador 12",
    "Cerrada Los Pinos",
    "Calle Nogal",
    "Calle Fresno",
    "Privada Jacarandas",
    "Calle Xóchitl",
    "Calle Tepozán",
    "Calle Ahuehuete",
    "Callejón del Pozo",
    "Calle Tezontle",
    "Av. Santa Cruz Meyehualco",
    "Calle Violeta",
    "Calle Tecolote",
]

PLACES = [
    "la escuela primaria",
    "la secundaria técnica",
    "el mercado",
    "el centro de salud",
    "la lechería Liconsa",
    "el deportivo",
    "la parada del microbús",
    "la iglesia",
    "la cancha de fútbol",
    "la casa de cultura",
    "el jardín de niños",
    "la base de bicitaxis",
    "la UTOPÍA más cercana",
    "el panteón",
    "la explanada",
]

# The places that make sense for a problem whose text names one; any of PLACES for the
# others.
SCHOOLS = ["la escuela primaria", "la secundaria técnica"]
PLACES_FOR: dict[str, list[str]] = {
    "Cursos de oficios para jóvenes de {colonia}": [
        *SCHOOLS, "la casa de cultura", "la UTOPÍA más cercana", "el deportivo"
    ],
    "Cine club comunitario": [
        "la casa de cultura", "la explanada", "la UTOPÍA más cercana", "el deportivo"
    ],
    "Venta de droga en la cancha de {place}": [
        *SCHOOLS, "el deportivo", "la iglesia", "el mercado", "la UTOPÍA más cercana"
    ],
    "Juegos infantiles rotos en {place}": [
        "el jardín de niños", "la escuela primaria", "el deportivo", "la explanada",
        "la UTOPÍA más cercana", "la casa de cultura",
    ],
    "Jornada de vacunación para personas mayores": ["el centro de salud"],
    "Taller de prevención de violencia en el noviazgo": [
        "la secundaria técnica", "la casa de cultura", "la UTOPÍA más cercana", "el deportivo"
    ],
    "Acoso a estudiantes a la salida de {place}": SCHOOLS,
    "Rehabilitar la cancha de fútbol de {place}": [
        *SCHOOLS, "el deportivo", "la UTOPÍA más cercana", "la explanada"
    ],
    "Barda dañada en {place}": [*SCHOOLS, "el jardín de niños"],
    "Biblioteca comunitaria": [
        "la casa de cultura", "la UTOPÍA más cercana", "el mercado", "la explanada"
    ],
}  # fmt: skip


def place_for(problem: str, rng: random.Random) -> str:
    return rng.choice(PLACES_FOR.get(problem, PLACES))


_ARTICLE = re.compile(r"\b(de|a) el\b")


def fill(template: str, words: Mapping[str, object]) -> str:
    """A template with its words, and Spanish's contractions: "de el mercado" is
    "del mercado", "a el deportivo" is "al deportivo"."""
    return _ARTICLE.sub(lambda m: "del" if m.group(1) == "de" else "al", template.format(**words))


FIRST_NAMES = [
    "María",
    "Guadalupe",
    "Juana",
    "Leticia",
    "Verónica",
    "Silvia",
    "Araceli",
    "Norma",
    "José",
    "Juan",
    "Francisco",
    "Antonio",
    "Alejandro",
    "Martha",
    "Rocío",
    "Eduardo",
    "Brenda",
    "Iván",
]
SURNAMES = [
    "Hernández",
    "García",
    "López",
    "Ramírez",
    "Flores",
    "Cruz",
    "Morales",
    "Reyes",
    "Jiménez",
    "Ortiz",
    "Mendoza",
    "Vargas",
    "Castillo",
    "Rosas",
    "Aguilar",
    "Salazar",
]

# Per theme: (title, description); placeholders {street}, {street2}, {place}, {colonia}, {n}.
CASE_TEMPLATES: dict[Theme, list[tuple[str, str]]] = {
    Theme.PARTICIPATION: [
        (
            "Comisión de seguimiento del presupuesto participativo",
            "Vecinas y vecinos de {colonia} piden formar una comisión que dé seguimiento a la "
            "obra del presupuesto participativo y que la alcaldía informe en asamblea el avance "
            "y el gasto.",
        ),
        (
            "No llegó la convocatoria de la consulta a las secciones altas",
            "La convocatoria de la consulta ciudadana no se difundió en las calles altas de "
            "{colonia}; se pide colocar módulos de información cerca de {place}.",
        ),
        (
            "Asamblea de rendición de cuentas de la dirección territorial",
            "Se solicita una asamblea pública en {colonia} donde las áreas informen qué pasó con "
            "los acuerdos del año pasado.",
        ),
        (
            "Integrar la agenda local de desarrollo comunitario",
            "El colectivo de {colonia} propone talleres de planeación para actualizar la agenda "
            "local y priorizar los proyectos del próximo año.",
        ),
    ],
    Theme.ECONOMY: [
        (
            "Apoyo a comerciantes del tianguis de {street}",
            "Comerciantes del tianguis de {street} piden ordenamiento, baños públicos y apoyo "
            "para formalizar su organización.",
        ),
        (
            "Cursos de oficios para jóvenes de {colonia}",
            "Madres y padres piden cursos de electricidad, plomería y computación para jóvenes "
            "que no estudian ni trabajan.",
        ),
        (
            "Local para cocina comunitaria de mujeres",
            "Una cooperativa de mujeres de {colonia} busca un espacio para instalar una cocina "
            "comunitaria y vender comida a bajo costo.",
        ),
        (
            "Pago atrasado del programa de apoyo a personas trabajadoras",
            "Varias personas de {colonia} inscritas en el programa de apoyo no han recibido el "
            "pago de los últimos dos meses.",
        ),
    ],
    Theme.CULTURE: [
        (
            "Propuesta de mural comunitario en {place}",
            "Jóvenes de {colonia} proponen pintar un mural sobre la historia de la colonia en la "
            "barda de {place}, con participación de niñas y niños.",
        ),
        (
            "Rescate de la casa de cultura",
            "La casa de cultura de {colonia} tiene goteras y está cerrada por las tardes; se "
            "pide rehabilitarla y abrir talleres.",
        ),
        (
            "Festival cultural en la explanada",
            "El colectivo propone un festival de música, danza y cine comunitario en la explanada "
            "de {colonia} para recuperar el espacio.",
        ),
        (
            "Cine club comunitario",
            "Vecinas proponen proyecciones mensuales de cine en {place} con equipo de la alcaldía.",
        ),
    ],
    Theme.SAFETY: [
        (
            "Asaltos en la parada de {street}",
            "En la parada del transporte sobre {street} asaltan a quienes salen temprano a "
            "trabajar; hubo {n} robos en el último mes.",
        ),
        (
            "Venta de droga en la cancha de {place}",
            "Por las tardes se vende droga en la cancha junto a {place}; madres y padres ya no "
            "dejan salir a sus hijos.",
        ),
        (
            "Robo de autopartes en {street}",
            "Cada semana roban autopartes en {street} entre la 1 y las 4 de la mañana.",
        ),
        (
            "Cámaras del C5 sin funcionar en {street}",
            "Las cámaras del poste del C5 en {street} esquina {street2} no funcionan desde hace "
            "meses; el botón de auxilio tampoco responde.",
        ),
        (
            "Riñas y consumo de alcohol en la vía pública",
            "Cada fin de semana hay riñas afuera de un establecimiento con venta de alcohol en "
            "{street}; se pide revisar su licencia.",
        ),
    ],
    Theme.ENVIRONMENT: [
        (
            "Tiradero clandestino en {street}",
            "En {street} esquina {street2} se acumulan basura y cascajo que tiran camionetas por "
            "la noche; hay ratas y mal olor.",
        ),
        (
            "Quema de basura en terreno baldío",
            "En un baldío de {street} queman basura casi a diario; el humo llega a {place}.",
        ),
        (
            "Poda de árboles que tocan cables en {street}",
            "Las ramas de los fresnos de {street} tocan los cables de luz; con el viento se "
            "producen chispas.",
        ),
        (
            "Reforestación del cerro",
            "El colectivo de {colonia} propone una jornada de reforestación en la ladera del "
            "cerro con especies nativas.",
        ),
    ],
    Theme.PUBLIC_SPACE: [
        (
            "Rehabilitar el parque de {street}",
            "El parque de {street} tiene bancas rotas, la malla caída y está a oscuras; se pide "
            "rehabilitarlo para las familias.",
        ),
        (
            "Juegos infantiles rotos en {place}",
            "Los juegos infantiles junto a {place} tienen tornillos sueltos y partes oxidadas; un "
            "niño se lastimó la semana pasada.",
        ),
        (
            "Autos abandonados invaden la banqueta de {street}",
            "Hay {n} autos abandonados en {street} que obligan a las personas a caminar por el "
            "arroyo vehicular.",
        ),
        (
            "Escaleras de la ladera sin barandal",
            "Las escaleras que suben de {street} a las secciones altas de {colonia} no tienen "
            "barandal ni luz.",
        ),
    ],
    Theme.WATER: [
        (
            "Sin agua desde hace {n} días en {street}",
            "Las familias de {street} y calles cercanas no reciben agua de la red desde hace {n} "
            "días y compran pipas particulares.",
        ),
        (
            "Fuga de agua potable en {street}",
            "Una fuga en {street} esquina {street2} lleva semanas tirando agua limpia mientras "
            "otras calles no tienen.",
        ),
        (
            "Agua turbia en la red de {colonia}",
            "El agua llega con color y olor en {colonia}; vecinas temen por la salud de niñas y "
            "niños.",
        ),
        (
            "Encharcamientos por drenaje tapado en {street}",
            "Con cada lluvia se inunda {street} porque las coladeras están tapadas; el agua entra "
            "a las casas.",
        ),
    ],
    Theme.HEALTH: [
        (
            "Centro de salud sin médico por las tardes",
            "El centro de salud de {colonia} no tiene médico en el turno vespertino y faltan "
            "medicamentos básicos.",
        ),
        (
            "Jornada de vacunación para personas mayores",
            "Personas mayores de {colonia} piden una jornada de vacunación casa por casa porque "
            "no pueden subir hasta {place}.",
        ),
        (
            "Perros en situación de calle cerca de {place}",
            "Una jauría de perros en situación de calle ha mordido a {n} personas cerca de "
            "{place}.",
        ),
        (
            "Atención de salud mental para jóvenes",
            "Madres de familia piden atención psicológica gratuita para jóvenes de {colonia}.",
        ),
    ],
    Theme.GENDER: [
        (
            "Sendero seguro para mujeres en {street}",
            "Mujeres que regresan de trabajar por {street} piden un sendero seguro con luz, "
            "cámaras y botones de auxilio.",
        ),
        (
            "Atención a violencia familiar en {colonia}",
            "Vecinas piden que la LUNA más cercana dé atención en {colonia} porque muchas mujeres "
            "no pueden trasladarse.",
        ),
        (
            "Taller de prevención de violencia en el noviazgo",
            "Se propone un taller para adolescentes en {place} sobre violencia en el noviazgo.",
        ),
        (
            "Acoso a estudiantes a la salida de {place}",
            "Estudiantes de {place} denuncian acoso de hombres en motocicleta a la salida de "
            "clases.",
        ),
    ],
    Theme.SPORTS: [
        (
            "Rehabilitar la cancha de fútbol de {place}",
            "La cancha junto a {place} tiene el pasto sintético roto y las porterías oxidadas.",
        ),
        (
            "Instructores para la escuela de box comunitaria",
            "La escuela de box de {colonia} necesita instructores y material para recibir a más "
            "jóvenes.",
        ),
        (
            "Alumbrado en el deportivo por las noches",
            "El deportivo de {colonia} se queda a oscuras a partir de las 19:00 y la gente ya no "
            "puede entrenar.",
        ),
        (
            "Liga infantil de fútbol sin apoyo",
            "La liga infantil de {colonia} pide uniformes, balones y arbitraje.",
        ),
    ],
    Theme.MOBILITY: [
        (
            "Reductores de velocidad frente a {place}",
            "Los autos pasan a alta velocidad frente a {place} en {street}; se pide instalar "
            "reductores y señalamiento.",
        ),
        (
            "La ruta de microbús dejó de subir a las secciones altas",
            "Desde hace un mes la ruta no sube a las calles altas de {colonia}; personas mayores "
            "caminan más de veinte minutos.",
        ),
        (
            "Semáforo descompuesto en {street}",
            "El semáforo de {street} y {street2} no funciona y ya hubo {n} choques.",
        ),
        (
            "Paradero sin techo ni banca",
            "El paradero de {street} no tiene techo ni banca y en temporada de lluvias la gente "
            "espera mojándose.",
        ),
    ],
    Theme.EDUCATION: [
        (
            "Barda dañada en {place}",
            "La barda perimetral de {place} está cuarteada y podría caer sobre la banqueta.",
        ),
        (
            "Faltan maestros en la secundaria",
            "La secundaria de {colonia} lleva tres meses sin maestro de matemáticas en dos grupos.",
        ),
        (
            "Biblioteca comunitaria",
            "El colectivo propone abrir una biblioteca comunitaria en {place} con préstamo a "
            "domicilio.",
        ),
        (
            "Baños inservibles en el jardín de niños",
            "Los baños del jardín de niños de {colonia} no tienen agua y están en malas "
            "condiciones.",
        ),
    ],
    Theme.CIVIL_PROTECTION: [
        (
            "Grietas en viviendas de {street}",
            "Aparecieron grietas en muros y pisos de {n} viviendas de {street}; las familias "
            "temen un hundimiento.",
        ),
        (
            "Talud en riesgo de deslave en {street}",
            "El talud de {street} se está desgajando con las lluvias y hay casas al pie de la "
            "ladera.",
        ),
        (
            "Poste inclinado a punto de caer en {street}",
            "Un poste de concreto en {street} esquina {street2} está inclinado y sostiene cables "
            "de alta tensión.",
        ),
        (
            "Brigada vecinal y simulacro",
            "Vecinas y vecinos de {colonia} piden capacitación para formar una brigada y hacer un "
            "simulacro de sismo.",
        ),
    ],
    Theme.URBAN_SERVICES: [
        (
            "Luminarias apagadas en {street}",
            "{n} luminarias de {street} están apagadas; la calle queda a oscuras desde las 19:00.",
        ),
        (
            "El camión de la basura no pasa desde hace {n} días",
            "El camión recolector no ha pasado por {street} en {n} días y la basura se acumula en "
            "las esquinas.",
        ),
        (
            "Baches en {street}",
            "Hay baches profundos en {street} que ya provocaron accidentes de motociclistas.",
        ),
        (
            "Desazolve de coladeras antes de las lluvias",
            "Las coladeras de {street} están llenas de tierra y basura; se pide desazolve antes "
            "de la temporada de lluvias.",
        ),
    ],
}

# What a table agrees to answer each problem of CASE_TEMPLATES, by the problem's title:
# (responsible agency, commitment text, min days, max days). A case keeps its problem
# when staff re-theme it, so its commitments follow the title, not the theme.
Answer = tuple[str, str, int, int]
ANSWERS: dict[str, list[Answer]] = {
    # Participation
    "Comisión de seguimiento del presupuesto participativo": [
        ("col-scm", "Integrar la comisión vecinal de seguimiento y presentar su plan.", 10, 30),
        (
            "dgppc",
            "Informar en asamblea el avance y el gasto de la obra del presupuesto "
            "participativo en {colonia}.",
            14,
            40,
        ),
    ],
    "No llegó la convocatoria de la consulta a las secciones altas": [
        ("red-enlaces", "Difundir la convocatoria casa por casa en las secciones altas.", 5, 14),
        ("dgppc", "Instalar módulos de información de la consulta cerca de {place}.", 5, 14),
    ],
    "Asamblea de rendición de cuentas de la dirección territorial": [
        ("dgppc", "Convocar y facilitar la asamblea de rendición de cuentas en {colonia}.", 7, 21),
    ],
    "Integrar la agenda local de desarrollo comunitario": [
        ("col-smt", "Organizar los talleres de planeación de la agenda local.", 14, 40),
        ("dgppc", "Convocar y facilitar la asamblea de seguimiento en {colonia}.", 7, 21),
    ],
    # Economy
    "Apoyo a comerciantes del tianguis de {street}": [
        ("dgde", "Instalar una mesa de registro para comerciantes y revisar permisos.", 10, 30),
        ("dgsu", "Colocar sanitarios portátiles los días de tianguis en {street}.", 7, 21),
    ],
    "Cursos de oficios para jóvenes de {colonia}": [
        ("dgds", "Abrir un grupo de cursos de oficios en {place}.", 14, 45),
    ],
    "Local para cocina comunitaria de mujeres": [
        (
            "dgde",
            "Buscar un local en comodato para la cocina comunitaria y asesorar a la cooperativa.",
            14,
            45,
        ),
        ("dgds", "Gestionar el equipamiento básico de la cocina comunitaria.", 21, 60),
    ],
    "Pago atrasado del programa de apoyo a personas trabajadoras": [
        ("bienestar", "Revisar el padrón y aclarar los pagos pendientes de las personas.", 7, 21),
    ],
    # Culture
    "Propuesta de mural comunitario en {place}": [
        ("dcult", "Aportar pintura y material para el mural comunitario.", 10, 30),
    ],
    "Rescate de la casa de cultura": [
        ("dgo", "Reparar las goteras de la casa de cultura.", 14, 45),
        ("dcult", "Programar talleres vespertinos en la casa de cultura.", 14, 40),
    ],
    "Festival cultural en la explanada": [
        ("dgds", "Prestar equipo de sonido y proyección para el festival.", 7, 21),
        ("dcult", "Incluir el festival en la agenda cultural de la alcaldía.", 14, 40),
    ],
    "Cine club comunitario": [
        ("dgds", "Prestar equipo de proyección para las funciones del cine club.", 7, 21),
    ],
    # Safety
    "Asaltos en la parada de {street}": [
        ("ssc", "Patrullajes en la parada de {street} de 5:00 a 8:00 y reporte semanal.", 2, 14),
        ("fgj", "Dar seguimiento a las denuncias presentadas e informar a las víctimas.", 10, 30),
    ],
    "Venta de droga en la cancha de {place}": [
        ("gn", "Recorridos de la Guardia Nacional en el perímetro de {place}.", 3, 14),
        ("fgj", "Integrar las denuncias por narcomenudeo e informar a la mesa.", 10, 30),
    ],
    "Robo de autopartes en {street}": [
        ("ssc", "Patrullajes diarios en {street} de 00:00 a 05:00 y reporte semanal.", 2, 14),
        ("c5", "Revisar y reparar las cámaras y el botón de auxilio en {street}.", 7, 30),
    ],
    "Cámaras del C5 sin funcionar en {street}": [
        ("c5", "Revisar y reparar las cámaras y el botón de auxilio en {street}.", 7, 30),
    ],
    "Riñas y consumo de alcohol en la vía pública": [
        ("dgob", "Verificar la licencia del establecimiento señalado en {street}.", 7, 21),
        ("ssc", "Patrullajes en {street} los fines de semana de 20:00 a 02:00.", 2, 14),
    ],
    # Environment
    "Tiradero clandestino en {street}": [
        ("dgsu", "Retirar los residuos y el cascajo de {street}.", 3, 10),
    ],
    "Quema de basura en terreno baldío": [
        ("dgsu", "Limpiar el baldío de {street} y colocar letreros de prohibición.", 3, 10),
        ("sedema", "Notificar al propietario del baldío y sancionar la quema de basura.", 10, 30),
    ],
    "Poda de árboles que tocan cables en {street}": [
        ("dmas", "Podar los árboles que tocan el cableado en {street}.", 7, 21),
    ],
    "Reforestación del cerro": [
        ("sedema", "Entregar árboles nativos y acompañar la jornada de reforestación.", 14, 45),
    ],
    # Public space
    "Rehabilitar el parque de {street}": [
        ("dgo", "Rehabilitar bancas, malla perimetral y juegos del parque de {street}.", 14, 45),
        ("dgsu", "Reparar las luminarias del parque de {street}.", 5, 21),
    ],
    "Juegos infantiles rotos en {place}": [
        ("dgo", "Reparar o sustituir los juegos infantiles junto a {place}.", 14, 45),
    ],
    "Autos abandonados invaden la banqueta de {street}": [
        ("dgsu", "Retirar los autos abandonados de {street} con apoyo de grúas.", 7, 21),
    ],
    "Escaleras de la ladera sin barandal": [
        ("sobse", "Colocar barandal y luminarias en las escaleras de la ladera.", 21, 60),
    ],
    # Water
    "Sin agua desde hace {n} días en {street}": [
        (
            "sacmex",
            "Enviar pipas de agua dos veces por semana hasta normalizar el servicio.",
            7,
            30,
        ),
        ("sacmex", "Revisar la presión de la red en {street} y restablecer el suministro.", 5, 21),
    ],
    "Fuga de agua potable en {street}": [
        ("sacmex", "Revisar la red y reparar la fuga en {street}.", 3, 14),
    ],
    "Agua turbia en la red de {colonia}": [
        ("sacmex", "Muestrear la calidad del agua en {colonia} y lavar la red.", 5, 21),
    ],
    "Encharcamientos por drenaje tapado en {street}": [
        ("dgo", "Desazolvar el drenaje de {street}.", 5, 21),
    ],
    # Health
    "Centro de salud sin médico por las tardes": [
        ("sedesa", "Asignar médico al turno vespertino del centro de salud.", 14, 45),
        ("sedesa", "Surtir los medicamentos básicos del centro de salud.", 7, 21),
    ],
    "Jornada de vacunación para personas mayores": [
        ("sedesa", "Realizar una jornada de vacunación casa por casa en {colonia}.", 7, 21),
    ],
    "Perros en situación de calle cerca de {place}": [
        ("dgds", "Jornada de esterilización y vacunación de perros y gatos.", 10, 30),
    ],
    "Atención de salud mental para jóvenes": [
        (
            "sedesa",
            "Abrir un grupo de atención psicológica gratuita para jóvenes en {colonia}.",
            14,
            45,
        ),
    ],
    # Gender
    "Sendero seguro para mujeres en {street}": [
        ("dgsu", "Iluminar el sendero seguro en {street}.", 10, 30),
        ("c5", "Instalar cámaras y botones de auxilio a lo largo de {street}.", 14, 45),
    ],
    "Atención a violencia familiar en {colonia}": [
        ("semujeres", "Instalar un módulo itinerante de atención de la LUNA en {colonia}.", 7, 21),
        ("col-mujeres-sierra", "Acompañar a las vecinas y difundir la red de apoyo.", 7, 21),
    ],
    "Taller de prevención de violencia en el noviazgo": [
        ("dgds", "Impartir el taller de prevención de violencia en el noviazgo.", 10, 30),
    ],
    "Acoso a estudiantes a la salida de {place}": [
        ("ssc", "Vigilancia a la entrada y a la salida de clases frente a {place}.", 2, 14),
        ("col-mujeres-sierra", "Acompañar a las estudiantes y difundir la red de apoyo.", 7, 21),
    ],
    # Sports
    "Rehabilitar la cancha de fútbol de {place}": [
        ("dgo", "Rehabilitar la cancha de fútbol junto a {place}.", 21, 60),
    ],
    "Instructores para la escuela de box comunitaria": [
        ("ddep", "Asignar instructores y material a la escuela de box comunitaria.", 10, 30),
    ],
    "Alumbrado en el deportivo por las noches": [
        ("dgsu", "Reparar el alumbrado del deportivo de {colonia}.", 5, 21),
    ],
    "Liga infantil de fútbol sin apoyo": [
        ("ddep", "Entregar uniformes y balones a la liga infantil.", 7, 21),
    ],
    # Mobility
    "Reductores de velocidad frente a {place}": [
        ("dgo", "Instalar reductores de velocidad y señalamiento frente a {place}.", 10, 30),
    ],
    "La ruta de microbús dejó de subir a las secciones altas": [
        ("semovi", "Revisar con la ruta concesionada el recorrido a las secciones altas.", 7, 30),
    ],
    "Semáforo descompuesto en {street}": [
        ("ssc", "Reparar el semáforo y asignar apoyo vial en {street}.", 3, 14),
    ],
    "Paradero sin techo ni banca": [
        ("dgo", "Colocar techo y banca en el paradero de {street}.", 14, 45),
    ],
    # Education
    "Barda dañada en {place}": [
        ("dgo", "Reparar la barda perimetral de {place}.", 14, 45),
    ],
    "Faltan maestros en la secundaria": [
        ("aefcm", "Asignar docente de matemáticas a los grupos sin maestro.", 14, 45),
    ],
    "Biblioteca comunitaria": [
        ("dgds", "Dotar de acervo y mobiliario a la biblioteca comunitaria.", 21, 60),
    ],
    "Baños inservibles en el jardín de niños": [
        ("dgo", "Rehabilitar los baños y la toma de agua del jardín de niños.", 14, 45),
    ],
    # Civil protection
    "Grietas en viviendas de {street}": [
        ("dpc", "Realizar el dictamen de riesgo de las viviendas de {street}.", 5, 21),
        ("invi", "Orientar a las familias afectadas sobre apoyos de vivienda.", 14, 45),
    ],
    "Talud en riesgo de deslave en {street}": [
        ("sgirpc", "Evaluar el talud y proponer obras de mitigación.", 14, 45),
        ("dpc", "Dictaminar el riesgo de las casas al pie del talud de {street}.", 5, 21),
    ],
    "Poste inclinado a punto de caer en {street}": [
        ("cfe", "Retirar y sustituir el poste inclinado en {street}.", 5, 21),
    ],
    "Brigada vecinal y simulacro": [
        (
            "dpc",
            "Capacitar a la brigada vecinal y acompañar el simulacro de sismo en {colonia}.",
            14,
            45,
        ),
    ],
    # Urban services
    "Luminarias apagadas en {street}": [
        ("dgsu", "Reparar las luminarias apagadas de {street}.", 5, 21),
    ],
    "El camión de la basura no pasa desde hace {n} días": [
        ("dgsu", "Restablecer la ruta de recolección de basura en {street}.", 2, 7),
    ],
    "Baches en {street}": [
        ("dgo", "Bachear {street}.", 7, 30),
    ],
    "Desazolve de coladeras antes de las lluvias": [
        ("dgsu", "Desazolvar las coladeras de {street}.", 5, 21),
    ],
}

PROGRESS_NOTES = [
    "Se realizó recorrido de verificación con vecinas y vecinos.",
    "Se asignó cuadrilla y se iniciaron los trabajos.",
    "Se solicitaron materiales al almacén; avance conforme a programa.",
    "Se atendió una parte de lo comprometido; continúan los trabajos.",
    "Se coordinó con la dirección territorial el acceso a la zona.",
    "Se informó del avance a la comisión vecinal.",
]
EVIDENCE = [
    "Reporte fotográfico de los trabajos terminados: https://evidencias.tequio.example/{key}.jpg",
    "Acta de entrega-recepción firmada por la comisión vecinal.",
    "Bitácora de actividades firmada por el personal responsable.",
    "Oficio de conclusión con anexo fotográfico.",
]
RESCHEDULE_REASONS = [
    "Falta de material en el almacén; se espera la entrega del proveedor.",
    "Las lluvias impidieron trabajar en la zona.",
    "Se requiere un dictamen técnico antes de intervenir.",
    "La cuadrilla fue reasignada a la atención de una emergencia.",
]
# The same, for agencies whose commitments are not works (patrols, programmes, care,
# workshops): no crews, materials or finished works.
WORKS_AGENCIES = frozenset({"dgo", "dgsu", "sobse", "sacmex", "dmas", "cfe", "c5"})
SERVICE_NOTES = [
    "Se realizó recorrido de verificación con vecinas y vecinos.",
    "Se coordinó con la dirección territorial el acceso a la zona.",
    "Se informó del avance a la comisión vecinal.",
    "Se programaron las fechas y se avisó a las personas interesadas.",
    "Se asignó personal y se iniciaron las actividades.",
    "Se atendió a una parte de las personas; continúan las actividades.",
]
SERVICE_EVIDENCE = [
    "Listas de asistencia y fotografías de las actividades.",
    "Acta de entrega-recepción firmada por la comisión vecinal.",
    "Bitácora de actividades firmada por el personal responsable.",
    "Oficio de conclusión con el informe de actividades.",
]
SERVICE_RESCHEDULE_REASONS = [
    "Se cambió la fecha a petición de la comisión vecinal.",
    "El personal asignado atiende una contingencia en otra zona.",
    "Se espera la respuesta de otra dependencia para continuar.",
]


def words_for(agency_id: str) -> tuple[list[str], list[str], list[str]]:
    """Progress notes, evidence and reasons to reschedule that fit what the agency does."""
    if agency_id in WORKS_AGENCIES:
        return PROGRESS_NOTES, EVIDENCE, RESCHEDULE_REASONS
    return SERVICE_NOTES, SERVICE_EVIDENCE, SERVICE_RESCHEDULE_REASONS


# Why a table cancels a commitment. The first two only fit where the case has another
# agreement; the third only where the problem is on someone's land.
OTHER_AGREEMENT = [
    "Se atiende dentro de otro acuerdo de la mesa.",
    "La asamblea decidió priorizar otra acción con los mismos recursos.",
]
PRIVATE_LAND = "El predio es de propiedad privada; se canaliza a la autoridad competente."
ON_LAND = frozenset(
    {
        "Tiradero clandestino en {street}",
        "Quema de basura en terreno baldío",
        "Talud en riesgo de deslave en {street}",
    }
)
DISPUTE_REASONS = [
    "Las vecinas y vecinos reportan que el trabajo quedó incompleto.",
    "El problema volvió a presentarse a los pocos días.",
    "Solo se atendió una parte de la calle.",
]
# Why a case is declined, and to whom it is referred: for the problems each fits.
NEIGHBOURS_DISPUTE = (
    "Asunto entre particulares; se orienta a la Procuraduría Social.",
    "Procuraduría Social",
)
OWN_HOUSING = ("Trámite individual de vivienda.", "Instituto de Vivienda de la Ciudad de México")
NEXT_BOROUGH = ("Corresponde a la alcaldía vecina.", "Alcaldía Tláhuac")
LA_PAZ = (
    "Corresponde al municipio vecino de La Paz, Estado de México.",
    "Municipio de La Paz, Estado de México",
)
DECLINE_FITS: dict[tuple[str, str], frozenset[str]] = {
    NEIGHBOURS_DISPUTE: frozenset(
        {
            "Autos abandonados invaden la banqueta de {street}",
            "Perros en situación de calle cerca de {place}",
            "Quema de basura en terreno baldío",
        }
    ),
    OWN_HOUSING: frozenset({"Grietas en viviendas de {street}"}),
}
# A problem in the street may be the neighbours' to fix: Tláhuac's anywhere, La Paz's
# only in the directorates on its border.
LA_PAZ_SIDE = frozenset({TEOTONGO, "dt-santa-catarina"})
BORDER_THEMES = frozenset(
    {Theme.URBAN_SERVICES, Theme.WATER, Theme.MOBILITY, Theme.PUBLIC_SPACE, Theme.ENVIRONMENT}
)
DECLINE_REASONS = [NEIGHBOURS_DISPUTE, OWN_HOUSING, NEXT_BOROUGH, LA_PAZ]
# How a territorial official may re-classify what the assembly said: the problems whose
# other reading is as fair as the assembly's.
RETHEMED: dict[str, Theme] = {
    "Acoso a estudiantes a la salida de {place}": Theme.SAFETY,
    "Sendero seguro para mujeres en {street}": Theme.SAFETY,
    "Asaltos en la parada de {street}": Theme.MOBILITY,
    "Alumbrado en el deportivo por las noches": Theme.URBAN_SERVICES,
    "Encharcamientos por drenaje tapado en {street}": Theme.URBAN_SERVICES,
    "Desazolve de coladeras antes de las lluvias": Theme.WATER,
    "Autos abandonados invaden la banqueta de {street}": Theme.URBAN_SERVICES,
    "Tiradero clandestino en {street}": Theme.URBAN_SERVICES,
    "Poda de árboles que tocan cables en {street}": Theme.URBAN_SERVICES,
    "Paradero sin techo ni banca": Theme.PUBLIC_SPACE,
    "Barda dañada en {place}": Theme.PUBLIC_SPACE,
    "Cursos de oficios para jóvenes de {colonia}": Theme.EDUCATION,
    "Perros en situación de calle cerca de {place}": Theme.ENVIRONMENT,
    "Poste inclinado a punto de caer en {street}": Theme.URBAN_SERVICES,
    "Festival cultural en la explanada": Theme.PUBLIC_SPACE,
}
MONTHS = [
    "enero",
    "febrero",
    "marzo",
    "abril",
    "mayo",
    "junio",
    "julio",
    "agosto",
    "septiembre",
    "octubre",
    "noviembre",
    "diciembre",
]


# A commitment's fate is a draw in [0, 1): below 0.08 cancelled, up to 0.35 validated
# (0.14 disputed), up to 0.55 fulfilled, up to 0.80 in progress, above that open.
OWED_FATE = 0.55


def fecha(d: date) -> str:
    return f"{d.day} de {MONTHS[d.month - 1]} de {d.year}"


def monday_of(d: date) -> date:
    return d - timedelta(days=d.weekday())


def next_weekday(after: date, weekday: int) -> date:
    """The first date strictly after ``after`` that falls on ``weekday``."""
    return after + timedelta(days=(weekday - after.weekday()) % 7 or 7)


# -- the result -------------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoSummary:
    """What a demo load did, and the ids of the story's cases, commitments and sessions."""

    municipality: str
    anchor: date  # Monday of the week the demo was first loaded (persisted)
    scenario_monday: date  # Monday of the story's week: the week before the anchor
    events_written: int
    commands: int
    replayed: int
    seconds: float
    counts: dict[str, int]
    # Story names -> public ids: cases dark_street, dump, water, mural; commitments
    # patrols, prosecutor, lamps, dump, cleanup, water_truck, mural; sessions cabinet,
    # lighting, water; assemblies monday, saturday; officials jorge, laura, rosa.
    cases: dict[str, str]
    commitments: dict[str, str]
    sessions: dict[str, str]
    assemblies: dict[str, str]
    officials: dict[str, str]
    # What the story tried and the domain refused (rule key of each refusal).
    refusals: tuple[str, ...]
    case_ids: tuple[str, ...] = field(repr=False)
    commitment_ids: tuple[str, ...] = field(repr=False)

    def day(self, name: str) -> date:
        """A day of the story's week: 'monday' ... 'saturday', or 'next_monday'."""
        days = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
        if name == "next_monday":
            return self.scenario_monday + timedelta(days=7)
        return self.scenario_monday + timedelta(days=days.index(name))


# -- the loader ---------------------------------------------------------------------------------


@dataclass
class _Case:
    id: str
    version: int
    territory_id: str
    theme: Theme
    problem: str = ""  # its CASE_TEMPLATES title, for the borough's cases
    attention: bool = False
    open: bool = True  # not declined, merged or closed
    commitments: list[_Commitment] = field(default_factory=list)
    # When its last event was stamped: its next one never comes earlier.
    stamped: datetime | None = None


@dataclass
class _Commitment:
    id: str
    version: int
    agency_id: str
    stamped: datetime | None = None


class _Loader:
    def __init__(
        self,
        app: TequioApplication,
        municipality: str,
        progress: Callable[[str], None] | None,
    ) -> None:
        self.app = app
        self.municipality = municipality
        self.say = progress or (lambda _message: None)
        self.commands = 0
        self.replayed = 0
        self.refusals: list[str] = []
        self.counts: dict[str, int] = dict.fromkeys(
            ("territories", "agencies", "posts", "tables", "assemblies", "sessions"), 0
        ) | {"cases": 0, "commitments": 0}
        self.cases: list[_Case] = []
        self.commitments: list[_Commitment] = []
        self.sessions: dict[tuple[str, date], str] = {}
        self.assemblies: set[str] = set()
        self.territory_of: dict[str, str] = {}  # neighbourhood -> directorate
        self.neighbourhood_names: dict[str, str] = {}
        self.table_members: dict[str, list[str]] = {}
        self.table_weekday: dict[str, int] = {}
        # The story's clock: when what is being written happened (None: now), and the
        # stamp of the last event written.
        self.story_time: datetime | None = None
        self.last_stamp: datetime | None = None
        # The last stamp on each table (its sessions) and post (its holders and the
        # commitments that name it): the borough is told case by case, so the story's
        # clock goes back and forth between cases, but no aggregate's events may.
        self.stamped: dict[str, datetime] = {}
        self.assembly_days: dict[str, date] = {}

    # -- the story's clock -----------------------------------------------------------------

    def at(self, day: date, hour: int = 9) -> None:
        """What is written next happened on ``day``, from ``hour`` (local time) on; on
        the day already being told, it goes on from where the story is."""
        start = datetime.combine(day, dtime(hour), tzinfo=self.app.time_zone).astimezone(UTC)
        current = self.story_time
        if current is not None and current.astimezone(self.app.time_zone).date() == day:
            start = max(start, current)
        self.story_time = start

    def not_before(self, stamp: datetime | None) -> None:
        """What is written next comes after ``stamp`` (recorded late if need be)."""
        if stamp is not None and self.story_time is not None and self.story_time <= stamp:
            self.story_time = stamp + STORY_STEP

    def timestamp(self) -> datetime:
        """Each event a little after the one before, never later than now (by the wall
        clock or the application's)."""
        now = min(datetime.now(tz=UTC), self.app.clock.now())
        stamp = now if self.story_time is None else min(self.story_time, now)
        if self.story_time is not None:
            self.story_time += STORY_STEP
        self.last_stamp = stamp
        return stamp

    def after(self, key: str) -> None:
        self.not_before(self.stamped.get(key))

    def note_stamp(self, key: str) -> None:
        if self.last_stamp is not None:
            self.stamped[key] = self.last_stamp

    # -- commands ------------------------------------------------------------------------

    def run(
        self,
        method: Callable[..., CommandResult],
        actor: str,
        key: str,
        *,
        scope: str | None = None,
        **kwargs: Any,
    ) -> CommandResult:
        ctx = CommandContext(
            actor=actor,
            municipality=self.municipality,
            idempotency_key=f"demo:{key}",
            agency_scope=scope,
        )
        result = method(ctx, **kwargs)
        self.commands += 1
        self.replayed += result.replayed
        return result

    def hold_assembly(
        self,
        assembly_id: str,
        *,
        territory_id: str,
        kind: AssemblyKind,
        held_on: date,
        attendance: int,
        facilitator: str | None = "Mariana Torres Aguilar (DGPPC)",
    ) -> str:
        self.run(
            self.app.hold_assembly,
            FACILITATOR,
            f"assembly:{assembly_id}",
            assembly_id=assembly_id,
            territory_id=territory_id,
            kind=kind,
            held_on=held_on,
            attendance=attendance,
            facilitator=facilitator,
        )
        self.assemblies.add(assembly_id)
        self.assembly_days[assembly_id] = held_on
        self.counts["assemblies"] += 1
        return assembly_id

    def hold_session(
        self,
        table_id: str,
        held_on: date,
        *,
        key: str | None = None,
        attending: Sequence[str] | None = None,
        minutes: str | None = None,
    ) -> str:
        if (table_id, held_on) in self.sessions:
            return self.sessions[(table_id, held_on)]
        members = self.table_members[table_id]
        self.after(f"table:{table_id}")
        result = self.run(
            self.app.hold_session,
            _secretary(table_id),
            key or f"session:{table_id}:{held_on.isoformat()}",
            table_id=table_id,
            held_on=held_on,
            attending_agency_ids=list(attending if attending is not None else members),
            minutes=minutes
            or f"Sesión ordinaria del {fecha(held_on)}: revisión de los planteamientos "
            "turnados a la mesa y seguimiento de acuerdos.",
        )
        self.note_stamp(f"table:{table_id}")
        self.sessions[(table_id, held_on)] = result.id
        self.counts["sessions"] += 1
        return result.id

    def raise_case(
        self,
        external_id: str,
        *,
        actor: str,
        territory_id: str,
        theme: Theme,
        title: str,
        description: str,
        assembly_id: str | None,
        reporter: dict[str, str] | None = None,
    ) -> _Case:
        result = self.run(
            self.app.raise_case,
            actor,
            f"case:{external_id}:raise",
            territory_id=territory_id,
            theme=theme,
            title=title,
            description=description,
            assembly_id=assembly_id,
            external_id=external_id,
            reporter=dict(reporter) if reporter else None,
        )
        case = _Case(result.id, result.version, territory_id, theme, stamped=self.last_stamp)
        self.cases.append(case)
        self.counts["cases"] += 1
        return case

    def triage(self, case: _Case, actor: str, key: str, theme: Theme, priority: Priority) -> None:
        self.not_before(case.stamped)
        result = self.run(
            self.app.triage_case,
            actor,
            f"{key}:triage",
            case_id=case.id,
            expected_version=case.version,
            theme=theme,
            priority=priority,
        )
        case.version = result.version
        case.theme = theme
        case.stamped = self.last_stamp

    def route(self, case: _Case, actor: str, key: str, table_ids: list[str]) -> None:
        self.not_before(case.stamped)
        result = self.run(
            self.app.route_case,
            actor,
            f"{key}:route",
            case_id=case.id,
            expected_version=case.version,
            table_ids=table_ids,
        )
        case.version = result.version
        case.stamped = self.last_stamp

    def case_step(
        self,
        case: _Case,
        method: Callable[..., CommandResult],
        actor: str,
        key: str,
        **kwargs: Any,
    ) -> None:
        self.not_before(case.stamped)
        result = self.run(
            method, actor, key, case_id=case.id, expected_version=case.version, **kwargs
        )
        case.version = result.version
        case.stamped = self.last_stamp

    def commit(
        self,
        case: _Case,
        key: str,
        *,
        actor: str,
        agency_id: str,
        description: str,
        agreed_on: date,
        due_on: date,
        post_id: str | None = None,
        table_id: str | None = None,
        session_id: str | None = None,
        assembly_id: str | None = None,
    ) -> _Commitment:
        # Its case gets AttentionStarted; the commitment names the post's holder.
        self.not_before(case.stamped)
        if post_id is not None:
            self.after(f"post:{post_id}")
        result = self.run(
            self.app.make_commitment,
            actor,
            f"{key}:make",
            case_id=case.id,
            responsible_agency_id=agency_id,
            description=description,
            due_on=due_on,
            table_id=table_id,
            session_id=session_id,
            assembly_id=assembly_id,
            post_id=post_id,
            agreed_on=agreed_on,
        )
        if not case.attention:
            case.attention = True
            case.version += 1  # the case's AttentionStarted
            case.stamped = self.last_stamp
        if post_id in SUCCEEDED_POSTS:
            # Its successor is appointed after every commitment that named the holder.
            self.note_stamp(f"post:{post_id}")
        commitment = _Commitment(result.id, result.version, agency_id, stamped=self.last_stamp)
        case.commitments.append(commitment)
        self.commitments.append(commitment)
        self.counts["commitments"] += 1
        return commitment

    def step(
        self,
        commitment: _Commitment,
        method: Callable[..., CommandResult],
        key: str,
        *,
        actor: str | None = None,
        **kwargs: Any,
    ) -> None:
        """One change to a commitment, by its agency's staff unless another actor is named."""
        self.not_before(commitment.stamped)
        result = self.run(
            method,
            actor or staff(commitment.agency_id),
            key,
            # Agency staff act within their agency's scope, as the API would set it.
            scope=commitment.agency_id if actor is None else None,
            commitment_id=commitment.id,
            expected_version=commitment.version,
            **kwargs,
        )
        commitment.version = result.version
        commitment.stamped = self.last_stamp

    def refused(self, action: Callable[[], object]) -> None:
        """Runs what the story expects the domain to refuse, and notes the refusal."""
        try:
            action()
        except (ForbiddenError, ConflictError) as error:
            self.refusals.append(error.key)
        else:  # pragma: no cover - the rules changed under the story
            raise RuntimeError("the demo expected this command to be refused")

    # -- phases ---------------------------------------------------------------------------

    def directory(self) -> None:
        app = self.app
        self.run(
            app.add_territory,
            CATALOGUE,
            f"territory:{ROOT}",
            territory_id=ROOT,
            name="Iztapalapa",
            kind="municipality",
        )
        for code, name in DIRECTORATES:
            self.run(
                app.add_territory,
                CATALOGUE,
                f"territory:{code}",
                territory_id=code,
                name=name,
                kind="territorial_directorate",
                parent_id=ROOT,
            )
        for code, name, kind, parent in NEIGHBOURHOODS:
            self.run(
                app.add_territory,
                CATALOGUE,
                f"territory:{code}",
                territory_id=code,
                name=name,
                kind=kind,
                parent_id=parent,
            )
            self.territory_of[code] = parent
            self.neighbourhood_names[code] = name
        self.counts["territories"] = 1 + len(DIRECTORATES) + len(NEIGHBOURHOODS)

        for code, name, level, head_title, holder in AGENCIES:
            self.run(
                app.add_agency, CATALOGUE, f"agency:{code}", agency_id=code, name=name, level=level
            )
            self.add_post(head_post(code), head_title, code, holder)
        for code, title, agency, holder in SCENARIO_POSTS:
            self.add_post(code, title, agency, holder)
        self.counts["agencies"] = len(AGENCIES)

        for table_id, table_name, table_kind, territory, members, weekday in TABLES:
            self.run(
                app.create_table,
                CATALOGUE,
                f"table:{table_id}",
                table_id=table_id,
                name=table_name,
                kind=table_kind,
                territory_id=territory,
                member_agency_ids=members,
            )
            self.table_members[table_id] = sorted(members)
            self.table_weekday[table_id] = weekday
        self.counts["tables"] = len(TABLES)
        self.say(
            f"directory: {self.counts['territories']} territories, {len(AGENCIES)} agencies, "
            f"{self.counts['posts']} posts, {len(TABLES)} tables"
        )

    def add_post(self, post_id: str, title: str, agency_id: str, holder: str) -> None:
        self.run(
            self.app.add_post,
            CATALOGUE,
            f"post:{post_id}",
            post_id=post_id,
            title=title,
            agency_id=agency_id,
        )
        self.run(
            self.app.appoint_to_post,
            CATALOGUE,
            f"post:{post_id}:appoint:1",
            post_id=post_id,
            official_name=holder,
        )
        self.counts["posts"] += 1

    def anchor(self) -> date:
        """The Monday of the story: read back if the demo was loaded before, else chosen now."""
        events = list(self.app.events.get(Assembly.id_for(self.municipality, SCENARIO_ASSEMBLY)))
        if events:
            held_on = events[0].held_on  # type: ignore[attr-defined]
            assert isinstance(held_on, date)
            return held_on
        return monday_of(self.app.today()) - timedelta(days=7)

    # -- the borough around the story ----------------------------------------------------------

    def borough(self, monday: date) -> None:
        rng = random.Random(SEED)
        before = monday - timedelta(days=2)  # the Saturday before the story's week
        neighbourhoods = [code for code, *_ in NEIGHBOURHOODS]
        weights = [3 if self.territory_of[c] == TEOTONGO else 1 for c in neighbourhoods]
        plans: list[tuple[date, str, AssemblyKind, int]] = []
        for _ in range(44):
            territory = rng.choices(neighbourhoods, weights)[0]
            held_on = monday - timedelta(days=rng.randint(9, 63))
            kind = rng.choices(
                list(AssemblyKind),
                [50, 20, 15, 15],
            )[0]
            attendance = (
                rng.randint(150, 600)
                if kind is AssemblyKind.ITINERANT_ASSEMBLY
                else rng.randint(18, 120)
            )
            plans.append((held_on, territory, kind, attendance))
        plans.sort(key=lambda p: (p[0], p[1]))

        # A few cases come from the city's citizen-attention system, with no assembly.
        imported = [
            (monday - timedelta(days=rng.randint(5, 50)), rng.choice(neighbourhoods))
            for _ in range(16)
        ]

        # Told in the story's order, assemblies and imported cases together: a table's
        # sessions and a post's commitments are then written in the order they happened,
        # and none has to be recorded late behind one told before it.
        told: list[tuple[date, int, int]] = [(p[0], 0, i) for i, p in enumerate(plans)]
        told += [(raised_on, 1, i) for i, (raised_on, _) in enumerate(imported)]
        told.sort()
        succession_done = False
        number = 0
        for _day, source, index in told:
            if source == 1:
                number += 1
                raised_on, territory = imported[index]
                self.borough_case(
                    rng, f"suac-{number:06d}", SUAC, territory, raised_on, None, before
                )
                continue
            held_on, territory, kind, attendance = plans[index]
            self.at(held_on, 17)
            if not succession_done and held_on >= monday - timedelta(days=35):
                # The head of civil protection changes: later commitments answer to her,
                # and those already made named him.
                self.after(f"post:{head_post('dpc')}")
                self.run(
                    self.app.appoint_to_post,
                    CATALOGUE,
                    f"post:{head_post('dpc')}:appoint:2",
                    post_id=head_post("dpc"),
                    official_name=DPC_SUCCESSOR,
                )
                self.note_stamp(f"post:{head_post('dpc')}")
                succession_done = True
            assembly_id = f"asm-{territory}-{held_on.isoformat()}-{index:02d}"
            self.hold_assembly(
                assembly_id,
                territory_id=territory,
                kind=kind,
                held_on=held_on,
                attendance=attendance,
                facilitator=rng.choice(
                    ["Mariana Torres Aguilar (DGPPC)", "Julio César Peña (DGPPC)", None]
                ),
            )
            directorate = self.territory_of[territory]
            siblings = [c for c in neighbourhoods if self.territory_of[c] == directorate]
            for _ in range(rng.randint(4, 8)):
                number += 1
                case_territory = (
                    rng.choice(siblings) if kind is AssemblyKind.ITINERANT_ASSEMBLY else territory
                )
                self.borough_case(
                    rng,
                    f"demo-izp-{number:04d}",
                    FACILITATOR,
                    case_territory,
                    held_on,
                    assembly_id,
                    before,
                )
        self.say(
            f"borough: {self.counts['assemblies']} assemblies, {self.counts['cases']} cases, "
            f"{self.counts['commitments']} commitments"
        )

    def borough_case(
        self,
        rng: random.Random,
        external_id: str,
        actor: str,
        territory: str,
        raised_on: date,
        assembly_id: str | None,
        before: date,
    ) -> None:
        theme = rng.choice(list(Theme))
        problem, description = rng.choice(CASE_TEMPLATES[theme])
        words = {
            "street": rng.choice(STREETS),
            "street2": rng.choice(STREETS),
            "place": place_for(problem, rng),
            "colonia": self.neighbourhood_names[territory],
            "n": rng.randint(3, 12),
        }
        reporter = None
        # Raised at its assembly (that evening), or by the citizen-attention system.
        self.at(raised_on, 17 if assembly_id else 11)
        if rng.random() < 0.25:
            name = f"{rng.choice(FIRST_NAMES)} {rng.choice(SURNAMES)} {rng.choice(SURNAMES)}"
            reporter = {
                "name": name,
                "phone": f"55 {rng.randint(1000, 9999)} {rng.randint(1000, 9999)}",
            }
        case = self.raise_case(
            external_id,
            actor=actor,
            territory_id=territory,
            theme=theme,
            title=fill(problem, words),
            description=fill(description, words),
            assembly_id=assembly_id,
            reporter=reporter,
        )
        case.problem = problem
        key = f"case:{external_id}"
        directorate = self.territory_of[territory]
        official = ROSA if directorate == TEOTONGO else f"coordinator:enlace-{directorate[3:]}"
        fate = rng.random()
        recent = raised_on > before - timedelta(days=10)
        if fate < (0.25 if recent else 0.05):
            return  # awaiting triage
        safety_like = theme in (Theme.SAFETY, Theme.GENDER, Theme.CIVIL_PROTECTION)
        priority = rng.choices(
            list(Priority), [10, 40, 35, 15] if safety_like else [25, 45, 25, 5]
        )[0]
        # Sometimes the territorial official re-themes what the assembly said.
        if problem in RETHEMED and rng.random() < 0.3:
            theme = RETHEMED[problem]
        self.at(raised_on + timedelta(days=1), 10)
        self.triage(case, official, key, theme, priority)

        roll = rng.random()
        fitting = [r for r, problems in DECLINE_FITS.items() if problem in problems]
        if theme in BORDER_THEMES:
            fitting.append(NEXT_BOROUGH)
            if directorate in LA_PAZ_SIDE:
                fitting.append(LA_PAZ)
        if roll < 0.05 and fitting:
            reason, referral = rng.choice(fitting)
            self.case_step(
                case,
                self.app.decline_case,
                official,
                f"{key}:decline",
                reason=reason,
                referred_to=referral,
            )
            case.open = False
            return
        if roll < 0.14:
            earlier = [
                c
                for c in self.cases[:-1]
                if self.territory_of[c.territory_id] == directorate
                and c.problem == problem
                and c.open
            ]
            if earlier:
                target = earlier[-1]
                self.case_step(
                    case, self.app.merge_case, official, f"{key}:merge", into_case_id=target.id
                )
                case.open = False
                return
        if roll > 0.92:
            return  # triaged, waiting for a table

        tables = self.tables_for(theme, directorate)
        if priority is Priority.URGENT and theme is Theme.SAFETY:
            tables.append(GENERAL_CABINET)
        self.route(case, official, key, tables)

        table_id = tables[0]
        session_on = next_weekday(raised_on, self.table_weekday[table_id])
        if session_on > before or rng.random() < 0.15:
            return  # the table has not taken it up yet
        self.at(session_on, 11)
        session_id = self.hold_session(table_id, session_on)
        templates = ANSWERS[problem]
        members = self.table_members[table_id]
        preferred = [t for t in templates if t[0] in members] or templates
        count = 1 if rng.random() < 0.65 else 2
        validations: list[str | None] = []
        for n, (agency, text, low, high) in enumerate(
            rng.sample(preferred, min(count, len(preferred)))
        ):
            fate = rng.random()
            due_on = session_on + timedelta(days=rng.randint(low, high))
            if fate > OWED_FATE and rng.random() < 0.6:
                # Most of what is still owed is not yet due: tables agree realistic dates.
                due_on = max(due_on, before + timedelta(days=rng.randint(2, 35)))
            post = head_post(agency) if rng.random() < 0.85 else None
            self.at(session_on, 11)
            commitment = self.commit(
                case,
                f"{key}:commitment:{n}",
                actor=_secretary(table_id),
                agency_id=agency,
                description=fill(text, words),
                agreed_on=session_on,
                due_on=due_on,
                post_id=post,
                table_id=table_id,
                session_id=session_id,
            )
            validated_at = self.commitment_history(
                rng,
                problem,
                commitment,
                f"{key}:commitment:{n}",
                case,
                fate,
                session_on,
                due_on,
                before,
                table_id,
            )
            validations.append(validated_at)
        # Every commitment kept and validated: most cases are then resolved, and closed.
        outcome = rng.random()
        validated = [self.assembly_days[a] for a in validations if a is not None]
        # Resolved and closed at the assembly that validated the last of its work.
        self.at(max(validated) if validated else before, 19)
        if all(validations) and outcome < 0.8:
            official = ROSA if directorate == TEOTONGO else FACILITATOR
            self.case_step(
                case,
                self.app.resolve_case,
                official,
                f"{key}:resolve",
                summary="Los acuerdos se cumplieron y la comunidad los validó en asamblea.",
            )
            if outcome >= 0.6:
                return  # resolved; the closing waits for the next assembly
            self.case_step(
                case,
                self.app.close_case,
                official,
                f"{key}:close",
                assembly_id=max(a for a in validations if a is not None),
            )
            case.open = False
            # Weeks later, as its reason says: only a case closed long enough ago.
            reopened_on = max(validated) + timedelta(days=21)
            if rng.random() < 0.12 and reopened_on <= before:
                self.at(reopened_on, 10)
                self.case_step(
                    case,
                    self.app.reopen_case,
                    official,
                    f"{key}:reopen",
                    reason="El problema volvió a presentarse semanas después del cierre.",
                )
                case.open = True

    def commitment_history(
        self,
        rng: random.Random,
        problem: str,
        commitment: _Commitment,
        key: str,
        case: _Case,
        fate: float,
        agreed_on: date,
        due_on: date,
        before: date,
        table_id: str,
    ) -> str | None:
        """What became of a commitment; the assembly that validated it, if one did."""
        app = self.app
        secretary = _secretary(table_id)
        # What the agency did after the session: the next day (or the last of the history).
        self.at(min(agreed_on + timedelta(days=1), before), 10)
        if rng.random() < 0.15:
            # To another agency that answers the same problem and sits at the table.
            alternatives = [
                agency
                for agency, *_ in ANSWERS[problem]
                if agency != commitment.agency_id and agency in self.table_members[table_id]
            ]
            if alternatives:
                new_agency = rng.choice(alternatives)
                self.step(
                    commitment,
                    app.reassign_commitment,
                    f"{key}:reassign",
                    actor=secretary,
                    responsible_agency_id=new_agency,
                    post_id=head_post(new_agency),
                    reason="La mesa acordó que el área con atribuciones es otra.",
                )
                commitment.agency_id = new_agency
        if rng.random() < 0.18 and fate > 0.08:
            due_on = due_on + timedelta(days=rng.randint(5, 21))
            self.step(
                commitment,
                app.reschedule_commitment,
                f"{key}:reschedule",
                due_on=due_on,
                reason=rng.choice(words_for(commitment.agency_id)[2]),
            )
        # Cancelled where the case keeps another agreement (else it would be left with
        # nothing), or where the problem turns out to be on private land.
        others = len(case.commitments) > 1
        reasons = OTHER_AGREEMENT if others else []
        if others and problem in ON_LAND:
            reasons = [*reasons, PRIVATE_LAND]
        if fate < 0.2 and reasons:
            self.step(
                commitment,
                app.cancel_commitment,
                f"{key}:cancel",
                actor=secretary,
                reason=rng.choice(reasons),
            )
            return None
        if fate > 0.80:
            return None  # still open
        # The first news comes some days in, within the first half of the time given.
        notes = words_for(commitment.agency_id)[0]
        half = max(1, (min(due_on, before) - agreed_on).days // 2)
        progress_on = min(before, agreed_on + timedelta(days=rng.randint(1, half)))
        progress = rng.choice([10, 20, 25, 30, 40, 50])
        self.at(progress_on, 12)
        self.step(
            commitment,
            app.report_progress,
            f"{key}:progress",
            progress=progress,
            note=rng.choice(notes),
        )
        # Some work is reported a few days late: the scorecard's "on time" tells them apart.
        done_on = agreed_on + timedelta(days=rng.randint(1, max(1, (due_on - agreed_on).days + 7)))
        done_on = max(progress_on, done_on)
        if fate > OWED_FATE or done_on > before:
            # Still in progress; where there was time, a second report.
            later_on = progress_on + timedelta(days=rng.randint(5, 15))
            if later_on <= before and rng.random() < 0.6:
                self.at(later_on, 12)
                self.step(
                    commitment,
                    app.report_progress,
                    f"{key}:progress:2",
                    progress=min(90, progress + rng.choice([15, 20, 25, 30])),
                    note=rng.choice(notes),
                )
            return None
        self.at(done_on, 13)
        self.step(
            commitment,
            app.report_fulfilment,
            f"{key}:fulfil",
            evidence=rng.choice(words_for(commitment.agency_id)[1]).format(
                key=key.replace(":", "-")
            ),
            reported_on=done_on,
        )
        if fate > 0.35:
            return None  # fulfilled, awaiting the community's word
        validation_on = next_weekday(done_on, 5)
        if validation_on > before:
            return None  # no assembly has met since
        assembly_id = f"asm-seguimiento-{case.territory_id}-{validation_on.isoformat()}"
        self.at(validation_on, 17)
        if assembly_id not in self.assemblies:
            self.hold_assembly(
                assembly_id,
                territory_id=case.territory_id,
                kind=AssemblyKind.COMMUNITY_ASSEMBLY,
                held_on=validation_on,
                attendance=rng.randint(20, 90),
            )
        if fate < 0.14:
            self.step(
                commitment,
                app.dispute_fulfilment,
                f"{key}:dispute",
                actor=FACILITATOR,
                assembly_id=assembly_id,
                reason=rng.choice(DISPUTE_REASONS),
            )
            return None
        self.step(
            commitment,
            app.validate_fulfilment,
            f"{key}:validate",
            actor=FACILITATOR,
            assembly_id=assembly_id,
        )
        return assembly_id

    def tables_for(self, theme: Theme, directorate: str) -> list[str]:
        if theme is Theme.SAFETY:
            return [f"gab-zonal-{directorate[3:]}"]
        if directorate == TEOTONGO and theme in (
            Theme.URBAN_SERVICES,
            Theme.PUBLIC_SPACE,
            Theme.ENVIRONMENT,
        ):
            return [LIGHTING_TABLE]
        if directorate == TEOTONGO and theme is Theme.WATER:
            return [WATER_TABLE]
        return list(THEME_TABLES[theme])

    # -- the week in San Miguel Teotongo ---------------------------------------------------

    def monday_assembly(self, monday: date) -> None:
        self.hold_assembly(
            SCENARIO_ASSEMBLY,
            territory_id="smt-avisadero",
            kind=AssemblyKind.DIALOGUE_FOR_PEACE,
            held_on=monday,
            attendance=64,
        )

    def scenario(self, monday: date) -> dict[str, dict[str, str]]:
        app = self.app
        tue, thu, fri, sat = (monday + timedelta(days=n) for n in (1, 3, 4, 5))
        next_monday = monday + timedelta(days=7)
        cases: dict[str, _Case] = {}
        commitments: dict[str, _Commitment] = {}
        sessions: dict[str, str] = {}

        # Monday: four problems raised at the dialogue for well-being and peace.
        self.at(monday, 17)
        raised = {
            "dark_street": (
                Theme.SAFETY,
                "Tramo oscuro en Calle Camino Real: dos mujeres asaltadas",
                "En el tramo de Calle Camino Real entre la Cerrada del Avisadero y la bajada al "
                "mercado las luminarias no funcionan desde hace semanas. En los últimos quince "
                "días dos vecinas fueron asaltadas al regresar del trabajo por la noche. Se piden "
                "alumbrado, patrullaje y seguimiento a las denuncias.",
                # She asked not to be named publicly: her contact lives only in the event.
                {"name": "Leticia Ramírez Ortiz", "phone": "55 4821 3370"},
            ),
            "dump": (
                Theme.ENVIRONMENT,
                "Tiradero clandestino en la esquina del mercado",
                "En la esquina del Mercado de San Miguel Teotongo se acumulan basura y cascajo "
                "que tiran camionetas particulares por la noche. Hay ratas y mal olor; los "
                "locatarios piden retirarlo y vigilar que no vuelva.",
                None,
            ),
            "water": (
                Theme.WATER,
                "Nueve días sin agua en tres calles de la Sección Avisadero",
                "Las calles Camino Real, Cerrada del Avisadero y Andador Tezontle no reciben agua "
                "de la red desde hace nueve días. Las familias compran garrafones y pipas "
                "particulares. Se pide revisar la red y enviar pipas mientras se repara.",
                None,
            ),
            "mural": (
                Theme.CULTURE,
                "Propuesta de mural comunitario en la barda de la primaria",
                "Jóvenes del colectivo proponen pintar en la barda de la escuela primaria un mural "
                "sobre la historia de la lucha por los servicios en San Miguel Teotongo, con "
                "participación de niñas y niños.",
                None,
            ),
        }
        for name, (theme, title, description, reporter) in raised.items():
            cases[name] = self.raise_case(
                CASE_EXTERNAL_IDS[name],
                actor=FACILITATOR,
                territory_id="smt-avisadero",
                theme=theme,
                title=title,
                description=description,
                assembly_id=SCENARIO_ASSEMBLY,
                reporter=reporter,
            )

        # Monday: Rosa triages and routes.
        triage = {
            "dark_street": (Priority.HIGH, [CABINET, LIGHTING_TABLE]),
            "dump": (Priority.MEDIUM, [LIGHTING_TABLE]),
            "water": (Priority.URGENT, [WATER_TABLE]),
            "mural": (Priority.LOW, []),  # stays with the planning collective
        }
        for name, (priority, tables) in triage.items():
            case = cases[name]
            key = f"smt:{name}"
            self.triage(case, ROSA, key, case.theme, priority)
            if tables:
                self.route(case, ROSA, key, tables)

        # Tuesday: the zonal security cabinet meets.
        self.at(tue, 10)
        sessions["cabinet"] = self.hold_session(
            CABINET,
            tue,
            key="smt:tue:cabinet-session",
            attending=["ssc", "fgj", "gn", "c5", "dgob", "dtta"],
            minutes="Sesión del Gabinete de Seguridad Zonal Teotongo-Acahualtepec. Se revisan los "
            "dos asaltos a vecinas en Calle Camino Real (Sección Avisadero) planteados en el "
            "diálogo por el bienestar y la paz del lunes. Acuerdos: patrullajes nocturnos y "
            "seguimiento de las denuncias.",
        )
        commitments["patrols"] = self.commit(
            cases["dark_street"],
            "smt:patrols",
            actor=CABINET_SECRETARY,
            agency_id="ssc",
            post_id="ssc-sector-teotongo",
            description="Patrullajes todas las noches sobre Calle Camino Real a partir de las "
            "20:00 horas, con bitácora de recorridos para el gabinete.",
            agreed_on=tue,
            due_on=tue + timedelta(days=2),
            table_id=CABINET,
            session_id=sessions["cabinet"],
        )
        commitments["prosecutor"] = self.commit(
            cases["dark_street"],
            "smt:prosecutor",
            actor=CABINET_SECRETARY,
            agency_id="fgj",
            post_id="fgj-mp-izp8",
            description="Dar seguimiento a las dos denuncias por robo con violencia presentadas "
            "por vecinas de Camino Real e informarles del avance de las carpetas de "
            "investigación.",
            agreed_on=tue,
            due_on=tue + timedelta(days=14),
            table_id=CABINET,
            session_id=sessions["cabinet"],
        )

        # Tuesday: the lighting and public space table meets.
        self.at(tue, 12)
        sessions["lighting"] = self.hold_session(
            LIGHTING_TABLE,
            tue,
            key="smt:tue:lighting-session",
            attending=["dgsu", "dgo", "dtta", "dgppc", "col-smt"],
            minutes="Mesa de trabajo Alumbrado y espacio público, San Miguel Teotongo. Se revisan "
            "el tramo oscuro de Calle Camino Real y el tiradero clandestino de la esquina del "
            "mercado.",
        )
        commitments["lamps"] = self.commit(
            cases["dark_street"],
            "smt:lamps",
            actor=LIGHTING_SECRETARY,
            agency_id="dgsu",
            post_id="jud-alumbrado",
            description="Reparar 12 luminarias en Calle Camino Real y la bajada al mercado.",
            agreed_on=tue,
            due_on=fri,
            table_id=LIGHTING_TABLE,
            session_id=sessions["lighting"],
        )
        commitments["dump"] = self.commit(
            cases["dump"],
            "smt:dump",
            actor=LIGHTING_SECRETARY,
            agency_id="dgo",
            post_id="dgo-mantenimiento",
            description="Retirar el tiradero clandestino de la esquina del mercado con "
            "maquinaria y camiones de volteo.",
            agreed_on=tue,
            due_on=thu,
            table_id=LIGHTING_TABLE,
            session_id=sessions["lighting"],
        )
        commitments["cleanup"] = self.commit(
            cases["dump"],
            "smt:cleanup",
            actor=LIGHTING_SECRETARY,
            agency_id="col-smt",
            post_id="col-smt-enlace",
            description="Organizar una jornada vecinal de limpieza (tequio) en el entorno del "
            "mercado.",
            agreed_on=tue,
            due_on=sat,
            table_id=LIGHTING_TABLE,
            session_id=sessions["lighting"],
        )

        # Wednesday: Laura takes over public lighting; the lamps are 40% done.
        self.at(monday + timedelta(days=2), 10)
        self.run(
            app.appoint_to_post,
            CATALOGUE,
            "post:jud-alumbrado:appoint:2",
            post_id="jud-alumbrado",
            official_name=LAURA,
        )
        lamps = commitments["lamps"]
        self.step(
            lamps,
            app.report_progress,
            "smt:lamps:progress-40",
            progress=40,
            note="Se repararon 5 de las 12 luminarias; se espera material para las restantes.",
        )
        # Obras may not report on Servicios Urbanos' commitment.
        self.refused(
            lambda: app.report_progress(
                CommandContext(
                    actor=staff("dgo"), municipality=self.municipality, agency_scope="dgo"
                ),
                commitment_id=lamps.id,
                expected_version=lamps.version,
                progress=60,
                note="Avance reportado por Obras.",
            )
        )
        # A stale client, based on the version before Wednesday's report, is refused.
        self.refused(
            lambda: app.report_progress(
                CommandContext(
                    actor=staff("dgsu"), municipality=self.municipality, agency_scope="dgsu"
                ),
                commitment_id=lamps.id,
                expected_version=lamps.version - 1,
                progress=10,
                note="Reporte desde una versión vieja de la aplicación.",
            )
        )
        self.step(
            commitments["patrols"],
            app.report_progress,
            "smt:patrols:progress",
            progress=50,
            note="Recorridos nocturnos iniciados el martes sobre Camino Real.",
        )

        # Thursday: the prosecutor's office reports; the dump is not cleared.
        self.at(thu, 10)
        self.step(
            commitments["prosecutor"],
            app.report_progress,
            "smt:prosecutor:progress",
            progress=20,
            note="Se integraron las dos carpetas de investigación y se citó a las víctimas.",
        )
        self.step(
            commitments["patrols"],
            app.report_fulfilment,
            "smt:patrols:fulfil",
            evidence=f"Bitácora de patrullajes del sector Teotongo, {fecha(tue)} al {fecha(thu)}.",
            reported_on=thu,
        )
        # Overdue from Thursday's midnight, by the clock alone; Obras then reschedules.
        self.at(fri, 8)
        self.step(
            commitments["dump"],
            app.reschedule_commitment,
            "smt:dump:reschedule",
            due_on=next_monday,
            reason="El camión de volteo asignado se descompuso; el retiro se reprograma para el "
            "lunes con maquinaria de la Dirección General de Obras.",
        )

        # Friday: the lamps are done; water trucks agreed at the technical table.
        self.at(fri, 10)
        self.step(
            lamps,
            app.report_fulfilment,
            "smt:lamps:fulfil",
            evidence="Fotografías de las 12 luminarias encendidas: "
            f"https://evidencias.tequio.example/alumbrado/camino-real-{fri.isoformat()}.jpg",
            reported_on=fri,
        )
        sessions["water"] = self.hold_session(
            WATER_TABLE,
            fri,
            key="smt:fri:water-session",
            attending=["sacmex", "dtta"],
            minutes="Mesa técnica de resolución con el Sistema de Aguas: falta de agua en tres "
            "calles de la Sección Avisadero. Se detecta una válvula dañada en la línea de "
            "alimentación.",
        )
        commitments["water_truck"] = self.commit(
            cases["water"],
            "smt:water-truck",
            actor=WATER_SECRETARY,
            agency_id="sacmex",
            post_id="sacmex-oriente",
            description="Enviar una pipa de agua potable dos veces por semana a Camino Real, "
            "Cerrada del Avisadero y Andador Tezontle hasta reparar la válvula.",
            agreed_on=fri,
            due_on=fri + timedelta(days=30),
            table_id=WATER_TABLE,
            session_id=sessions["water"],
        )

        # Saturday: the community validates the lamps and disputes the patrols.
        self.at(sat, 10)
        self.hold_assembly(
            SATURDAY_ASSEMBLY,
            territory_id="smt-avisadero",
            kind=AssemblyKind.COMMUNITY_ASSEMBLY,
            held_on=sat,
            attendance=71,
        )
        self.step(
            commitments["cleanup"],
            app.report_fulfilment,
            "smt:cleanup:fulfil",
            evidence="Jornada de tequio con 38 vecinas y vecinos; se retiraron 6 m³ de basura.",
            reported_on=sat,
        )
        for name in ("lamps", "cleanup"):
            self.step(
                commitments[name],
                app.validate_fulfilment,
                f"smt:{name}:validate",
                actor=FACILITATOR,
                assembly_id=SATURDAY_ASSEMBLY,
            )
        self.step(
            commitments["patrols"],
            app.dispute_fulfilment,
            "smt:patrols:dispute",
            actor=FACILITATOR,
            assembly_id=SATURDAY_ASSEMBLY,
            reason="Las vecinas vieron patrullas solo dos noches en toda la semana.",
        )
        commitments["mural"] = self.commit(
            cases["mural"],
            "smt:mural",
            actor=FACILITATOR,
            agency_id="col-smt",
            post_id="col-smt-enlace",
            description="Presentar en asamblea el boceto del mural y la lista de niñas, niños y "
            "jóvenes que participarán.",
            agreed_on=sat,
            due_on=sat + timedelta(days=21),
            assembly_id=SATURDAY_ASSEMBLY,
        )
        self.say(
            f"story: the week of {fecha(monday)} in San Miguel Teotongo "
            f"({len(commitments)} commitments, refused as expected: {', '.join(self.refusals)})"
        )
        return {
            "cases": {name: case.id for name, case in cases.items()},
            "commitments": {name: c.id for name, c in commitments.items()},
            "sessions": sessions,
        }


def _secretary(table_id: str) -> str:
    return {
        CABINET: CABINET_SECRETARY,
        LIGHTING_TABLE: LIGHTING_SECRETARY,
        WATER_TABLE: WATER_SECRETARY,
    }.get(table_id, f"secretary:{table_id}")


def load_demo(
    app: TequioApplication,
    *,
    municipality: str,
    progress: Callable[[str], None] | None = None,
) -> DemoSummary:
    """Loads the demo data set through the application service; a second load writes nothing."""
    started = time.perf_counter()
    position = app.current_position()
    loader = _Loader(app, municipality, progress)
    monday = loader.anchor()
    with events_stamped_by(loader.timestamp):
        # The borough's catalogue, as it stood before the nine weeks of history.
        loader.at(monday - timedelta(days=70))
        loader.directory()
        # The first assembly of the story is written first: its date is the anchor.
        loader.at(monday, 17)
        loader.monday_assembly(monday)
        loader.borough(monday)
        story = loader.scenario(monday)
    written = app.current_position() - position
    return DemoSummary(
        municipality=municipality,
        anchor=monday + timedelta(days=7),
        scenario_monday=monday,
        events_written=written,
        commands=loader.commands,
        replayed=loader.replayed,
        seconds=round(time.perf_counter() - started, 2),
        counts=dict(loader.counts),
        cases=story["cases"],
        commitments=story["commitments"],
        sessions=story["sessions"],
        assemblies={"monday": SCENARIO_ASSEMBLY, "saturday": SATURDAY_ASSEMBLY},
        officials={
            "jorge": official_id_for(municipality, JORGE),
            "laura": official_id_for(municipality, LAURA),
            "rosa": official_id_for(municipality, ROSA_NAME),
        },
        refusals=tuple(loader.refusals),
        case_ids=tuple(c.id for c in loader.cases),
        commitment_ids=tuple(c.id for c in loader.commitments),
    )


def scenario_case_id(municipality: str, name: str) -> str:
    """The public id of one of the story's cases ('dark_street', 'dump', 'water', 'mural')."""
    return case_id_for_external(municipality, CASE_EXTERNAL_IDS[name])


# -- command line -----------------------------------------------------------------------------


def cmd_demo(args: argparse.Namespace) -> int:
    from tequio.application import build_application
    from tequio.database import Database
    from tequio.settings import Settings

    # A bad setting is said by the CLI, as for every command (exit code 2).
    settings = Settings()
    municipality = args.municipality or settings.municipality
    quiet = bool(getattr(args, "quiet", False))
    database = Database.open(settings)
    try:
        app = build_application(settings, database.info)
        try:
            summary = load_demo(
                app,
                municipality=municipality,
                progress=None if quiet else lambda m: print(f"  {m}", file=sys.stderr),
            )
        except TequioError as error:
            print(
                f"tequio demo: {error.message('en')} (the demo data in this database was "
                "loaded by a different version of the demo)",
                file=sys.stderr,
            )
            return 1
        finally:
            app.close()
    finally:
        database.close()
    counts = summary.counts
    if summary.events_written == 0:
        print(
            f"Demo already loaded for {municipality}: nothing changed "
            f"({summary.commands} commands replayed in {summary.seconds:.1f} s)."
        )
    else:
        print(
            f"Demo loaded for {municipality}: {summary.events_written} events from "
            f"{summary.commands} commands in {summary.seconds:.1f} s."
        )
    print(
        f"  {counts['territories']} territories, {counts['agencies']} agencies, "
        f"{counts['posts']} posts, {counts['tables']} tables, {counts['assemblies']} assemblies, "
        f"{counts['sessions']} sessions, {counts['cases']} cases, "
        f"{counts['commitments']} commitments."
    )
    print(
        f"  The week in San Miguel Teotongo starts on {summary.scenario_monday.isoformat()}; "
        f"the lamps commitment is {summary.commitments['lamps']}."
    )
    return 0


def add_demo_command(subparsers: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "demo", help="load the demo data set (idempotent: running it twice changes nothing)"
    )
    parser.add_argument("--municipality", help="the tenant; defaults to TEQUIO_MUNICIPALITY")
    parser.add_argument("--quiet", action="store_true", help="print only the summary")
    parser.set_defaults(func=cmd_demo)
    return parser
