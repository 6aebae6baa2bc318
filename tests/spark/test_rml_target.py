"""RML-IO logical targets: routing (RML-IO: only to the targets), files, refusals."""
# ruff: noqa: E501  (embedded Turtle mappings read best unwrapped)

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from eokg.errors import MappingError
from eokg.spark.local import map_lines, run_local
from eokg.spark.rml import parse_mapping_text

PREFIXES = """
@prefix rml: <http://w3id.org/rml/> .
@prefix ex: <http://example.org/> .
@prefix formats: <http://www.w3.org/ns/formats/> .
@prefix void: <http://rdfs.org/ns/void#> .
@base <http://example.org/base/> .
"""
DATA = "id,name,nick\n1,Ann,A\n2,Bob,B\n"


def plan_of(tmp: Path, mapping: str):  # type: ignore[no-untyped-def]
    (tmp / "d.csv").write_text(DATA, encoding="utf-8")
    return parse_mapping_text(PREFIXES + mapping, name=str(tmp / "m.ttl"), base_dir=tmp)


def people(subject: str = "", name: str = "", nick: str = "", graph: str = "") -> str:
    """A CSV mapping with a place for a logical target on each term map."""
    return f"""
    <#P> rml:logicalSource [ rml:source "d.csv" ; rml:referenceFormulation rml:CSV ] ;
      rml:subjectMap [ rml:template "http://example.org/p/{{id}}" ; rml:class ex:Person {subject} {graph} ] ;
      rml:predicateObjectMap [ rml:predicateMap [ rml:constant ex:name {name} ] ; rml:objectMap [ rml:reference "name" ] ] ;
      rml:predicateObjectMap [ rml:predicate ex:nick ; rml:objectMap [ rml:reference "nick" {nick} ] ] .
    """


def target(name: str, path: str, extra: str = "", on_target: str = "") -> str:
    return f"""
    <#{name}> a rml:LogicalTarget ; {extra}
      rml:target [ a rml:Target, rml:FilePath ; rml:path "{path}" {on_target} ] .
    """


def run(tmp: Path, mapping: str) -> tuple[list[str], dict[str, list[str]]]:
    targets: dict[str, list[str]] = {}
    lines, rejects = map_lines(plan_of(tmp, mapping), targets=targets)
    assert rejects == []
    return sorted(lines), {Path(k).name: sorted(v) for k, v in targets.items()}


def test_subject_map_target_takes_every_triple_of_the_subject(tmp_path: Path) -> None:
    mapping = people(subject="; rml:logicalTarget <#T>") + target(
        "T", "people.nt", "rml:serialization formats:N-Triples ;"
    )
    default, targets = run(tmp_path, mapping)
    assert default == []  # RML-IO: a triple with a target goes there only
    assert len(targets["people.nt"]) == 6


def test_predicate_and_object_targets_take_their_triples_only(tmp_path: Path) -> None:
    mapping = (
        people(name="; rml:logicalTarget <#Names>", nick="; rml:logicalTarget <#Nicks>")
        + target("Names", "names.nq")
        + target("Nicks", "nicks.nq")
    )
    default, targets = run(tmp_path, mapping)
    assert default == [
        "<http://example.org/p/1> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <http://example.org/Person> .",
        "<http://example.org/p/2> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <http://example.org/Person> .",
    ]
    assert targets["names.nq"] == [
        '<http://example.org/p/1> <http://example.org/name> "Ann" .',
        '<http://example.org/p/2> <http://example.org/name> "Bob" .',
    ]
    assert targets["nicks.nq"] == [
        '<http://example.org/p/1> <http://example.org/nick> "A" .',
        '<http://example.org/p/2> <http://example.org/nick> "B" .',
    ]


def test_a_triple_goes_once_to_each_of_its_targets(tmp_path: Path) -> None:
    mapping = (
        people(subject="; rml:logicalTarget <#All>", name="; rml:logicalTarget <#All>, <#Names>")
        + target("All", "all.nq")
        + target("Names", "names.nq")
    )
    default, targets = run(tmp_path, mapping)
    assert default == []
    assert len(targets["all.nq"]) == 6  # the name triples reach <#All> twice, are written once
    assert len(targets["names.nq"]) == 2


def test_graph_map_target_with_n_quads(tmp_path: Path) -> None:
    mapping = people(
        graph="; rml:graphMap [ rml:constant ex:g ; rml:logicalTarget <#G> ]"
    ) + target("G", "g.nq")
    default, targets = run(tmp_path, mapping)
    assert default == []
    assert (
        '<http://example.org/p/1> <http://example.org/name> "Ann" <http://example.org/g> .'
        in targets["g.nq"]
    )


def test_join_triples_follow_the_parent_subject_target(tmp_path: Path) -> None:
    mapping = (
        people()
        + """
    <#Q> rml:logicalSource [ rml:source "d.csv" ; rml:referenceFormulation rml:CSV ] ;
      rml:subjectMap [ rml:template "http://example.org/q/{id}" ] ;
      rml:predicateObjectMap [ rml:predicate ex:same ; rml:objectMap [
        rml:parentTriplesMap <#R> ; rml:joinCondition [ rml:child "id" ; rml:parent "id" ] ] ] .
    <#R> rml:logicalSource [ rml:source "d.csv" ; rml:referenceFormulation rml:CSV ] ;
      rml:subjectMap [ rml:template "http://example.org/r/{id}" ; rml:logicalTarget <#J> ] .
    """
        + target("J", "joins.nq")
    )
    default, targets = run(tmp_path, mapping)
    assert not any("ex:same" in line or "/same>" in line for line in default)
    assert targets["joins.nq"] == [
        "<http://example.org/q/1> <http://example.org/same> <http://example.org/r/1> .",
        "<http://example.org/q/2> <http://example.org/same> <http://example.org/r/2> .",
    ]


def test_local_job_writes_gzip_targets_and_the_rest_to_its_output(tmp_path: Path) -> None:
    mapping = people(nick="; rml:logicalTarget <#Nicks>") + target(
        "Nicks",
        "out/nicks.nt.gz",
        "rml:serialization formats:N-Triples ;",
        "; rml:compression rml:gzip",
    )
    summary = run_local(plan_of(tmp_path, mapping), tmp_path / "job")
    written = gzip.decompress((tmp_path / "out" / "nicks.nt.gz").read_bytes()).decode("utf-8")
    assert sorted(written.splitlines()) == [
        '<http://example.org/p/1> <http://example.org/nick> "A" .',
        '<http://example.org/p/2> <http://example.org/nick> "B" .',
    ]
    default = "".join(p.read_text(encoding="utf-8") for p in (tmp_path / "job").glob("part-*"))
    assert "/nick>" not in default and default.count("\n") == 4
    assert summary.triples == 4
    assert not list((tmp_path / "out").glob(".*eokg-partial"))


def test_void_data_dump_and_legacy_rmlt_vocabulary(tmp_path: Path) -> None:
    legacy = """
    @prefix rmlt: <http://semweb.mmlab.be/ns/rml-target#> .
    @prefix comp: <http://semweb.mmlab.be/ns/rml-compression#> .
    <#Old> a rmlt:LogicalTarget ; rmlt:serialization formats:N-Quads ; rmlt:compression comp:none ;
      rmlt:target [ a void:Dataset ; void:dataDump <file://./dump.nq> ] .
    """
    mapping = people(subject="; rml:logicalTarget <#Old>") + legacy
    plan = plan_of(tmp_path, mapping)
    target_of = plan.triples_maps[0].subject.targets[0]  # type: ignore[attr-defined]
    assert target_of.path == tmp_path / "dump.nq"
    run_local(plan, tmp_path / "job")
    assert len((tmp_path / "dump.nq").read_text(encoding="utf-8").splitlines()) == 6


@pytest.mark.parametrize(
    ("extra", "on_target", "needle"),
    [
        ("rml:serialization formats:Turtle ;", "", "unsupported rml:serialization"),
        ("", "; rml:compression rml:zip", "unsupported rml:compression <http://w3id.org/rml/zip>"),
        ("", "; rml:compression rml:targz", "zip and tar archives are not written"),
        ("", "; rml:encoding rml:UTF-16", "unsupported rml:encoding"),
        (
            "rml:compression rml:gzip ;",
            "; rml:compression rml:none",
            "more than one rml:compression",
        ),
    ],
)
def test_unsupported_target_options_are_refused_by_name(
    tmp_path: Path, extra: str, on_target: str, needle: str
) -> None:
    mapping = people(subject="; rml:logicalTarget <#T>") + target("T", "t.nq", extra, on_target)
    with pytest.raises(MappingError) as info:
        plan_of(tmp_path, mapping)
    assert needle in str(info.value) and "m.ttl" in str(info.value) and "#T>" in str(info.value)


def test_a_non_file_target_is_refused(tmp_path: Path) -> None:
    mapping = (
        people(subject="; rml:logicalTarget <#S>")
        + """
    @prefix sd: <http://www.w3.org/ns/sparql-service-description#> .
    <#S> a rml:LogicalTarget ; rml:target [ a rml:Target, sd:Service ; sd:endpoint <http://example.org/sparql> ] .
    """
    )
    with pytest.raises(MappingError, match="rml:target: eokg writes file targets only"):
        plan_of(tmp_path, mapping)


def test_a_target_on_a_triples_map_is_refused(tmp_path: Path) -> None:
    mapping = people() + "<#P> rml:logicalTarget <#T> ." + target("T", "t.nq")
    with pytest.raises(MappingError, match="rml:logicalTarget is allowed on subject, predicate"):
        plan_of(tmp_path, mapping)


def test_named_graph_triples_cannot_go_to_an_n_triples_target(tmp_path: Path) -> None:
    mapping = people(subject="; rml:logicalTarget <#T>", graph="; rml:graph ex:g") + target(
        "T", "t.nt", "rml:serialization formats:N-Triples ;"
    )
    with pytest.raises(
        MappingError, match=r"N-Triples target .*t\.nt would receive triples in a named graph"
    ):
        map_lines(plan_of(tmp_path, mapping))


def test_the_spark_engine_refuses_logical_targets_by_name(tmp_path: Path) -> None:
    from eokg.spark.job import source_frame

    plan = plan_of(tmp_path, people(subject="; rml:logicalTarget <#T>") + target("T", "t.nq"))
    with pytest.raises(
        MappingError, match="rml:logicalTarget is not implemented on the Spark engine"
    ):
        source_frame(None, plan, plan.sources()[0], 100)  # refused before any Spark call
