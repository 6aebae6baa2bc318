"""The protocol's update dataset written into the request (``kg/update_dataset.py``)."""

from __future__ import annotations

import pytest

from eokg.errors import QueryError
from eokg.kg.update_dataset import with_protocol_dataset

USING = "USING <http://g/1> USING NAMED <http://g/2>"


def test_each_where_operation_gets_the_dataset_and_nothing_else_is_touched() -> None:
    request = (
        "PREFIX ex: <http://ex/> "
        "DELETE { ?s ex:p ?o } WHERE { ?s ex:p ?o { SELECT ?s WHERE { ?s ?q ?r } } } ; "
        "INSERT DATA { ex:a ex:b 'WHERE USING' } ; "
        "delete where { GRAPH ?g { ?a ex:r ?b } } ; "
        "CLEAR GRAPH <http://g/3>"
    )
    assert with_protocol_dataset(request, ["http://g/1"], ["http://g/2"]) == (
        "PREFIX ex: <http://ex/> "
        f"DELETE {{ ?s ex:p ?o }} {USING} "
        "WHERE { ?s ex:p ?o { SELECT ?s WHERE { ?s ?q ?r } } } ; "
        "INSERT DATA { ex:a ex:b 'WHERE USING' } ; "
        f"DELETE {{ GRAPH ?g {{ ?a ex:r ?b }} }} {USING} WHERE {{ GRAPH ?g {{ ?a ex:r ?b }} }} ; "
        "CLEAR GRAPH <http://g/3>"
    )


def test_no_protocol_graphs_leave_the_request_as_it_is() -> None:
    request = "WITH <http://g/9> DELETE { ?s ?p ?o } WHERE { ?s ?p ?o }"
    assert with_protocol_dataset(request, [], []) is request


@pytest.mark.parametrize(
    "request_text",
    [
        "WITH <http://g/9> DELETE { ?s ?p ?o } WHERE { ?s ?p ?o }",
        "DELETE { ?s ?p ?o } USING <http://g/9> WHERE { ?s ?p ?o }",
        "INSERT { ?s ?p ?o } using named <http://g/9> WHERE { GRAPH ?g { ?s ?p ?o } }",
    ],
)
def test_a_request_with_its_own_dataset_is_refused(request_text: str) -> None:
    with pytest.raises(QueryError, match=r"Protocol 2\.2\.3") as caught:
        with_protocol_dataset(request_text, ["http://g/1"], [])
    assert caught.value.where == "using-graph-uri"


def test_a_graph_that_is_no_iri_is_refused() -> None:
    with pytest.raises(QueryError, match="not an IRI"):
        with_protocol_dataset("DELETE WHERE { ?s ?p ?o }", ["http://g/1> . } ; DROP ALL ; #"], [])
