"""Record checks: what makes a STAC item, ice chart cell or parcel usable.

Each check raises the most specific :mod:`eokg.errors` class with ``where``
naming the file and record (line or index, and id), so that one bad record in
a 100 GB file can be found.  Checks are strict on what eokg's mappings rely on
and lenient on everything else (unknown STAC properties are fine).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import shapely
from pyproj import CRS
from pyproj.exceptions import CRSError as ProjCRSError

from eokg.data.concepts import concept_keys
from eokg.errors import CRSError, GeometryError, InputError, ItemValidationError

POLARISATIONS = frozenset({"HH", "HV", "VV", "VH"})
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
_CRS_PREFIX = re.compile(r"^\s*<([^>]*)>\s*(.*)$", re.DOTALL)
_OGC_CRS = re.compile(r"^https?://www\.opengis\.net/def/crs/(EPSG|OGC)/[^/]+/([^/]+)$")
CRS84_IRI = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"


def record_where(path: object, position: str, record_id: object = None) -> str:
    """``file: line 3 (id 'x')``: how every loader error names its record."""
    suffix = f" (id {record_id!r})" if record_id is not None else ""
    return f"{path}: {position}{suffix}"


def parse_datetime(value: Any, field: str, where: str) -> dt.datetime:
    """An RFC 3339 timestamp with a time zone, as STAC requires."""
    if not isinstance(value, str) or not _RFC3339.match(value):
        raise ItemValidationError(f"{field} {value!r} is not an RFC 3339 datetime", where=where)
    try:
        return dt.datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError as exc:
        raise ItemValidationError(
            f"{field} {value!r} is not a valid datetime: {exc}", where=where
        ) from exc


def check_stac_item(item: Any, where: str) -> None:
    """The parts of a STAC 1.x item that eokg maps and indexes."""
    if not isinstance(item, dict) or item.get("type") != "Feature":
        raise ItemValidationError("a STAC item must be a GeoJSON Feature object", where=where)
    if not isinstance(item.get("id"), str) or not item["id"]:
        raise ItemValidationError("a STAC item needs a string id", where=where)
    if "geometry" not in item:
        raise ItemValidationError("missing geometry (use null for none)", where=where)
    if item["geometry"] is not None:
        if "bbox" not in item:
            raise ItemValidationError("an item with a geometry needs a bbox", where=where)
        try:
            geom = shapely.geometry.shape(item["geometry"])
        except Exception as exc:  # shapely raises several types for bad GeoJSON
            raise GeometryError(f"invalid GeoJSON geometry: {exc}", where=where) from exc
        if not geom.is_valid:
            raise GeometryError(f"invalid geometry: {shapely.is_valid_reason(geom)}", where=where)
    props = item.get("properties")
    if not isinstance(props, dict):
        raise ItemValidationError("a STAC item needs a properties object", where=where)
    if props.get("datetime") is None:
        if "start_datetime" not in props or "end_datetime" not in props:
            raise ItemValidationError(
                "datetime is null, so start_datetime and end_datetime are required", where=where
            )
    else:
        parse_datetime(props["datetime"], "datetime", where)
    for field in ("start_datetime", "end_datetime"):
        if field in props:
            parse_datetime(props[field], field, where)
    pols = props.get("sar:polarizations")
    if pols is not None:
        unknown = [p for p in pols if p not in POLARISATIONS] if isinstance(pols, list) else [pols]
        if unknown:
            raise ItemValidationError(
                f"unknown polarisation {unknown[0]!r} (expected HH, HV, VV or VH)", where=where
            )
    if not isinstance(item.get("assets", {}), dict):
        raise ItemValidationError("assets must be an object", where=where)


def crs_from_iri(iri: str, where: str) -> CRS:
    """The CRS named by an OGC CRS IRI such as ``.../def/crs/EPSG/0/4326``."""
    if iri == CRS84_IRI:
        return CRS.from_user_input("OGC:CRS84")
    match = _OGC_CRS.match(iri)
    if not match:
        raise CRSError(f"unsupported CRS IRI <{iri}>", where=where)
    authority, code = match.groups()
    try:
        return CRS.from_user_input(f"{authority}:{code}")
    except ProjCRSError as exc:
        raise CRSError(f"unknown CRS {authority}:{code}", where=where) from exc


def parse_wkt_literal(text: Any, where: str) -> tuple[shapely.Geometry, str]:
    """A GeoSPARQL WKT literal: optional ``<crs IRI>`` prefix, then WKT.

    Returns the geometry and the CRS IRI (CRS84 when there is no prefix).
    """
    if not isinstance(text, str) or not text.strip():
        raise GeometryError("empty WKT", where=where)
    crs_iri = CRS84_IRI
    match = _CRS_PREFIX.match(text)
    if match:
        crs_iri, text = match.groups()
        crs_from_iri(crs_iri, where)
    try:
        geom = shapely.from_wkt(text)
    except shapely.errors.GEOSException as exc:
        raise GeometryError(f"malformed WKT {text[:60]!r}: {exc}", where=where) from exc
    return geom, crs_iri


def check_geometry(geom: shapely.Geometry | None, where: str) -> None:
    if geom is None or geom.is_empty:
        raise GeometryError("missing or empty geometry", where=where)
    if not geom.is_valid:
        raise GeometryError(f"invalid geometry: {shapely.is_valid_reason(geom)}", where=where)


def _check_key(scheme: str, field: str, value: Any, where: str) -> None:
    if value not in concept_keys(scheme):
        raise InputError(
            f"unknown {field} {value!r}: not a concept of the {scheme} scheme", where=where
        )


def check_icechart_record(
    record: dict[str, Any], geom: shapely.Geometry | None, where: str
) -> None:
    """An ice chart polygon: valid polygon, ct in [0, 100], known stage, real date."""
    ct = record.get("ct")
    if isinstance(ct, bool) or not isinstance(ct, int) or not 0 <= ct <= 100:
        raise InputError(
            f"ct {ct!r} outside [0, 100] (total concentration in percent)", where=where
        )
    _check_key("seaice", "stage of development", record.get("sa"), where)
    try:
        dt.date.fromisoformat(str(record.get("chart_date")))
    except ValueError as exc:
        raise InputError(f"invalid chart_date {record.get('chart_date')!r}", where=where) from exc
    check_geometry(geom, where)


def check_parcel_record(record: dict[str, Any], geom: shapely.Geometry | None, where: str) -> None:
    """A field parcel: valid polygon and a crop of the crop scheme."""
    _check_key("crop", "crop", record.get("crop"), where)
    check_geometry(geom, where)
