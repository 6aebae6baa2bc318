"""eokg: a linked-data geospatial knowledge platform for Earth Observation.

The core package stays light: importing :mod:`eokg` pulls in neither Spark nor
TensorFlow.  Subsystems live in subpackages, one per top-level folder of the
repository, and data flows one way between them::

    eokg.ontologies -> eokg.spark -> eokg.kg | eokg.catalog -> eokg.api | eokg.ml

``eokg.config`` and ``eokg.errors`` sit below all of them; ``eokg.data`` (sample
data generator and format loaders) sits just above the ontologies.
"""

# TensorFlow bundles its own SQLite without R*Tree; whichever loads first wins,
# and the embedded catalogue needs R*Tree, so the system one is loaded first.
import sqlite3  # noqa: F401
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("eokg")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

__all__ = ["__version__"]
