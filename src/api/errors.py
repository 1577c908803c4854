"""Errors as the contract shows them: ``extensions.code`` and a message in the caller's language."""

from __future__ import annotations

from typing import Any

from graphql import GraphQLError

from cases.errors import TequioError

API_MESSAGES: dict[str, dict[str, str]] = {
    "unauthenticated": {
        "en": "Sign in first: this operation needs a bearer token.",
        "es": "Primero inicie sesión: esta operación requiere un token de acceso.",
    },
    "invalid_token": {
        "en": "The bearer token is not valid: {reason}.",
        "es": "El token de acceso no es válido: {reason}.",
    },
    "forbidden_role": {
        "en": "Your role does not allow {operation}.",
        "es": "Su rol no permite {operation}.",
    },
    "forbidden_cabinet": {
        "en": "Only members of cabinet '{table_id}' may read its briefing.",
        "es": "Solo las personas integrantes del gabinete '{table_id}' pueden leer su informe.",
    },
    "forbidden_personal_data": {
        "en": "Only coordinators may read a reporter's contact data.",
        "es": "Solo la coordinación puede consultar los datos de contacto de quien reportó.",
    },
    "forbidden_cabinet_commitment": {
        "en": "This commitment was agreed in a security cabinet you are not a member of.",
        "es": "Este acuerdo se tomó en un gabinete de seguridad del que usted no es integrante.",
    },
    "no_such_table": {
        "en": "No table or cabinet with id '{table_id}' exists.",
        "es": "No existe una mesa o gabinete con el identificador '{table_id}'.",
    },
    "not_a_cabinet": {
        "en": "Table '{table_id}' is not a security cabinet.",
        "es": "La mesa '{table_id}' no es un gabinete de seguridad.",
    },
    "page_too_large": {
        "en": "'first' must be between 0 and {max}; got {first}.",
        "es": "'first' debe estar entre 0 y {max}; se recibió {first}.",
    },
    "bad_cursor": {
        "en": "The cursor '{cursor}' is not valid for this list.",
        "es": "El cursor '{cursor}' no es válido para esta lista.",
    },
    "not_yet_visible": {
        "en": "The change was recorded (id {id}) but is not visible yet; read it again shortly.",
        "es": "El cambio quedó registrado (id {id}) pero aún no es visible; "
        "consúltelo de nuevo en unos momentos.",
    },
    "bad_input": {
        "en": "{detail}",
        "es": "{detail}",
    },
    "agency_staff_needs_agency": {
        "en": "An agency_staff token must name its agency.",
        "es": "Un token de personal de área debe indicar su área.",
    },
    "identity_provider_unavailable": {
        "en": "Your token cannot be checked right now: the identity provider's keys are "
        "unreachable. Try again in a moment.",
        "es": "Su token no puede verificarse en este momento: las llaves del proveedor de "
        "identidad no están disponibles. Intente de nuevo en unos momentos.",
    },
    "body_too_large": {
        "en": "The request body is larger than the {max} bytes this server accepts.",
        "es": "El cuerpo de la solicitud excede los {max} bytes que acepta este servidor.",
    },
    "rate_limited": {
        "en": "Too many requests; try again in {seconds} s.",
        "es": "Demasiadas solicitudes; intente de nuevo en {seconds} s.",
    },
    "introspection_disabled": {
        "en": "Schema introspection is turned off on this server; "
        "the schema is published with its documentation.",
        "es": "La introspección del esquema está desactivada en este servidor; "
        "el esquema se publica con su documentación.",
    },
}


TOKEN_REASONS: dict[str, dict[str, str]] = {
    "expired": {"en": "it has expired", "es": "ya expiró"},
    "signature": {"en": "its signature is not ours", "es": "su firma no es de este servidor"},
    "audience": {
        "en": "it was issued for another service",
        "es": "fue emitido para otro servicio",
    },
    "municipality": {
        "en": "it is for another municipality",
        "es": "es de otro municipio",
    },
    "malformed": {"en": "it is malformed", "es": "está mal formado"},
    "scheme": {"en": "expected 'Bearer <token>'", "es": "se esperaba 'Bearer <token>'"},
    "issuer": {
        "en": "it was issued by an identity provider this server does not trust",
        "es": "lo emitió un proveedor de identidad en el que este servidor no confía",
    },
    "algorithm": {
        "en": "it is signed with an algorithm this server does not accept",
        "es": "está firmado con un algoritmo que este servidor no acepta",
    },
    "unknown_key": {
        "en": "it is signed with a key the identity provider does not publish",
        "es": "está firmado con una llave que el proveedor de identidad no publica",
    },
    "not_yet_valid": {"en": "it is not valid yet", "es": "aún no es válido"},
    "development_token": {
        "en": "development tokens are not accepted in production; "
        "sign in with the identity provider",
        "es": "los tokens de desarrollo no se aceptan en producción; "
        "inicie sesión con el proveedor de identidad",
    },
}


class ApiError(Exception):
    def __init__(self, code: str, key: str, **params: Any) -> None:
        self.code = code
        self.key = key
        self.params = params
        super().__init__(self.message("en"))

    def message(self, language: str) -> str:
        lang = "es" if language.startswith("es") else "en"
        params = dict(self.params)
        if "reason" in params and params["reason"] in TOKEN_REASONS:
            params["reason"] = TOKEN_REASONS[params["reason"]][lang]
        return API_MESSAGES[self.key][lang].format(**params)


def to_graphql_error(error: TequioError | ApiError, language: str) -> GraphQLError:
    extensions: dict[str, Any] = {"code": error.code, "reason": error.key}
    return GraphQLError(error.message(language), extensions=extensions)
