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
    "forbidden_personal_data_audit": {
        "en": "Only coordinators and administrators may see who read a reporter's contact data.",
        "es": "Solo la coordinación y la administración pueden ver quién consultó los datos de "
        "contacto de quien reportó.",
    },
    "no_such_table": {
        "en": "No table or cabinet with id '{table_id}' exists.",
        "es": "No existe una mesa o gabinete con el identificador '{table_id}'.",
    },
    "not_a_cabinet": {
        "en": "Table '{table_id}' is not a security cabinet.",
        "es": "La mesa '{table_id}' no es un gabinete de seguridad.",
    },
    "query_too_costly": {
        "en": "This query asks for too much at once: about {cost} fields, at most {max}. "
        "Ask for smaller pages ('first') or fewer nested lists.",
        "es": "Esta consulta pide demasiado a la vez: unos {cost} campos, como máximo {max}. "
        "Pida páginas más pequeñas ('first') o menos listas anidadas.",
    },
    "operation_name_required": {
        "en": "The document holds {count} operations: say which one to run ('operationName').",
        "es": "El documento tiene {count} operaciones: indique cuál ejecutar ('operationName').",
    },
    "since_out_of_range": {
        "en": "'since' must be between the years 1900 and 9000; got {since}.",
        "es": "'since' debe estar entre los años 1900 y 9000; se recibió {since}.",
    },
    "page_size_out_of_range": {
        "en": "'first' must be between 0 and {max}; got {first}.",
        "es": "'first' debe estar entre 0 y {max}; se recibió {first}.",
    },
    "briefing_size_out_of_range": {
        "en": "'first' must be between 1 and {max}; got {first}.",
        "es": "'first' debe estar entre 1 y {max}; se recibió {first}.",
    },
    "status_disputed_is_reserved": {
        "en": "No commitment is ever DISPUTED: a dispute returns it to IN_PROGRESS. "
        "To list the disputed ones, filter with disputed: true.",
        "es": "Ningún compromiso queda en DISPUTED: una objeción lo devuelve a IN_PROGRESS. "
        "Para listar los objetados, filtre con disputed: true.",
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
    "no_such_path": {
        "en": "There is nothing at '{path}'.",
        "es": "No hay nada en '{path}'.",
    },
    "method_not_allowed": {
        "en": "{method} is not allowed on '{path}'; it takes {allowed}.",
        "es": "{method} no se admite en '{path}'; admite {allowed}.",
    },
    "graphql_request": {
        "en": "The GraphQL request cannot be run: {detail}.",
        "es": "La solicitud GraphQL no puede ejecutarse: {detail}.",
    },
    "subscription_over_http": {
        "en": "Subscriptions go over WebSocket (graphql-transport-ws), not a plain HTTP request.",
        "es": "Las suscripciones van por WebSocket (graphql-transport-ws), no por una solicitud "
        "HTTP simple.",
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
    "feed_bad_limit": {
        "en": "'limit' must be a whole number from 1 to {max}; got '{limit}'.",
        "es": "'limit' debe ser un número entero de 1 a {max}; se recibió '{limit}'.",
    },
    "feed_unknown_type": {
        "en": "'{type}' is not an event type of this feed (see docs/integrations.md).",
        "es": "'{type}' no es un tipo de evento de este flujo (vea docs/integrations.md).",
    },
    "feed_bad_subject": {
        "en": "'subject' must be '<kind>/<id>', with kind one of {kinds}; got '{subject}'.",
        "es": "'subject' debe ser '<tipo>/<id>', con tipo uno de {kinds}; se recibió '{subject}'.",
    },
    "feed_unknown_parameter": {
        "en": "Unknown query parameter '{name}'; the event feed takes {known}.",
        "es": "Parámetro de consulta desconocido '{name}'; el flujo de eventos acepta {known}.",
    },
    "feed_cursor_beyond_end": {
        "en": "The cursor '{cursor}' is past the last event: use one the feed gave out "
        "(a page's Link), or none to start from the beginning.",
        "es": "El cursor '{cursor}' está más allá del último evento: use uno que haya dado "
        "el flujo (el Link de una página), o ninguno para empezar desde el principio.",
    },
    "feed_unavailable": {
        "en": "The event feed is being rebuilt; try again in a moment.",
        "es": "El flujo de eventos se está reconstruyendo; intente de nuevo en unos momentos.",
    },
    "metrics_token_required": {
        "en": "GET /metrics wants the operators' token: 'Authorization: Bearer <token>' "
        "(TEQUIO_METRICS_TOKEN).",
        "es": "GET /metrics requiere el token de operación: 'Authorization: Bearer <token>' "
        "(TEQUIO_METRICS_TOKEN).",
    },
    "database_unavailable": {
        "en": "The database cannot be reached right now; try again in a moment "
        "(with the same Idempotency-Key, if you sent one).",
        "es": "La base de datos no está disponible en este momento; intente de nuevo en unos "
        "momentos (con la misma Idempotency-Key, si envió una).",
    },
    # Webhooks (src/integrations/webhooks, src/api/graphql/webhooks.py).
    "webhook_url_invalid": {
        "en": "'{url}' is not a valid webhook URL: give an absolute http(s) URL with a host, "
        "without spaces or a '#fragment'.",
        "es": "'{url}' no es una URL de webhook válida: indique una URL http(s) absoluta con "
        "servidor, sin espacios ni '#fragmento'.",
    },
    "webhook_url_too_long": {
        "en": "A webhook URL may have at most {max} characters.",
        "es": "Una URL de webhook puede tener como máximo {max} caracteres.",
    },
    "webhook_url_https_required": {
        "en": "Webhook URLs must use https://; http:// is accepted only for localhost or "
        "127.0.0.1 on a development server.",
        "es": "Las URL de webhook deben usar https://; http:// solo se acepta para localhost "
        "o 127.0.0.1 en un servidor de desarrollo.",
    },
    "webhook_url_credentials": {
        "en": "A webhook URL must not carry a user name or password: receivers check the "
        "signature instead.",
        "es": "Una URL de webhook no debe llevar usuario ni contraseña: el receptor verifica "
        "la firma.",
    },
    "webhook_types_empty": {
        "en": "Name at least one event type, or '*' for every type.",
        "es": "Indique al menos un tipo de evento, o '*' para todos.",
    },
    "webhook_types_too_many": {
        "en": "A subscription may name at most {max} event types.",
        "es": "Una suscripción puede indicar como máximo {max} tipos de evento.",
    },
    "webhook_unknown_type": {
        "en": "'{type}' is not an event type of the feed: use a type listed in "
        "docs/integrations.md, '*', or a prefix ending in '.*' such as 'mx.tequio.case.*'.",
        "es": "'{type}' no es un tipo de evento del flujo: use un tipo de "
        "docs/integrations.md, '*', o un prefijo terminado en '.*' como 'mx.tequio.case.*'.",
    },
    "webhook_description_too_long": {
        "en": "A webhook description may have at most {max} characters.",
        "es": "La descripción de un webhook puede tener como máximo {max} caracteres.",
    },
    "webhook_description_control": {
        "en": "A webhook description may not contain control characters.",
        "es": "La descripción de un webhook no puede contener caracteres de control.",
    },
    "webhook_bad_grace": {
        "en": "keepPreviousForHours must be from 0 to {max}; got {hours}.",
        "es": "keepPreviousForHours debe estar entre 0 y {max}; se recibió {hours}.",
    },
    "webhook_not_found": {
        "en": "No webhook subscription with id '{id}' exists.",
        "es": "No existe una suscripción de webhook con el identificador '{id}'.",
    },
    "webhook_delivery_not_found": {
        "en": "No webhook delivery with id '{id}' exists.",
        "es": "No existe una entrega de webhook con el identificador '{id}'.",
    },
    "webhook_delivery_open": {
        "en": "Delivery {id} is still queued; only a delivered or dead-lettered delivery "
        "can be sent again.",
        "es": "La entrega {id} todavía está en cola; solo una entrega realizada o descartada "
        "puede enviarse de nuevo.",
    },
    # Open311 GeoReport v2 (src/api/open311): descriptions of its error documents.
    "open311_format": {
        "en": "Unknown format '{format}': ask for .json or .xml.",
        "es": "Formato desconocido '{format}': solicite .json o .xml.",
    },
    "open311_method": {
        "en": "Method {method} is not allowed here: use GET or POST.",
        "es": "El método {method} no se admite aquí: use GET o POST.",
    },
    "open311_no_resource": {
        "en": "There is no Open311 resource at '{path}'.",
        "es": "No existe un recurso Open311 en '{path}'.",
    },
    "open311_jurisdiction": {
        "en": "jurisdiction_id '{jurisdiction}' is not served here; this server serves "
        "'{municipality}'.",
        "es": "jurisdiction_id '{jurisdiction}' no se atiende aquí; este servidor atiende "
        "'{municipality}'.",
    },
    "open311_api_key_missing": {
        "en": "An api_key is required to create a service request.",
        "es": "Se requiere un api_key para crear una solicitud de servicio.",
    },
    "open311_api_key_invalid": {
        "en": "The api_key is not valid: {reason}.",
        "es": "El api_key no es válido: {reason}.",
    },
    "open311_api_key_forbidden": {
        "en": "This api_key may not create service requests: an integration, coordinator "
        "or admin key is needed.",
        "es": "Este api_key no permite crear solicitudes de servicio: se necesita una llave "
        "de integración, coordinación o administración.",
    },
    "open311_service_unknown": {
        "en": "No service with service_code '{service_code}' exists; see services.json.",
        "es": "No existe un servicio con service_code '{service_code}'; consulte services.json.",
    },
    "open311_request_unknown": {
        "en": "No service request with id '{id}' exists.",
        "es": "No existe una solicitud de servicio con el identificador '{id}'.",
    },
    "open311_token_unknown": {
        "en": "No token '{token}' exists.",
        "es": "No existe el token '{token}'.",
    },
    "open311_missing": {
        "en": "'{field}' is required.",
        "es": "'{field}' es obligatorio.",
    },
    "open311_location_required": {
        "en": "A location is required: lat and long, address_string, or address_id.",
        "es": "Se requiere una ubicación: lat y long, address_string o address_id.",
    },
    "open311_bad_number": {
        "en": "'{field}' must be a number; got '{value}'.",
        "es": "'{field}' debe ser un número; se recibió '{value}'.",
    },
    "open311_territory_unknown": {
        "en": "'{value}' is not a territory of this jurisdiction; the service definition "
        "lists the values of attribute 'territory'.",
        "es": "'{value}' no es un territorio de esta jurisdicción; la definición del servicio "
        "enumera los valores del atributo 'territory'.",
    },
    "open311_territory_mismatch": {
        "en": "address_id '{address_id}' and attribute[territory] '{territory}' name "
        "different territories.",
        "es": "address_id '{address_id}' y attribute[territory] '{territory}' indican "
        "territorios distintos.",
    },
    "open311_bad_date": {
        "en": "'{field}' must be an ISO 8601 date and time such as "
        "2026-11-01T00:00:00-06:00; got '{value}'.",
        "es": "'{field}' debe ser una fecha y hora ISO 8601 como "
        "2026-11-01T00:00:00-06:00; se recibió '{value}'.",
    },
    "open311_date_out_of_range": {
        "en": "'{field}' must be between the years 1900 and 9000; got '{value}'.",
        "es": "'{field}' debe estar entre los años 1900 y 9000; se recibió '{value}'.",
    },
    "open311_date_order": {
        "en": "start_date must not be later than end_date.",
        "es": "start_date no puede ser posterior a end_date.",
    },
    "open311_date_span": {
        "en": "A search may span at most {days} days.",
        "es": "Una búsqueda puede abarcar como máximo {days} días.",
    },
    "open311_bad_status": {
        "en": "status must be 'open' or 'closed'; got '{value}'.",
        "es": "status debe ser 'open' o 'closed'; se recibió '{value}'.",
    },
    "open311_too_many_ids": {
        "en": "At most {max} service_request_id values may be asked for at once.",
        "es": "Se pueden solicitar como máximo {max} valores de service_request_id a la vez.",
    },
    "open311_form": {
        "en": "Send the request as application/x-www-form-urlencoded, in UTF-8 (or in "
        "the charset its Content-Type names).",
        "es": "Envíe la solicitud como application/x-www-form-urlencoded, en UTF-8 (o en "
        "el charset que indique su Content-Type).",
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
