"""Streaming readers for the formats EO data really comes in.

Nothing here reads a whole file into memory: big JSON arrays (the Statoil
``train.json``, STAC ItemCollections) are parsed incrementally with ijson,
NDJSON line by line, GeoParquet by row group, and GeoJSON / Shapefile /
GeoPackage through pyogrio's Arrow reader in batches.  Records come out as
dicts (``iter_*``) or as Arrow record batches (``*_batches``) with the geometry
as WKB or WKT in a column named ``geometry``.

Every error names the file and the record (line number or index, and id when
known).  Pass ``on_error`` to collect errors and keep going instead of stopping
at the first bad record.
"""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, Literal

import ijson
import pyarrow as pa
import pyarrow.parquet as pq
import shapely

from eokg.data.checks import (
    check_icechart_record,
    check_parcel_record,
    check_stac_item,
    parse_wkt_literal,
    record_where,
)
from eokg.data.statoil import BAND_LENGTH, StatoilPatch, check_record, to_patch
from eokg.errors import EokgError, InputError

log = logging.getLogger(__name__)

ErrorHandler = Callable[[EokgError], None]
GeometryEncoding = Literal["wkb", "wkt"]
DEFAULT_BATCH_SIZE = 10_000
_PARQUET_SUFFIXES = {".parquet", ".geoparquet", ".pq"}
_NDJSON_SUFFIXES = {".ndjson", ".jsonl", ".geojsonl", ".geojsons"}


def _handle(error: EokgError, on_error: ErrorHandler | None) -> None:
    if on_error is None:
        raise error
    on_error(error)


def _open_file(path: Path) -> Any:
    path = Path(path)
    if not path.is_file():
        raise InputError("file not found", where=str(path))
    return path.open("rb")


# ------------------------------------------------------------------ JSON


def iter_json_array(path: Path, prefix: str = "item") -> Iterator[tuple[int, Any]]:
    """(index, element) of a big JSON array, parsed incrementally.

    ``prefix`` is an ijson path: ``"item"`` for a top-level array,
    ``"features.item"`` for the features of a FeatureCollection.  A syntax
    error stops the stream, naming the index of the element being parsed.
    """
    index = -1
    with _open_file(path) as fh:
        try:
            for index, element in enumerate(ijson.items(fh, prefix, use_float=True)):
                yield index, element
        except ijson.JSONError as exc:
            raise InputError(
                f"invalid JSON: {exc}", where=record_where(path, f"record {index + 1}")
            ) from exc


def iter_ndjson(path: Path, *, on_error: ErrorHandler | None = None) -> Iterator[tuple[int, Any]]:
    """(line number, document) of a newline-delimited JSON file; blank lines skipped."""
    with _open_file(path) as fh:
        for line_no, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                yield line_no, json.loads(line)
            except ValueError as exc:
                _handle(
                    InputError(f"invalid JSON: {exc}", where=record_where(path, f"line {line_no}")),
                    on_error,
                )


def _first_char(path: Path) -> str:
    with _open_file(path) as fh:
        while chunk := fh.read(4096):
            stripped = chunk.lstrip()
            if stripped:
                return chr(stripped[0])
    return ""


# ------------------------------------------------------------- Statoil


def iter_statoil_records(
    path: Path, *, validate: bool = True, on_error: ErrorHandler | None = None
) -> Iterator[dict[str, Any]]:
    """Records of a Statoil/C-CORE JSON file (``train.json``, ``test.json`` or eokg's)."""
    for index, record in iter_json_array(path):
        if validate:
            try:
                check_record(record, where=record_where(path, f"record {index}"))
            except InputError as exc:
                _handle(exc, on_error)
                continue
        yield record


def iter_statoil_patches(
    path: Path, *, on_error: ErrorHandler | None = None
) -> Iterator[StatoilPatch]:
    """Checked records as :class:`~eokg.data.statoil.StatoilPatch` arrays (2x75x75)."""
    for index, record in iter_json_array(path):
        try:
            yield to_patch(record, where=record_where(path, f"record {index}"))
        except InputError as exc:
            _handle(exc, on_error)


STATOIL_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("band_1", pa.list_(pa.float32(), BAND_LENGTH), nullable=False),
        pa.field("band_2", pa.list_(pa.float32(), BAND_LENGTH), nullable=False),
        pa.field("inc_angle", pa.float64()),
        pa.field("is_iceberg", pa.int8()),
        pa.field("lon", pa.float64()),
        pa.field("lat", pa.float64()),
        pa.field("product_id", pa.string()),
        pa.field("datetime", pa.string()),
    ]
)


def _statoil_batch(patches: list[StatoilPatch]) -> pa.RecordBatch:
    columns = {
        "id": [p.id for p in patches],
        "band_1": [p.bands[0].ravel() for p in patches],
        "band_2": [p.bands[1].ravel() for p in patches],
        "inc_angle": [p.inc_angle for p in patches],
        "is_iceberg": [p.is_iceberg for p in patches],
        "lon": [p.lon for p in patches],
        "lat": [p.lat for p in patches],
        "product_id": [p.product_id for p in patches],
        "datetime": [p.datetime for p in patches],
    }
    return pa.RecordBatch.from_pydict(columns, schema=STATOIL_SCHEMA)


def statoil_batches(
    path: Path, *, batch_size: int = 256, on_error: ErrorHandler | None = None
) -> Iterator[pa.RecordBatch]:
    """Statoil records as Arrow batches: bands as fixed-size float32 lists, ``na`` as null."""
    buffer: list[StatoilPatch] = []
    for patch in iter_statoil_patches(path, on_error=on_error):
        buffer.append(patch)
        if len(buffer) >= batch_size:
            yield _statoil_batch(buffer)
            buffer = []
    if buffer:
        yield _statoil_batch(buffer)


# ------------------------------------------------------------------ STAC


def _iter_stac_documents(path: Path, on_error: ErrorHandler | None) -> Iterator[tuple[str, Any]]:
    """(position, item) of an item, an ItemCollection, a JSON array or NDJSON."""
    path = Path(path)
    if path.suffix.lower() in _NDJSON_SUFFIXES:
        for line_no, doc in iter_ndjson(path, on_error=on_error):
            yield f"line {line_no}", doc
        return
    first = _first_char(path)
    if first == "[":
        for index, doc in iter_json_array(path):
            yield f"item {index}", doc
        return
    if first != "{":
        raise InputError(
            "not a STAC item, ItemCollection, JSON array or NDJSON file", where=str(path)
        )
    # One object: an item (small) or an ItemCollection (possibly huge: stream its features).
    with _open_file(path) as fh:
        kind = next((v for p, e, v in ijson.parse(fh) if p == "type" and e == "string"), None)
    if kind == "FeatureCollection":
        for index, doc in iter_json_array(path, "features.item"):
            yield f"feature {index}", doc
    else:
        with _open_file(path) as fh:
            try:
                yield "item 0", json.load(fh)
            except ValueError as exc:
                raise InputError(f"invalid JSON: {exc}", where=str(path)) from exc


def iter_stac_items(
    path: Path, *, validate: bool = True, on_error: ErrorHandler | None = None
) -> Iterator[dict[str, Any]]:
    """STAC items from any of: one item, an ItemCollection, a JSON array, NDJSON."""
    for position, item in _iter_stac_documents(path, on_error):
        if validate:
            item_id = item.get("id") if isinstance(item, dict) else None
            try:
                check_stac_item(item, record_where(path, position, item_id))
            except InputError as exc:
                _handle(exc, on_error)
                continue
        yield item


STAC_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("collection", pa.string()),
        pa.field("datetime", pa.timestamp("s", tz="UTC")),
        pa.field("start_datetime", pa.timestamp("s", tz="UTC")),
        pa.field("end_datetime", pa.timestamp("s", tz="UTC")),
        pa.field("platform", pa.string()),
        pa.field("properties", pa.string()),
        pa.field("assets", pa.string()),
        pa.field("bbox", pa.list_(pa.float64())),
    ]
)


def _timestamp(value: Any) -> Any:
    from eokg.data.checks import parse_datetime

    return None if value is None else parse_datetime(value, "datetime", "")


def _stac_batch(items: list[dict[str, Any]], encoding: GeometryEncoding) -> pa.RecordBatch:
    props = [item.get("properties", {}) for item in items]
    geoms = [
        None if item.get("geometry") is None else shapely.geometry.shape(item["geometry"])
        for item in items
    ]
    columns: dict[str, list[Any]] = {
        "id": [item["id"] for item in items],
        "collection": [item.get("collection") for item in items],
        "datetime": [_timestamp(p.get("datetime")) for p in props],
        "start_datetime": [_timestamp(p.get("start_datetime")) for p in props],
        "end_datetime": [_timestamp(p.get("end_datetime")) for p in props],
        "platform": [p.get("platform") for p in props],
        "properties": [json.dumps(p, separators=(",", ":")) for p in props],
        "assets": [json.dumps(item.get("assets", {}), separators=(",", ":")) for item in items],
        "bbox": [item.get("bbox") for item in items],
    }
    geometry_type = pa.binary() if encoding == "wkb" else pa.string()
    schema = STAC_SCHEMA.append(pa.field("geometry", geometry_type))
    encode = shapely.to_wkb if encoding == "wkb" else shapely.to_wkt
    columns["geometry"] = [None if g is None else encode(g) for g in geoms]
    return pa.RecordBatch.from_pydict(columns, schema=schema)


def stac_item_batches(
    path: Path,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    geometry: GeometryEncoding = "wkb",
    on_error: ErrorHandler | None = None,
) -> Iterator[pa.RecordBatch]:
    """Checked STAC items as Arrow batches; full properties and assets kept as JSON text."""
    buffer: list[dict[str, Any]] = []
    for item in iter_stac_items(path, on_error=on_error):
        buffer.append(item)
        if len(buffer) >= batch_size:
            yield _stac_batch(buffer, geometry)
            buffer = []
    if buffer:
        yield _stac_batch(buffer, geometry)


# --------------------------------------------------------------- vectors


def _geometry_column(schema: pa.Schema, meta: dict[str, Any] | None = None) -> str:
    geo = (schema.metadata or {}).get(b"geo")
    if geo:
        return str(json.loads(geo)["primary_column"])
    if meta is not None:
        return meta.get("geometry_name") or "wkb_geometry"
    return "geometry"


def _normalise(batch: pa.RecordBatch, geom_col: str, encoding: GeometryEncoding) -> pa.RecordBatch:
    """Geometry last, named ``geometry``, as plain WKB binary or WKT text."""
    names = [n for n in batch.schema.names if n != geom_col]
    arrays = [batch.column(n) for n in names]
    if geom_col in batch.schema.names:
        wkb = batch.column(geom_col)
        if pa.types.is_string(wkb.type) or pa.types.is_large_string(wkb.type):
            geoms = shapely.from_wkt(wkb.to_numpy(zero_copy_only=False))
        else:
            if not (pa.types.is_binary(wkb.type) or pa.types.is_large_binary(wkb.type)):
                wkb = wkb.storage  # a geoarrow.wkb extension array
            geoms = shapely.from_wkb(wkb.to_numpy(zero_copy_only=False))
        if encoding == "wkb":
            arrays.append(pa.array(shapely.to_wkb(geoms), type=pa.binary()))
        else:
            arrays.append(pa.array(shapely.to_wkt(geoms, rounding_precision=-1), type=pa.string()))
        names.append("geometry")
    return pa.RecordBatch.from_arrays(arrays, names=names)


def vector_batches(
    path: Path,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    geometry: GeometryEncoding = "wkb",
    columns: list[str] | None = None,
    layer: str | int | None = None,
) -> Iterator[pa.RecordBatch]:
    """Features of GeoParquet, GeoJSON, Shapefile, GeoPackage (any GDAL vector format).

    Attribute values come as the file stores them; dates stay text in GeoJSON
    (so a malformed date reaches the checks instead of failing in GDAL).
    """
    path = Path(path)
    if not path.exists():
        raise InputError("file not found", where=str(path))
    if path.suffix.lower() in _PARQUET_SUFFIXES:
        try:
            parquet = pq.ParquetFile(path)
        except (OSError, pa.ArrowException) as exc:
            raise InputError(f"not a Parquet file: {exc}", where=str(path)) from exc
        geom_col = _geometry_column(parquet.schema_arrow)
        wanted = None if columns is None else [*columns, geom_col]
        for batch in parquet.iter_batches(batch_size=batch_size, columns=wanted):
            yield _normalise(batch, geom_col, geometry)
        return
    import pyogrio.raw
    from pyogrio.errors import DataSourceError

    options: dict[str, Any] = {}
    if path.suffix.lower() in {".geojson", ".json"}:
        options["DATE_AS_STRING"] = "YES"
    try:
        with pyogrio.raw.open_arrow(
            path, layer=layer, columns=columns, batch_size=batch_size, use_pyarrow=True, **options
        ) as (meta, reader):
            geom_col = _geometry_column(reader.schema, meta)
            for batch in reader:
                yield _normalise(batch, geom_col, geometry)
    except DataSourceError as exc:
        raise InputError(f"cannot read vector data: {exc}", where=str(path)) from exc


def iter_vector_records(
    path: Path, *, geometry: GeometryEncoding = "wkt", batch_size: int = DEFAULT_BATCH_SIZE
) -> Iterator[dict[str, Any]]:
    """Features as dicts (attributes plus ``geometry`` as WKT or WKB), one batch in memory."""
    for batch in vector_batches(path, batch_size=batch_size, geometry=geometry):
        yield from batch.to_pylist()


def iter_csv_records(
    path: Path, *, wkt_column: str = "wkt", on_error: ErrorHandler | None = None
) -> Iterator[dict[str, Any]]:
    """Rows of a CSV file with a GeoSPARQL WKT column (optional ``<crs>`` prefix).

    Each row gets ``geometry`` (a shapely geometry) and ``crs`` (the CRS IRI);
    rows whose WKT or CRS is bad raise (or go to ``on_error``) naming the line.
    """
    with Path(path).open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        for row in reader:
            where = record_where(path, f"line {reader.line_num}", row.get("id"))
            try:
                row["geometry"], row["crs"] = parse_wkt_literal(row.get(wkt_column), where)
            except InputError as exc:
                _handle(exc, on_error)
                continue
            yield row


def _checked(
    records: Iterable[tuple[str, dict[str, Any], shapely.Geometry | None]],
    check: Callable[[dict[str, Any], shapely.Geometry | None, str], None],
    path: Path,
    on_error: ErrorHandler | None,
) -> Iterator[dict[str, Any]]:
    for position, record, geom in records:
        where = record_where(path, position, record.get("id"))
        try:
            check(record, geom, where)
        except InputError as exc:
            _handle(exc, on_error)
            continue
        record["geometry"] = geom
        yield record


def _features(path: Path) -> Iterator[tuple[str, dict[str, Any], shapely.Geometry | None]]:
    """(position, attributes, shapely geometry) of any vector file or WKT CSV."""
    if Path(path).suffix.lower() == ".csv":
        for index, row in enumerate(iter_csv_records(path)):
            yield f"row {index}", row, row.get("geometry")
        return
    index = 0
    for batch in vector_batches(path, geometry="wkb"):
        for record in batch.to_pylist():
            wkb = record.pop("geometry", None)
            yield f"feature {index}", record, None if wkb is None else shapely.from_wkb(wkb)
            index += 1


def iter_icechart_records(
    path: Path, *, on_error: ErrorHandler | None = None
) -> Iterator[dict[str, Any]]:
    """Checked ice chart polygons (``geometry`` as shapely) from any vector format."""
    yield from _checked(_features(path), check_icechart_record, path, on_error)


def iter_parcel_records(
    path: Path, *, on_error: ErrorHandler | None = None
) -> Iterator[dict[str, Any]]:
    """Checked field parcels (``geometry`` as shapely) from any vector format or WKT CSV.

    A CSV row whose WKT or CRS is bad goes to ``on_error`` (or raises) too.
    """
    if Path(path).suffix.lower() == ".csv":

        def rows() -> Iterator[tuple[str, dict[str, Any], shapely.Geometry | None]]:
            with Path(path).open(encoding="utf-8", newline="") as fh:
                reader = csv.DictReader(fh)
                for row in reader:
                    position = f"line {reader.line_num}"
                    try:
                        geom, row["crs"] = parse_wkt_literal(
                            row.get("wkt"), record_where(path, position, row.get("id"))
                        )
                    except InputError as exc:
                        _handle(exc, on_error)
                        continue
                    yield position, row, geom

        yield from _checked(rows(), check_parcel_record, path, on_error)
        return
    yield from _checked(_features(path), check_parcel_record, path, on_error)


def iter_predictions(
    path: Path, *, batch_size: int = DEFAULT_BATCH_SIZE
) -> Iterator[pa.RecordBatch]:
    """Batches of a predictions Parquet file (geometry stays in the ``wkt`` column)."""
    try:
        parquet = pq.ParquetFile(path)
    except (OSError, pa.ArrowException) as exc:
        raise InputError(f"not a Parquet file: {exc}", where=str(path)) from exc
    yield from parquet.iter_batches(batch_size=batch_size)
