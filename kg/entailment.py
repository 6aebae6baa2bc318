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
from eokg.ontologies.namespaces import GEO, RDFS, SF

#: The GeoSPARQL GML geometry-type ontology (Req 27), beside ``SF`` (Req 26).
GML_ONT = "http://www.opengis.net/ont/gml#"
#: Namespaces whose class hierarchies rdf:type patterns are entailed for.
HIERARCHY_NAMESPACES = (GEO, SF, GML_ONT)

_ENDS = "|".join(f"<{GEO}{n}>" for n in SERIALIZATIONS)
ANY_GEOMETRY = f"(<{GEO}hasDefaultGeometry>|<{GEO}hasGeometry>)?/({_ENDS})"
#: GeoSPARQL 1.0/1.1 class hierarchy: class -> direct subclasses.
_SUBCLASSES = {
    "SpatialObject": ("Feature", "Geometry"),
    "SpatialObjectCollection": ("FeatureCollection", "GeometryCollection"),
}
#: Simple Features geometry types (ISO 19125-1 fig. 1, the GeoSPARQL sf: ontology), Req 26.
_SF_SUBCLASSES = {
    "Geometry": ("Point", "Curve", "Surface", "GeometryCollection"),
    "Curve": ("LineString",),
    "LineString": ("Line", "LinearRing"),
    "Surface": ("Polygon", "PolyhedralSurface"),
    "Polygon": ("Triangle",),
    "PolyhedralSurface": ("TIN",),
    "GeometryCollection": ("MultiPoint", "MultiCurve", "MultiSurface"),
    "MultiCurve": ("MultiLineString",),
    "MultiSurface": ("MultiPolygon",),
}
#: Class IRI -> direct subclass IRIs, every built-in hierarchy in one table.
_BUILT_IN_CLASSES = {
    **{GEO + c: tuple(GEO + d for d in subs) for c, subs in _SUBCLASSES.items()},
    **{SF + c: tuple(SF + d for d in subs) for c, subs in _SF_SUBCLASSES.items()},
}
_BUILT_IN_CLASSES[GEO + "Geometry"] = (SF + "Geometry",)  # sf:Geometry subClassOf geo:Geometry
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
    "hasDefaultGeometry": (),  # none built in; an application may declare some (Req 25)
    "hasSerialization": SERIALIZATIONS,
}
_BUILT_IN_PROPERTIES = {GEO + p: tuple(GEO + q for q in subs) for p, subs in SUBPROPERTIES.items()}
TOPOLOGY = frozenset(RELATIONS)


class GeoVocabulary:
    """The GeoSPARQL hierarchy closed over what the store declares (cached per query)."""

    def __init__(self, fetch: Callable[[str], list[list[Any]]], counter: Iterator[int]) -> None:
        self._fetch = fetch
        self._counter = counter
        self._cache: dict[str, list[str]] = {}

    def subclasses(self, cls: str) -> list[str]:
        """``cls`` and every class below it, built in or declared in the store."""
        return self._closure(cls, _BUILT_IN_CLASSES, "subClassOf")

    def subproperties(self, prop: str) -> list[str]:
        """``prop`` and every property below it, built in or declared in the store."""
        return self._closure(prop, _BUILT_IN_PROPERTIES, "subPropertyOf")

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
                for sub in built_in.get(name, ()):
                    if sub not in closure:
                        closure.add(sub)
                        todo.append(sub)
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

    def geometry_pattern(self, node: str, literal: str, entailment: bool = True) -> str:
        """Triple and filter binding ``literal`` to the geometry literals of ``node``.

        ``node`` is a geometry or a feature.  The query rewrite rules (11-052r4
        clause 12, e.g. geor:sfEquals) reach a feature's geometry through
        geo:hasDefaultGeometry, so its other geometries (a point beside the
        outline) take no part; a feature with no default geometry is related
        through the geometries it has.  ``?`` keeps the path duplicate-free.
        """
        if entailment:
            links = "|".join(f"<{p}>" for p in self.subproperties(GEO + "hasGeometry"))
            default = "|".join(f"<{p}>" for p in self.subproperties(GEO + "hasDefaultGeometry"))
            path = f"({links})?/({_ENDS})"
        else:
            path, default = ANY_GEOMETRY, f"<{GEO}hasDefaultGeometry>"
        return (
            f"{node} {path} {literal} . FILTER(NOT EXISTS {{ {node} ({default}) [] }} || "
            f"EXISTS {{ {node} ({default})?/({_ENDS}) {literal} }})"
        )
