"""Ship eokg's own code to a cluster's executors, as one zip on ``spark.submit.pyFiles``.

Executors run the Python functions of a job (``mapInArrow`` batches, link
joins), so they must import the same eokg as the driver.  In local mode they
share the driver's interpreter; on a standalone, YARN or Kubernetes cluster
they run wherever the cluster puts them, with whatever site-packages that
machine has.  A zip of the installed package, named by a hash of its contents,
is what Spark's ``pyFiles`` mechanism distributes and puts first on each
executor's ``sys.path``: no install on the workers beyond the third-party
dependencies (pyarrow, shapely, ...; a packed virtualenv through
``spark.archives`` carries those too, see README "Running on a cluster").
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import tempfile
import zipfile
from pathlib import Path

from eokg import __version__

#: The distribution's packages (pyproject's ``packages``): several live outside
#: ``src/eokg`` (``package-dir``), so walking ``eokg.__path__`` would miss them.
PACKAGES = (
    "eokg",
    "eokg.data",
    "eokg.ontologies",
    "eokg.spark",
    "eokg.kg",
    "eokg.kg.federation",
    "eokg.api",
    "eokg.catalog",
    "eokg.ml",
)
_SKIP_DIRS = frozenset({"__pycache__"})
_SKIP_SUFFIXES = (".pyc", ".pyo")


def package_files() -> list[tuple[str, Path]]:
    """``(name in the zip, file)`` for every file of every eokg package, sorted."""
    files: dict[str, Path] = {}
    for package in PACKAGES:
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            continue
        prefix = package.replace(".", "/")
        for location in spec.submodule_search_locations:
            root = Path(location)
            for path in sorted(root.rglob("*")):
                relative = path.relative_to(root)
                if not path.is_file() or path.suffix in _SKIP_SUFFIXES:
                    continue
                if _SKIP_DIRS & set(relative.parts):
                    continue
                top = relative.parts[0]
                if len(relative.parts) > 1 and f"{package}.{top}" in PACKAGES:
                    continue  # a subpackage: written under its own name
                files.setdefault(f"{prefix}/{relative.as_posix()}", path)
    return sorted(files.items())


def code_zip(folder: Path | None = None) -> Path:
    """The zip of eokg's code, built once per content (its name carries the hash).

    Written beside earlier builds in ``folder`` (default: a per-user cache in the
    temp dir) and moved into place atomically, so concurrent drivers never ship
    a half-written file.
    """
    files = package_files()
    digest = hashlib.sha256()
    for name, path in files:
        digest.update(name.encode())
        digest.update(path.read_bytes())
    folder = folder or Path(tempfile.gettempdir()) / f"eokg-ship-{os.getuid()}"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"eokg-{__version__}-{digest.hexdigest()[:16]}.zip"
    if target.is_file():
        return target
    fd, partial = tempfile.mkstemp(dir=folder, suffix=".zip.part")
    os.close(fd)
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, path in files:
            archive.write(path, name)
    os.replace(partial, target)
    return target


def ships_code(master: str) -> bool:
    """Whether executors run outside the driver's interpreter for this master."""
    return not master.startswith("local")
