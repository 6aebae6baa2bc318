"""Function-free maps compiled to Spark SQL give exactly what the Arrow executor gives."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import write
from spark_rdfcheck import PREFIXES

from eokg.spark.arrow_exec import iri_safe
from eokg.spark.local import run_local
from eokg.spark.rml import load_mapping, parse_mapping_text

pytestmark = [pytest.mark.spark, pytest.mark.slow]

#: Values that stress every escaping rule: N-Triples literals, IRI-safe templates,
#: <...> escaping, blank labels, Java-vs-RE2 regex ends, JSON rejects.
TRICKY = [
    "plain",
    'with "quotes"',
    "back\\slash\\",
    "new\nline",
    "cr\rret\r\n",
    "tab\there",
    "unicode é ü 漢字 🚀",
    "space and /reserved?#[]@!$&'()*+,;=%",
    "<angle> {brace} |pipe| ^caret `tick` ~tilde",
    "",
    None,
    "ctrl\x01\x1f\x7f\x80\x85 nel\u0085 ls\u2028 nonchar\ufdd0 private\ue000 \uffff",
    "12\n",
    "dollar$1 \\1 $0",
]
NUMBERS = [
    "12", "12.0", "12.50", "-3", "+4", "abc", "1e5", "", "12\n", " 12", "NaN", "INF",
    "2024", "2024-01-02", "true", "0",
]  # fmt: skip


def _table(n: int) -> pa.Table:
    names = [TRICKY[i % len(TRICKY)] for i in range(n)]
    nums = [NUMBERS[i % len(NUMBERS)] for i in range(n)]
    return pa.table(
        {
            "id": [f"r {i}/é" if i % 7 else str(i) for i in range(n)],
            "name": names,
            "num": nums,
            "count": pa.array([None if i % 5 == 0 else i - 3 for i in range(n)], pa.int64()),
            "small": pa.array([i % 100 for i in range(n)], pa.int32()),
            "flag": pa.array([None if i % 3 == 0 else i % 2 == 0 for i in range(n)], pa.bool_()),
            "other": [None if i % 11 == 4 else f"o{i % 4}" for i in range(n)],
            "kind": [["a b", "c/d", "é"][i % 3] for i in range(n)],
        }
    )


MAPPING = """
<#A> rml:logicalSource <#Src> ;
  rr:subjectMap [ rr:template "http://example.org/thing/{id}/{name}" ; rr:class ex:Thing ] ;
  rr:predicateObjectMap [ rr:predicate ex:name ; rr:objectMap [ rml:reference "name" ] ] ;
  rr:predicateObjectMap [ rr:predicate ex:label ;
      rr:objectMap [ rml:reference "name" ; rr:language "en-GB" ] ] ;
  rr:predicateObjectMap [ rr:predicate ex:iri ;
      rr:objectMap [ rml:reference "name" ; rr:termType rr:IRI ] ] ;
  rr:predicateObjectMap [ rr:predicate ex:text ;
      rr:objectMap [ rr:template "Name: {name} ({id}) \\\\{x\\\\}" ; rr:termType rr:Literal ] ] ;
  rr:predicateObjectMap [ rr:predicate ex:blank ;
      rr:objectMap [ rr:template "b{name}" ; rr:termType rr:BlankNode ] ] ;
  rr:predicateObjectMap [ rr:predicate ex:int ;
      rr:objectMap [ rml:reference "num" ; rr:datatype xsd:integer ] ] ;
  rr:predicateObjectMap [ rr:predicate ex:dbl ;
      rr:objectMap [ rml:reference "num" ; rr:datatype xsd:double ] ] ;
  rr:predicateObjectMap [ rr:predicate ex:dec ;
      rr:objectMap [ rml:reference "num" ; rr:datatype xsd:decimal ] ] ;
  rr:predicateObjectMap [ rr:predicate ex:bool ;
      rr:objectMap [ rml:reference "num" ; rr:datatype xsd:boolean ] ] ;
  rr:predicateObjectMap [ rr:predicate ex:year ;
      rr:objectMap [ rml:reference "num" ; rr:datatype xsd:gYear ] ] ;
  rr:predicateObjectMap [ rr:predicate ex:date ;
      rr:objectMap [ rml:reference "num" ; rr:datatype xsd:date ] ] ;
  rr:predicateObjectMap [ rr:predicate ex:custom ;
      rr:objectMap [ rml:reference "name" ; rr:datatype ex:myType ] ] ;
  rr:predicateObjectMap [ rr:predicate ex:count ;
      rr:objectMap [ rml:reference "count" ; rr:datatype xsd:integer ] ] ;
  rr:predicateObjectMap [ rr:predicate ex:small, ex:small2 ;
      rr:objectMap [ rml:reference "small" ] ; rr:objectMap [ rml:reference "flag" ] ] ;
  rr:predicateObjectMap [ rr:predicateMap [ rr:template "http://example.org/p/{kind}" ] ;
      rr:objectMap [ rr:template "http://example.org/o/{count}/{flag}" ] ] ;
  rr:predicateObjectMap [ rr:predicate ex:const ;
      rr:object "const \\"q\\"\\n\\\\ é", "5"^^xsd:integer, "x"^^xsd:integer, "hi"@de,
          ex:constIri ] ;
  rr:predicateObjectMap [ rr:predicate ex:parent ; rr:objectMap [ rr:parentTriplesMap <#B> ] ] .

<#B> rml:logicalSource <#Src> ;
  rr:subjectMap [ rr:template "http://example.org/other/{other}" ; rr:class ex:Other ] ;
  rr:predicateObjectMap [ rr:predicate ex:bn ;
      rr:objectMap [ rml:reference "other" ; rr:termType rr:BlankNode ] ] .
"""


def _source(fmt: str) -> str:
    if fmt == "parquet":
        return '<#Src> rml:source "t.parquet" ; rml:referenceFormulation eoql:Parquet .\n'
    return '<#Src> rml:source "t.csv" ; rml:referenceFormulation ql:CSV .\n'


def _plan(tmp_path: Path, body: str, fmt: str = "parquet"):
    return parse_mapping_text(
        PREFIXES + _source(fmt) + body, name=str(tmp_path / "m.ttl"), base_dir=tmp_path
    )


def _lines(directory: Path) -> list[str]:
    return sorted(
        line
        for f in directory.glob("part-*")
        for line in f.read_text(encoding="utf-8").split("\n")
        if line
    )


def _rejects(directory: Path) -> list[str]:
    return sorted(
        line
        for f in (directory / "_rejects").glob("*.jsonl")
        for line in f.read_text(encoding="utf-8").split("\n")
        if line
    )


def _both(spark, plan, tmp_path: Path):
    from eokg.spark.job import run_spark

    sql = run_spark(plan, tmp_path / "sql", spark, compile_sql=True)
    python = run_spark(plan, tmp_path / "python", spark, compile_sql=False)
    assert _lines(tmp_path / "sql") == _lines(tmp_path / "python")
    assert _rejects(tmp_path / "sql") == _rejects(tmp_path / "python")
    for key in ("records", "triples_per_map", "rejects", "triples"):
        assert getattr(sql, key) == getattr(python, key), key
    return sql


def test_tricky_values_identical_on_both_spark_paths_and_local(spark, tmp_path: Path):
    from eokg.spark.sql_compile import compile_source

    n = 1200  # more than one Arrow batch (500 rows in the test session): reject rows match too
    pq.write_table(_table(n), tmp_path / "t.parquet", row_group_size=300)
    plan = _plan(tmp_path, MAPPING)
    source = plan.sources()[0]
    df = spark.read.parquet(str(tmp_path / "t.parquet"))
    compile_source(plan, source, df, "arrow", 500)  # compiles (raises otherwise)
    summary = _both(spark, plan, tmp_path)
    assert summary.reject_count > 0 and summary.triples > 10 * n
    local = run_local(plan, tmp_path / "local")
    assert _lines(tmp_path / "sql") == _lines(tmp_path / "local")
    assert summary.triples_per_map == local.triples_per_map
    assert summary.records == local.records
    assert summary.rejects == local.rejects
    reasons = {json.loads(r)["reason"].rsplit(": ", 1)[1] for r in _rejects(tmp_path / "sql")}
    assert reasons == {"missing value for reference 'name'", "missing value for reference 'other'"}
    # a rejected record yields nothing from any map of the source
    lines = _lines(tmp_path / "sql")
    subjects = {line.split(" ", 1)[0] for line in lines}
    for line in _rejects(tmp_path / "sql"):
        record = json.loads(line)["record"]
        if record["id"] is not None and record["name"] is not None:
            iri = f"<http://example.org/thing/{iri_safe(record['id'])}/{iri_safe(record['name'])}>"
            assert iri not in subjects


def test_graphs_and_csv_identical(spark, tmp_path: Path):
    rows = ["id,name,num,other,kind"]
    for i, (name, num) in enumerate(zip(TRICKY * 3, NUMBERS * 3, strict=False)):
        text = "" if name is None else name.replace('"', '""')
        other = "" if i % 9 == 4 else f"o{i % 2}"
        rows.append(f'{i},"{text}","{num}",{other},k{i % 2}')
    write(tmp_path, "t.csv", "\n".join(rows) + "\n")
    body = """
<#G> rml:logicalSource <#Src> ;
  rr:subjectMap [ rr:template "http://example.org/g/{id}" ; rr:class ex:Thing ;
      rr:graphMap [ rr:template "http://example.org/graph/{kind}" ] ; rr:graph ex:g2 ] ;
  rr:predicateObjectMap [ rr:predicate ex:name ; rr:objectMap [ rml:reference "name" ] ;
      rr:graph ex:g3 ] ;
  rr:predicateObjectMap [ rr:predicate ex:n ;
      rr:objectMap [ rml:reference "num" ; rr:datatype xsd:long ] ] .
<#H> rml:logicalSource <#Src> ;
  rr:subjectMap [ rml:reference "other" ; rr:termType rr:BlankNode ] ;
  rr:predicateObjectMap [ rr:predicate ex:id ; rr:objectMap [ rml:reference "id" ] ] .
"""
    plan = _plan(tmp_path, body, fmt="csv")
    summary = _both(spark, plan, tmp_path)
    assert summary.reject_count > 0
    assert all(line.endswith(" .") for line in _lines(tmp_path / "sql"))


def test_function_map_keeps_its_whole_source_on_the_python_path(spark, tmp_path: Path):
    from eokg.spark.sql_compile import NotCompilable, compile_source

    write(tmp_path, "t.csv", "id,wkt\n1,POINT (1 2)\n2,NOT WKT\n3,POINT (3 4)\n")
    body = """
<#Plain> rml:logicalSource <#Src> ;
  rr:subjectMap [ rr:template "http://example.org/f/{id}" ; rr:class ex:Feature ] .
<#Geom> rml:logicalSource <#Src> ;
  rr:subjectMap [ rr:template "http://example.org/f/{id}/geom" ] ;
  rr:predicateObjectMap [ rr:predicate geo:asWKT ; rr:objectMap [ rr:datatype geo:wktLiteral ;
      fnml:functionValue [
        rr:predicateObjectMap [ rr:predicate fno:executes ; rr:object eofn:asWKT ] ;
        rr:predicateObjectMap [ rr:predicate eofn:geometry ;
            rr:objectMap [ rml:reference "wkt" ] ] ;
        rr:predicateObjectMap [ rr:predicate eofn:required ; rr:object true ] ] ] ] .
"""
    plan = _plan(tmp_path, body, fmt="csv")
    df = spark.read.option("header", True).csv(str(tmp_path / "t.csv"))
    with pytest.raises(NotCompilable, match="function"):
        compile_source(plan, plan.sources()[0], df, "arrow", 500)
    summary = _both(spark, plan, tmp_path)
    local = run_local(plan, tmp_path / "local")
    assert _lines(tmp_path / "sql") == _lines(tmp_path / "local")
    # record 2 is rejected by the geometry map, so the plain map has no triple for it either
    assert summary.reject_count == 1 == local.reject_count
    assert not any("/f/2>" in line for line in _lines(tmp_path / "sql"))


def test_not_compilable_columns(spark, tmp_path: Path):
    from eokg.spark.sql_compile import NotCompilable, compile_source

    pq.write_table(pa.table({"id": [1.5, 2.0]}), tmp_path / "t.parquet")
    plan = _plan(
        tmp_path,
        '<#A> rml:logicalSource <#Src> ; rr:subjectMap [ rr:template "http://e.org/{id}" ] .',
    )
    df = spark.read.parquet(str(tmp_path / "t.parquet"))
    with pytest.raises(NotCompilable, match="DoubleType"):
        compile_source(plan, plan.sources()[0], df, "arrow", 500)
    with pytest.raises(NotCompilable, match="case"):
        compile_source(plan, plan.sources()[0], df.select("id", "id").toDF("id", "ID"), "arrow", 9)
    _both(spark, plan, tmp_path)


def test_shipped_mappings_with_sql_compilation_equal_local(spark, sample_dir: Path, tmp_path: Path):
    from eokg.ontologies.paths import MAPPINGS_DIR
    from eokg.spark.job import run_spark

    names = ["sentinel1", "sentinel2", "patches", "icechart", "parcels", "predictions"]
    plan = load_mapping([MAPPINGS_DIR / f"{n}.rml.ttl" for n in names], base_dir=sample_dir)
    local = run_local(plan, tmp_path / "local")
    remote = run_spark(plan, tmp_path / "spark", spark, compile_sql=True)
    assert _lines(tmp_path / "spark") == _lines(tmp_path / "local")
    assert remote.triples_per_map == local.triples_per_map
    assert remote.records == local.records
