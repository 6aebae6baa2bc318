"""Import TensorFlow and tf-keras the one way eokg uses them.

Keras 3 cannot ``fit`` under ``MultiWorkerMirroredStrategy`` with two or more
workers (keras issue 20585), so eokg builds, trains, saves and loads models
with tf-keras (``import tf_keras``) everywhere: a model saved by a worker loads
in the driver and in ``eokg predict`` with the same Keras.
``TF_USE_LEGACY_KERAS=1`` is also set before TensorFlow is first imported so
that ``tf.keras`` inside TensorFlow itself agrees.
"""

from __future__ import annotations

import os
from typing import Any

from eokg.errors import require


def _environment() -> None:
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # TensorFlow bundles an SQLite built without R*Tree; if it loads first, Python's
    # sqlite3 binds to it and the embedded catalogue fails with "no such module:
    # rtree".  Loading sqlite3 first binds it to the system library for good.
    import sqlite3  # noqa: F401


def tensorflow() -> Any:
    """The ``tensorflow`` module, or ``MissingDependency`` naming ``eokg[ml]``."""
    _environment()
    return require("tensorflow", "ml")


def keras() -> Any:
    """The ``tf_keras`` module (Keras 2 API)."""
    tensorflow()
    return require("tf_keras", "ml")


def limit_threads(intra: int, inter: int) -> None:
    """Cap TensorFlow's thread pools; ignored once TensorFlow has started running."""
    tf = tensorflow()
    try:
        tf.config.threading.set_intra_op_parallelism_threads(intra)
        tf.config.threading.set_inter_op_parallelism_threads(inter)
    except RuntimeError:  # already initialised in this process
        pass
