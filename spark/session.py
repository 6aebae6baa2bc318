"""Build the SparkSession from ``settings.spark``.

Local mode by default; under ``spark-submit`` the master given there wins, so
the same job runs on a laptop and on a cluster.  Sessions are timezone-pinned
to UTC so that timestamps map to the same ``xsd:dateTime`` everywhere.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from eokg.config import SparkSettings
from eokg.errors import ConfigError, require

#: Where scripts/install.sh puts Sedona's jars: ``.vendor/sedona`` at the top of the install.
DEFAULT_SEDONA_JARS = Path(__file__).resolve().parents[1] / ".vendor" / "sedona"


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
    submitted = SparkConf()
    if not submitted.contains("spark.master"):  # not under spark-submit
        builder = builder.master(settings.master)
    master = submitted.get("spark.master", settings.master) or settings.master
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
        **sedona_conf(settings),
        **ship_conf(master, submitted.get("spark.submit.pyFiles", "") or ""),
        **extra_conf,
    }
    for key, value in conf.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def with_master(settings: SparkSettings, master: str | None) -> SparkSettings:
    """``settings`` with a CLI ``--master`` applied (None: as configured)."""
    return settings if master is None else settings.model_copy(update={"master": master})


def ship_conf(master: str, py_files: str) -> dict[str, str]:
    """``spark.submit.pyFiles`` with eokg's code zip for a master whose executors do
    not share the driver's interpreter (``spark/ship.py``); kept as given when an
    eokg zip is already there (``spark-submit --py-files``)."""
    from eokg.spark.ship import code_zip, ships_code

    if not ships_code(master):
        return {}
    given = [f for f in py_files.split(",") if f]
    if any(Path(f).name.startswith("eokg-") and f.endswith(".zip") for f in given):
        return {}
    return {"spark.submit.pyFiles": ",".join([*given, str(code_zip())])}


def sedona_jars(settings: SparkSettings) -> list[Path]:
    """Sedona's jars for this session: none when off or (in "auto") not installed.

    The jars come from the install (``scripts/install.sh``), never from Maven at
    run time: a job on a machine without network must start the same way.
    """
    if settings.sedona == "off":
        return []
    folder = settings.sedona_jars or DEFAULT_SEDONA_JARS
    jars = sorted(folder.glob("*.jar")) if folder.is_dir() else []
    if not jars and settings.sedona == "on":
        raise ConfigError(
            "no Apache Sedona jars here; run scripts/install.sh (spark extra) or set "
            "EOKG_SPARK__SEDONA=auto to use shapely",
            where=str(folder),
        )
    return jars


def sedona_conf(settings: SparkSettings) -> dict[str, str]:
    """Session settings that load and register Sedona (empty without its jars).

    The SQL extension registers the ST_ functions and the spatial join planner
    in every session of the context; Kryo with Sedona's registrator keeps the
    geometries that a spatial join shuffles small.
    """
    jars = sedona_jars(settings)
    if not jars:
        return {}
    return {
        "spark.jars": ",".join(str(j) for j in jars),
        "spark.sql.extensions": "org.apache.sedona.sql.SedonaSqlExtensions",
        "spark.serializer": "org.apache.spark.serializer.KryoSerializer",
        "spark.kryo.registrator": "org.apache.sedona.core.serde.SedonaKryoRegistrator",
    }


def has_sedona(spark: Any) -> bool:
    """True when the session has Apache Sedona's SQL functions registered.

    Sedona is optional (a bare ``pip install`` has no jars); the jobs use its
    ST_ functions when present and shapely in ``mapInArrow`` otherwise.
    """
    try:
        return bool(spark.catalog.functionExists("ST_GeomFromWKT"))
    except Exception:
        return False
