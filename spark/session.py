"""Build the SparkSession from ``settings.spark``.

Local mode by default; under ``spark-submit`` the master given there wins, so
the same job runs on a laptop and on a cluster.  Sessions are timezone-pinned
to UTC so that timestamps map to the same ``xsd:dateTime`` everywhere.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from eokg.config import SparkSettings
from eokg.errors import require


def build_session(settings: SparkSettings, **extra_conf: str) -> Any:
    """A SparkSession configured for eokg (reused if one is already active)."""
    require("pyspark", "spark")
    from pyspark import SparkConf
    from pyspark.sql import SparkSession

    # Workers must run an interpreter that has pyarrow and eokg installed.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    builder = SparkSession.builder.appName(settings.app_name)
    if not SparkConf().contains("spark.master"):  # not under spark-submit
        builder = builder.master(settings.master)
    conf = {
        "spark.driver.memory": settings.driver_memory,
        "spark.sql.shuffle.partitions": str(settings.shuffle_partitions),
        "spark.sql.execution.arrow.maxRecordsPerBatch": str(settings.arrow_batch_rows),
        "spark.sql.session.timeZone": "UTC",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.sources.partitionOverwriteMode": "static",
        # kind=t|r|c partitions are written concurrently instead of sorting every line by kind
        "spark.sql.maxConcurrentOutputFileWriters": "4",
        **extra_conf,
    }
    for key, value in conf.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def has_sedona(spark: Any) -> bool:
    """True when the session has Apache Sedona's SQL functions registered.

    Sedona is optional (its jars are not always reachable); the job uses its
    ST_ functions when present and shapely/SedonaDB in ``mapInArrow`` otherwise.
    """
    try:
        return bool(spark.catalog.functionExists("ST_GeomFromWKT"))
    except Exception:
        return False
