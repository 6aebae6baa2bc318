"""Source selection, exclusive groups and join order for one basic graph pattern.

The plan follows FedX's design: each triple pattern gets the members that may
hold matches (VoID first, a cached ASK probe when VoID cannot tell), members
whose published spatial extent misses the query's constant geometry are dropped
for the geometry pattern, patterns that only one member can answer are grouped
and sent to it whole (with the filters it can evaluate), and the units are
joined most selective first, each next unit sharing a variable with what is
already bound so that it can be bind-joined.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from eokg.kg.federation.algebra import (
    FRESH,
    RDF_TYPE,
    Filter,
    Pattern,
    SpatialConstraint,
)
from eokg.kg.federation.sources import Member
from eokg.kg.geometry import GEOMETRY_PREDICATES

#: Cardinality guesses when VoID gives no count.
_UNKNOWN_PROPERTY = 10_000
_UNBOUND = 10_000_000


@dataclass
class Unit:
    """Patterns answered together by the same members, plus the filters pushed with them."""

    patterns: list[Pattern]
    members: list[Member]
    filters: list[Filter] = field(default_factory=list)
    estimate: float = 0.0

    @property
    def exclusive(self) -> bool:
        return len(self.members) == 1

    @property
    def variables(self) -> set[str]:
        return {v for p in self.patterns for v in p.variables}

    def to_json(self) -> dict[str, Any]:
        return {
            "sources": [m.name for m in self.members],
            "exclusive": self.exclusive,
            "patterns": [p.text() for p in self.patterns],
            "filters": [f.text for f in self.filters],
            "estimate": self.estimate,
        }


def void_verdict(member: Member, pattern: Pattern) -> bool | None:
    """True/False when the member's VoID decides the pattern, None when it cannot."""
    desc = member.description
    if not desc.complete or desc.properties is None:
        return None
    s, p, o = pattern.s, pattern.p, pattern.o
    if desc.uri_spaces and s.startswith("<"):
        iri = s[1:-1]
        if not any(iri.startswith(space) for space in desc.uri_spaces):
            return False
    if p.startswith("?"):
        return None
    predicate = p[1:-1]
    if predicate not in desc.properties:
        return False
    if predicate == RDF_TYPE and o.startswith("<") and desc.classes is not None:
        return o[1:-1] in desc.classes
    return True


def spatially_excluded(
    member: Member, pattern: Pattern, constraints: list[SpatialConstraint]
) -> SpatialConstraint | None:
    """The constraint that rules ``member`` out for a geometry pattern, if any."""
    extent = member.description.extent
    if extent is None or not pattern.p.startswith("<"):
        return None
    if pattern.p[1:-1] not in GEOMETRY_PREDICATES or not pattern.o.startswith("?"):
        return None
    for constraint in constraints:
        if constraint.variable != pattern.o[1:]:
            continue
        a, b = extent, constraint.bbox
        if a[2] < b[0] or b[2] < a[0] or a[3] < b[1] or b[3] < a[1]:
            return constraint
    return None


def estimate(pattern: Pattern, members: list[Member]) -> float:
    """A rough result size: constants first, then VoID counts."""
    s, p, o = pattern.s, pattern.p, pattern.o
    if not s.startswith("?") and not p.startswith("?"):
        return 1.0
    if not o.startswith("?") and not p.startswith("?") and p[1:-1] != RDF_TYPE:
        return 5.0
    if p.startswith("?"):
        return float(_UNBOUND)
    predicate = p[1:-1]
    total = 0.0
    for member in members:
        desc = member.description
        if predicate == RDF_TYPE and not o.startswith("?") and desc.classes:
            total += desc.classes.get(o[1:-1], _UNKNOWN_PROPERTY)
        elif desc.properties:
            total += desc.properties.get(predicate, _UNKNOWN_PROPERTY)
        else:
            total += _UNKNOWN_PROPERTY
    return max(total, 1.0)


def make_units(patterns: list[Pattern], sources: dict[Pattern, list[Member]]) -> list[Unit]:
    """Exclusive groups (connected patterns of one member) and single multi-member patterns."""
    units: list[Unit] = []
    by_member: dict[str, list[Pattern]] = {}
    members: dict[str, Member] = {}
    for pattern in patterns:
        chosen = sources[pattern]
        if len(chosen) == 1:
            by_member.setdefault(chosen[0].name, []).append(pattern)
            members[chosen[0].name] = chosen[0]
        else:
            units.append(Unit([pattern], list(chosen)))
    for name, group in by_member.items():
        for component in _components(group):
            units.append(Unit(component, [members[name]]))
    return units


def _components(patterns: list[Pattern]) -> list[list[Pattern]]:
    remaining = list(patterns)
    out: list[list[Pattern]] = []
    while remaining:
        component = [remaining.pop(0)]
        names = set(component[0].variables)
        grew = True
        while grew:
            grew = False
            for pattern in list(remaining):
                if pattern.variables & names or not pattern.variables:
                    component.append(pattern)
                    names |= pattern.variables
                    remaining.remove(pattern)
                    grew = True
        out.append(component)
    return out


def assign_filters(units: list[Unit], filters: list[Filter]) -> list[Filter]:
    """Push each filter into a unit that binds all its variables and can evaluate it.

    Returns the residual filters, which the engine evaluates itself (with the
    eokg function library) as soon as their variables are bound.
    """
    residual: list[Filter] = []
    for flt in filters:
        if flt.text is None:
            continue
        target = None
        for unit in units:
            if not flt.variables <= unit.variables:
                continue
            if all(_can_evaluate(m, flt) for m in unit.members):
                target = unit
                break
        if target is None:
            residual.append(flt)
        else:
            target.filters.append(flt)
    return residual


def subject_filter(member: Member, unit: Unit, shared: list[str]) -> list[str]:
    """Bound subject variables whose IRIs must fall in the member's VoID uriSpaces."""
    desc = member.description
    if not desc.complete or not desc.uri_spaces:
        return []
    return sorted({p.s[1:] for p in unit.patterns if p.s.startswith("?") and p.s[1:] in shared})


def in_spaces(member: Member, value: object) -> bool:
    """Could this subject term live in the member (by its VoID uriSpaces)?"""
    spaces = member.description.uri_spaces or ()
    if type(value).__name__ != "NamedNode":
        return type(value).__name__ == "BlankNode"
    iri = str(getattr(value, "value", ""))
    return any(iri.startswith(space) for space in spaces)


def _can_evaluate(member: Member, flt: Filter) -> bool:
    from eokg.ontologies.namespaces import GEOF

    return all(member.supports(f) for f in flt.functions if f.startswith(GEOF))


def join_order(
    units: list[Unit], bound: set[str], residual: list[Filter] | None = None
) -> list[Unit]:
    """Greedy order: cheapest first, then always a unit connected to what is bound.

    A filter counts for the unit it is pushed to, and also for a unit that binds
    all its variables when the engine applies it locally right after that unit.
    """
    for unit in units:
        cost = min(estimate(p, unit.members) for p in unit.patterns)
        local = [f for f in residual or () if f.variables <= unit.variables]
        cost *= 0.1 ** (len(unit.filters) + len(local))
        unit.estimate = cost
    order: list[Unit] = []
    remaining = list(units)
    names = {v for v in bound if not v.startswith(FRESH)} | set(bound)
    while remaining:
        connected = [u for u in remaining if u.variables & names]
        pool = connected or remaining
        best = min(pool, key=lambda u: (u.estimate, -len(u.patterns)))
        order.append(best)
        remaining.remove(best)
        names |= best.variables
    return order
