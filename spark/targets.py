"""RML-IO logical targets: where some of the triples go instead of the job's output.

A term map (subject, predicate, object or graph map) may name logical
targets (``rml:logicalTarget``).  RML-IO: a triple goes to every target of
every term map that made it, once per target, and *only* there; triples
with no target go to the default target, which is the job's output folder.

eokg writes file targets (``rml:FilePath`` with ``rml:path``, or a
``void:dataDump`` / ``dcat:downloadURL`` with a ``file:`` IRI) as N-Triples
or N-Quads (``rml:serialization``; N-Quads by default, as RML-IO says),
uncompressed or gzip (``rml:compression``), in UTF-8.  Other serializations,
zip/tar compression and non-file targets (SPARQL endpoints, streams) are
refused by name when the mapping is read.  The Spark engine refuses
``rml:logicalTarget``: its executors would have to write the target files
beside the part files, which its output stage does not do yet.

The target of a term map rides on the plan as :class:`TargetedTermMap`, a
:class:`~eokg.spark.model.TermMap` with one more field, so executors that
know nothing of targets keep working on it.
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pyarrow as pa

from eokg.errors import MappingError
from eokg.spark.model import MappingPlan, TermMap, TriplesMap

FORMATS = "http://www.w3.org/ns/formats/"
#: ``rml:serialization`` values eokg writes -> line format.
SERIALIZATIONS = {FORMATS + "N-Quads": "nquads", FORMATS + "N-Triples": "ntriples"}


@dataclass(frozen=True)
class LogicalTarget:
    """One file target: its path, line format and compression."""

    path: Path
    serialization: str = "nquads"  # "nquads" | "ntriples"
    compression: str | None = None  # None | "gzip"
    where: str = ""

    @property
    def key(self) -> str:
        return str(self.path)


@dataclass(frozen=True)
class TargetedTermMap(TermMap):
    """A term map whose triples go to logical targets."""

    targets: tuple[LogicalTarget, ...] = ()


def targets_of(term: TermMap | None) -> frozenset[str]:
    """Keys of the targets of ``term`` (empty for a plain term map)."""
    found: tuple[LogicalTarget, ...] = getattr(term, "targets", ())
    return frozenset(t.key for t in found)


def _term_maps(tm: TriplesMap) -> Iterator[TermMap]:
    yield tm.subject
    yield from tm.subject_graphs
    for pom in tm.poms:
        yield from (*pom.predicates, *pom.objects, *pom.graphs)


def plan_targets(plan: MappingPlan) -> dict[str, LogicalTarget]:
    """Every target of the plan by key; checks that each can hold what it gets."""
    found: dict[str, LogicalTarget] = {}
    for tm in plan.triples_maps:
        for term in _term_maps(tm):
            for target in getattr(term, "targets", ()):
                other = found.setdefault(target.key, target)
                if (other.serialization, other.compression) != (
                    target.serialization,
                    target.compression,
                ):
                    raise MappingError(
                        f"two logical targets write {target.path} in different formats",
                        where=target.where,
                    )
    for tm in plan.triples_maps:
        _check_graphs(plan, tm, found)
    return found


def _check_graphs(plan: MappingPlan, tm: TriplesMap, targets: dict[str, LogicalTarget]) -> None:
    """An N-Triples target cannot hold a triple of a named graph."""
    for pom in tm.poms:
        graphs = (*tm.subject_graphs, *pom.graphs)
        if not graphs:
            continue
        keys = set(targets_of(tm.subject))
        for term in (*pom.predicates, *pom.objects, *graphs):
            keys |= targets_of(term)
        for rom in pom.ref_objects:
            keys |= targets_of(plan.get(rom.parent).subject)
        for key in sorted(keys):
            if targets[key].serialization == "ntriples":
                raise MappingError(
                    f"N-Triples target {targets[key].path} would receive triples in a named "
                    f"graph ({graphs[0].where}); use rml:serialization formats:N-Quads",
                    where=targets[key].where,
                )


def refuse_on_spark(plan: MappingPlan) -> None:
    """The Spark engine does not write logical targets: say so, naming the property."""
    targets = plan_targets(plan)
    if targets:
        first = next(iter(targets.values()))
        raise MappingError(
            "rml:logicalTarget is not implemented on the Spark engine; map this mapping "
            "with the local engine (eokg map --engine local)",
            where=first.where,
        )


class TargetWriters:
    """Open target files lazily; each is written to a temporary name, renamed on commit."""

    def __init__(self, targets: dict[str, LogicalTarget], distinct: bool = False) -> None:
        self.targets = targets
        self.handles: dict[str, IO[str]] = {}
        self.counts: dict[str, int] = {key: 0 for key in targets}
        self.seen: dict[str, set[int]] | None = {} if distinct else None

    def _partial(self, target: LogicalTarget) -> Path:
        return target.path.with_name(f".{target.path.name}.eokg-partial")

    def _open(self, key: str) -> IO[str]:
        handle = self.handles.get(key)
        if handle is None:
            target = self.targets[key]
            target.path.parent.mkdir(parents=True, exist_ok=True)
            partial = self._partial(target)
            if target.compression == "gzip":
                # held open across batches, closed in close()
                handle = gzip.open(partial, "wt", encoding="utf-8", newline="\n")  # noqa: SIM115
            else:
                handle = partial.open("w", encoding="utf-8", newline="\n")
            self.handles[key] = handle
        return handle

    def write(self, per_target: dict[str, list[pa.Array]]) -> None:
        for key, arrays in per_target.items():
            handle = self._open(key)
            for array in arrays:
                lines: list[str] = array.to_pylist()
                if self.seen is not None:
                    lines = _fresh(lines, self.seen.setdefault(key, set()))
                if lines:
                    handle.write("\n".join(lines))
                    handle.write("\n")
                self.counts[key] += len(lines)

    def commit(self) -> None:
        """Close every target; a target that got no triple is written empty."""
        for key in self.targets:
            self._open(key)
        self.close()
        for target in self.targets.values():
            os.replace(self._partial(target), target.path)

    def close(self) -> None:
        for handle in self.handles.values():
            handle.close()
        self.handles.clear()

    def abort(self) -> None:
        self.close()
        for target in self.targets.values():
            self._partial(target).unlink(missing_ok=True)


def _fresh(lines: list[str], seen: set[int]) -> list[str]:
    """The lines not written before (``distinct`` jobs)."""
    out = []
    for line in lines:
        h = hash(line)
        if h not in seen:
            seen.add(h)
            out.append(line)
    return out


def collect_lines(per_target: dict[str, list[pa.Array]], into: dict[str, list[str]]) -> None:
    """Append each target's lines to ``into`` (in-memory runs)."""
    for key, arrays in per_target.items():
        bucket = into.setdefault(key, [])
        for array in arrays:
            bucket.extend(array.to_pylist())
