# ruff: noqa: E501  (long RDF/WKT literals read better unbroken)
"""The planner against its peers: typed joins and path-form selections, side by side.

    python -m bench.geosparql_bench --footprints 1000 --cells 10000 --others 100000
    python -m bench.geosparql_bench --footprints 10000 --cells 100000 --others 1000000

Data: footprints (polygons), ice cells (small squares) and other point
geometries, each class in its own share of the store, all reached with
``geo:hasGeometry/geo:asWKT`` (the form users write).  Measured in one process:

* **typed join** ``?f a ex:Footprint ... ?c a ex:Cell ... FILTER(geof:sfIntersects(?w1, ?w2))``
  through ``GeoStore.query`` against the floor a hand-written program reaches:
  fetch both sets from plain Oxigraph and join them with a bare shapely STRtree
  (goal: within 3x);
* **selection** in the README's path form against plain Oxigraph's scan with
  its native ``geof:sfIntersects`` (goal: at least 10x faster, identical rows).
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path
from typing import Any

GEO = "http://www.opengis.net/ont/geosparql#"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
PREFIX = (
    f"PREFIX geo: <{GEO}> PREFIX geof: <http://www.opengis.net/def/function/geosparql/> "
    "PREFIX ex: <http://ex/> "
)
JOIN = PREFIX + (
    "SELECT ?f ?c WHERE { ?f a ex:Footprint ; geo:hasGeometry/geo:asWKT ?w1 . "
    "?c a ex:Cell ; geo:hasGeometry/geo:asWKT ?w2 . FILTER(geof:sfIntersects(?w1, ?w2)) }"
)
SELECTION = PREFIX + (
    "SELECT ?f WHERE { ?f a ex:Other ; geo:hasGeometry/geo:asWKT ?w . "
    "FILTER(geof:sfIntersects(?w, 'POLYGON((10 75, 12 75, 12 76, 10 76, 10 75))'^^geo:wktLiteral)) }"
)
SIDE = PREFIX + "SELECT ?s ?w WHERE {{ ?s a ex:{cls} ; geo:hasGeometry/geo:asWKT ?w }}"


def write_data(path: Path, footprints: int, cells: int, others: int, seed: int = 5) -> None:
    """Streamed N-Triples over a 40 x 12 degree box north of 70N."""
    rnd = random.Random(seed)
    with path.open("w") as out:

        def feature(cls: str, i: int, wkt: str) -> None:
            out.write(
                f"<http://ex/{cls}{i}> <{RDF_TYPE}> <http://ex/{cls}> .\n"
                f"<http://ex/{cls}{i}> <{GEO}hasGeometry> <http://ex/{cls}{i}g> .\n"
                f'<http://ex/{cls}{i}g> <{GEO}asWKT> "{wkt}"^^<{GEO}wktLiteral> .\n'
            )

        def box(x: float, y: float, w: float, h: float) -> str:
            return f"POLYGON(({x:.5f} {y:.5f}, {x + w:.5f} {y:.5f}, {x + w:.5f} {y + h:.5f}, {x:.5f} {y + h:.5f}, {x:.5f} {y:.5f}))"

        for i in range(footprints):
            feature("Footprint", i, box(rnd.uniform(0, 40), rnd.uniform(70, 82), 0.3, 0.1))
        for i in range(cells):
            feature("Cell", i, box(rnd.uniform(0, 40), rnd.uniform(70, 82), 0.05, 0.02))
        for i in range(others):
            feature("Other", i, f"POINT({rnd.uniform(0, 40):.5f} {rnd.uniform(70, 82):.5f})")


def timed(fn: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    value = fn()
    return time.perf_counter() - started, value


def baseline_join(plain: Any) -> tuple[float, int]:
    """Fetch both sets from plain Oxigraph, join with a bare STRtree: the floor."""
    import numpy as np
    import shapely

    started = time.perf_counter()
    sides = []
    for cls in ("Footprint", "Cell"):
        rows = list(plain.query(SIDE.format(cls=cls), use_default_graph_as_union=True))
        sides.append(shapely.from_wkt(np.array([r["w"].value for r in rows], dtype=object)))
    tree = shapely.STRtree(sides[1])
    left, _right = tree.query(sides[0], predicate="intersects")
    return time.perf_counter() - started, len(left)


def main(argv: list[str] | None = None) -> None:
    import pyoxigraph

    from eokg.kg.store import GeoStore

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--footprints", type=int, default=1000)
    parser.add_argument("--cells", type=int, default=10_000)
    parser.add_argument("--others", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data.nt"
        write_data(data, args.footprints, args.cells, args.others)
        geo = GeoStore(Path(tmp) / "eokg")
        t_load, _ = timed(lambda: geo.load([data], graph="http://ex/g"))
        plain = pyoxigraph.Store(str(Path(tmp) / "plain"))
        t_plain_load, _ = timed(  # into the same named graph: Oxigraph keeps 6 indexes for
            # quads in a named graph against 3 for default-graph triples (1.5x the load)
            lambda: plain.bulk_load(
                path=str(data),
                format=pyoxigraph.RdfFormat.N_TRIPLES,
                to_graph=pyoxigraph.NamedNode("http://ex/g"),
            )
        )
        n = args.footprints + args.cells + args.others
        print(
            f"{n:,} geometries: load eokg {t_load:.1f} s, plain {t_plain_load:.1f} s ({t_load / t_plain_load:.2f}x)"
        )
        geo.query(SELECTION)  # warm the parser and the index pages, as a server would be

        joins, floors, pairs = [], [], 0
        for _ in range(args.repeat):
            t, result = timed(lambda: sum(1 for _ in geo.query(JOIN)))
            joins.append(t)
            pairs = result
            t_floor, floor_pairs = baseline_join(plain)
            floors.append(t_floor)
        assert pairs == floor_pairs, (pairs, floor_pairs)
        plan = geo.explain(JOIN)
        print(
            f"typed join {args.footprints:,} x {args.cells:,}: {pairs:,} pairs; eokg {min(joins):.3f} s, "
            f"fetch+STRtree floor {min(floors):.3f} s -> {min(joins) / min(floors):.2f}x of the floor"
        )
        print(
            "  plan:",
            [
                {k: s.get(k) for k in ("kind", "candidates", "pairs", "seconds")}
                for s in plan["steps"]
            ],
            plan["seconds"],
        )

        t_eokg = min(
            timed(lambda: sorted(str(r["f"]) for r in geo.query(SELECTION)))[0]
            for _ in range(args.repeat)
        )
        ours = sorted(str(r["f"]) for r in geo.query(SELECTION))
        t_plain, theirs = timed(
            lambda: sorted(
                str(r["f"]) for r in plain.query(SELECTION, use_default_graph_as_union=True)
            )
        )
        assert ours == theirs, (len(ours), len(theirs))
        print(
            f"selection (path form, {len(ours):,} rows): eokg {t_eokg:.3f} s, plain Oxigraph scan {t_plain:.3f} s "
            f"-> {t_plain / t_eokg:.1f}x faster"
        )


if __name__ == "__main__":
    main()
