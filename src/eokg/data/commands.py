"""``eokg sample --out DIR [--scale F] [--seed N]``: write the sample dataset.

Prints a table of what was written, with counts and sizes.  The output folder
defaults to ``<data_dir>/sample`` and the seed to the configured one.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--out", type=Path, default=None, help="output folder (default: <data_dir>/sample)"
    )
    parser.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="multiply the demo-size counts by this factor (default 1)",
    )
    parser.add_argument(
        "--seed", type=int, default=None, help="random seed (default: the configured seed)"
    )


def _size(path: Path) -> str:
    size = float(path.stat().st_size) if path.exists() else 0.0
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return ""


def summary_table(manifest: Any) -> str:
    """Plain-text table: file, records, size."""
    counts = {
        "stac_s1": manifest.counts.get("stac_s1"),
        "stac_s2": manifest.counts.get("stac_s2"),
        "patches": manifest.counts.get("patches"),
        "icechart_geojson": manifest.counts.get("icechart"),
        "icechart_parquet": manifest.counts.get("icechart"),
        "parcels_geojson": manifest.counts.get("parcels"),
        "parcels_parquet": manifest.counts.get("parcels"),
        "predictions": manifest.counts.get("predictions"),
    }
    rows = [
        (rel, "" if counts.get(key) is None else str(counts[key]), _size(manifest.out_dir / rel))
        for key, rel in manifest.files.items()
    ]
    widths = [max(len(r[i]) for r in [("file", "records", "size"), *rows]) for i in range(3)]
    lines = [f"{'file':<{widths[0]}}  {'records':>{widths[1]}}  {'size':>{widths[2]}}"]
    lines.append("-" * (sum(widths) + 4))
    lines += [f"{a:<{widths[0]}}  {b:>{widths[1]}}  {c:>{widths[2]}}" for a, b, c in rows]
    return "\n".join(lines)


def run(args: argparse.Namespace, settings: Any) -> int:
    from eokg.data.generate import generate_sample, scaled_counts

    out = args.out if args.out is not None else Path(settings.data_dir) / "sample"
    seed = args.seed if args.seed is not None else int(settings.seed)
    manifest = generate_sample(out, seed=seed, **scaled_counts(args.scale))
    print(f"sample data (seed {seed}) written to {out}")
    print(summary_table(manifest))
    return 0
