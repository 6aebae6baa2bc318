"""FnO functions a mapping may call, vectorised over Arrow arrays.

Each function takes whole columns (one Arrow array per parameter, all of the
batch's length) and returns the result column plus a column of reasons (null
where the row is fine).  A reason rejects that record for its triples map
instead of stopping the job: one malformed WKT in ten million rows must not
cost the other 9,999,999.

Geometry functions follow GeoTriples (asWKT, asGeoJSON, area, length,
centroid, envelope, isValid, dimension) and always answer in CRS84, the CRS a
GeoSPARQL ``geo:wktLiteral`` without prefix means.  Input geometries may be WKB
(GeoParquet, pyogrio), WKT (optionally with a ``<crs-iri>`` prefix) or GeoJSON.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

EOFN = "https://w3id.org/eokg/function#"
GEOTRIPLES = "http://www.w3.org/ns/r2rml-ext/functions/def/"
GREL = "http://users.ugent.be/~bjdmeest/function/grel.ttl#"
IDLAB = "https://w3id.org/imec/idlab/function#"

P_GEOMETRY = EOFN + "geometry"
P_CRS = EOFN + "crs"
P_VALUE = EOFN + "value"
P_LON = EOFN + "lon"
P_LAT = EOFN + "lat"
P_SIZE = EOFN + "size"
P_TABLE = EOFN + "table"
P_TEST = EOFN + "test"
P_MIN = EOFN + "min"
P_MAX = EOFN + "max"
P_SCHEME = EOFN + "scheme"
P_ALLOWED = EOFN + "allowed"
P_LENGTH = EOFN + "length"
P_REQUIRED = EOFN + "required"
P_VALID = EOFN + "valid"

WKT_DIGITS = 7  # ~1 cm in degrees: enough for EO footprints, stable across engines
_CRS84_NAMES = {
    "CRS84",
    "OGC:CRS84",
    "EPSG:4326",
    "4326",
    "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
    "http://www.opengis.net/def/crs/EPSG/0/4326",
}
_WKT_CRS_PREFIX = re.compile(r"^\s*<([^>]*)>\s*(.*)$", re.S)

Result = tuple[pa.Array, pa.Array | None]
Impl = Callable[[dict[str, pa.Array], int], Result]


@dataclass(frozen=True)
class FunctionSpec:
    impl: Impl
    params: tuple[str, ...]  # positional order (for rrx:argumentMap)
    required: tuple[str, ...]
    aliases: dict[str, str] = field(default_factory=dict)
    #: parameters that take a value whole (JSON text / WKB) rather than one term per element
    raw: tuple[str, ...] = ()


# ------------------------------------------------------------------ geometry


@lru_cache(maxsize=64)
def _transformer(crs: str) -> Any:
    """pyproj transformer from ``crs`` to CRS84 (lon/lat), or None for CRS84 itself."""
    if crs.strip() in _CRS84_NAMES:
        return None
    from pyproj import CRS, Transformer

    text = crs.strip()
    match = re.match(r"^https?://www\.opengis\.net/def/crs/(EPSG|OGC)/[^/]+/(\w+)$", text)
    if match:
        text = f"{match.group(1)}:{match.group(2)}"
    elif text.isdigit():
        text = f"EPSG:{text}"
    source = CRS.from_user_input(text)  # raises CRSError for unknown codes
    return Transformer.from_crs(source, CRS.from_user_input("OGC:CRS84"), always_xy=True)


def _is_geographic(crs: str | None) -> bool:
    if crs is None or crs.strip() in _CRS84_NAMES:
        return True
    try:
        from pyproj import CRS

        return bool(CRS.from_user_input(crs.strip()).is_geographic)
    except Exception:
        return False


def parse_geometries(values: pa.Array) -> tuple[np.ndarray, list[str | None], list[str | None]]:
    """Column of WKB/WKT/GeoJSON -> (shapely geometries, CRS from WKT prefix, reasons)."""
    import shapely

    n = len(values)
    reasons: list[str | None] = [None] * n
    crs: list[str | None] = [None] * n
    if pa.types.is_binary(values.type) or pa.types.is_large_binary(values.type):
        geoms = shapely.from_wkb(values.to_numpy(zero_copy_only=False), on_invalid="ignore")
        for bad in np.flatnonzero(pd_isnull(geoms) & ~np.asarray(values.is_null())):
            reasons[bad] = "unparseable WKB geometry"
        return geoms, crs, reasons
    texts = values.cast(pa.string()).to_numpy(zero_copy_only=False).astype(object)
    is_json = np.array([isinstance(t, str) and t.lstrip()[:1] == "{" for t in texts])
    geoms = np.empty(n, dtype=object)
    for i, text in enumerate(texts):
        if isinstance(text, str) and text.lstrip()[:1] == "<":
            match = _WKT_CRS_PREFIX.match(text)
            if match:
                crs[i] = match.group(1)
                texts[i] = match.group(2)
    wkt_mask = ~is_json & np.array([isinstance(t, str) for t in texts])
    if wkt_mask.any():
        geoms[wkt_mask] = shapely.from_wkt(texts[wkt_mask], on_invalid="ignore")
    if is_json.any():
        geoms[is_json] = shapely.from_geojson(texts[is_json], on_invalid="ignore")
    for i in range(n):
        if texts[i] is not None and geoms[i] is None:
            # JSON quoting, not repr: the Sedona SQL path writes the same reason
            shown = json.dumps(str(texts[i])[:60], ensure_ascii=False)
            reasons[i] = f"unparseable {'GeoJSON' if is_json[i] else 'WKT'} geometry: {shown}"
        elif geoms[i] is not None and shapely.is_empty(geoms[i]) and str(texts[i]).strip() == "":
            reasons[i] = "empty geometry text"
    return geoms, crs, reasons


def pd_isnull(geoms: np.ndarray) -> np.ndarray:
    return np.array([g is None for g in geoms], dtype=bool)


def _to_crs84(
    geoms: np.ndarray,
    crs_col: pa.Array | None,
    prefix_crs: list[str | None],
    reasons: list[str | None],
) -> np.ndarray:
    """Reproject each geometry from its CRS (parameter or WKT prefix) to CRS84."""
    import shapely

    n = len(geoms)
    crs_values: list[str | None] = (
        crs_col.cast(pa.string()).to_pylist() if crs_col is not None else [None] * n
    )
    by_crs: dict[str, list[int]] = {}
    for i in range(n):
        code = prefix_crs[i] or crs_values[i]
        if code is not None and geoms[i] is not None:
            by_crs.setdefault(str(code), []).append(i)
    out = geoms.copy()
    for code, rows in by_crs.items():
        try:
            transformer = _transformer(code)
        except Exception:
            for i in rows:
                reasons[i] = f"unknown CRS {code!r}"
                out[i] = None
            continue
        if transformer is None:
            continue
        idx = np.asarray(rows)
        out[idx] = shapely.transform(
            geoms[idx], lambda xy, t=transformer: np.column_stack(t.transform(xy[:, 0], xy[:, 1]))
        )
        bad = [i for i in rows if not np.all(np.isfinite(shapely.get_coordinates(out[i])))]
        for i in bad:
            reasons[i] = f"coordinates outside the domain of CRS {code!r}"
            out[i] = None
    return out


def _flag(args: dict[str, pa.Array], name: str) -> bool:
    col = args.get(name)
    return col is not None and len(col) > 0 and str(col[0].as_py()).lower() in ("true", "1")


def _geom_input(args: dict[str, pa.Array], n: int) -> tuple[np.ndarray, list[str | None]]:
    """Parsed, checked and reprojected geometries.  ``eofn:required true`` rejects a
    record without geometry; ``eofn:valid true`` rejects invalid (e.g. self-intersecting)
    ones, which GeoSPARQL engines would silently mis-answer."""
    import shapely

    geoms, prefix_crs, reasons = parse_geometries(args[P_GEOMETRY])
    if _flag(args, P_REQUIRED):
        for missing in np.flatnonzero(np.asarray(args[P_GEOMETRY].is_null())):
            reasons[missing] = "missing geometry"
    if _flag(args, P_VALID):
        for i, g in enumerate(geoms):
            if g is not None and not shapely.is_valid(g):
                reasons[i] = f"invalid geometry: {shapely.is_valid_reason(g)}"
    geoms = _to_crs84(geoms, args.get(P_CRS), prefix_crs, reasons)
    return geoms, reasons


def _strings(values: list[Any]) -> pa.Array:
    return pa.array(values, type=pa.string())


def _reasons(reasons: list[str | None]) -> pa.Array | None:
    return pa.array(reasons, type=pa.string()) if any(reasons) else None


def _wkt(geoms: np.ndarray) -> list[str | None]:
    import shapely

    out: list[str | None] = [None] * len(geoms)
    mask = ~pd_isnull(geoms)
    if mask.any():
        texts = shapely.to_wkt(geoms[mask], rounding_precision=WKT_DIGITS, trim=True)
        for i, text in zip(np.flatnonzero(mask), texts, strict=True):
            out[i] = text
    return out


def fn_as_wkt(args: dict[str, pa.Array], n: int) -> Result:
    geoms, reasons = _geom_input(args, n)
    return _strings(_wkt(geoms)), _reasons(reasons)


def fn_as_geojson(args: dict[str, pa.Array], n: int) -> Result:
    import shapely

    geoms, reasons = _geom_input(args, n)
    out = [shapely.to_geojson(g) if g is not None else None for g in geoms]
    return _strings(out), _reasons(reasons)


def _measure(args: dict[str, pa.Array], n: int, kind: str) -> Result:
    """Area (m²) or length (m): geodesic on the WGS84 ellipsoid for geographic input,
    planar in the source CRS's unit otherwise, as GeoTriples does."""
    import shapely
    from pyproj import Geod

    geoms, prefix_crs, reasons = parse_geometries(args[P_GEOMETRY])
    crs_col = args.get(P_CRS)
    crs_values = crs_col.cast(pa.string()).to_pylist() if crs_col is not None else [None] * n
    geod = Geod(ellps="WGS84")
    out: list[float | None] = [None] * n
    for i, g in enumerate(geoms):
        if g is None:
            continue
        code = prefix_crs[i] or crs_values[i]
        if _is_geographic(code):
            area, perimeter = geod.geometry_area_perimeter(g)
            out[i] = (
                abs(area)
                if kind == "area"
                else (
                    geod.geometry_length(g)
                    if g.geom_type in ("LineString", "MultiLineString")
                    else perimeter
                )
            )
        else:
            out[i] = float(shapely.area(g) if kind == "area" else shapely.length(g))
    return pa.array(out, type=pa.float64()), _reasons(reasons)


def fn_area(args: dict[str, pa.Array], n: int) -> Result:
    return _measure(args, n, "area")


def fn_length(args: dict[str, pa.Array], n: int) -> Result:
    return _measure(args, n, "length")


def fn_centroid(args: dict[str, pa.Array], n: int) -> Result:
    import shapely

    geoms, reasons = _geom_input(args, n)
    mask = ~pd_isnull(geoms)
    geoms[mask] = shapely.centroid(geoms[mask])
    return _strings(_wkt(geoms)), _reasons(reasons)


def fn_envelope(args: dict[str, pa.Array], n: int) -> Result:
    import shapely

    geoms, reasons = _geom_input(args, n)
    mask = ~pd_isnull(geoms)
    geoms[mask] = shapely.envelope(geoms[mask])
    return _strings(_wkt(geoms)), _reasons(reasons)


def fn_is_valid(args: dict[str, pa.Array], n: int) -> Result:
    import shapely

    geoms, _, reasons = parse_geometries(args[P_GEOMETRY])
    out = [bool(shapely.is_valid(g)) if g is not None else None for g in geoms]
    return pa.array(out, type=pa.bool_()), _reasons(reasons)


def fn_dimension(args: dict[str, pa.Array], n: int) -> Result:
    import shapely

    geoms, _, reasons = parse_geometries(args[P_GEOMETRY])
    out = [int(shapely.get_dimensions(g)) if g is not None else None for g in geoms]
    return pa.array(out, type=pa.int64()), _reasons(reasons)


def fn_square_around(args: dict[str, pa.Array], n: int) -> Result:
    """A square of ``size`` metres centred on lon/lat: an image patch's footprint."""
    lon = _floats(args[P_LON])
    lat = _floats(args[P_LAT])
    size = _floats(args[P_SIZE]) if P_SIZE in args else np.full(n, 3000.0)
    half_lat = size / 2 / 111_320.0
    half_lon = half_lat / np.maximum(np.cos(np.radians(lat)), 1e-6)
    out: list[str | None] = [None] * n
    reasons: list[str | None] = [None] * n
    for i in range(n):
        if np.isnan(lon[i]) or np.isnan(lat[i]) or np.isnan(size[i]):
            continue
        if not (-180 <= lon[i] <= 180 and -90 <= lat[i] <= 90):
            reasons[i] = f"lon/lat out of range: {lon[i]}, {lat[i]}"
            continue
        x0, x1 = round(lon[i] - half_lon[i], WKT_DIGITS), round(lon[i] + half_lon[i], WKT_DIGITS)
        y0, y1 = round(lat[i] - half_lat[i], WKT_DIGITS), round(lat[i] + half_lat[i], WKT_DIGITS)
        out[i] = f"POLYGON (({x0} {y0}, {x1} {y0}, {x1} {y1}, {x0} {y1}, {x0} {y0}))"
    return _strings(out), _reasons(reasons)


def _floats(values: pa.Array) -> np.ndarray:
    """Numbers from a string/number column; non-numbers (e.g. "na") become NaN."""
    out = np.full(len(values), np.nan)
    for i, v in enumerate(values.to_pylist()):
        try:
            out[i] = float(v) if v is not None else np.nan
        except (TypeError, ValueError):
            out[i] = np.nan
    return out


def fn_to_json(args: dict[str, pa.Array], n: int) -> Result:
    """JSON text of a value; raw references already arrive as JSON text."""
    values = args[P_VALUE]
    if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
        return values, None
    return _strings([json.dumps(v) if v is not None else None for v in values.to_pylist()]), None


def fn_lookup(args: dict[str, pa.Array], n: int) -> Result:
    table_col = args[P_TABLE].to_pylist()
    values = args[P_VALUE].cast(pa.string()).to_pylist()
    cache: dict[str, dict[str, Any]] = {}
    out: list[str | None] = [None] * n
    reasons: list[str | None] = [None] * n
    for i, (value, table) in enumerate(zip(values, table_col, strict=True)):
        if value is None or table is None:
            continue
        if table not in cache:
            cache[table] = json.loads(table)
        found = cache[table].get(value)
        if found is None:
            reasons[i] = f"value {value!r} not in lookup table"
        else:
            out[i] = str(found)
    return _strings(out), _reasons(reasons)


def fn_if_present(args: dict[str, pa.Array], n: int) -> Result:
    """The value where ``test`` has a value, else nothing: optional parts of a record."""
    value = args[P_VALUE]
    test = args[P_TEST]
    return pc.if_else(pc.is_valid(test), value, pa.scalar(None, value.type)), None


def fn_lower(args: dict[str, pa.Array], n: int) -> Result:
    return pc.utf8_lower(args[P_VALUE].cast(pa.string())), None


def fn_upper(args: dict[str, pa.Array], n: int) -> Result:
    return pc.utf8_upper(args[P_VALUE].cast(pa.string())), None


def fn_number(args: dict[str, pa.Array], n: int) -> Result:
    """A number checked against an inclusive range; out of range rejects the record."""
    values = args[P_VALUE].cast(pa.string()).to_pylist()
    low = _floats(args[P_MIN]) if P_MIN in args else np.full(n, -np.inf)
    high = _floats(args[P_MAX]) if P_MAX in args else np.full(n, np.inf)
    out: list[str | None] = [None] * n
    reasons: list[str | None] = [None] * n
    for i, v in enumerate(values):
        if v is None:
            continue
        try:
            number = float(v)
        except ValueError:
            reasons[i] = f"not a number: {v!r}"
            continue
        if not (low[i] <= number <= high[i]) or math.isnan(number):
            reasons[i] = f"{v} outside [{low[i]:g}, {high[i]:g}]"
        else:
            out[i] = v
    return _strings(out), _reasons(reasons)


def fn_optional_number(args: dict[str, pa.Array], n: int) -> Result:
    """Like ``number``, but a non-number (Statoil's ``"na"``) means "unknown", not bad."""
    values = args[P_VALUE].cast(pa.string()).to_pylist()
    cleaned = []
    for v in values:
        try:
            cleaned.append(v if v is not None and not math.isnan(float(v)) else None)
        except ValueError:
            cleaned.append(None)
    return fn_number({**args, P_VALUE: _strings(cleaned)}, n)


def fn_concept(args: dict[str, pa.Array], n: int) -> Result:
    """The IRI of concept ``value`` of ``scheme`` (seaice, crop, product); unknown keys reject."""
    from eokg.data.concepts import concept_iri, concept_keys

    values = args[P_VALUE].cast(pa.string()).to_pylist()
    schemes = args[P_SCHEME].cast(pa.string()).to_pylist()
    out: list[str | None] = [None] * n
    reasons: list[str | None] = [None] * n
    for i, (value, scheme) in enumerate(zip(values, schemes, strict=True)):
        if value is None or scheme is None:
            continue
        if value in concept_keys(scheme):
            out[i] = concept_iri(scheme, value)
        else:
            reasons[i] = f"unknown {scheme} concept {value!r}"
    return _strings(out), _reasons(reasons)


def fn_one_of(args: dict[str, pa.Array], n: int) -> Result:
    """The value if it is one of the space-separated ``allowed`` words, else a reject."""
    values = args[P_VALUE].cast(pa.string()).to_pylist()
    allowed = args[P_ALLOWED].cast(pa.string()).to_pylist()
    out: list[str | None] = [None] * n
    reasons: list[str | None] = [None] * n
    for i, (value, words) in enumerate(zip(values, allowed, strict=True)):
        if value is None:
            continue
        if words is not None and value in words.split():
            out[i] = value
        else:
            reasons[i] = f"{value!r} is not one of {words}"
    return _strings(out), _reasons(reasons)


def _check_temporal(args: dict[str, pa.Array], n: int, kind: str) -> Result:
    import datetime as dt

    values = args[P_VALUE].cast(pa.string()).to_pylist()
    out: list[str | None] = [None] * n
    reasons: list[str | None] = [None] * n
    for i, v in enumerate(values):
        if v is None:
            continue
        try:
            if kind == "date":
                dt.date.fromisoformat(v)
            else:
                parsed = dt.datetime.fromisoformat(v.replace("Z", "+00:00"))
                if "T" not in v:
                    raise ValueError("no time part")
                del parsed
            out[i] = v
        except ValueError:
            reasons[i] = f"invalid {kind} {v!r}"
    if args.get(P_REQUIRED) is not None and _flag(args, P_REQUIRED):
        for i, v in enumerate(values):
            if v is None:
                reasons[i] = f"missing {kind}"
    return _strings(out), _reasons(reasons)


def fn_datetime(args: dict[str, pa.Array], n: int) -> Result:
    return _check_temporal(args, n, "dateTime")


def fn_date(args: dict[str, pa.Array], n: int) -> Result:
    return _check_temporal(args, n, "date")


def fn_tensor(args: dict[str, pa.Array], n: int) -> Result:
    """A numeric JSON array of ``length`` values, as compact JSON text: a band literal."""
    values = args[P_VALUE].to_pylist()
    lengths = _floats(args[P_LENGTH]) if P_LENGTH in args else np.full(n, np.nan)
    out: list[str | None] = [None] * n
    reasons: list[str | None] = [None] * n
    for i, text in enumerate(values):
        if text is None:
            continue
        try:
            array = json.loads(text) if isinstance(text, str) else text
        except ValueError:
            reasons[i] = "tensor is not JSON"
            continue
        if not isinstance(array, list):
            reasons[i] = "tensor is not an array"
            continue
        if not np.isnan(lengths[i]) and len(array) != int(lengths[i]):
            reasons[i] = f"tensor has {len(array)} values, not {int(lengths[i])}"
            continue
        if not all(
            isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)
            for x in array
        ):
            reasons[i] = "non-numeric value in tensor"
            continue
        out[i] = text if isinstance(text, str) else json.dumps(array, separators=(",", ":"))
    return _strings(out), _reasons(reasons)


_GEOM = (P_GEOMETRY, P_CRS, P_REQUIRED, P_VALID)
_GEOM_ALIASES = {P_VALUE: P_GEOMETRY, GREL + "valueParameter": P_GEOMETRY}
_VALUE_ALIASES = {GREL + "valueParameter": P_VALUE}

FUNCTIONS: dict[str, FunctionSpec] = {
    EOFN + "asWKT": FunctionSpec(fn_as_wkt, _GEOM, (P_GEOMETRY,), _GEOM_ALIASES, (P_GEOMETRY,)),
    EOFN + "toCRS84": FunctionSpec(fn_as_wkt, _GEOM, (P_GEOMETRY,), _GEOM_ALIASES, (P_GEOMETRY,)),
    EOFN + "asGeoJSON": FunctionSpec(
        fn_as_geojson, _GEOM, (P_GEOMETRY,), _GEOM_ALIASES, (P_GEOMETRY,)
    ),
    EOFN + "area": FunctionSpec(fn_area, _GEOM, (P_GEOMETRY,), _GEOM_ALIASES, (P_GEOMETRY,)),
    EOFN + "length": FunctionSpec(fn_length, _GEOM, (P_GEOMETRY,), _GEOM_ALIASES, (P_GEOMETRY,)),
    EOFN + "centroid": FunctionSpec(
        fn_centroid, _GEOM, (P_GEOMETRY,), _GEOM_ALIASES, (P_GEOMETRY,)
    ),
    EOFN + "envelope": FunctionSpec(
        fn_envelope, _GEOM, (P_GEOMETRY,), _GEOM_ALIASES, (P_GEOMETRY,)
    ),
    EOFN + "isValid": FunctionSpec(fn_is_valid, _GEOM, (P_GEOMETRY,), _GEOM_ALIASES, (P_GEOMETRY,)),
    EOFN + "dimension": FunctionSpec(
        fn_dimension, _GEOM, (P_GEOMETRY,), _GEOM_ALIASES, (P_GEOMETRY,)
    ),
    EOFN + "squareAround": FunctionSpec(fn_square_around, (P_LON, P_LAT, P_SIZE), (P_LON, P_LAT)),
    EOFN + "toJSON": FunctionSpec(fn_to_json, (P_VALUE,), (P_VALUE,), _VALUE_ALIASES, (P_VALUE,)),
    EOFN + "lookup": FunctionSpec(
        fn_lookup, (P_VALUE, P_TABLE), (P_VALUE, P_TABLE), _VALUE_ALIASES
    ),
    EOFN + "ifPresent": FunctionSpec(fn_if_present, (P_VALUE, P_TEST), (P_VALUE, P_TEST)),
    EOFN + "number": FunctionSpec(fn_number, (P_VALUE, P_MIN, P_MAX), (P_VALUE,), _VALUE_ALIASES),
    EOFN + "optionalNumber": FunctionSpec(
        fn_optional_number, (P_VALUE, P_MIN, P_MAX), (P_VALUE,), _VALUE_ALIASES
    ),
    EOFN + "concept": FunctionSpec(fn_concept, (P_VALUE, P_SCHEME), (P_VALUE, P_SCHEME)),
    EOFN + "oneOf": FunctionSpec(fn_one_of, (P_VALUE, P_ALLOWED), (P_VALUE, P_ALLOWED)),
    EOFN + "dateTime": FunctionSpec(fn_datetime, (P_VALUE, P_REQUIRED), (P_VALUE,)),
    EOFN + "date": FunctionSpec(fn_date, (P_VALUE, P_REQUIRED), (P_VALUE,)),
    EOFN + "tensor": FunctionSpec(fn_tensor, (P_VALUE, P_LENGTH), (P_VALUE,), raw=(P_VALUE,)),
    EOFN + "lower": FunctionSpec(fn_lower, (P_VALUE,), (P_VALUE,), _VALUE_ALIASES),
    EOFN + "upper": FunctionSpec(fn_upper, (P_VALUE,), (P_VALUE,), _VALUE_ALIASES),
}

#: Other vocabularies' IRIs for the same functions (GeoTriples, GREL).
_SYNONYMS = {
    GEOTRIPLES + "asWKT": EOFN + "asWKT",
    GEOTRIPLES + "asGeoJSON": EOFN + "asGeoJSON",
    GEOTRIPLES + "area": EOFN + "area",
    GEOTRIPLES + "length": EOFN + "length",
    GEOTRIPLES + "centroid": EOFN + "centroid",
    GEOTRIPLES + "envelope": EOFN + "envelope",
    GEOTRIPLES + "isValid": EOFN + "isValid",
    GEOTRIPLES + "dimension": EOFN + "dimension",
    GREL + "toLowerCase": EOFN + "lower",
    GREL + "toUpperCase": EOFN + "upper",
}


def canonical_function(iri: str) -> str | None:
    if iri in FUNCTIONS:
        return iri
    return _SYNONYMS.get(iri)


def positional_params(canonical: str) -> tuple[str, ...]:
    return FUNCTIONS[canonical].params
