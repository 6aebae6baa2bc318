"""The local engine: map with the Arrow executor in this process, no Spark.

Right for small and medium inputs, tests and the benchmark baseline; the Spark
job reuses the same executor per partition, so both engines produce the same
triples by construction.

Both engines take an optional ``item_sink``: a callable handed ONE iterator
over every STAC item (the parsed JSON document of each line of the logical
sources with the ``eoql:STAC`` formulation), so a caller can index product
metadata in the same pass that maps it.  ``eokg.spark`` knows nothing of the
catalogue: the sink is a plain callable the caller passes in.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pyarrow as pa
import pyarrow.compute as pc

from eokg.errors import InputError, MappingError
from eokg.spark.arrow_exec import Executor
from eokg.spark.model import MappingPlan, RefObjectMap, TriplesMap
from eokg.spark.sources import item_sources, read_source
from eokg.spark.summary import JobSummary
from eokg.spark.targets import TargetWriters, collect_lines, plan_targets, targets_of

#: Receives the lines of each batch that go to logical targets, by target key.
TargetSink = Callable[[dict[str, list[pa.Array]]], None]

PART_LINES = 1_000_000

#: Receives one iterator over the STAC items of a job and pulls from it (see :func:`run_local`).
ItemSink = Callable[[Iterator[dict[str, Any]]], Any]
_OUR_FILES = ("part-", "_rejects", "_summary.json", "_staging", "_SUCCESS", ".part-", "._SUCCESS")


@dataclass(frozen=True)
class JoinSpec:
    """One referencing object map with join conditions."""

    child: TriplesMap
    predicates: tuple[str, ...]
    graphs: tuple[str, ...]
    rom: RefObjectMap
    key: str
    #: Logical targets of the join's triples (child subject, predicate, graph, parent subject).
    targets: frozenset[str] = frozenset()


def join_specs(plan: MappingPlan) -> list[JoinSpec]:
    """Join ROMs of ``plan``; predicates and graphs of joins must be constant."""
    specs = []
    for tm in plan.triples_maps:
        for p, pom in enumerate(tm.poms):
            for r, rom in enumerate(pom.ref_objects):
                if not rom.joins:
                    continue
                terms = [*pom.predicates, *pom.graphs, *tm.subject_graphs]
                if any(t.kind != "constant" for t in terms):
                    raise MappingError(
                        "predicates and graphs of a join must be constant", where=rom.where
                    )
                targets = targets_of(tm.subject) | targets_of(plan.get(rom.parent).subject)
                for term in terms:
                    targets |= targets_of(term)
                specs.append(
                    JoinSpec(
                        child=tm,
                        predicates=tuple(f"<{t.constant}>" for t in pom.predicates),
                        graphs=tuple(f"<{t.constant}>" for t in (*tm.subject_graphs, *pom.graphs)),
                        rom=rom,
                        key=f"{tm.iri}#{p}.{r}",
                        targets=targets,
                    )
                )
    return specs


def join_lines(spec: JoinSpec, child: pa.Table, parent: pa.Table) -> pa.Array:
    """N-Triples lines of one join: child subject, predicate, parent subject."""
    keys = [f"k{i}" for i in range(len(spec.rom.joins))]
    parent = parent.rename_columns(["pterm", *keys])
    joined = child.join(parent, keys=keys, join_type="inner")
    lines = []
    for pred in spec.predicates:
        for graph in spec.graphs or (None,):
            parts: list[Any] = [joined["term"], pred, joined["pterm"]]
            if graph:
                parts.append(graph)
            lines.append(pc.binary_join_element_wise(*parts, ".", " "))
    if not lines:
        return pa.array([], pa.string())
    return pa.concat_arrays(
        [c.combine_chunks() if isinstance(c, pa.ChunkedArray) else c for c in lines]
    )


def prepare_output(directory: Path) -> None:
    """Empty ``directory`` of a previous job's files; refuse to delete anything else."""
    if directory.exists():
        others = [p.name for p in directory.iterdir() if not p.name.startswith(_OUR_FILES)]
        if others:
            raise InputError(
                f"output folder holds files eokg did not write ({', '.join(sorted(others)[:5])}); "
                "choose an empty or new folder",
                where=str(directory),
            )
        shutil.rmtree(directory)
    directory.mkdir(parents=True)


class PartWriter:
    """Writes lines to ``part-00000.nt`` ... rolling every ``PART_LINES`` lines."""

    def __init__(self, directory: Path, suffix: str, part_lines: int = PART_LINES) -> None:
        self.directory = directory
        self.suffix = suffix
        self.part_lines = part_lines
        self.count = 0
        self.handle: IO[str] | None = None
        self.in_part = 0
        self.parts = 0

    def write(self, lines: Iterator[str] | list[str]) -> None:
        for line in lines:
            if self.handle is None or self.in_part >= self.part_lines:
                self._roll()
            assert self.handle is not None
            self.handle.write(line)
            self.handle.write("\n")
            self.in_part += 1
            self.count += 1

    def write_array(self, lines: pa.Array) -> None:
        if self.handle is None or self.in_part >= self.part_lines:
            self._roll()
        assert self.handle is not None
        if len(lines):
            self.handle.write("\n".join(lines.to_pylist()))
            self.handle.write("\n")
        self.in_part += len(lines)
        self.count += len(lines)

    def _roll(self) -> None:
        if self.handle is not None:
            self.handle.close()
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"part-{self.parts:05d}{self.suffix}"
        self.handle = path.open("w", encoding="utf-8")
        self.parts += 1
        self.in_part = 0

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()
            self.handle = None


def iter_results(
    plan: MappingPlan,
    batch_rows: int = 10_000,
    *,
    on_items: Callable[[list[Any]], None] | None = None,
    on_targeted: TargetSink | None = None,
) -> Iterator[tuple[dict[str, list[pa.Array]], list[dict[str, Any]], dict[str, int]]]:
    """(lines per triples map, rejects, records per triples map) per batch, then joins.

    ``on_items`` gets the parsed STAC items of each batch (see
    :func:`~eokg.spark.sources.item_sources`) just before that batch's result
    is yielded.  ``on_targeted`` gets the lines that go to logical targets
    (they are not in the yielded lines); without it they are dropped.
    """
    executor = Executor(plan)
    specs = join_specs(plan)
    children: dict[str, list[pa.Table]] = {s.key: [] for s in specs}
    parents: dict[str, list[pa.Table]] = {s.key: [] for s in specs}
    teed = {s.key for s in item_sources(plan)} if on_items is not None else set()
    for source in plan.sources():
        tee = on_items if source.key in teed else None
        for batch, source_rejects in read_source(plan, source, batch_rows, on_records=tee):
            result = executor.run(source.key, batch, str(source.path))
            if result.targeted and on_targeted is not None:
                on_targeted(result.targeted)
            yield result.lines, source_rejects + result.rejects, result.records
            for spec in specs:
                if spec.child.source.key == source.key:
                    children[spec.key].append(
                        executor.join_keys(spec.child, spec.rom, batch, "child")
                    )
                parent = plan.get(spec.rom.parent)
                if parent.source.key == source.key:
                    parents[spec.key].append(executor.join_keys(parent, spec.rom, batch, "parent"))
    for spec in specs:
        if not children[spec.key] or not parents[spec.key]:
            continue
        lines = join_lines(
            spec, pa.concat_tables(children[spec.key]), pa.concat_tables(parents[spec.key])
        )
        if not spec.targets:
            yield {spec.child.iri: [lines]}, [], {}
        elif on_targeted is not None and len(lines):
            on_targeted({key: [lines] for key in sorted(spec.targets)})


def map_lines(
    plan: MappingPlan,
    batch_rows: int = 10_000,
    *,
    targets: dict[str, list[str]] | None = None,
) -> tuple[list[str], list[dict[str, Any]]]:
    """All lines and rejects in memory: for tests and small inputs.

    The lines are those of the default target; lines of logical targets go
    to ``targets`` (by target file path) when it is given.
    """
    plan_targets(plan)  # checks what the targets can hold, as a job would
    lines: list[str] = []
    rejects: list[dict[str, Any]] = []
    sink = (lambda per: collect_lines(per, targets)) if targets is not None else None
    for per_map, batch_rejects, _ in iter_results(plan, batch_rows, on_targeted=sink):
        for arrays in per_map.values():
            for array in arrays:
                lines.extend(array.to_pylist())
        rejects.extend(batch_rejects)
    return lines, rejects


def run_local(
    plan: MappingPlan,
    output: Path | str,
    *,
    distinct: bool = False,
    batch_rows: int = 10_000,
    item_sink: ItemSink | None = None,
) -> JobSummary:
    """Map ``plan`` into ``output`` (part files, ``_rejects/``, ``_summary.json``).

    With ``item_sink``, the job is driven by the sink: it is called once, on
    this thread, with an iterator over the STAC items, and each item it pulls
    comes from the batch that has just been read, mapped and written (one
    read of each file; at most ``batch_rows`` items held at a time).  Items
    come in input order, each exactly once; lines that are not JSON are
    rejects and are not passed on.  If the sink returns before the end, the
    mapping still runs to completion (the remaining items are dropped); if it
    raises, the job stops and the exception propagates.
    """
    start = time.perf_counter()
    out_dir = Path(output)
    targets = TargetWriters(plan_targets(plan), distinct=distinct)
    prepare_output(out_dir)
    summary = JobSummary(engine="local", output=str(out_dir), distinct=distinct)
    writer = PartWriter(out_dir, ".nq" if plan.uses_graphs else ".nt")
    reject_writer = PartWriter(out_dir / "_rejects", ".jsonl")
    seen: set[int] | None = set() if distinct else None
    pending: list[Any] = []
    results = iter_results(
        plan,
        batch_rows,
        on_items=pending.extend if item_sink is not None else None,
        on_targeted=targets.write,
    )

    def mapped() -> Generator[dict[str, Any], None, None]:
        """Map batch by batch; after each, hand out the items it read."""
        for per_map, rejects, records in results:
            triples: dict[str, int] = {}
            for tm, arrays in per_map.items():
                for array in arrays:
                    if seen is not None:
                        fresh = []
                        for x in array.to_pylist():
                            h = hash(x)
                            if h not in seen:
                                seen.add(h)
                                fresh.append(x)
                        writer.write(fresh)
                        triples[tm] = triples.get(tm, 0) + len(fresh)
                    else:
                        writer.write_array(array)
                        triples[tm] = triples.get(tm, 0) + len(array)
            reject_counts: dict[str, int] = {}
            if rejects:
                reject_writer.write(json.dumps(r, ensure_ascii=False, default=str) for r in rejects)
                for r in rejects:
                    key = r["triples_map"] or r["source"]
                    reject_counts[key] = reject_counts.get(key, 0) + 1
            summary.add_counts(records, triples, reject_counts)
            if pending:
                items = pending.copy()
                pending.clear()
                yield from items

    stream = mapped()
    try:
        if item_sink is not None:
            item_sink(stream)
        for _ in stream:  # whatever the sink did not pull still gets mapped
            pass
        targets.commit()
    finally:
        stream.close()
        writer.close()
        reject_writer.close()
        targets.abort()  # after a commit there is nothing left to remove
    summary.triples = sum(summary.triples_per_map.values())
    summary.seconds = round(time.perf_counter() - start, 3)
    summary.write(out_dir)
    return summary
