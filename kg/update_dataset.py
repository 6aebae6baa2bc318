"""The SPARQL 1.1 Protocol's update dataset (``using-graph-uri``, ``using-named-graph-uri``).

Protocol section 2.2.3: those parameters give the RDF dataset of every
operation of the request that has a WHERE clause, exactly as ``USING <g>`` and
``USING NAMED <g>`` in each of them would, and a request that names its own
dataset (``USING``, ``USING NAMED`` or ``WITH``) together with them is refused.
Oxigraph's update API takes no dataset, so the request text gets those clauses:
``USING`` before the top-level ``WHERE`` of each ``DELETE/INSERT ... WHERE``, and a
``DELETE WHERE { P }`` becomes ``DELETE { P } USING ... WHERE { P }``, its
meaning by definition (SPARQL 1.1 Update 3.1.3.3).  DATA operations and graph
management have no WHERE and are left as they are.

Only tokens at brace depth 0 are looked at, so a ``WHERE`` of a subquery or a
word inside a string or an IRI never matches (the tokenizer reads strings and
IRIs whole).
"""

from __future__ import annotations

from collections.abc import Sequence

from eokg.errors import QueryError
from eokg.kg.source import graph_nodes
from eokg.kg.sparql_text import Token, is_word, matching, tokenize


def with_protocol_dataset(sparql: str, default: Sequence[str], named: Sequence[str]) -> str:
    """``sparql`` with ``USING``/``USING NAMED`` for the protocol's graphs (none: as is)."""
    if not default and not named:
        return sparql
    graph_nodes(default, "using-graph-uri")  # an IRI that would break out of <...> is refused
    graph_nodes(named, "using-named-graph-uri")
    using = " ".join([f"USING <{g}>" for g in default] + [f"USING NAMED <{g}>" for g in named])
    tokens = tokenize(sparql)
    edits: list[tuple[int, int, str]] = []  # (start, end, replacement) in the text
    depth = 0
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token.kind == "op" and token.text == "{":
            depth += 1
        elif token.kind == "op" and token.text == "}":
            depth -= 1
        elif depth == 0 and is_word(token, "USING", "WITH"):
            raise QueryError(
                f"the update names its own dataset ({token.text.upper()}) and the request "
                "gives using-graph-uri/using-named-graph-uri too (SPARQL 1.1 Protocol 2.2.3)",
                where="using-graph-uri",
            )
        elif depth == 0 and is_word(token, "WHERE"):
            if i > 0 and is_word(tokens[i - 1], "DELETE"):
                edits.append(_delete_where(sparql, tokens, i - 1, using))
            else:
                edits.append((token.start, token.start, using + " "))
        i += 1
    for start, end, text in sorted(edits, reverse=True):
        sparql = sparql[:start] + text + sparql[end:]
    return sparql


def _delete_where(
    sparql: str, tokens: list[Token], delete: int, using: str
) -> tuple[int, int, str]:
    """``DELETE WHERE { P }`` -> ``DELETE { P } USING ... WHERE { P }``."""
    open_ = delete + 2
    if open_ >= len(tokens) or tokens[open_].text != "{":
        raise QueryError("DELETE WHERE without its pattern", where="update")
    try:
        close = matching(tokens, open_)
    except ValueError:
        raise QueryError("DELETE WHERE: unbalanced braces", where="update") from None
    pattern = sparql[tokens[open_].start : tokens[close].end]
    return tokens[delete].start, tokens[close].end, f"DELETE {pattern} {using} WHERE {pattern}"
