"""Federated GeoSPARQL over real Oxigraph servers must answer like one store holding it all."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from eokg.kg.federation.testbed import oxigraph_binary

pytestmark = [
    pytest.mark.server,
    pytest.mark.skipif(oxigraph_binary() is None, reason="the 'oxigraph' server binary is missing"),
]

PREFIXES = """
PREFIX eo: <https://w3id.org/eokg/ontology#>
PREFIX geo: <http://www.opengis.net/ont/geosparql#>
PREFIX geof: <http://www.opengis.net/def/function/geosparql/>
PREFIX dct: <http://purl.org/dc/terms/>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX uom: <http://www.opengis.net/def/uom/OGC/1.0/>
PREFIX ice: <https://w3id.org/eokg/concept/seaice/>
"""
BALTIC = '"POLYGON((16 59, 27 59, 27 67, 16 67, 16 59))"^^geo:wktLiteral'
SVALBARD = '"POLYGON((4 73, 36 73, 36 83, 4 83, 4 73))"^^geo:wktLiteral'

QUERIES = {
    # products (server A) joined with admin areas (server C)
    "join": """SELECT ?p ?label WHERE {
        ?p a eo:Product ; eo:acquiredOver ?a . ?a rdfs:label ?label }""",
    # a spatial filter in the Baltic: the ice-chart server (Svalbard only) is pruned
    "spatial_prune": f"""SELECT ?x ?w WHERE {{
        ?x geo:hasGeometry/geo:asWKT ?w .
        FILTER(geof:sfWithin(?w, {BALTIC})) }}""",
    # a geof filter the plain Oxigraph servers cannot evaluate, across two servers
    "geof_join": f"""SELECT ?p ?c ?stage WHERE {{
        ?p a eo:Product ; eo:covers ?c ; geo:hasGeometry/geo:asWKT ?pw .
        ?c eo:stageOfDevelopment ?stage .
        FILTER(geof:sfIntersects(?pw, {SVALBARD})) }}""",
    "optional": """SELECT ?p ?l ?c WHERE {
        ?p a eo:Product ; eo:platform "sentinel-1a" .
        OPTIONAL { ?p rdfs:label ?l }
        OPTIONAL { ?p eo:covers ?c . ?c eo:concentration ?conc FILTER(?conc > 50) } }""",
    "union": """SELECT ?x ?d WHERE {
        { ?x a eo:IceChartPolygon ; dct:date ?d } UNION { ?x a eo:Product ; dct:date ?d }
        FILTER(?d >= "2024-02-01"^^<http://www.w3.org/2001/XMLSchema#date>) }""",
    "distance_count": f"""SELECT ?a (COUNT(?p) AS ?n) WHERE {{
        ?a a eo:AdminArea ; geo:hasGeometry/geo:asWKT ?aw .
        ?p eo:acquiredOver ?a ; geo:hasGeometry/geo:asWKT ?pw .
        FILTER(geof:distance(?pw, {BALTIC}, uom:metre) < 1000)
    }} GROUP BY ?a ORDER BY ?a""",
    "minus_values": """SELECT ?p ?kind WHERE {
        VALUES ?kind { <https://w3id.org/eokg/concept/product/SLC> }
        ?p eo:productType ?kind . MINUS { ?p eo:covers ?c } }""",
    "not_exists": """SELECT ?c WHERE { ?c a eo:IceChartPolygon
        FILTER NOT EXISTS { ?p eo:covers ?c } }""",
    "ask": """ASK { ?p eo:covers ?c . ?c eo:stageOfDevelopment ice:nilas }""",
}


@pytest.fixture(scope="session")
def federation(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Three Oxigraph servers (products, ice charts, admin areas) with VoID, plus the union."""
    from eokg.kg.federation.testbed import OxigraphServer, sample_partitions, void_turtle
    from eokg.kg.store import GeoStore

    folder = tmp_path_factory.mktemp("federation")
    parts = sample_partitions()
    servers = {}
    voids = {}
    union = GeoStore(name="union")
    try:
        for name, turtle in parts.items():
            server = OxigraphServer(name)
            servers[name] = server
            graph = f"https://example.org/graph/{name}"
            server.load(turtle, graph)
            void = folder / f"{name}.void.ttl"
            void.write_text(void_turtle(turtle, server.query_url, graph), encoding="utf-8")
            voids[name] = str(void)
            data = folder / f"{name}.ttl"
            data.write_text(turtle, encoding="utf-8")
            union.load([data])
        yield {"servers": servers, "voids": voids, "union": union, "folder": folder}
    finally:
        for server in servers.values():
            server.stop()


def make_engine(federation: Any, *, mode: str = "error", void: bool = True, extra=()) -> Any:
    from eokg.config import FederationSettings, FederationSource
    from eokg.kg.federation.engine import FederationEngine

    sources = [
        FederationSource(
            name=name,
            url=server.query_url,
            void_url=federation["voids"][name] if void else None,
            timeout_s=10.0,
        )
        for name, server in federation["servers"].items()
    ]
    sources.extend(extra)
    settings = FederationSettings(sources=sources, on_source_failure=mode)
    return FederationEngine.from_settings(settings)


def rows_of(result: Any) -> Counter:
    return Counter(
        tuple(sorted((k, str(v)) for k, v in row.items() if v is not None)) for row in result.rows
    )


def reference(federation: Any, query: str) -> Any:
    result = federation["union"].query(query)
    if hasattr(result, "variables"):
        names = [v.value for v in result.variables]
        out = Counter(
            tuple(sorted((n, str(s[n])) for n in names if s[n] is not None)) for s in result
        )
        del result
        return out
    return bool(result)


@pytest.mark.parametrize("name", sorted(QUERIES))
@pytest.mark.parametrize("void", [True, False], ids=["void", "ask"])
def test_federated_equals_union_store(federation: Any, name: str, void: bool) -> None:
    query = PREFIXES + QUERIES[name]
    engine = make_engine(federation, void=void)
    result = engine.run(query)
    expected = reference(federation, query)
    assert not result.partial
    if result.kind == "boolean":
        assert result.boolean == expected
    else:
        assert rows_of(result) == expected
        if name != "not_exists":
            assert sum(expected.values()) > 0, "the query should have answers"


def test_ordered_query_keeps_order(federation: Any) -> None:
    query = PREFIXES + QUERIES["distance_count"]
    result = make_engine(federation).run(query)
    assert [str(r["a"]) for r in result.rows] == sorted(str(r["a"]) for r in result.rows)


def test_spatial_filter_prunes_the_ice_chart_server(federation: Any) -> None:
    engine = make_engine(federation)
    result = engine.run(PREFIXES + QUERIES["spatial_prune"])
    plan = result.explain
    wkt_pattern = next(p for p in plan["blocks"][0]["patterns"] if "asWKT" in p["pattern"])
    assert "icecharts" not in wkt_pattern["sources"]
    assert wkt_pattern["excluded"]["icecharts"].startswith("spatial")
    # only the bind join of ?x geo:hasGeometry ?g (objects have no uriSpace) reaches it
    assert plan["stats"]["icecharts"]["requests"] <= 1
    assert plan["stats"]["icecharts"]["rows"] == 0
    assert plan["stats"]["icecharts"]["ask_probes"] == 0


def test_geof_filter_is_evaluated_by_the_engine(federation: Any) -> None:
    """Plain Oxigraph has no geof:sfIntersects: the filter stays residual, here."""
    result = make_engine(federation).run(PREFIXES + QUERIES["geof_join"])
    block = result.explain["blocks"][0]
    assert any("sfIntersects" in (f or "") for f in block["residual_filters"])
    for unit in block["units"]:
        assert not any("sfIntersects" in (f or "") for f in unit["filters"])


def test_exclusive_groups_and_bind_join_counts(federation: Any) -> None:
    engine = make_engine(federation)
    result = engine.run(PREFIXES + QUERIES["join"])
    block = result.explain["blocks"][0]
    units = {tuple(u["sources"]): u for u in block["units"]}
    # type + acquiredOver only in products: one exclusive group sent whole
    assert units[("products",)]["exclusive"] and len(units[("products",)]["patterns"]) == 2
    # rdfs:label is in products and admin (VoID), not in the ice charts
    assert ("products", "admin") in units
    stats = result.explain["stats"]
    # the cheaper label unit first, then one bind-join batch for the product group
    assert stats["products"]["requests"] == 2
    assert stats["admin"]["requests"] == 1
    assert stats["icecharts"]["requests"] == 0
    assert sum(s["ask_probes"] for s in stats.values()) == 0


def test_bind_join_batches(federation: Any) -> None:
    engine = make_engine(federation)
    engine.batch_size = 7
    query = PREFIXES + "SELECT ?p ?d WHERE { ?p a eo:Product . ?p dct:date ?d }"
    result = engine.run(query)
    assert rows_of(result) == reference(federation, query)
    assert result.explain["stats"]["products"]["requests"] >= 1


def test_explain_without_executing(federation: Any) -> None:
    engine = make_engine(federation)
    plan = engine.explain_sync(PREFIXES + QUERIES["join"])
    assert plan["executed"] is False
    assert [u["sources"] for u in plan["blocks"][0]["units"]] == [
        ["products", "admin"],
        ["products"],
    ]
    assert all(s["requests"] == 0 for s in plan["stats"].values())


def test_ask_probes_are_cached(federation: Any) -> None:
    engine = make_engine(federation, void=False)
    query = PREFIXES + QUERIES["join"]
    first = engine.run(query).explain["stats"]
    second = engine.run(query).explain["stats"]
    assert sum(s["ask_probes"] for s in first.values()) > 0
    assert sum(s["ask_probes"] for s in second.values()) == 0


def test_explicit_service_clause(federation: Any) -> None:
    admin = federation["servers"]["admin"].query_url
    query = (
        PREFIXES
        + f"""SELECT ?p ?label WHERE {{
        ?p a eo:Product ; eo:acquiredOver ?a .
        SERVICE <{admin}> {{ ?a rdfs:label ?label }} }}"""
    )
    result = make_engine(federation).run(query)
    assert rows_of(result) == reference(federation, PREFIXES + QUERIES["join"])


def test_bad_query_is_a_query_error(federation: Any) -> None:
    from eokg.errors import QueryError

    with pytest.raises(QueryError):
        make_engine(federation).run("SELECT ?x WHERE { ?x ")


# ---------------------------------------------------------------------- failures


@pytest.fixture(scope="session")
def broken(federation: Any) -> Any:
    """A dead port, a server answering 500, and a slow proxy in front of a real server."""
    from eokg.kg.federation.testbed import OxigraphServer, Proxy, free_port, sample_partitions

    extra = OxigraphServer("extra")
    extra.load(
        sample_partitions(products=6, seed=99)["products"].replace(
            "/product/s1-", "/product/extra-"
        ),
        "https://example.org/graph/extra",
    )
    slow = Proxy(extra.base, delay_s=2.0)
    failing = Proxy(extra.base, fail_status=500)
    try:
        yield {
            "dead": f"http://127.0.0.1:{free_port()}/query",
            "failing": failing.url("/query"),
            "slow": slow.url("/query"),
            "extra": extra,
        }
    finally:
        slow.stop()
        failing.stop()
        extra.stop()


@pytest.mark.parametrize("which", ["dead", "failing", "slow"])
def test_partial_answers_name_the_failed_source(federation: Any, broken: Any, which: str) -> None:
    from eokg.config import FederationSource

    extra = [FederationSource(name=which, url=broken[which], timeout_s=0.5)]
    engine = make_engine(federation, mode="partial", extra=extra)
    query = PREFIXES + QUERIES["join"]
    result = engine.run(query)
    assert result.partial
    assert set(result.failed) == {which}
    assert rows_of(result) == reference(federation, query)
    assert result.explain["stats"][which]["failed"]


@pytest.mark.parametrize("which", ["dead", "failing", "slow"])
def test_error_mode_raises_naming_the_source(federation: Any, broken: Any, which: str) -> None:
    from eokg.config import FederationSource
    from eokg.errors import SourceUnavailable

    extra = [FederationSource(name=which, url=broken[which], timeout_s=0.5)]
    engine = make_engine(federation, mode="error", extra=extra)
    with pytest.raises(SourceUnavailable) as info:
        engine.run(PREFIXES + QUERIES["join"])
    assert which in str(info.value) and broken[which] in str(info.value)
    assert info.value.details["source"] == which


def test_local_store_member_with_slow_remote_data(federation: Any, broken: Any) -> None:
    """The local GeoStore is a member too, and a healthy extra server adds its rows."""
    from eokg.config import FederationSettings, FederationSource
    from eokg.kg.federation.engine import FederationEngine
    from eokg.kg.store import GeoStore

    folder: Path = federation["folder"]
    local = GeoStore(name="local")
    local.load([folder / "admin.ttl"])
    sources = [
        FederationSource(name="products", url=federation["servers"]["products"].query_url),
        FederationSource(name="extra", url=broken["extra"].query_url),
    ]
    engine = FederationEngine.from_settings(FederationSettings(sources=sources), local_store=local)
    query = PREFIXES + QUERIES["join"]
    result = engine.run(query)
    assert not result.partial
    got = rows_of(result)
    assert sum(got.values()) == 66
    assert got - reference(federation, query) != Counter()  # the extra products are there


def test_origins_are_recorded_for_bind_joined_units(federation: Any) -> None:
    """Rows of a unit bind-joined with earlier rows name their source too (the loop
    over members used to overwrite the list of subject variables with the VoID
    subject filter, empty without VoID uriSpaces, so no origin was recorded)."""
    query = QUERIES["join"].replace("SELECT ?p ?label", "SELECT ?p ?a ?label")
    for void in (True, False):
        result = make_engine(federation, void=void).run(PREFIXES + query)
        for var in ("p", "a"):
            terms = {row[var].value for row in result.rows}
            assert terms and all(result.origins.get(t) for t in terms), (void, var)


def test_distance_pruning_box_is_the_planner_search_box() -> None:
    """Federation pruning and the local index grow a distance bound by one function."""
    import shapely

    from eokg.kg.federation.algebra import _grow
    from eokg.kg.spatial_join import distance_box

    for box, limit, uom in (
        ((10.0, 70.0, 11.0, 71.0), 25_000.0, "http://www.opengis.net/def/uom/OGC/1.0/metre"),
        ((-5.0, -1.0, 5.0, 1.0), 2.0, "http://www.opengis.net/def/uom/OGC/1.0/degree"),
    ):
        assert _grow(box, limit, uom) == distance_box(shapely.box(*box), limit, uom)


def test_spatial_pruning_covers_every_serialization() -> None:
    """asGML / asKML patterns are pruned by extent like asWKT / asGeoJSON ones."""
    from eokg.kg.federation.algebra import Pattern, SpatialConstraint
    from eokg.kg.federation.planner import spatially_excluded
    from eokg.kg.federation.sources import Description, HttpMember

    member = HttpMember("far", "http://127.0.0.1:9/sparql",
                        description=Description(extent=(100.0, 10.0, 110.0, 20.0)))
    near = [SpatialConstraint("w", (0.0, 0.0, 1.0, 1.0))]
    for serialization in ("asWKT", "asGeoJSON", "asGML", "asKML"):
        pattern = Pattern("?g", f"<http://www.opengis.net/ont/geosparql#{serialization}>", "?w")
        assert spatially_excluded(member, pattern, near) is near[0], serialization


# ---------------------------------------------------------------------- CLI


def test_federate_command(federation: Any, tmp_path: Path, capsys: Any) -> None:
    import argparse
    import json

    from eokg.config import load_settings
    from eokg.kg.federation import commands

    lines = ["[federation]", 'on_source_failure = "error"']
    for name, server in federation["servers"].items():
        lines += [
            "[[federation.sources]]",
            f'name = "{name}"',
            f'url = "{server.query_url}"',
            f'void_url = "{federation["voids"][name]}"',
        ]
    config = tmp_path / "fed.toml"
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    parser = argparse.ArgumentParser()
    commands.configure(parser)
    query = PREFIXES + QUERIES["join"]
    settings = load_settings(data_dir=tmp_path)
    args = parser.parse_args(["--config", str(config), "--format", "json", query])
    assert commands.run(args, settings) == 0
    body = json.loads(capsys.readouterr().out)
    assert len(body["results"]["bindings"]) == sum(reference(federation, query).values())
    for fmt, line_end in (("csv", "\r\n"), ("tsv", "\n")):
        args = parser.parse_args(["--config", str(config), "--format", fmt, query])
        assert commands.run(args, settings) == 0
        text = capsys.readouterr().out
        assert text.endswith(line_end) and not text.endswith(line_end * 2), fmt  # no blank line
    args = parser.parse_args(["--config", str(config), "--explain", query])
    assert commands.run(args, settings) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["executed"] is False and plan["blocks"]
