"""SKOS concept schemes for semantic search.

Items carry concept IRIs in ``properties["eokg:concepts"]``.  A search for a
concept must also find items tagged with any *narrower* concept (a search for
"new ice" finds items tagged "nilas"), and free text must match a concept's
prefLabel or altLabel in any language.  The scheme is read once from Turtle with
rdflib and kept as plain dicts, so expansion at query time is a dict walk.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from eokg.errors import InputError
from eokg.ontologies.namespaces import SKOS


def normalise(text: str) -> str:
    """Case-, accent- and punctuation-insensitive form used to compare labels."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(re.findall(r"\w+", plain.casefold()))


@dataclass
class ConceptScheme:
    """Concepts, their labels and the broader/narrower hierarchy."""

    labels: dict[str, set[str]] = field(default_factory=dict)
    narrower: dict[str, set[str]] = field(default_factory=dict)
    pref_labels: dict[str, dict[str, str]] = field(default_factory=dict)
    _by_label: dict[str, set[str]] = field(default_factory=dict)

    @classmethod
    def from_files(cls, paths: Iterable[Path]) -> ConceptScheme:
        import rdflib

        graph = rdflib.Graph()
        for path in paths:
            try:
                graph.parse(path, format="turtle")
            except Exception as exc:
                raise InputError(f"cannot read SKOS concepts: {exc}", where=str(path)) from exc
        return cls.from_graph(graph)

    @classmethod
    def from_directory(cls, directory: Path) -> ConceptScheme:
        """Every ``*.ttl`` in ``directory``; an absent folder gives an empty scheme."""
        if not directory.is_dir():
            return cls()
        return cls.from_files(sorted(directory.glob("*.ttl")))

    @classmethod
    def from_turtle(cls, text: str) -> ConceptScheme:
        import rdflib

        graph = rdflib.Graph()
        graph.parse(data=text, format="turtle")
        return cls.from_graph(graph)

    @classmethod
    def from_graph(cls, graph: object) -> ConceptScheme:
        import rdflib

        assert isinstance(graph, rdflib.Graph)
        ns = rdflib.Namespace(SKOS)
        scheme = cls()
        for concept in graph.subjects(rdflib.RDF.type, ns.Concept):
            scheme._concept(str(concept))
        for narrow, broad in graph.subject_objects(ns.broader):
            scheme._link(str(broad), str(narrow))
        for broad, narrow in graph.subject_objects(ns.narrower):
            scheme._link(str(broad), str(narrow))
        for predicate in (ns.prefLabel, ns.altLabel, ns.hiddenLabel, ns.notation):
            for concept, label in graph.subject_objects(predicate):
                iri = str(concept)
                scheme._concept(iri)
                scheme._label(iri, str(label))
                if predicate == ns.prefLabel and isinstance(label, rdflib.Literal):
                    scheme.pref_labels[iri][label.language or ""] = str(label)
        return scheme

    def _concept(self, iri: str) -> None:
        self.labels.setdefault(iri, set())
        self.narrower.setdefault(iri, set())
        self.pref_labels.setdefault(iri, {})

    def _link(self, broad: str, narrow: str) -> None:
        self._concept(broad)
        self._concept(narrow)
        self.narrower[broad].add(narrow)

    def _label(self, iri: str, label: str) -> None:
        key = normalise(label)
        if key:
            self.labels[iri].add(label)
            self._by_label.setdefault(key, set()).add(iri)

    def __len__(self) -> int:
        return len(self.labels)

    def expand(self, iri: str) -> set[str]:
        """``iri`` and all its transitively narrower concepts (cycle safe)."""
        seen = {iri}
        stack = [iri]
        while stack:
            for child in self.narrower.get(stack.pop(), ()):
                if child not in seen:
                    seen.add(child)
                    stack.append(child)
        return seen

    def match_text(self, text: str) -> set[str]:
        """Concepts one of whose labels (any language) equals ``text``, normalised."""
        return set(self._by_label.get(normalise(text), ()))

    def label(self, iri: str, lang: str = "en") -> str:
        prefs = self.pref_labels.get(iri, {})
        return prefs.get(lang) or prefs.get("") or next(iter(prefs.values()), iri)

    def labels_text(self, iris: Iterable[str]) -> str:
        """All labels of ``iris`` as one string, for the full-text index."""
        return " ".join(sorted({lab for iri in iris for lab in self.labels.get(iri, ())}))


@dataclass(frozen=True)
class ConceptQuery:
    """A search's concept side: requested concept -> the set of IRIs that satisfy it."""

    expansions: dict[str, frozenset[str]]

    @property
    def all_iris(self) -> set[str]:
        return {iri for group in self.expansions.values() for iri in group}

    def explain(self, item_concepts: Iterable[str]) -> list[tuple[str, str]]:
        """(requested, via) pairs for an item's concepts."""
        tagged = set(item_concepts)
        return [
            (requested, via)
            for requested, group in self.expansions.items()
            for via in sorted(group & tagged)
        ]


def concept_query(
    scheme: ConceptScheme | None, concepts: Iterable[str] = (), terms: Iterable[str] = ()
) -> ConceptQuery:
    """Expand requested concept IRIs and concepts named by free-text terms."""
    expansions: dict[str, frozenset[str]] = {}
    for iri in concepts:
        expansions[iri] = frozenset(scheme.expand(iri) if scheme else {iri})
    if scheme is not None:
        for term in terms:
            for iri in scheme.match_text(term):
                expansions.setdefault(iri, frozenset(scheme.expand(iri)))
    return ConceptQuery(expansions)


def default_scheme() -> ConceptScheme:
    """The concept schemes shipped in ``eokg.ontologies`` (empty if none yet)."""
    from eokg.ontologies.paths import CONCEPTS_DIR

    return ConceptScheme.from_directory(CONCEPTS_DIR)
