"""Conformance of the local executor, one RML feature at a time, against hand-written graphs."""
# ruff: noqa: E501  (embedded Turtle mappings read best unwrapped)

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import write
from spark_rdfcheck import PREFIXES, assert_isomorphic, graph_of, quads_of, turtle

from eokg.spark.local import map_lines
from eokg.spark.rml import parse_mapping_text

CSV = "id,name,score,tags,wkt\n1,Ann,3.5,a,POINT (10 60)\n2,Bob,,b,\n"


def run(tmp: Path, mapping: str, **files: str) -> tuple[list[str], list[dict]]:
    for name, text in files.items():
        write(tmp, name.replace("_", "."), text)
    plan = parse_mapping_text(PREFIXES + mapping, name=str(tmp / "m.ttl"), base_dir=tmp)
    return map_lines(plan)


def test_template_reference_constant_class_datatype_language(tmp_path):
    lines, rejects = run(
        tmp_path,
        """
    <#P> rml:logicalSource [ rml:source "data.csv" ; rml:referenceFormulation ql:CSV ] ;
      rr:subjectMap [ rr:template "http://example.org/person/{id}" ; rr:class ex:Person ] ;
      rr:predicateObjectMap [ rr:predicate ex:name ; rr:objectMap [ rml:reference "name" ; rr:language "en" ] ] ;
      rr:predicateObjectMap [ rr:predicate ex:score ; rr:objectMap [ rml:reference "score" ; rr:datatype xsd:double ] ] ;
      rr:predicateObjectMap [ rr:predicate ex:kind ; rr:object ex:Human ] ;
      rr:predicateObjectMap [ rr:predicate ex:note ; rr:object "fixed" ] ;
      rr:predicateObjectMap [ rr:predicate ex:tag ; rr:objectMap [ rr:template "http://example.org/tag/{tags}" ] ] .
    """,
        data_csv=CSV,
    )
    assert rejects == []
    assert_isomorphic(
        graph_of(lines),
        turtle(
            """
    ex:person\\/1 a ex:Person ; ex:name "Ann"@en ; ex:score "3.5"^^xsd:double ; ex:kind ex:Human ;
        ex:note "fixed" ; ex:tag <http://example.org/tag/a> .
    <http://example.org/person/2> a ex:Person ; ex:name "Bob"@en ; ex:kind ex:Human ;
        ex:note "fixed" ; ex:tag <http://example.org/tag/b> .
    """.replace("ex:person\\/1", "<http://example.org/person/1>")
        ),
    )


def test_escaping_of_literals_and_iri_safe_templates(tmp_path):
    data = [{"id": "a b/c", "text": 'say "hi"\nback\\slash\r', "name": "Tromsø ❄"}]
    lines, _ = run(
        tmp_path,
        """
    <#J> rml:logicalSource [ rml:source "d.json" ; rml:referenceFormulation ql:JSONPath ;
                             rml:iterator "$[*]" ] ;
      rr:subjectMap [ rr:template "http://example.org/x/{id}" ] ;
      rr:predicateObjectMap [ rr:predicate ex:text ; rr:objectMap [ rml:reference "text" ] ] ;
      rr:predicateObjectMap [ rr:predicate ex:name ; rr:objectMap [ rml:reference "name" ] ] ;
      rr:predicateObjectMap [ rr:predicate ex:link ; rr:objectMap [ rr:template "http://example.org/n/{name}" ] ] .
    """,
        d_json=json.dumps(data),
    )
    assert "<http://example.org/x/a%20b%2Fc>" in lines[0]
    text_line = next(line for line in lines if "/text>" in line)
    assert text_line.endswith('"say \\"hi\\"\\nback\\\\slash\\r" .')
    assert_isomorphic(
        graph_of(lines),
        turtle("""
    <http://example.org/x/a%20b%2Fc> ex:text "say \\"hi\\"\\nback\\\\slash\\r" ;
        ex:name "Tromsø ❄" ; ex:link <http://example.org/n/Tromsø%20❄> .
    """),
    )


def test_json_arrays_yield_one_term_per_element_and_nested_paths(tmp_path):
    data = [{"id": "p1", "properties": {"sar:polarizations": ["HH", "HV"], "n": 3, "ok": True}}]
    lines, _ = run(
        tmp_path,
        """
    <#J> rml:logicalSource [ rml:source "d.ndjson" ; rml:referenceFormulation ql:JSONPath ] ;
      rr:subjectMap [ rr:template "http://example.org/p/{id}" ] ;
      rr:predicateObjectMap [ rr:predicate ex:pol ;
          rr:objectMap [ rml:reference "$.properties['sar:polarizations']" ] ] ;
      rr:predicateObjectMap [ rr:predicate ex:n ; rr:objectMap [ rml:reference "$.properties.n" ; rr:datatype xsd:integer ] ] ;
      rr:predicateObjectMap [ rr:predicate ex:ok ; rr:objectMap [ rml:reference "properties.ok" ; rr:datatype xsd:boolean ] ] ;
      rr:predicateObjectMap [ rr:predicate ex:polIri ;
          rr:objectMap [ rr:template "http://example.org/pol/{$.properties['sar:polarizations']}" ] ] .
    """,
        d_ndjson="\n".join(json.dumps(d) for d in data) + "\n",
    )
    assert_isomorphic(
        graph_of(lines),
        turtle("""
    <http://example.org/p/p1> ex:pol "HH", "HV" ; ex:n 3 ; ex:ok true ;
        ex:polIri <http://example.org/pol/HH>, <http://example.org/pol/HV> .
    """),
    )


def test_blank_nodes_iri_references_and_term_types(tmp_path):
    lines, _ = run(
        tmp_path,
        """
    <#P> rml:logicalSource [ rml:source "data.csv" ; rml:referenceFormulation ql:CSV ] ;
      rr:subjectMap [ rr:template "{id}" ; rr:termType rr:BlankNode ] ;
      rr:predicateObjectMap [ rr:predicate ex:id ; rr:objectMap [ rr:template "{id}" ; rr:termType rr:Literal ] ] ;
      rr:predicateObjectMap [ rr:predicate ex:see ; rr:objectMap [ rr:template "http://example.org/{name}" ; rr:termType rr:IRI ] ] .
    """,
        data_csv=CSV,
    )
    assert_isomorphic(
        graph_of(lines),
        turtle("""
    [ ex:id "1" ; ex:see <http://example.org/Ann> ] . [ ex:id "2" ; ex:see <http://example.org/Bob> ] .
    """),
    )


def test_graph_maps_give_nquads(tmp_path):
    lines, _ = run(
        tmp_path,
        """
    <#P> rml:logicalSource [ rml:source "data.csv" ; rml:referenceFormulation ql:CSV ] ;
      rr:subjectMap [ rr:template "http://example.org/p/{id}" ; rr:graph ex:g1 ] ;
      rr:predicateObjectMap [ rr:predicate ex:name ; rr:objectMap [ rml:reference "name" ] ;
                              rr:graphMap [ rr:template "http://example.org/g/{tags}" ] ] .
    """,
        data_csv=CSV,
    )
    quads = {tuple(str(x) for x in q) for q in quads_of(lines)}
    assert (
        "http://example.org/p/1",
        "http://example.org/name",
        "Ann",
        "http://example.org/g1",
    ) in quads
    assert (
        "http://example.org/p/1",
        "http://example.org/name",
        "Ann",
        "http://example.org/g/a",
    ) in quads
    assert len(quads) == 4


def test_referencing_object_maps_with_and_without_join(tmp_path):
    lines, _ = run(
        tmp_path,
        """
    <#P> rml:logicalSource [ rml:source "data.csv" ; rml:referenceFormulation ql:CSV ] ;
      rr:subjectMap [ rr:template "http://example.org/p/{id}" ] ;
      rr:predicateObjectMap [ rr:predicate ex:self ; rr:objectMap [ rr:parentTriplesMap <#Q> ] ] ;
      rr:predicateObjectMap [ rr:predicate ex:team ; rr:objectMap [ rr:parentTriplesMap <#T> ;
          rr:joinCondition [ rr:child "tags" ; rr:parent "tag" ] ] ] .
    <#Q> rml:logicalSource [ rml:source "data.csv" ; rml:referenceFormulation ql:CSV ] ;
      rr:subjectMap [ rr:template "http://example.org/q/{name}" ] .
    <#T> rml:logicalSource [ rml:source "teams.csv" ; rml:referenceFormulation ql:CSV ] ;
      rr:subjectMap [ rr:template "http://example.org/team/{team}" ] .
    """,
        data_csv=CSV,
        teams_csv="tag,team\na,red\na,blue\nz,none\n",
    )
    assert_isomorphic(
        graph_of(lines),
        turtle("""
    <http://example.org/p/1> ex:self <http://example.org/q/Ann> ;
        ex:team <http://example.org/team/red>, <http://example.org/team/blue> .
    <http://example.org/p/2> ex:self <http://example.org/q/Bob> .
    """),
    )


def test_geometry_functions_reproject_and_measure(tmp_path):
    csv = (
        "id,wkt,crs\n"
        'u,"POINT (500000 6600000)",EPSG:32633\n'
        'w,"POLYGON ((0 0, 2 0, 2 2, 0 2, 0 0))",\n'
    )
    fn = """fnml:functionValue [ rr:predicateObjectMap [ rr:predicate fno:executes ; rr:object eofn:{f} ] ;
        rr:predicateObjectMap [ rr:predicate eofn:geometry ; rr:objectMap [ rml:reference "wkt" ] ] ;
        rr:predicateObjectMap [ rr:predicate eofn:crs ; rr:objectMap [ rml:reference "crs" ] ] ]"""
    mapping = (
        """
    <#G> rml:logicalSource [ rml:source "g.csv" ; rml:referenceFormulation ql:CSV ] ;
      rr:subjectMap [ rr:template "http://example.org/g/{id}" ] ;
    """
        + " ;\n".join(
            f"rr:predicateObjectMap [ rr:predicate ex:{f} ; rr:objectMap [ {dt} {fn.replace('{f}', f)} ] ]"
            for f, dt in [
                ("asWKT", "rr:datatype geo:wktLiteral ;"),
                ("centroid", ""),
                ("envelope", ""),
                ("dimension", "rr:datatype xsd:integer ;"),
                ("isValid", ""),
                ("area", ""),
            ]
        )
        + " ."
    )
    lines, rejects = run(tmp_path, mapping, g_csv=csv)
    assert rejects == []
    graph = graph_of(lines)
    values = {(str(s).rsplit("/", 1)[1], str(p).rsplit("/", 1)[1]): o for s, p, o in graph}
    assert str(values[("u", "asWKT")]) == "POINT (15 59.5383491)"
    assert str(values[("w", "centroid")]) == "POINT (1 1)"
    assert str(values[("w", "envelope")]).startswith("POLYGON ((0 0")
    assert values[("w", "dimension")].toPython() == 2
    assert str(values[("w", "isValid")]) == "true"
    assert 4.9e10 < float(values[("w", "area")]) < 4.95e10  # 2x2 degrees at the equator, m²


def test_bad_records_are_rejected_with_reasons_and_good_ones_kept(tmp_path):
    csv = (
        "id,wkt,crs\n"
        'ok,"POINT (1 2)",\n'
        'bad,"POLYGON ((0 0, 1",\n'
        'crs,"POINT (1 2)",EPSG:999999\n'
        ',"POINT (1 2)",\n'
    )
    lines, rejects = run(
        tmp_path,
        """
    <#F> rml:logicalSource [ rml:source "g.csv" ; rml:referenceFormulation ql:CSV ] ;
      rr:subjectMap [ rr:template "http://example.org/f/{id}" ] ;
      rr:predicateObjectMap [ rr:predicate ex:id ; rr:objectMap [ rml:reference "id" ] ] .
    <#G> rml:logicalSource [ rml:source "g.csv" ; rml:referenceFormulation ql:CSV ] ;
      rr:subjectMap [ rr:template "http://example.org/g/{id}" ] ;
      rr:predicateObjectMap [ rr:predicate geo:asWKT ; rr:objectMap [
        fnml:functionValue [ rr:predicateObjectMap [ rr:predicate fno:executes ; rr:object eofn:asWKT ] ;
          rr:predicateObjectMap [ rr:predicate eofn:geometry ; rr:objectMap [ rml:reference "wkt" ] ] ;
          rr:predicateObjectMap [ rr:predicate eofn:crs ; rr:objectMap [ rml:reference "crs" ] ] ] ] ] .
    """,
        g_csv=csv,
    )
    subjects = {str(s) for s in graph_of(lines).subjects()}
    assert subjects == {"http://example.org/f/ok", "http://example.org/g/ok"}
    reasons = {r["record"]["id"]: r["reason"] for r in rejects}
    assert "unparseable WKT" in reasons["bad"] and "<m.ttl#G>" in reasons["bad"]
    assert "unknown CRS 'EPSG:999999'" in reasons["crs"]
    assert "missing value for reference 'id'" in reasons[None]
    assert all(r["row"] is not None and r["mapping"] for r in rejects)


@pytest.mark.parametrize("vocabulary", ["legacy", "rml2"])
def test_new_rml_vocabulary_gives_the_same_graph(tmp_path, vocabulary):
    legacy = """
    <#P> rml:logicalSource [ rml:source "data.csv" ; rml:referenceFormulation ql:CSV ] ;
      rr:subjectMap [ rr:template "http://example.org/p/{id}" ; rr:class ex:P ] ;
      rr:predicateObjectMap [ rr:predicate ex:name ; rr:objectMap [ rml:reference "name" ] ] .
    """
    new = """
    @prefix r: <http://w3id.org/rml/> .
    <#P> r:logicalSource [ r:source "data.csv" ; r:referenceFormulation r:CSV ] ;
      r:subjectMap [ r:template "http://example.org/p/{id}" ; r:class ex:P ] ;
      r:predicateObjectMap [ r:predicate ex:name ; r:objectMap [ r:reference "name" ] ] .
    """
    lines, _ = run(tmp_path, legacy if vocabulary == "legacy" else new, data_csv=CSV)
    assert_isomorphic(
        graph_of(lines),
        turtle("""
    <http://example.org/p/1> a ex:P ; ex:name "Ann" . <http://example.org/p/2> a ex:P ; ex:name "Bob" .
    """),
    )
