"""XML sources (rml:XPath): the XPath subset, streaming, refusals, Spark = local."""
# ruff: noqa: E501  (embedded Turtle mappings read best unwrapped)

from __future__ import annotations

import gzip
import tracemalloc
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from eokg.errors import MappingError
from eokg.spark.local import map_lines
from eokg.spark.model import LogicalSource, Reference
from eokg.spark.rml import parse_mapping_text
from eokg.spark.sources import open_bytes, read_source
from eokg.spark.xml_source import Evaluator, _Document, compile_xpath, xml_plan

PREFIXES = """
@prefix rml: <http://w3id.org/rml/> .
@prefix ex: <http://example.org/> .
@base <http://example.org/base/> .
"""

DOC = """<?xml version="1.0"?>
<fleet region="north">
  <ship id="1" flag="NO">
    <name>Polarstern</name>
    <sensor kind="sar">S1A</sensor>
    <sensor kind="optical">S2B</sensor>
    <note>first <b>bold</b> last</note>
  </ship>
  <ship id="2" flag="DK">
    <name>Dana</name>
    <sensor kind="sar">S1B</sensor>
  </ship>
  <ship id="3"><name/></ship>
</fleet>
"""


def _values(xpath: str, context: str = "/fleet/ship[1]") -> list[str]:
    document = _Document(ET.fromstring(DOC))
    evaluator = Evaluator(document)
    node = evaluator.select(compile_xpath(context), document)[0]
    return evaluator.strings(compile_xpath(xpath), node)


@pytest.mark.parametrize(
    ("xpath", "expected"),
    [
        ("@id", ["1"]),
        ("name", ["Polarstern"]),
        ("name/text()", ["Polarstern"]),
        ("sensor", ["S1A", "S2B"]),  # several nodes: several values, in document order
        ("sensor/@kind", ["sar", "optical"]),
        ("sensor[@kind='optical']", ["S2B"]),
        ("sensor[2]", ["S2B"]),
        ("sensor[last()]", ["S2B"]),
        ("sensor[position() < 2]", ["S1A"]),
        ("note", ["first bold last"]),  # string-value: all descendant text
        ("note/text()", ["first ", " last"]),
        (".", ["\n    Polarstern\n    S1A\n    S2B\n    first bold last\n  "]),
        ("../@region", ["north"]),
        ("/fleet/@region", ["north"]),
        ("//sensor[@kind='sar']", ["S1A", "S1B"]),
        (".//b", ["bold"]),
        ("name | @flag", ["Polarstern", "NO"]),
        ("missing", []),
        ("sensor[not(@kind='sar')]/@kind", ["optical"]),
        ("following-sibling::ship/@id", ["2", "3"]),
        ("child::name", ["Polarstern"]),
        ("sensor[@kind='sar' or @kind='optical'][1]", ["S1A"]),
    ],
)
def test_xpath_subset(xpath: str, expected: list[str]) -> None:
    assert _values(xpath) == expected


def test_an_empty_element_is_an_empty_string() -> None:
    assert _values("name", "/fleet/ship[3]") == [""]


@pytest.mark.parametrize(
    ("xpath", "needle"),
    [
        ("concat(a, b)", "function concat()"),
        ("ex:name", "namespace prefix 'ex'"),
        ("country@name", "unexpected '@'"),
        ("namespace::x", "axis namespace::"),
        ("", "empty expression"),
    ],
)
def test_outside_the_subset_is_refused_when_the_mapping_is_read(
    tmp_path: Path, xpath: str, needle: str
) -> None:
    with pytest.raises(MappingError) as info:
        plan_of(tmp_path, xml_map(f'rml:reference "{xpath}"'))
    assert needle in str(info.value)
    assert "m.ttl" in str(info.value) and "object map" in str(info.value)


def test_an_unsupported_iterator_names_rml_iterator(tmp_path: Path) -> None:
    with pytest.raises(MappingError, match=r"rml:iterator 'count\(/a\)'") as info:
        plan_of(tmp_path, xml_map('rml:reference "name"', iterator="count(/a)"))
    assert "m.ttl" in str(info.value) and "logical source" in str(info.value)


def plan_of(tmp: Path, mapping: str):  # type: ignore[no-untyped-def]
    return parse_mapping_text(PREFIXES + mapping, name=str(tmp / "m.ttl"), base_dir=tmp)


def xml_map(
    object_map: str,
    source: str = '"fleet.xml"',
    iterator: str = "/fleet/ship",
    subject: str = "http://example.org/ship/{@id}",
) -> str:
    return f"""
    <#S> rml:logicalSource [ rml:source {source} ; rml:referenceFormulation rml:XPath ; rml:iterator "{iterator}" ] ;
      rml:subjectMap [ rml:template "{subject}" ] ;
      rml:predicateObjectMap [ rml:predicate ex:p ; rml:objectMap [ {object_map} ] ] .
    """


def _write(tmp: Path, text: str = DOC, name: str = "fleet.xml") -> Path:
    path = tmp / name
    path.write_text(text, encoding="utf-8")
    return path


def test_multiple_results_make_multiple_triples(tmp_path: Path) -> None:
    _write(tmp_path)
    lines, rejects = map_lines(plan_of(tmp_path, xml_map('rml:reference "sensor"')))
    assert rejects == []
    assert sorted(lines) == [
        '<http://example.org/ship/1> <http://example.org/p> "S1A" .',
        '<http://example.org/ship/1> <http://example.org/p> "S2B" .',
        '<http://example.org/ship/2> <http://example.org/p> "S1B" .',
    ]


def test_template_of_xpath_references_with_dots_and_brackets(tmp_path: Path) -> None:
    _write(tmp_path)
    mapping = xml_map(
        'rml:template "{../@region}-{sensor[1]/@kind}" ; rml:termType rml:Literal',
        subject="http://example.org/{name/text()}",
    )
    lines, _ = map_lines(plan_of(tmp_path, mapping))
    assert sorted(lines) == [
        '<http://example.org/Dana> <http://example.org/p> "north-sar" .',
        '<http://example.org/Polarstern> <http://example.org/p> "north-sar" .',
    ]  # ship 3 has no sensor: no object, so no triple


def test_gzip_source_and_declared_nulls(tmp_path: Path) -> None:
    (tmp_path / "fleet.xml.gz").write_bytes(gzip.compress(DOC.encode("utf-8")))
    source = '[ a rml:RelativePathSource ; rml:path "fleet.xml.gz" ; rml:compression rml:gzip ; rml:null "S1A" ]'
    lines, _ = map_lines(plan_of(tmp_path, xml_map('rml:reference "sensor"', source=source)))
    assert sorted(lines) == [
        '<http://example.org/ship/1> <http://example.org/p> "S2B" .',
        '<http://example.org/ship/2> <http://example.org/p> "S1B" .',
    ]


def test_not_well_formed_xml_names_the_file_and_line(tmp_path: Path) -> None:
    _write(tmp_path, "<fleet>\n  <ship id='1'>\n</fleet>\n")
    with pytest.raises(MappingError, match=r"fleet\.xml is not well-formed XML \(line 3"):
        map_lines(plan_of(tmp_path, xml_map('rml:reference "name"')))


def _source(path: Path, iterator: str) -> LogicalSource:
    return LogicalSource(name=path.name, path=path, formulation="xpath", iterator=iterator)


@pytest.mark.parametrize(
    ("iterator", "refs", "streamed"),
    [
        ("/fleet/ship", ["@id", "name/text()", "sensor[2]", ".//b"], True),
        ("/*/*", ["@id"], True),
        ("/fleet/ship[1]", ["@id"], False),  # a predicate on the iterator
        ("//ship", ["@id"], False),  # descendants: records may nest
        ("/fleet/ship", ["../@region"], False),  # a reference looks outside the record
        ("/fleet/ship", ["/fleet/@region"], False),
    ],
)
def test_streaming_is_chosen_only_where_it_is_exact(
    tmp_path: Path, iterator: str, refs: list[str], streamed: bool
) -> None:
    source = _source(tmp_path / "x.xml", iterator)
    plan = xml_plan(source, [Reference(text=r, path=(r,)) for r in refs])
    assert (plan.stream is not None) is streamed


def _big_xml(path: Path, records: int) -> None:
    with path.open("w", encoding="utf-8") as out:
        out.write("<catalogue><header><title>EO products</title></header><products>\n")
        for i in range(records):
            out.write(
                f'<product id="{i}"><name>S1A_IW_GRDH_{i:08d}</name>'
                f"<band>VV</band><band>VH</band><footprint>POLYGON((10 78, 20 78, 20 80, 10 78))</footprint></product>\n"
            )
        out.write("</products></catalogue>\n")


def _read(source: LogicalSource, refs: list[Reference], traced: bool = False) -> tuple[int, int]:
    """(records read, peak traced memory or 0) of reading ``source`` batch by batch."""
    from eokg.spark.model import MappingPlan, TermMap, TriplesMap

    template = TermMap(kind="template", term_type="iri", where="w", template=("x:", refs[0]))
    tm = TriplesMap(
        iri="t",
        source=source,
        subject=template,
        classes=(),
        subject_graphs=(),
        poms=(),
        mapping_file="m",
    )
    plan = MappingPlan(triples_maps=(tm,))
    if traced:
        tracemalloc.start()
    try:
        rows = sum(b.num_rows for b, _ in read_source(plan, source, batch_rows=500))
        return rows, tracemalloc.get_traced_memory()[1] if traced else 0
    finally:
        if traced:
            tracemalloc.stop()


def test_a_simple_iterator_streams_in_constant_memory(tmp_path: Path) -> None:
    refs = [Reference(text="@id", path=("@id",))]
    _big_xml(tmp_path / "warm.xml", 10)
    _read(_source(tmp_path / "warm.xml", "/catalogue/products/product"), refs)  # lazy imports
    peaks = []
    for records in (2_000, 10_000):  # about 0.3 and 1.5 MB of XML
        path = tmp_path / f"big{records}.xml"
        _big_xml(path, records)
        rows, peak = _read(_source(path, "/catalogue/products/product"), refs, traced=True)
        assert rows == records
        peaks.append(peak)
    assert peaks[1] < 1.5 * peaks[0], peaks  # five times the file, about the same memory
    assert _read(_source(path, "//product"), refs)[0] == 10_000  # the whole-document fallback


def test_streamed_records_are_dropped_once_read(tmp_path: Path) -> None:
    from eokg.spark.xml_source import _streamed

    path = _write(tmp_path)
    seen = []
    with open_bytes(path) as handle:
        for _, element in _streamed(handle, ("fleet", "ship")):
            seen.append(element)
            assert len(element) > 0 or element.get("id") == "3"  # complete when handed out
    assert len(seen) == 3
    assert all(len(e) == 0 and not e.attrib for e in seen)  # cleared after use


def test_xml_joins_with_a_csv_parent(tmp_path: Path) -> None:
    _write(tmp_path)
    (tmp_path / "flags.csv").write_text("code,name\nNO,Norway\nDK,Denmark\n", encoding="utf-8")
    mapping = (
        xml_map(
            'rml:parentTriplesMap <#F> ; rml:joinCondition [ rml:child "@flag" ; rml:parent "code" ]'
        )
        + """
    <#F> rml:logicalSource [ rml:source "flags.csv" ; rml:referenceFormulation rml:CSV ] ;
      rml:subjectMap [ rml:template "http://example.org/flag/{name}" ] .
    """
    )
    lines, _ = map_lines(plan_of(tmp_path, mapping))
    assert sorted(lines) == [
        "<http://example.org/ship/1> <http://example.org/p> <http://example.org/flag/Norway> .",
        "<http://example.org/ship/2> <http://example.org/p> <http://example.org/flag/Denmark> .",
    ]


@pytest.mark.spark
def test_spark_and_local_engines_give_the_same_triples(spark, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from eokg.spark.job import run_spark

    _write(tmp_path)
    mapping = (
        xml_map('rml:reference "sensor/@kind"')
        + """
    <#N> rml:logicalSource [ rml:source "fleet.xml" ; rml:referenceFormulation rml:XPath ; rml:iterator "//ship" ] ;
      rml:subjectMap [ rml:template "http://example.org/ship/{@id}" ] ;
      rml:predicateObjectMap [ rml:predicate ex:name ; rml:objectMap [ rml:reference "name" ] ] ;
      rml:predicateObjectMap [ rml:predicate ex:region ; rml:objectMap [ rml:reference "../@region" ] ] .
    """
    )
    plan = plan_of(tmp_path, mapping)
    local, _ = map_lines(plan)
    run_spark(plan, tmp_path / "out", spark)
    spark_lines = [
        line
        for part in sorted((tmp_path / "out").glob("part-*"))
        for line in part.read_text(encoding="utf-8").splitlines()
    ]
    assert sorted(spark_lines) == sorted(local)
    assert len(local) == 9  # 3 sensor kinds, 3 names (ship 3: ""), 3 regions
