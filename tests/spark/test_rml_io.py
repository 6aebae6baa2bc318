"""The current RML vocabulary (RML-Core/IO/FNML) beyond the W3C cases: sources, rejects, refusals."""
# ruff: noqa: E501  (embedded Turtle mappings read best unwrapped)

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from spark_rdfcheck import quads_of

from eokg.errors import MappingError
from eokg.spark.local import map_lines, run_local
from eokg.spark.rml import parse_mapping_text

PREFIXES = """
@prefix rml: <http://w3id.org/rml/> .
@prefix ex: <http://example.org/> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
@prefix grel: <http://users.ugent.be/~bjdmeest/function/grel.ttl#> .
@base <http://example.org/base/> .
"""


def plan_of(tmp: Path, mapping: str):  # type: ignore[no-untyped-def]
    return parse_mapping_text(PREFIXES + mapping, name=str(tmp / "m.ttl"), base_dir=tmp)


def lines_of(tmp: Path, mapping: str) -> tuple[list[str], list[dict]]:
    return map_lines(plan_of(tmp, mapping))


def csv_map(source: str, extra: str = "") -> str:
    return f"""
    <#P> rml:logicalSource [ rml:source {source} ; rml:referenceFormulation rml:CSV {extra} ] ;
      rml:subjectMap [ rml:template "http://example.org/p/{{id}}" ] ;
      rml:predicateObjectMap [ rml:predicate ex:name ; rml:objectMap [ rml:reference "name" ] ] .
    """


def test_legacy_and_current_vocabularies_give_the_same_triples(tmp_path: Path) -> None:
    (tmp_path / "d.csv").write_text("id,name\n1,Ann\n", encoding="utf-8")
    legacy = """
    @prefix rr: <http://www.w3.org/ns/r2rml#> .
    @prefix oldrml: <http://semweb.mmlab.be/ns/rml#> .
    @prefix ql: <http://semweb.mmlab.be/ns/ql#> .
    <#P> oldrml:logicalSource [ oldrml:source "d.csv" ; oldrml:referenceFormulation ql:CSV ] ;
      rr:subjectMap [ rr:template "http://example.org/p/{id}" ] ;
      rr:predicateObjectMap [ rr:predicate ex:name ; rr:objectMap [ rr:column "name" ] ] .
    """
    assert sorted(lines_of(tmp_path, legacy)[0]) == sorted(
        lines_of(tmp_path, csv_map('"d.csv"'))[0]
    )


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ("<#P> rml:gather ( ) .", "rml:gather"),
        ('<#P> <http://www.w3.org/ns/r2rml#sqlQuery> "SELECT 1" .', "rr:sqlQuery"),
        ("<#P> rml:condition [ rml:constant true ] .", "rml:condition"),
    ],
)
def test_an_unimplemented_property_is_refused_by_name(
    tmp_path: Path, extra: str, named: str
) -> None:
    with pytest.raises(MappingError, match=named):
        plan_of(tmp_path, csv_map('"d.csv"') + extra)


def test_a_property_out_of_place_is_refused(tmp_path: Path) -> None:
    mapping = csv_map('"d.csv"').replace(
        'rml:reference "name"', 'rml:reference "name" ; rml:class ex:C'
    )
    with pytest.raises(MappingError, match="rml:class is not allowed on a object map"):
        plan_of(tmp_path, mapping)


def test_invalid_language_tag_is_refused(tmp_path: Path) -> None:
    mapping = csv_map('"d.csv"').replace(
        'rml:reference "name"', 'rml:reference "name" ; rml:language "english"'
    )
    with pytest.raises(MappingError, match="invalid language tag 'english'"):
        plan_of(tmp_path, mapping)


def test_constant_literal_in_an_object_map_is_a_literal(tmp_path: Path) -> None:
    (tmp_path / "d.csv").write_text("id,name\n1,Ann\n", encoding="utf-8")
    mapping = csv_map('"d.csv"').replace('rml:reference "name"', 'rml:constant "http://not.an/iri"')
    lines, _ = lines_of(tmp_path, mapping)
    assert lines == ['<http://example.org/p/1> <http://example.org/name> "http://not.an/iri" .']


def test_source_description_relative_to_the_mapping_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "d.csv").write_text("id,name\n1,Ann\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path.parent)
    source = '[ a rml:RelativePathSource ; rml:root rml:MappingDirectory ; rml:path "d.csv" ]'
    plan = parse_mapping_text(
        PREFIXES + csv_map(source), name=str(tmp_path / "m.ttl"), base_dir=tmp_path.parent
    )
    assert plan.triples_maps[0].source.path == tmp_path / "d.csv"
    assert len(map_lines(plan)[0]) == 1


def test_gzip_utf16_source_and_declared_nulls(tmp_path: Path) -> None:
    text = "id,name\n1,Ann\n2,NULL\n3,\n"
    (tmp_path / "d.csv.gz").write_bytes(gzip.compress(text.encode("utf-16")))
    source = '[ a rml:RelativePathSource ; rml:path "d.csv.gz" ; rml:compression rml:gzip ; rml:encoding rml:UTF-16 ; rml:null "NULL" ]'
    lines, rejects = lines_of(tmp_path, csv_map(source))
    assert rejects == []
    assert (
        sorted(lines)
        == [
            '<http://example.org/p/1> <http://example.org/name> "Ann" .',
            '<http://example.org/p/3> <http://example.org/name> "" .',  # "" is a value: only NULL was declared
        ]
    )


def test_json_numbers_get_their_natural_datatype(tmp_path: Path) -> None:
    (tmp_path / "d.json").write_text(
        json.dumps([{"id": "a", "n": 3, "x": 2.5, "b": True, "s": "t"}]), encoding="utf-8"
    )
    pom = "".join(
        f'rml:predicateObjectMap [ rml:predicate ex:{k} ; rml:objectMap [ rml:reference "$.{k}" ] ] ;'
        for k in "nxbs"
    )
    mapping = f"""
    <#J> rml:logicalSource [ rml:source "d.json" ; rml:referenceFormulation rml:JSONPath ; rml:iterator "$[*]" ] ;
      {pom}
      rml:subjectMap [ rml:template "http://example.org/j/{{$.id}}" ] .
    """
    lines, _ = lines_of(tmp_path, mapping)
    objects = sorted(line.split(" ", 2)[2] for line in lines)
    assert objects == [
        '"2.5"^^<http://www.w3.org/2001/XMLSchema#double> .',
        '"3"^^<http://www.w3.org/2001/XMLSchema#integer> .',
        '"t" .',
        '"true"^^<http://www.w3.org/2001/XMLSchema#boolean> .',
    ]


def test_malformed_records_go_to_the_reject_file_and_the_job_continues(tmp_path: Path) -> None:
    (tmp_path / "d.csv").write_bytes(b"id,name\n1,Ann\n2\n3,B\xffb\n4,Dan,extra\n5,Eve\n")
    out = tmp_path / "out"
    summary = run_local(plan_of(tmp_path, csv_map('"d.csv"')), out)
    assert summary.triples == 2
    rejects = [
        json.loads(line)
        for part in (out / "_rejects").glob("*.jsonl")
        for line in part.read_text().splitlines()
    ]
    by_line = {r["line"]: r for r in rejects}
    assert sorted(by_line) == [3, 4, 5]
    assert all(r["file"] == str(tmp_path / "d.csv") for r in rejects)
    assert "1 fields where the header has 2" in by_line[3]["reason"]
    assert "not valid UTF-8" in by_line[4]["reason"]
    assert "3 fields" in by_line[5]["reason"]


def test_invalid_json_lines_are_rejected_with_their_line(tmp_path: Path) -> None:
    (tmp_path / "d.ndjson").write_bytes(b'{"id": 1}\n{broken\n\xff\xfe\n{"id": 2}\n')
    mapping = """
    <#J> rml:logicalSource [ rml:source "d.ndjson" ; rml:referenceFormulation rml:JSONPath ] ;
      rml:subjectMap [ rml:template "http://example.org/j/{$.id}" ; rml:class ex:J ] .
    """
    lines, rejects = lines_of(tmp_path, mapping)
    assert len(lines) == 2
    assert sorted(r["line"] for r in rejects) == [2, 3]


def test_language_map_datatype_map_base_iri_and_unsafe_iri(tmp_path: Path) -> None:
    (tmp_path / "d.csv").write_text(
        "id,name,lang,dt\na/b,Ann,en,integer\nc,Bo,not a tag,string\n", encoding="utf-8"
    )
    mapping = """
    <#P> rml:logicalSource [ rml:source "d.csv" ; rml:referenceFormulation rml:CSV ] ;
      rml:baseIRI "http://other.org/" ;
      rml:subjectMap [ rml:template "{id}" ] ;
      rml:predicateObjectMap [ rml:predicate ex:name ; rml:objectMap [ rml:reference "name" ; rml:languageMap [ rml:reference "lang" ] ] ] ;
      rml:predicateObjectMap [ rml:predicate ex:v ; rml:objectMap [ rml:reference "id" ; rml:datatypeMap [ rml:template "http://www.w3.org/2001/XMLSchema#{dt}" ] ] ] ;
      rml:predicateObjectMap [ rml:predicate ex:raw ; rml:objectMap [ rml:template "http://example.org/r/{id}" ; rml:termType rml:UnsafeIRI ] ] .
    """
    quads = {
        (str(s), str(p), str(o), getattr(o, "language", None), str(getattr(o, "datatype", None)))
        for s, p, o, _ in quads_of(lines_of(tmp_path, mapping)[0])
    }
    assert ("http://other.org/a%2Fb", "http://example.org/name", "Ann", "en", "None") in quads
    assert (
        "http://other.org/a%2Fb",
        "http://example.org/v",
        "a/b",
        None,
        "http://www.w3.org/2001/XMLSchema#integer",
    ) in quads
    assert (
        "http://other.org/a%2Fb",
        "http://example.org/raw",
        "http://example.org/r/a/b",
        None,
        "None",
    ) in quads
    assert not any(
        q[1] == "http://example.org/name" and q[0] == "http://other.org/c" for q in quads
    )  # bad tag: no term


def test_child_map_and_parent_map_join(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("id,team\n1,x\n", encoding="utf-8")
    (tmp_path / "b.csv").write_text("code\nx\n", encoding="utf-8")
    mapping = """
    <#A> rml:logicalSource [ rml:source "a.csv" ; rml:referenceFormulation rml:CSV ] ;
      rml:subjectMap [ rml:template "http://example.org/a/{id}" ] ;
      rml:predicateObjectMap [ rml:predicate ex:team ; rml:objectMap [ rml:parentTriplesMap <#B> ;
        rml:joinCondition [ rml:childMap [ rml:reference "team" ] ; rml:parentMap [ rml:reference "code" ] ] ] ] .
    <#B> rml:logicalSource [ rml:source "b.csv" ; rml:referenceFormulation rml:CSV ] ;
      rml:subjectMap [ rml:template "http://example.org/b/{code}" ] .
    """
    lines, _ = lines_of(tmp_path, mapping)
    assert lines == [
        "<http://example.org/a/1> <http://example.org/team> <http://example.org/b/x> ."
    ]


def test_grel_functions_nest(tmp_path: Path) -> None:
    (tmp_path / "d.csv").write_text("id,name\n1,a b;c\n", encoding="utf-8")
    mapping = """
    <#P> rml:logicalSource [ rml:source "d.csv" ; rml:referenceFormulation rml:CSV ] ;
      rml:subjectMap [ rml:template "http://example.org/p/{id}" ] ;
      rml:predicateObjectMap [ rml:predicate ex:part ; rml:objectMap [ rml:functionExecution [
        rml:function grel:string_split ;
        rml:input [ rml:parameter grel:p_string_sep ; rml:inputValue ";" ] ,
          [ rml:parameter grel:valueParameter ; rml:inputValueMap [ rml:functionExecution [
            rml:function grel:toUpperCase ;
            rml:input [ rml:parameter grel:valueParameter ; rml:inputValueMap [ rml:reference "name" ] ] ] ] ] ] ] ] .
    """
    lines, _ = lines_of(tmp_path, mapping)
    assert sorted(line.split(" ", 2)[2] for line in lines) == ['"A B" .', '"C" .']


def _csv_sources(tmp: Path) -> str:
    """One file per source option the two engines must read alike; the mapping of all."""
    import io
    import zipfile

    plain = 'id,name,note\n1,Ann,\n2,"",NULL\n3,"B, b","say ""hi"""\n4,Dan\n'
    (tmp / "plain.csv").write_text("\ufeff" + plain, encoding="utf-8")  # with a BOM
    (tmp / "tabs.tsv").write_text("id\tname\tnote\n5\tEve\t\n", encoding="utf-8")
    (tmp / "packed.csv.gz").write_bytes(gzip.compress(plain.replace("1,", "6,").encode()))
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("inner.csv", plain.replace("1,", "7,"))
    (tmp / "zipped.zip").write_bytes(archive.getvalue())
    (tmp / "wide.csv.gz").write_bytes(gzip.compress(plain.replace("1,", "8,").encode("utf-16")))
    (tmp / "raw.gz").write_text(plain.replace("1,", "9,"), encoding="utf-8")  # not compressed
    sources = {
        "plain": '[ a rml:RelativePathSource ; rml:path "plain.csv" ; rml:null "NULL" ]',
        "tabs": '"tabs.tsv"',
        "packed": '[ a rml:RelativePathSource ; rml:path "packed.csv.gz" ; rml:compression rml:gzip ; rml:null "" ]',
        "zipped": '[ a rml:RelativePathSource ; rml:path "zipped.zip" ; rml:compression rml:zip ]',
        "wide": '[ a rml:RelativePathSource ; rml:path "wide.csv.gz" ; rml:compression rml:gzip ; rml:encoding rml:UTF-16 ; rml:null "NULL", "" ]',
        "raw": '[ a rml:RelativePathSource ; rml:path "raw.gz" ]',
    }
    return "".join(
        f"""
    <#{name}> rml:logicalSource [ rml:source {source} ; rml:referenceFormulation rml:CSV ] ;
      rml:subjectMap [ rml:template "http://example.org/{name}/{{id}}" ] ;
      rml:predicateObjectMap [ rml:predicate ex:name ; rml:objectMap [ rml:reference "name" ] ] ;
      rml:predicateObjectMap [ rml:predicate ex:note ; rml:objectMap [ rml:reference "note" ] ] .
    """
        for name, source in sources.items()
    )


def test_csv_source_options_on_the_local_engine(tmp_path: Path) -> None:
    lines, rejects = lines_of(tmp_path, _csv_sources(tmp_path))
    assert '<http://example.org/plain/1> <http://example.org/note> "" .' in lines
    assert '<http://example.org/plain/3> <http://example.org/note> "say \\"hi\\"" .' in lines
    assert not any("plain/2> <http://example.org/note>" in line for line in lines)  # NULL
    assert '<http://example.org/tabs/5> <http://example.org/name> "Eve" .' in lines
    assert not any("packed/6> <http://example.org/note>" in line for line in lines)  # ""
    assert '<http://example.org/packed/2> <http://example.org/name> "" .' in lines  # quoted
    assert '<http://example.org/zipped/7> <http://example.org/name> "Ann" .' in lines
    assert '<http://example.org/wide/8> <http://example.org/name> "Ann" .' in lines
    assert '<http://example.org/raw/9> <http://example.org/name> "Ann" .' in lines
    assert {r["line"] for r in rejects} == {5}  # "4,Dan": a ragged row, in each file


@pytest.mark.spark
def test_spark_reads_csv_source_options_as_the_local_engine(spark, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from eokg.spark.job import run_spark

    plan = plan_of(tmp_path, _csv_sources(tmp_path))
    local, local_rejects = map_lines(plan)
    summary = run_spark(plan, tmp_path / "out", spark)
    on_spark = [
        line
        for part in sorted((tmp_path / "out").glob("part-*"))
        for line in part.read_text(encoding="utf-8").splitlines()
    ]
    assert sorted(on_spark) == sorted(local)
    # the ragged row of each file is a reject on Spark too, with its file and reason
    spark_rejects = [
        json.loads(line)
        for part in sorted((tmp_path / "out" / "_rejects").glob("*.jsonl"))
        for line in part.read_text(encoding="utf-8").splitlines()
    ]

    def seen(rejects: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
        return sorted((r["file"], r["record"], r["reason"].rpartition(": ")[2]) for r in rejects)

    assert len(local_rejects) == 5  # "4,Dan" in each file but tabs.tsv
    assert seen(spark_rejects) == seen(local_rejects)
    assert summary.reject_count == 5
