"""GeoSPARQL RDFS entailment: the class and property hierarchy, written as patterns.

GeoSPARQL 1.0 (11-052r4, RDFS entailment extension) asks that a query for
``geo:Feature`` find instances of its subclasses and that ``geo:hasGeometry``
include its subproperties.  Oxigraph does no reasoning, so the planner replaces
such triples with patterns that enumerate the closure: the hierarchy built into
the vocabulary, plus ``rdfs:subClassOf`` / ``rdfs:subPropertyOf`` declared in the
store (asked once per query), plus the domains and ranges of GeoSPARQL
properties.  Each replacement is a ``SELECT DISTINCT`` subquery, so an instance
typed twice still counts once, as it does in the entailed graph.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from eokg.kg.functions import RELATIONS
from eokg.kg.geometry import SERIALIZATIONS
from eokg.ontologies.namespaces import GEO, RDFS

ANY_GEOMETRY = (
    f"(<{GEO}hasDefaultGeometry>|<{GEO}hasGeometry>)?/("
    + "|".join(f"<{GEO}{n}>" for n in SERIALIZATIONS)
    + ")"
)
#: GeoSPARQL 1.0/1.1 class hierarchy: class -> direct subclasses.
_SUBCLASSES = {
    "SpatialObject": ("Feature", "Geometry"),
    "SpatialObjectCollection": ("FeatureCollection", "GeometryCollection"),
}
#: Class -> properties whose domain it is (1.0 + 1.1 vocabulary).
_DOMAIN_OF = {
    "Feature": ("hasGeometry", "hasDefaultGeometry", "hasCentroid", "hasBoundingBox"),
    "Geometry": (
        *SERIALIZATIONS,
        "hasSerialization",
        "dimension",
        "coordinateDimension",
        "spatialDimension",
        "isEmpty",
        "isSimple",
    ),
}
#: Class -> properties whose range it is.
_RANGE_OF = {"Geometry": ("hasGeometry", "hasDefaultGeometry", "hasCentroid", "hasBoundingBox")}
#: Property -> direct subproperties.
SUBPROPERTIES = {
    "hasGeometry": ("hasDefaultGeometry", "hasCentroid", "hasBoundingBox"),
    "hasSerialization": SERIALIZATIONS,
}
TOPOLOGY = frozenset(RELATIONS)


class GeoVocabulary:
    """The GeoSPARQL hierarchy closed over what the store declares (cached per query)."""

    def __init__(self, fetch: Callable[[str], list[list[Any]]], counter: Iterator[int]) -> None:
        self._fetch = fetch
        self._counter = counter
        self._cache: dict[str, list[str]] = {}

    def subclasses(self, cls: str) -> list[str]:
        """``cls`` and every class below it, built in or declared in the store."""
        return self._closure(cls, _SUBCLASSES, "subClassOf")

    def subproperties(self, prop: str) -> list[str]:
        """``prop`` and every property below it, built in or declared in the store."""
        return self._closure(prop, SUBPROPERTIES, "subPropertyOf")

    def in_use(self, props: list[str]) -> list[str]:
        """Those of ``props`` that some triple of the store uses (one cheap ASK each).

        Widening a pattern to its subproperties costs a DISTINCT subquery over every
        matching triple; when the store uses only the property itself (the usual
        case: plain ``geo:hasGeometry``), the plain triple already is the answer.
        """
        out = []
        for prop in props:
            key = f"in-use {prop}"
            if key not in self._cache:
                rows = self._fetch(f"SELECT ?s WHERE {{ ?s <{prop}> ?o }} LIMIT 1")
                self._cache[key] = [prop] if rows else []
            out += self._cache[key]
        return out

    def _closure(
        self, top: str, built_in: Mapping[str, tuple[str, ...]], relation: str
    ) -> list[str]:
        key = f"{relation} {top}"
        if key not in self._cache:
            closure = {top}
            todo = [top]
            while todo:
                name = todo.pop()
                below = built_in.get(name[len(GEO) :], ()) if name.startswith(GEO) else ()
                for sub in below:
                    if GEO + sub not in closure:
                        closure.add(GEO + sub)
                        todo.append(GEO + sub)
            values = " ".join(f"<{c}>" for c in sorted(closure))
            rows = self._fetch(
                f"SELECT DISTINCT ?c WHERE {{ VALUES ?top {{ {values} }} "
                f"?c <{RDFS}{relation}>* ?top . FILTER(isIRI(?c)) }}"
            )
            closure |= {row[0].value for row in rows if row[0] is not None}
            self._cache[key] = sorted(closure)
        return self._cache[key]

    def type_pattern(self, subject: str, cls: str) -> str | None:
        classes = self.subclasses(cls)
        local = {c[len(GEO) :] for c in classes if c.startswith(GEO)}
        domain = sorted({p for c in local for p in _DOMAIN_OF.get(c, ())})
        range_ = sorted({p for c in local for p in _RANGE_OF.get(c, ())})
        if "SpatialObject" in local:
            domain = sorted(set(domain) | TOPOLOGY)
            range_ = sorted(set(range_) | TOPOLOGY)
        if len(classes) == 1 and not domain and not range_:
            return None
        fresh = next(self._counter)
        branches = [
            f"{{ {subject} a ?eokg_c{fresh} . VALUES ?eokg_c{fresh} "
            f"{{ {' '.join(f'<{c}>' for c in classes)} }} }}"
        ]
        if domain:
            props = "|".join(f"<{GEO}{p}>" for p in domain)
            branches.append(f"{{ {subject} ({props}) [] }}")
        if range_:
            props = "|".join(f"<{GEO}{p}>" for p in range_)
            branches.append(f"{{ [] ({props}) {subject} }}")
        return f"{{ SELECT DISTINCT {subject} WHERE {{ {' UNION '.join(branches)} }} }}"

    # --- topology relations used as properties ----------------------------------------------

    def geometry_path(self, entailment: bool = True) -> str:
        """Feature-or-geometry to literal; ``?`` keeps it duplicate-free (set semantics)."""
        if not entailment:
            return ANY_GEOMETRY
        links = "|".join(f"<{p}>" for p in self.subproperties(GEO + "hasGeometry"))
        ends = "|".join(f"<{GEO}{n}>" for n in SERIALIZATIONS)
        return f"({links})?/({ends})"
