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
#: the media type ``/openapi.json`` answers with: FastAPI writes OpenAPI 3.1.
OPENAPI_MEDIA_TYPE = "application/vnd.oai.openapi+json;version=3.1"
#: the media type of the same document as OpenAPI 3.0 (``openapi30``), which the STAC
#: ``service-desc`` link announces: OGC API Features claims ``oas30``, and 3.0 is what
#: most OGC and STAC clients read.
OPENAPI30_MEDIA_TYPE = "application/vnd.oai.openapi+json;version=3.0"
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

# --- Graph Store HTTP Protocol -------------------------------------------------------------

#: Graph formats a PUT or POST body may be in.
GRAPH_BODY_TYPES = (
    "text/turtle",
    "application/n-triples",
    "application/rdf+xml",
    "application/ld+json",
    "text/n3",
)
_GRAPH_PARAMS = [
    param("graph", "The graph's IRI (indirect identification)"),
    param("default", "Names the default graph (a flag, no value)", allowEmptyValue=True),
]
GRAPH_READ: dict[str, Any] = {
    "parameters": [*_GRAPH_PARAMS, _SPARQL_PARAMS[3]],
}
GRAPH_WRITE: dict[str, Any] = {
    "parameters": _GRAPH_PARAMS,
    "requestBody": {
        "required": False,
        "content": {media: {"schema": {"type": "string"}} for media in GRAPH_BODY_TYPES},
    },
}
GRAPH_DELETE: dict[str, Any] = {"parameters": _GRAPH_PARAMS}
GRAPH_READ_RESPONSES = responses(RDF_MEDIA_TYPES, 404, 406, 501)
_WRITTEN: dict[int | str, dict[str, Any]] = {
    201: {"description": "The graph was created"},
    204: {"description": "The graph was written"},
}
GRAPH_WRITE_RESPONSES = {**_WRITTEN, **problems(401, 403, 415, 501)}
GRAPH_DELETE_RESPONSES: dict[int | str, dict[str, Any]] = {
    204: {"description": "The graph was dropped"},
    **problems(401, 403, 404, 501),
}

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
    "parameters": [
        param("bbox", "Collections whose spatial extent intersects this box (WGS 84)", _LIST),
        param(
            "datetime",
            "Collections whose temporal extent intersects this RFC 3339 instant or interval",
        ),
        param("limit", "Page size", {"type": "integer", "minimum": 1}),
        param("token", "Page token from a next or prev link"),
        param("q", "Free-text terms over collection ids, titles, descriptions, keywords", _LIST),
    ]
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


# --- OpenAPI 3.1 -> 3.0 ---------------------------------------------------------------------
#
# FastAPI writes OpenAPI 3.1, whose schemas are JSON Schema 2020-12; 3.0 has its own
# subset of draft 5.  The conversion walks the document by its structure (a schema is
# converted where OpenAPI puts one, never by searching for keywords, so a property
# called ``const`` stays a property) and rewrites each 3.1 construct into its 3.0 form,
# dropping what 3.0 cannot say (a looser schema, never a wrong one).

#: Schema Object keywords of OpenAPI 3.0.3; anything else (``$schema``, ``$id``,
#: ``contentMediaType``, ``prefixItems``, ``if``...) is dropped.
_SCHEMA30_KEYS = frozenset(
    {
        "title", "multipleOf", "maximum", "exclusiveMaximum", "minimum", "exclusiveMinimum",
        "maxLength", "minLength", "pattern", "maxItems", "minItems", "uniqueItems",
        "maxProperties", "minProperties", "required", "enum", "type", "allOf", "oneOf",
        "anyOf", "not", "items", "properties", "additionalProperties", "description",
        "format", "default", "nullable", "discriminator", "readOnly", "writeOnly", "xml",
        "externalDocs", "example", "deprecated", "$ref",
    }
)  # fmt: skip
_OPERATIONS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def _is_null(schema: Any) -> bool:
    return isinstance(schema, dict) and schema.get("type") == "null" and len(schema) == 1


def _null_alternatives(out: dict[str, Any]) -> None:
    """``anyOf``/``oneOf`` with a ``{"type": "null"}`` branch -> ``nullable: true``;
    one branch left is merged in (a ``$ref`` through ``allOf``: 3.0 ignores siblings
    of ``$ref``)."""
    for key in ("anyOf", "oneOf"):
        branches = out.get(key)
        if not isinstance(branches, list) or not any(_is_null(b) for b in branches):
            continue
        rest = [b for b in branches if not _is_null(b)]
        out["nullable"] = True
        if len(rest) != 1:
            out[key] = rest or [{}]
            continue
        del out[key]
        only = schema30(rest[0])  # in 3.0 form first: its keys join the 3.0 parent
        if "$ref" in only:
            out["allOf"] = [*out.get("allOf", []), only]
        else:
            for name, value in only.items():
                out.setdefault(name, value)


def _types(out: dict[str, Any]) -> None:
    """``type: [a, "null"]`` -> ``type: a, nullable: true``; several types -> ``anyOf``."""
    kind = out.get("type")
    if kind == "null":
        out.pop("type")
        out["nullable"] = True
        out["enum"] = [None]
        return
    if not isinstance(kind, list):
        return
    kinds = [k for k in kind if k != "null"]
    if len(kinds) < len(kind):
        out["nullable"] = True
    out.pop("type")
    if len(kinds) == 1:
        out["type"] = kinds[0]
    elif kinds:
        out["anyOf"] = [*out.get("anyOf", []), *({"type": k} for k in kinds)]


def _bounds(out: dict[str, Any]) -> None:
    """Numeric ``exclusiveMinimum/Maximum`` -> the 3.0 bound plus a boolean flag."""
    for exclusive, bound, tighter in (
        ("exclusiveMinimum", "minimum", max),
        ("exclusiveMaximum", "maximum", min),
    ):
        value = out.get(exclusive)
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        other = out.get(bound)
        if other is not None and tighter(other, value) == other and other != value:
            out.pop(exclusive)  # the inclusive bound is the stricter one
        else:
            out[bound], out[exclusive] = value, True


def schema30(schema: Any) -> Any:
    """One JSON Schema 2020-12 schema (OpenAPI 3.1) as an OpenAPI 3.0 Schema Object.

    >>> schema30({"anyOf": [{"type": "integer", "exclusiveMinimum": 0}, {"type": "null"}]})
    {'nullable': True, 'type': 'integer', 'exclusiveMinimum': True, 'minimum': 0}
    >>> schema30({"type": ["string", "null"], "const": "a", "examples": ["a"]})
    {'enum': ['a'], 'example': 'a', 'nullable': True, 'type': 'string'}
    """
    if isinstance(schema, bool):
        return {} if schema else {"not": {}}
    if not isinstance(schema, dict):
        return schema
    out = dict(schema)
    if "$ref" in out and len(out) > 1:  # 3.0 ignores a $ref's siblings
        out = {"allOf": [{"$ref": out.pop("$ref")}], **out}
    if "const" in out:
        out["enum"] = [out.pop("const")]
    examples = out.pop("examples", None)
    if isinstance(examples, list) and examples and "example" not in out:
        out["example"] = examples[0]
    prefix = out.pop("prefixItems", None)
    if isinstance(prefix, list) and prefix and "items" not in out:
        out["items"] = {"anyOf": prefix}
    _types(out)
    _null_alternatives(out)
    _bounds(out)
    if isinstance(out.get("enum"), list):
        # 3.0.3: an enum restricts a nullable schema too, so null must be listed
        if None in out["enum"]:
            out["nullable"] = True
        elif out.get("nullable"):
            out["enum"] = [*out["enum"], None]
    if out.get("type") == "array" and "items" not in out:
        out["items"] = {}
    converted: dict[str, Any] = {}
    for key, value in out.items():
        if key not in _SCHEMA30_KEYS and not key.startswith("x-"):
            continue
        if key in ("allOf", "anyOf", "oneOf"):
            value = [schema30(v) for v in value]
        elif key in ("items", "not") or (key == "additionalProperties" and value is not True):
            value = schema30(value)
        elif key == "properties":
            value = {name: schema30(v) for name, v in value.items()}
        converted[key] = value
    return converted


def _media30(content: dict[str, Any]) -> dict[str, Any]:
    return {
        media: {**body, "schema": schema30(body["schema"])} if "schema" in body else body
        for media, body in content.items()
    }


def _parameter30(parameter: dict[str, Any]) -> dict[str, Any]:
    """A Parameter or Header Object (a ``$ref`` is left alone)."""
    out = dict(parameter)
    if "schema" in out:
        out["schema"] = schema30(out["schema"])
    if "content" in out:
        out["content"] = _media30(out["content"])
    return out


def _response30(response: dict[str, Any]) -> dict[str, Any]:
    out = dict(response)
    if "content" in out:
        out["content"] = _media30(out["content"])
    if "headers" in out:
        out["headers"] = {name: _parameter30(h) for name, h in out["headers"].items()}
    return out


def _operation30(operation: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in operation.items() if k != "callbacks"}  # 3.1 path items inside
    if "parameters" in out:
        out["parameters"] = [_parameter30(p) for p in out["parameters"]]
    if "requestBody" in out and "content" in out["requestBody"]:
        out["requestBody"] = {
            **out["requestBody"],
            "content": _media30(out["requestBody"]["content"]),
        }
    out["responses"] = {
        status: _response30(r) for status, r in out.get("responses", {}).items()
    } or {"default": {"description": "Any answer"}}
    return out


def _path30(item: dict[str, Any]) -> dict[str, Any]:
    out = dict(item)
    for method in _OPERATIONS:
        if method in out:
            out[method] = _operation30(out[method])
    if "parameters" in out:
        out["parameters"] = [_parameter30(p) for p in out["parameters"]]
    return out


def openapi30(document: dict[str, Any]) -> dict[str, Any]:
    """FastAPI's OpenAPI 3.1 document as a valid OpenAPI 3.0.3 one (a new dict).

    Served as the STAC ``service-desc`` so the ``oas30`` conformance claim is true;
    ``/openapi.json`` keeps the 3.1 original.  Top-level 3.1 additions (``webhooks``,
    ``jsonSchemaDialect``, ``info.summary``, ``license.identifier``, path items in
    components) have no 3.0 form and are left out.
    """
    info = {k: v for k, v in document.get("info", {}).items() if k != "summary"}
    if isinstance(info.get("license"), dict):
        info["license"] = {k: v for k, v in info["license"].items() if k != "identifier"}
    out: dict[str, Any] = {
        key: value
        for key, value in document.items()
        if key not in ("openapi", "info", "paths", "components", "webhooks", "jsonSchemaDialect")
    }
    out = {"openapi": "3.0.3", "info": info, **out}
    out["paths"] = {path: _path30(item) for path, item in document.get("paths", {}).items()}
    components = dict(document.get("components", {}))
    components.pop("pathItems", None)
    converters: dict[str, Any] = {
        "schemas": schema30,
        "parameters": _parameter30,
        "headers": _parameter30,
        "responses": _response30,
        "requestBodies": lambda body: {**body, "content": _media30(body.get("content", {}))},
    }
    for kind, convert in converters.items():
        if kind in components:
            components[kind] = {name: convert(v) for name, v in components[kind].items()}
    if components:
        out["components"] = components
    return out
