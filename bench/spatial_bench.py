# ruff: noqa: E501  (long RDF/WKT literals read better unbroken)
"""Spatial selection and join: GeoStore (R-tree rewrite) vs plain Oxigraph vs rdflib.

    python -m bench.spatial_bench --sizes 10000 100000

Same data, same process, side by side; results are checked identical.  Plain
Oxigraph evaluates the join as a nested loop (quadratic), so at large N it is
timed on subsamples and extrapolated with the fitted quadratic; the table says
which figures are extrapolated.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

GEO = "http://www.opengis.net/ont/geosparql#"
PREFIX = (
    "PREFIX geo: <http://www.opengis.net/ont/geosparql#>\n"
    "PREFIX geof: <http://www.opengis.net/def/function/geosparql/>\n"
)
SELECTION = (
    PREFIX
    + """SELECT ?f WHERE { ?f geo:hasGeometry ?g . ?g geo:asWKT ?w .
  FILTER(geof:sfIntersects(?w, "POLYGON((15 75, 17 75, 17 76, 15 76, 15 75))"^^geo:wktLiteral)) }"""
)
JOIN = (
    PREFIX
    + """SELECT ?a ?b WHERE { ?a geo:hasGeometry ?ga . ?ga geo:asWKT ?wa .
  ?b geo:hasGeometry ?gb . ?gb geo:asWKT ?wb . FILTER(geof:sfIntersects(?wa, ?wb)) }"""
)


def write_data(path: Path, n: int, seed: int = 42) -> None:
    """N features around Svalbard: 2/3 small polygons, 1/3 points (streamed to disk)."""
    rnd = random.Random(seed)
    with path.open("w") as out:
        for i in range(n):
            x, y = rnd.uniform(0, 40), rnd.uniform(70, 82)
            if i % 3 == 0:
                wkt = f"POINT({x:.5f} {y:.5f})"
            else:
                w, h = rnd.uniform(0.01, 0.1), rnd.uniform(0.005, 0.04)
                wkt = (
                    f"POLYGON(({x:.5f} {y:.5f}, {x + w:.5f} {y:.5f}, {x + w:.5f} {y + h:.5f}, "
                    f"{x:.5f} {y + h:.5f}, {x:.5f} {y:.5f}))"
                )
            out.write(
                f"<http://ex/f{i}> <{GEO}hasGeometry> <http://ex/g{i}> .\n"
                f'<http://ex/g{i}> <{GEO}asWKT> "{wkt}"^^<{GEO}wktLiteral> .\n'
            )


def rows(result: Any) -> list[tuple[str, ...]]:
    return sorted(tuple(str(t).strip("<>") for t in row) for row in result)


def timed(fn: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def with_timeout(fn: Any, seconds: float) -> tuple[float | None, Any]:
    box: dict[str, Any] = {}

    def run() -> None:
        box["t"], box["v"] = timed(fn)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(seconds)
    return (box["t"], box["v"]) if "t" in box else (None, None)


def rdflib_selection(path: Path, timeout: float) -> tuple[float | None, Any]:
    import rdflib
    import shapely
    from rdflib.plugins.sparql.operators import register_custom_function

    graph = rdflib.Graph()
    graph.parse(str(path), format="nt")

    def intersects(a: Any, b: Any) -> Any:
        hit = shapely.intersects(shapely.from_wkt(str(a)), shapely.from_wkt(str(b)))
        return rdflib.Literal(bool(hit))

    fn = rdflib.URIRef("http://www.opengis.net/def/function/geosparql/sfIntersects")
    register_custom_function(fn, intersects, override=True)
    return with_timeout(lambda: rows(graph.query(SELECTION)), timeout)


def bench(n: int, tmp: Path, rdflib_timeout: float) -> list[str]:
    import pyoxigraph

    from eokg.kg.source import QueryOptions
    from eokg.kg.store import GeoStore

    data = tmp / f"data{n}.nt"
    write_data(data, n)
    lines = []
    geo = GeoStore()
    t_load, report = timed(lambda: geo.load([data]))
    plain = pyoxigraph.Store()
    t_bulk, _ = timed(lambda: plain.bulk_load(path=str(data)))
    lines.append(
        f"| {n} | load (triples/s) | {report.triples / t_load:,.0f} | {report.triples / t_bulk:,.0f}"
        f" | | {t_bulk / t_load:.2f}x (atomic, 2 passes) |"
    )
    t_index, count = timed(geo.geometry_count)
    # selection
    t_sel, got = timed(lambda: rows(geo.query(SELECTION)))
    t_sel_plain, want = timed(lambda: rows(plain.query(SELECTION)))
    assert got == want, "selection differs from plain Oxigraph"
    rdf = "skipped (n > 10000)"
    if n <= 10_000:
        t_rdf, rdf_rows = rdflib_selection(data, rdflib_timeout)
        if t_rdf is None:
            rdf = f"> {rdflib_timeout:.0f} s (timeout)"
        else:
            assert rdf_rows == want, "rdflib selection differs"
            rdf = f"{t_rdf:.3f} s"
    lines.append(
        f"| {n} | selection ({len(want)} rows) | {t_sel:.4f} s | {t_sel_plain:.4f} s | {rdf} "
        f"| **{t_sel_plain / t_sel:.1f}x** |"
    )
    # join: indexed on everything; plain on subsamples, extrapolated
    t_join, joined = timed(lambda: geo.query(JOIN))
    t_join_rows, pairs = timed(lambda: sum(1 for _ in joined))
    t_join += t_join_rows
    sub_times = []
    for m in (400, 800, 1600):
        if m > n:
            break
        sub = tmp / f"sub{m}.nt"
        write_data(sub, m)
        small_plain = pyoxigraph.Store()
        small_plain.bulk_load(path=str(sub))
        small_geo = GeoStore()
        small_geo.load([sub])
        t_small, want_rows = timed(lambda s=small_plain: rows(s.query(JOIN)))
        assert rows(small_geo.query(JOIN)) == want_rows, f"join differs at {m}"
        assert rows(small_geo.query(JOIN, QueryOptions(use_index=False))) == want_rows
        sub_times.append((m, t_small))
    # t = c * m^2 fitted on the largest subsample
    m, t_m = sub_times[-1]
    t_plain_join = t_m * (n / m) ** 2
    exact = n == m
    lines.append(
        f"| {n} | join ({pairs} pairs) | {t_join:.3f} s | "
        f"{'' if exact else '~'}{t_plain_join:,.1f} s{'' if exact else f' (extrapolated from {m})'}"
        f" | | **{t_plain_join / t_join:,.0f}x** |"
    )
    lines.append(
        f"| {n} | index build ({count} geometries) | {t_index:.3f} s | | | (first query after load) |"
    )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000])
    parser.add_argument("--rdflib-timeout", type=float, default=60.0)
    args = parser.parse_args(argv)
    out = [
        "| N | operation | GeoStore (index) | plain Oxigraph | rdflib | speed-up vs Oxigraph |",
        "|---|---|---|---|---|---|",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            out += bench(n, Path(tmp), args.rdflib_timeout)
            print("\n".join(out), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
