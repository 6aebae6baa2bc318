"""Mapping benchmark: eokg (local, Spark local[1], local[2]) against Morph-KGC.

    python -m bench.mapping_bench --records 100000 [--records 1000000] [--skip-morph]

The same RML mapping (bench/morph/parcels.rml.ttl: parcel-like CSV records with
a WKT column, seven triples a record) runs in every engine; each run is timed
end to end as a subprocess (interpreter/JVM start included) and the outputs are
compared as multisets of N-Triples lines (count plus an order-independent
checksum), so "faster" only counts with "the same triples".  Morph-KGC runs in
its own virtualenv (bench/.venv-morph) because it pins old rdflib/pyoxigraph.
Results go to bench/results/mapping-<records>.json.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

BENCH_DIR = Path(__file__).resolve().parent
MORPH_DIR = BENCH_DIR / "morph"
MAPPING = MORPH_DIR / "parcels.rml.ttl"
MORPH_VENV = BENCH_DIR / ".venv-morph"
CROPS = ["wheat", "barley", "oats", "rye", "maize", "rapeseed", "potatoes", "grassland"]


def make_csv(path: Path, records: int, seed: int = 42) -> None:
    """Parcel-like records: id, crop, area_ha, season, wkt (a small quadrilateral)."""
    rng = np.random.default_rng(seed)
    lon = rng.uniform(-5, 25, records)
    lat = rng.uniform(43, 60, records)
    size = rng.uniform(0.001, 0.01, records)
    corners = []
    for dx, dy in ((0, 0), (1, 0), (1, 1), (0, 1), (0, 0)):
        corners.append(
            np.char.add(
                np.char.add(np.round(lon + dx * size, 6).astype(str), " "),
                np.round(lat + dy * size, 6).astype(str),
            )
        )
    ring = corners[0]
    for corner in corners[1:]:
        ring = np.char.add(np.char.add(ring, ", "), corner)
    wkt = np.char.add(np.char.add("POLYGON ((", ring), "))")
    table = pa.table(
        {
            "id": [f"p{i:08d}" for i in range(records)],
            "crop": np.array(CROPS)[rng.integers(0, len(CROPS), records)],
            "area_ha": np.round(rng.uniform(0.1, 80, records), 4).astype(str),
            "season": rng.integers(2018, 2026, records).astype(str),
            "wkt": wkt,
        }
    )
    pacsv.write_csv(table, path)


def checksum(directory_or_file: Path) -> tuple[int, str]:
    """(lines, order-independent checksum) of N-Triples output."""
    files = (
        [directory_or_file]
        if directory_or_file.is_file()
        else sorted(p for p in directory_or_file.glob("part-*"))
    )
    count = 0
    total = 0
    for file in files:
        with file.open("rb") as handle:
            for line in handle:
                line = line.strip()
                if not line:
                    continue
                count += 1
                total = (
                    total + int.from_bytes(hashlib.blake2b(line, digest_size=8).digest(), "little")
                ) % (1 << 64)
    return count, f"{total:016x}"


def _timed(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")
    return seconds, proc.stdout + proc.stderr


def run_eokg(work: Path, engine: str, master: str | None) -> dict:
    out = work / f"out-{engine}-{(master or 'local').replace('[', '').replace(']', '')}"
    env = dict(os.environ)
    env["PYSPARK_PYTHON"] = sys.executable
    if master:
        env["EOKG_SPARK__MASTER"] = master
        env["EOKG_SPARK__SHUFFLE_PARTITIONS"] = "2"
    env["EOKG_SPARK__ARROW_BATCH_ROWS"] = "20000"
    cmd = [
        sys.executable,
        "-m",
        "eokg",
        "map",
        str(MAPPING),
        "--data-dir",
        str(work),
        "--output",
        str(out),
        "--engine",
        engine,
    ]
    seconds, _ = _timed(cmd, work, env)
    summary = json.loads((out / "_summary.json").read_text())
    lines, digest = checksum(out)
    return {
        "engine": f"eokg-{engine}" + (f" {master}" if master else ""),
        "seconds": seconds,
        "internal_seconds": summary["seconds"],
        "triples": lines,
        "checksum": digest,
    }


def run_morph(work: Path, processes: int = 1) -> dict:
    python = MORPH_VENV / "bin" / "python"
    if not python.exists():
        return {
            "engine": "morph-kgc",
            "error": f"no virtualenv at {MORPH_VENV}; create it with "
            "python -m venv bench/.venv-morph && bench/.venv-morph/bin/pip install morph-kgc",
        }
    out = work / "morph.nt"
    config = work / "morph.ini"
    config.write_text(
        "[CONFIGURATION]\n"
        f"output_file={out}\n"
        "output_format=N-TRIPLES\n"
        f"number_of_processes={processes}\n"
        "logging_level=INFO\n\n"
        "[DataSource1]\n"
        f"mappings={MAPPING}\n"
    )
    seconds, log = _timed([str(python), "-m", "morph_kgc", str(config)], work)
    internal = None
    match = re.search(r"(?:finished|Materialization).*?([0-9]+\.[0-9]+) seconds", log)
    if match:
        internal = float(match.group(1))
    lines, digest = checksum(out)
    return {
        "engine": f"morph-kgc ({processes} process{'es' if processes > 1 else ''})",
        "seconds": seconds,
        "internal_seconds": internal,
        "triples": lines,
        "checksum": digest,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--records", type=int, action="append", help="records per run (repeatable; default 100000)"
    )
    parser.add_argument("--work", type=Path, default=BENCH_DIR / "results" / "work")
    parser.add_argument("--skip-morph", action="store_true")
    parser.add_argument("--skip-spark", action="store_true")
    args = parser.parse_args(argv)
    results_dir = BENCH_DIR / "results"
    for records in args.records or [100_000]:
        work = args.work / str(records)
        work.mkdir(parents=True, exist_ok=True)
        make_csv(work / "parcels.csv", records)
        runs = [run_eokg(work, "local", None)]
        if not args.skip_spark:
            runs += [run_eokg(work, "spark", "local[1]"), run_eokg(work, "spark", "local[2]")]
        if not args.skip_morph:
            try:
                runs += [run_morph(work, 1), run_morph(work, 2)]
            except RuntimeError as exc:
                runs.append({"engine": "morph-kgc", "error": str(exc)[-1500:]})
        reference = runs[0]
        print(f"\n{records:,} records ({reference['triples']:,} triples from eokg-local)")
        print(f"{'engine':28} {'seconds':>9} {'internal':>9} {'triples/s':>11}  same triples")
        for run in runs:
            if "error" in run:
                print(f"{run['engine']:28} ERROR {run['error'][:300]}")
                continue
            same = (
                run["triples"] == reference["triples"] and run["checksum"] == reference["checksum"]
            )
            run["same_triples_as_eokg_local"] = same
            run["triples_per_second"] = round(run["triples"] / run["seconds"])
            internal = f"{run['internal_seconds']:.1f}" if run.get("internal_seconds") else "-"
            print(
                f"{run['engine']:28} {run['seconds']:9.1f} {internal:>9} "
                f"{run['triples_per_second']:11,}  {same}"
            )
        results_dir.mkdir(parents=True, exist_ok=True)
        (results_dir / f"mapping-{records}.json").write_text(json.dumps(runs, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
