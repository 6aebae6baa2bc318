"""Broken mappings raise MappingError naming the file, the triples map and the term map."""
# ruff: noqa: E501  (embedded Turtle mappings read best unwrapped)

from __future__ import annotations

import pytest
from conftest import write
from spark_rdfcheck import PREFIXES

from eokg.errors import MappingError
from eokg.spark.local import map_lines
from eokg.spark.rml import load_mapping

SOURCE = '<#P> rml:logicalSource [ rml:source "d.csv" ; rml:referenceFormulation ql:CSV ] ;'


def _load_and_run(tmp_path, body: str):
    write(tmp_path, "d.csv", "id,name\n1,a\n")
    path = write(tmp_path, "broken.rml.ttl", PREFIXES + body)
    return map_lines(load_mapping(path))


@pytest.mark.parametrize(
    ("body", "needle", "term"),
    [
        (
            SOURCE + ' rr:subjectMap [ rr:template "http://x/{id}" ] ;'
            ' rr:predicateObjectMap [ rr:predicate ex:n ; rr:objectMap [ rml:reference "nope" ] ] .',
            "unknown reference 'nope'",
            "predicate-object map <http://example.org/n> object map #1",
        ),
        (SOURCE + ' rr:subjectMap [ rr:template "http://x/{id" ] .', "bad template", "subject map"),
        (
            '<#P> rml:logicalSource [ rml:source "missing.csv" ; rml:referenceFormulation ql:CSV ] ;'
            ' rr:subjectMap [ rr:template "http://x/{id}" ] .',
            "source file not found",
            "logical source",
        ),
        (
            SOURCE + ' rr:subjectMap [ rr:template "http://x/{id}" ] ;'
            " rr:predicateObjectMap [ rr:predicate ex:n ; rr:objectMap [ fnml:functionValue [ "
            " rr:predicateObjectMap [ rr:predicate fno:executes ; rr:object eofn:noSuchThing ] ] ] ] .",
            "unknown function",
            "function",
        ),
        (
            SOURCE + ' rr:subjectMap [ rr:template "http://x/{id}" ] ;'
            " rr:predicateObjectMap [ rr:predicate ex:n ; rr:objectMap [ rr:parentTriplesMap <#Nope> ] ] .",
            "unknown parent triples map",
            "object map #1",
        ),
        (
            SOURCE + ' rr:subjectMap [ rr:template "http://x/{id}" ; rml:reference "id" ] .',
            "exactly one of",
            "subject map",
        ),
        (
            '<#P> rml:logicalSource [ rml:source "d.csv" ; rml:referenceFormulation ql:CSS3 ] ;'
            ' rr:subjectMap [ rr:template "http://x/{id}" ] .',
            "unsupported reference formulation",
            "logical source",
        ),
    ],
)
def test_broken_mapping_names_the_rule(tmp_path, body, needle, term):
    with pytest.raises(MappingError) as info:
        _load_and_run(tmp_path, body)
    message = str(info.value)
    assert needle in message
    assert "broken.rml.ttl" in message and "#P>" in message and term in message


def test_turtle_syntax_error_names_the_file(tmp_path):
    with pytest.raises(MappingError, match=r"broken\.rml\.ttl.*not valid Turtle"):
        _load_and_run(tmp_path, "<#P> rr:subjectMap [ .")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "no triples map"),
        (b"\x00\xff\xfe binary", "not UTF-8"),
        (b"@prefix ex: <http://ex/> . ex:a ex:b ex:c .", "no triples map"),
    ],
)
def test_empty_binary_or_unrelated_mapping_files_are_errors(
    tmp_path, content: bytes, message: str
) -> None:
    from eokg.errors import MappingError
    from eokg.spark.rml import load_mapping

    path = tmp_path / "m.ttl"
    path.write_bytes(content)
    with pytest.raises(MappingError) as caught:
        load_mapping(path)
    assert message in str(caught.value) and str(path) in str(caught.value)
