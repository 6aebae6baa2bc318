"""Query evaluation in worker processes, so that a timed-out query really stops.

Oxigraph cannot interrupt a query it is evaluating: a thread that has timed out
keeps burning a core until the query ends on its own (a COUNT over a big store
can take minutes), and five of them take a server down. A process can be killed.
So queries with a deadline on an on-disk store go to a small pool of worker
processes; each opens the store read-only (RocksDB's read-only open sees every
committed write, its log included, in ~13 ms) and reopens it when the parent's
store ``revision`` says something was written since. The parent plans the query
(index, entailment) and ships the planned text only; a worker sends back plain,
picklable rows (SPARQL JSON terms, N-Triples). On timeout the parent kills that
worker (SIGKILL) and starts a fresh one in the background.

In-memory stores cannot be shared with another process: ``GeoStore`` keeps its
thread path for them, and says so in its docs.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import queue
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eokg.errors import EokgError, QueryError, QueryTimeout, ResultTooLarge, StoreError
from eokg.kg.portable_results import Payload, materialise

__all__ = ["QueryPool", "Task"]
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Task:
    """One planned query as a worker runs it (everything picklable)."""

    text: str
    revision: int
    union_default_graph: bool
    default_graphs: tuple[str, ...] = ()
    named_graphs: tuple[str, ...] = ()
    cap: int | None = None


class QueryPool:
    """Worker processes evaluating ``Task``s on a read-only view of ``path``.

    ``workers`` stay warm; while all of them are busy (slow queries) more are
    started, up to ``max_workers``, so a quick query does not wait behind slow
    ones; extras stop when they fall idle again.
    """

    def __init__(self, path: Path, workers: int = 2, max_workers: int = 8) -> None:
        if workers < 1 or max_workers < workers:
            raise ValueError("a query pool needs 1 <= workers <= max_workers")
        self.path = Path(path)
        self.warm, self.max_workers = workers, max_workers
        self._context = _context()
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._lock = threading.Lock()
        self._workers: set[_Worker] = set()
        self._closed = False
        self._starting = 0  # slots reserved by workers being started
        #: workers killed because their query ran out of time (for tests and metrics)
        self.killed = 0
        for _ in range(workers):
            self._reserve()
            worker = self._start()
            assert worker is not None
            self._idle.put(worker)

    def run(self, task: Task, timeout_s: float | None) -> Payload:
        """Evaluate ``task`` to a ``portable_results`` payload; ``QueryTimeout`` after
        ``timeout_s`` (the worker is killed, so the query stops using the CPU)."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        worker: _Worker | None = self._take(deadline, timeout_s)
        try:
            assert worker is not None
            worker.conn.send(task)
            if not worker.conn.poll(_shortest(_SLOW_AFTER_S, _left(deadline))):
                worker.demote()  # quick queries asked meanwhile get the CPU first
            if not worker.conn.poll(_left(deadline)):
                self._discard(worker, kill=True)
                worker = None
                raise _timeout(timeout_s, "the query was stopped")
            kind, head, body = worker.conn.recv()
        except (EOFError, OSError):
            if worker is not None:
                self._discard(worker, kill=True)
            worker = None
            raise StoreError("a query worker died", where="query") from None
        finally:
            if worker is not None:
                self._give_back(worker)
        if kind == "error":
            raise _error(head, body)
        return kind, head, body

    def close(self) -> None:
        """Stop every worker (idle or busy)."""
        with self._lock:
            self._closed = True
            workers, self._workers = self._workers, set()
        for worker in workers:
            worker.stop()

    def __len__(self) -> int:
        return len(self._workers)

    def _take(self, deadline: float | None, timeout_s: float | None) -> _Worker:
        try:
            worker: _Worker | None = self._idle.get_nowait()
        except queue.Empty:
            worker = self._start() if self._reserve() else None
        if worker is None:
            try:
                worker = self._idle.get(timeout=_left(deadline))
            except queue.Empty:
                raise _timeout(timeout_s, "every query worker stayed busy") from None
        if self._idle.empty():  # a spare for the next caller
            self._spare_in_background()
        return worker

    def _reserve(self) -> bool:
        """Claim room for one more worker (released by ``_start``)."""
        with self._lock:
            if self._closed or len(self._workers) + self._starting >= self.max_workers:
                return False
            self._starting += 1
            return True

    def _spare_in_background(self) -> None:
        if self._reserve():
            threading.Thread(target=self._add_spare, name="eokg-query-spare", daemon=True).start()

    def _add_spare(self) -> None:
        try:
            worker = self._start()
        except StoreError as exc:  # the pool is closing, or the store went away
            log.warning("no spare query worker: %s", exc.message)
            return
        if worker is not None:
            self._idle.put(worker)

    def _give_back(self, worker: _Worker) -> None:
        with self._lock:
            surplus = len(self._workers) > self.warm and self._idle.qsize() >= self.warm
        if surplus or worker.demoted:  # an unprivileged process cannot undo a nice
            self._discard(worker, kill=False)
            if not surplus:
                self._spare_in_background()
        else:
            self._idle.put(worker)

    def _start(self) -> _Worker | None:
        """Start a worker in a reserved slot; None when the pool closed meanwhile."""
        try:
            parent, child = self._context.Pipe()
            process = self._context.Process(
                target=_serve, args=(child, str(self.path)), name="eokg-query-worker", daemon=True
            )
            process.start()
            child.close()
            worker = _Worker(process, parent)
            # Handed out only once it has opened the store and built its functions:
            # a fresh worker would otherwise make its first query wait for that.
            try:
                ready = parent.poll(_READY_TIMEOUT_S) and parent.recv() == "ready"
            except (EOFError, OSError):
                ready = False
            if not ready:
                worker.kill()
                raise StoreError("a query worker did not start", where=str(self.path))
            with self._lock:
                if self._closed:
                    closed = True
                else:
                    closed = False
                    self._workers.add(worker)
            if closed:
                worker.stop()
                return None
            return worker
        finally:
            with self._lock:
                self._starting -= 1

    def _discard(self, worker: _Worker, *, kill: bool) -> None:
        """Remove a worker: killed when stuck in a query (then a fresh one starts)."""
        with self._lock:
            self._workers.discard(worker)
            closed = self._closed
        if kill:
            worker.kill()
            self.killed += 1
        else:
            worker.stop()
        if kill and not closed:
            self._spare_in_background()


@dataclass(eq=False)
class _Worker:
    process: Any
    conn: Any
    demoted: bool = False

    def demote(self) -> None:
        """Lower the priority of a worker whose query has run for a while."""
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, self.process.pid, _SLOW_NICE)
            self.demoted = True

    def kill(self) -> None:
        self.process.kill()
        self.process.join(5)
        self.conn.close()

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self.conn.send(None)
        self.process.join(2)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(5)
        self.conn.close()


def _context() -> Any:
    """Workers fork from a clean server process with eokg's query modules imported.

    Forking the server itself is unsafe (RocksDB and other threads); spawning costs
    ~0.7 s of CPU per worker, paid again after every kill. The forkserver is
    single-threaded and has no store open, so its forks start in milliseconds.
    """
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(
        ["eokg.kg.query_pool", "eokg.kg.functions", "pyoxigraph", "numpy", "shapely", "pyproj"]
    )
    return context


#: A query still running after this long is a slow one: its worker is niced.
_SLOW_AFTER_S = 0.1
_SLOW_NICE = 10
_READY_TIMEOUT_S = 60.0


def _shortest(a: float, b: float | None) -> float:
    return a if b is None else min(a, b)


def _left(deadline: float | None) -> float | None:
    return None if deadline is None else max(0.0, deadline - time.monotonic())


def _timeout(timeout_s: float | None, why: str) -> QueryTimeout:
    return QueryTimeout(
        f"query did not finish within {timeout_s} s ({why})", where="query", timeout_s=timeout_s
    )


def _error(kind: str, message: str) -> EokgError:
    if kind == "query":
        return QueryError(message, where="query")
    if kind == "too-large":
        return ResultTooLarge(message, where="query")
    return StoreError(message, where="query")


# --- the worker process --------------------------------------------------------------------


def _serve(conn: Any, path: str) -> None:
    """Worker loop: one task at a time until ``None`` or the parent goes away."""
    import pyoxigraph

    from eokg.kg.functions import custom_aggregates, custom_functions

    functions, aggregates = custom_functions(), custom_aggregates()
    store: Any = pyoxigraph.Store.read_only(path)
    revision = -1
    store.query("ASK { ?s ?p ?o }", custom_functions=functions)
    conn.send("ready")
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        try:
            if task.revision != revision:
                store = None
                store = pyoxigraph.Store.read_only(path)
                revision = task.revision
            result = store.query(task.text, **_arguments(task, functions, aggregates))
            conn.send(materialise(result, task.cap))
        except SyntaxError as exc:
            conn.send(("error", "query", str(exc)))
        except ResultTooLarge as exc:
            conn.send(("error", "too-large", exc.message))
        except Exception as exc:  # the parent turns it into a StoreError
            conn.send(("error", "store", f"{type(exc).__name__}: {exc}"))


def _arguments(task: Task, functions: Any, aggregates: Any) -> dict[str, Any]:
    import pyoxigraph

    kwargs: dict[str, Any] = {
        "custom_functions": functions,
        "custom_aggregate_functions": aggregates,
    }
    if task.default_graphs:
        kwargs["default_graph"] = [pyoxigraph.NamedNode(g) for g in task.default_graphs]
    elif task.union_default_graph:
        kwargs["use_default_graph_as_union"] = True
    if task.named_graphs:
        kwargs["named_graphs"] = [pyoxigraph.NamedNode(g) for g in task.named_graphs]
    return kwargs
