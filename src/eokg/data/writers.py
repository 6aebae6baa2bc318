"""Streaming writers: one record in, bytes out, bounded memory.

The sample generator can be asked for millions of records, so nothing here
collects a whole file before writing it.  JSON-family writers emit text as
records arrive; the GeoParquet writer buffers at most ``batch_rows`` rows and
flushes them as one Arrow record batch (one row group).  All output is
deterministic: same records in, same bytes out.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

import pyarrow as pa
import pyarrow.parquet as pq
import shapely
from shapely.geometry import mapping

#: Rows per Parquet row group and per flushed Arrow batch.
DEFAULT_BATCH_ROWS = 10_000


def dumps(record: Any) -> str:
    """Compact, deterministic JSON (key order as given, no NaN)."""
    return json.dumps(record, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


class _TextWriter:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fh: IO[str] = path.open("w", encoding="utf-8", newline="\n")
        self.count = 0

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        if not self._fh.closed:
            self._finish()
            self._fh.close()

    def _finish(self) -> None:
        pass


class NdjsonWriter(_TextWriter):
    """One JSON document per line (STAC items as served by most APIs)."""

    def write(self, record: Mapping[str, Any]) -> None:
        self._fh.write(dumps(record))
        self._fh.write("\n")
        self.count += 1


class JsonArrayWriter(_TextWriter):
    """A top-level JSON array written element by element (the Statoil layout).

    ``raw`` lets a caller pass pre-serialised JSON, because formatting 11 250
    floats per patch with :func:`json.dumps` is the generator's bottleneck.
    """

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self._fh.write("[")

    def write(self, record: Mapping[str, Any]) -> None:
        self.write_raw(dumps(record))

    def write_raw(self, text: str) -> None:
        self._fh.write("\n" if self.count == 0 else ",\n")
        self._fh.write(text)
        self.count += 1

    def _finish(self) -> None:
        self._fh.write("\n]\n")


class GeoJsonWriter(_TextWriter):
    """A GeoJSON FeatureCollection written feature by feature (RFC 7946, CRS84)."""

    def __init__(self, path: Path, name: str) -> None:
        super().__init__(path)
        self._fh.write('{"type":"FeatureCollection","name":' + dumps(name) + ',"features":[')

    def write(self, properties: Mapping[str, Any], geometry: shapely.Geometry | None) -> None:
        geojson = None if geometry is None else mapping(geometry)
        feature = {"type": "Feature", "properties": dict(properties), "geometry": geojson}
        self._fh.write("\n" if self.count == 0 else ",\n")
        self._fh.write(dumps(feature))
        self.count += 1

    def _finish(self) -> None:
        self._fh.write("\n]}\n")


def geoparquet_metadata(geometry_types: list[str], column: str = "geometry") -> dict[str, str]:
    """The GeoParquet 1.1 ``geo`` key; no ``crs`` member means OGC:CRS84."""
    geo = {
        "version": "1.1.0",
        "primary_column": column,
        "columns": {column: {"encoding": "WKB", "geometry_types": geometry_types}},
    }
    return {"geo": json.dumps(geo)}


class ParquetBatchWriter:
    """Rows in, row groups out: buffers at most ``batch_rows`` rows.

    ``schema`` fixes column order and types; a WKB geometry column is declared
    as binary and, with ``geometry_types``, the file gets GeoParquet metadata.
    """

    def __init__(
        self,
        path: Path,
        schema: pa.Schema,
        *,
        geometry_types: list[str] | None = None,
        batch_rows: int = DEFAULT_BATCH_ROWS,
    ) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        if geometry_types is not None:
            schema = schema.with_metadata(geoparquet_metadata(geometry_types))
        self.path = path
        self.schema = schema
        self.batch_rows = batch_rows
        self.count = 0
        self._columns: dict[str, list[Any]] = {name: [] for name in schema.names}
        self._writer: pq.ParquetWriter | None = pq.ParquetWriter(path, schema, compression="zstd")

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def write(self, row: Mapping[str, Any]) -> None:
        for name, values in self._columns.items():
            values.append(row[name])
        self.count += 1
        if len(self._columns[self.schema.names[0]]) >= self.batch_rows:
            self._flush()

    def _flush(self) -> None:
        if not self._columns[self.schema.names[0]]:
            return
        arrays = [pa.array(self._columns[f.name], type=f.type) for f in self.schema]
        assert self._writer is not None, "write after close"
        self._writer.write_batch(pa.RecordBatch.from_arrays(arrays, schema=self.schema))
        for values in self._columns.values():
            values.clear()

    def close(self) -> None:
        if self._writer is not None:
            self._flush()
            self._writer.close()
            self._writer = None


class VectorWriter:
    """Writes the same features to GeoJSON and GeoParquet, so both hold identical records."""

    def __init__(
        self,
        geojson_path: Path,
        parquet_path: Path,
        name: str,
        properties_schema: pa.Schema,
        geometry_types: list[str],
        *,
        batch_rows: int = DEFAULT_BATCH_ROWS,
    ) -> None:
        schema = properties_schema.append(pa.field("geometry", pa.binary()))
        self._geojson = GeoJsonWriter(geojson_path, name)
        self._parquet = ParquetBatchWriter(
            parquet_path, schema, geometry_types=geometry_types, batch_rows=batch_rows
        )

    @property
    def count(self) -> int:
        return self._parquet.count

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def write(self, properties: Mapping[str, Any], geometry: shapely.Geometry) -> None:
        self._geojson.write(properties, geometry)
        self._parquet.write({**properties, "geometry": shapely.to_wkb(geometry)})

    def close(self) -> None:
        self._geojson.close()
        self._parquet.close()
