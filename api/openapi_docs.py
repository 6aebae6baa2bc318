"""What the OpenAPI document says about each route: parameters, bodies, responses.

The routes read raw requests (bodies are streamed under a size limit, SPARQL
parameters repeat, STAC GET lists are comma-separated), so FastAPI cannot infer
their interface from signatures. Declaring it here, route by route, is what lets
clients and schema-driven fuzzers (schemathesis, in the test suite) exercise
every parameter and body, and check every status and media type we answer with.
Errors are RFC 9457 problem documents (``api.problems``) everywhere.
"""

from __future__ import annotations

from typing import Any

from eokg.kg.results import RDF_MEDIA_TYPES, RESULTS_MEDIA_TYPES

PROBLEM_JSON = "application/problem+json"
#: the media type ``/openapi.json`` answers with and the STAC ``service-desc`` link
#: announces (FastAPI writes OpenAPI 3.1).
OPENAPI_MEDIA_TYPE = "application/vnd.oai.openapi+json;version=3.1"
GEOJSON = "application/geo+json"
SCHEMA_JSON = "application/schema+json"

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string"},
        "instance": {"type": "string"},
    },
}
_WHY = {
    400: "Bad request: the problem names the parameter",
    401: "The API key is missing or wrong",
    403: "Not allowed (for example a SERVICE or LOAD target outside the allowlist)",
    404: "Not found",
    406: "No acceptable media type",
    413: "The request is too large",
    414: "The URL is too long",
    415: "Unsupported request media type",
    422: "Unprocessable request",
    429: "Too many requests",
    500: "Internal error",
    501: "Not implemented",
    502: "A remote source failed",
    503: "Timed out or busy; try again",
}
#: Every route can answer these (limits, handler errors).
COMMON = (400, 413, 500, 503)


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """Problem-document responses for ``statuses`` (and the common ones)."""
    return {
        status: {
            "description": _WHY.get(status, "Error"),
            "content": {PROBLEM_JSON: {"schema": PROBLEM_SCHEMA}},
        }
        for status in sorted({*COMMON, *statuses})
    }


def ok(media_types: tuple[str, ...], schema: dict[str, Any] | None = None) -> dict[str, Any]:
    body = {"schema": schema} if schema is not None else {}
    return {"description": "OK", "content": {m: dict(body) for m in media_types}}


def responses(
    media_types: tuple[str, ...], *errors: int, schema: dict[str, Any] | None = None
) -> dict[int | str, dict[str, Any]]:
    out: dict[int | str, dict[str, Any]] = {200: ok(media_types, schema)}
    out.update(problems(*errors))
    return out


def param(
    name: str, description: str, schema: dict[str, Any] | None = None, **extra: Any
) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema or {"type": "string"},
        **extra,
    }


def _repeated(name: str, description: str) -> dict[str, Any]:
    return param(name, description, {"type": "array", "items": {"type": "string"}}, explode=True)


# --- SPARQL 1.1 protocol -------------------------------------------------------------------

SPARQL_MEDIA = (*RESULTS_MEDIA_TYPES, *RDF_MEDIA_TYPES)
_SPARQL_PARAMS = [
    param("query", "A SPARQL 1.1 query; without it, the query page or service description"),
    _repeated("default-graph-uri", "Graphs whose union is the default graph (repeatable)"),
    _repeated("named-graph-uri", "Graphs available to GRAPH (repeatable)"),
    param(
        "format",
        "Result format, for clients that cannot set Accept: a media type or an alias "
        "(json, xml, csv, tsv, turtle, n3, ntriples, jsonld, rdfxml)",
    ),
    param("explain", "Answer with the query plan (index use, set sizes, times) as JSON"),
    param("entailment", "GeoSPARQL RDFS entailment: true (default) or false"),
]
_FORM = {
    "type": "object",
    "properties": {
        "query": {"type": "string"},
        "update": {"type": "string"},
        "default-graph-uri": {"type": "array", "items": {"type": "string"}},
        "named-graph-uri": {"type": "array", "items": {"type": "string"}},
        "using-graph-uri": {"type": "array", "items": {"type": "string"}},
        "using-named-graph-uri": {"type": "array", "items": {"type": "string"}},
    },
}
SPARQL_GET: dict[str, Any] = {
    "parameters": _SPARQL_PARAMS,
}
SPARQL_POST: dict[str, Any] = {
    "parameters": _SPARQL_PARAMS[1:],
    "requestBody": {
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {"schema": _FORM},
            "application/sparql-query": {"schema": {"type": "string"}},
            "application/sparql-update": {"schema": {"type": "string"}},
        },
    },
}
SPARQL_RESPONSES = responses((*SPARQL_MEDIA, "text/html"), 403, 406, 414)
SPARQL_POST_RESPONSES = {
    **responses(SPARQL_MEDIA, 401, 403, 406, 415, 501),
    204: {"description": "Update applied"},
}
VOID_RESPONSES = responses(RDF_MEDIA_TYPES, 406)

# --- STAC API ------------------------------------------------------------------------------

_LIST = {"type": "string", "description": "comma-separated"}
STAC_SEARCH_PARAMS = [
    param("bbox", "minx,miny,maxx,maxy (or 6 numbers with heights), WGS 84", _LIST),
    param("intersects", "A GeoJSON geometry (JSON text)"),
    param("datetime", "An RFC 3339 instant or interval (open ends with ..)"),
    param("ids", "Item ids", _LIST),
    param("collections", "Collection ids", _LIST),
    param("limit", "Page size", {"type": "integer", "minimum": 1}),
    param("token", "Page token from a next link"),
    param("filter", "A CQL2 filter (cql2-text, or cql2-json as text)"),
    param("filter-lang", "cql2-text or cql2-json", {"enum": ["cql2-text", "cql2-json"]}),
    param("filter-crs", "CRS of filter geometries (CRS84 only)"),
    param("sortby", "Fields, each prefixed + or -", _LIST),
    param("fields", "Fields to include, or exclude with a - prefix", _LIST),
    param("q", "Free-text terms", _LIST),
    param("concepts", "SKOS concept IRIs; each expands to its narrower concepts", _LIST),
]
_SEARCH_PROPERTIES: dict[str, Any] = {
    "bbox": {"type": "array", "items": {"type": "number"}},
    "intersects": {"type": "object"},
    "datetime": {"type": "string"},
    "ids": {"type": "array", "items": {"type": "string"}},
    "collections": {"type": "array", "items": {"type": "string"}},
    "limit": {"type": "integer", "minimum": 1},
    "token": {"type": "string"},
    "filter": {"oneOf": [{"type": "object"}, {"type": "string"}]},
    "filter-lang": {"enum": ["cql2-text", "cql2-json"]},
    "filter-crs": {"type": "string"},
    "sortby": {"type": "array", "items": {"type": "object"}},
    "fields": {"type": "object"},
    "q": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
    "concepts": {"type": "array", "items": {"type": "string"}},
}
_SEARCH_BODY: dict[str, Any] = {"type": "object", "properties": _SEARCH_PROPERTIES}
_JSON_BODY = {"required": False, "content": {"application/json": {"schema": _SEARCH_BODY}}}
_FEATURES = {"type": "object", "required": ["type", "features"]}
_AGG = [
    param("aggregations", "Aggregation names", _LIST),
    param(
        "datetime_frequency_interval",
        "Bucket of datetime_frequency",
        {"enum": ["day", "month", "year"]},
    ),
]
STAC_SEARCH_GET: dict[str, Any] = {"parameters": STAC_SEARCH_PARAMS}
STAC_SEARCH_POST: dict[str, Any] = {"requestBody": _JSON_BODY}
STAC_ITEMS_GET: dict[str, Any] = {
    "parameters": [p for p in STAC_SEARCH_PARAMS if p["name"] != "collections"]
}
STAC_AGGREGATE_GET: dict[str, Any] = {"parameters": [*STAC_SEARCH_PARAMS, *_AGG]}
STAC_AGGREGATE_POST: dict[str, Any] = {
    "requestBody": {
        "required": False,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {
                        **_SEARCH_PROPERTIES,
                        "aggregations": {
                            "oneOf": [
                                {"type": "string"},
                                {"type": "array", "items": {"type": "string"}},
                            ]
                        },
                        "datetime_frequency_interval": {"enum": ["day", "month", "year"]},
                    },
                }
            }
        },
    }
}
STAC_COLLECTIONS_GET: dict[str, Any] = {
    "parameters": [param("q", "Free-text terms over collection titles and descriptions", _LIST)]
}
JSON_RESPONSES = responses(("application/json",))
FOUND_RESPONSES = responses(("application/json",), 404)
FEATURES_RESPONSES = responses((GEOJSON,), schema=_FEATURES)
ITEMS_RESPONSES = responses((GEOJSON,), 404, schema=_FEATURES)
ITEM_RESPONSES = responses((GEOJSON,), 404)
SEARCH_POST_RESPONSES = responses((GEOJSON,), 415, schema=_FEATURES)
SEARCH_POST_RESPONSES_JSON = responses(("application/json",), 415)
QUERYABLES_RESPONSES = responses((SCHEMA_JSON,))
COLLECTION_QUERYABLES_RESPONSES = responses((SCHEMA_JSON,), 404)

# --- semantic search and federation ---------------------------------------------------------

SEMANTIC_GET: dict[str, Any] = {
    "parameters": [
        param("q", "Free text"),
        _repeated("concept", "SKOS concept IRI (repeatable); narrower concepts count too"),
        param("bbox", "minx,miny,maxx,maxy, WGS 84", _LIST),
        param("datetime", "An RFC 3339 instant or interval"),
        param("limit", "Hits per source", {"type": "integer", "minimum": 1}),
    ]
}
SEMANTIC_POST: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "q": {"type": "string"},
                        "concepts": {"type": "array", "items": {"type": "string"}},
                        "bbox": {"type": "array", "items": {"type": "number"}},
                        "intersects": {"type": "object"},
                        "datetime": {"type": "string"},
                        "limit": {"type": "integer", "minimum": 1},
                    },
                }
            }
        },
    }
}
SEMANTIC_RESPONSES = responses(("application/json",), 502)
FEDERATION_GET: dict[str, Any] = {"parameters": [_SPARQL_PARAMS[0], *_SPARQL_PARAMS[3:5]]}
FEDERATION_POST: dict[str, Any] = {
    "parameters": _SPARQL_PARAMS[3:5],
    "requestBody": {
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {"type": "object", "properties": {"query": {"type": "string"}}}
            },
            "application/sparql-query": {"schema": {"type": "string"}},
        },
    },
}
FEDERATION_RESPONSES = responses(
    (*RESULTS_MEDIA_TYPES, *RDF_MEDIA_TYPES, "application/json"), 403, 406, 415, 502
)
