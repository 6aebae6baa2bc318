"""Materialise a query dataset once as TFRecord shards, with a manifest; reuse it after.

Reading TFRecords is as fast as reading arrays in memory, whereas a SPARQL page
costs a query and a JSON parse per tensor: so training reads shards, and every
worker of a distributed run reads the same shards (``tf.data`` auto-sharding
by data).  ``manifest.json`` records the query text, the store fingerprint,
the feature spec and the split: the cache key is a hash of all of them, so the
same spec on the same store state reuses the shards, and a changed store or
spec builds new ones.  Shards are written to a temporary folder renamed into
place, so a crash never leaves a half-written dataset that looks complete.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from eokg.errors import InputError
from eokg.kg.source import SparqlSource
from eokg.ml.dataset import SPLITS, ChannelStats, iter_samples, store_fingerprint
from eokg.ml.spec import DatasetSpec

MANIFEST = "manifest.json"
SHARD_SIZE = 1000  # examples per shard file (~45 MB of float32 75x75x2)
#: A split at most this big (decoded) is cached in memory after its first pass.
CACHE_MAX_BYTES = 512 * 1024 * 1024
FORMAT_VERSION = 1


@dataclass
class Manifest:
    """What a materialised dataset holds and how it was made."""

    directory: Path
    key: str
    spec: DatasetSpec
    store: dict[str, Any]
    counts: dict[str, int]
    shards: dict[str, list[str]]
    stats: dict[str, list[float]]
    ids_sha256: str
    created_at: str
    seconds: float = 0.0
    reused: bool = field(default=False, compare=False)

    @property
    def sample_count(self) -> int:
        return sum(self.counts.values())

    def files(self, split: str) -> list[Path]:
        return [self.directory / name for name in self.shards.get(split, [])]

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT_VERSION,
            "key": self.key,
            "query": self.spec.query,
            "spec": self.spec.to_dict(),
            "store": self.store,
            "split": self.spec.to_dict()["split"],
            "counts": self.counts,
            "shards": self.shards,
            "stats": self.stats,
            "ids_sha256": self.ids_sha256,
            "created_at": self.created_at,
            "seconds": self.seconds,
        }

    @classmethod
    def load(cls, directory: Path) -> Manifest:
        path = Path(directory) / MANIFEST
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InputError(f"cannot read the dataset manifest: {exc}", where=str(path)) from exc
        return cls(
            directory=Path(directory),
            key=data["key"],
            spec=DatasetSpec.from_dict(data["spec"], where=str(path)),
            store=data["store"],
            counts=data["counts"],
            shards=data["shards"],
            stats=data["stats"],
            ids_sha256=data["ids_sha256"],
            created_at=data["created_at"],
            seconds=data.get("seconds", 0.0),
        )

    def dataset(
        self,
        split: str,
        *,
        batch_size: int,
        shuffle: bool = False,
        repeat: bool = False,
        seed: int = 42,
        shard_policy: str | None = None,
    ) -> Any:
        """A ``tf.data.Dataset`` of ({"image", "scalars"}, label) batches from the shards."""
        return read_shards(
            self,
            split,
            batch_size=batch_size,
            shuffle=shuffle,
            repeat=repeat,
            seed=seed,
            shard_policy=shard_policy,
        )


def cache_key(spec: DatasetSpec, fingerprint: dict[str, Any]) -> str:
    payload = json.dumps(
        {"spec": spec.digest(), "store": fingerprint, "format": FORMAT_VERSION}, sort_keys=True
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def materialise(
    source: SparqlSource,
    spec: DatasetSpec,
    cache_dir: Path,
    *,
    page_size: int = 10_000,
    shard_size: int = SHARD_SIZE,
) -> Manifest:
    """The shards of ``spec`` over ``source`` under ``cache_dir``, built or reused."""
    fingerprint = store_fingerprint(source)
    key = cache_key(spec, fingerprint)
    target = Path(cache_dir) / f"{spec.name}-{key[:16]}"
    if (target / MANIFEST).is_file():
        manifest = Manifest.load(target)
        if manifest.key == key and all(p.is_file() for s in SPLITS for p in manifest.files(s)):
            manifest.reused = True
            return manifest
    started = time.perf_counter()
    staging = target.with_name(f".{target.name}.tmp")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        manifest = _write(source, spec, staging, key, fingerprint, page_size, shard_size)
        manifest.seconds = round(time.perf_counter() - started, 3)
        (staging / MANIFEST).write_text(json.dumps(manifest.to_json(), indent=2), "utf-8")
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    manifest.directory = target
    return manifest


def _write(
    source: SparqlSource,
    spec: DatasetSpec,
    staging: Path,
    key: str,
    fingerprint: dict[str, Any],
    page_size: int,
    shard_size: int,
) -> Manifest:
    from eokg.ml.tfcompat import tensorflow

    tf = tensorflow()
    f = spec.features
    stats = ChannelStats(f.channels, len(f.scalars))
    writers: dict[str, Any] = {}
    counts = {s: 0 for s in SPLITS}
    shards: dict[str, list[str]] = {s: [] for s in SPLITS}
    ids = hashlib.sha256()
    try:
        for sample in iter_samples(source, spec, page_size=page_size):
            split = sample.split
            if counts[split] % shard_size == 0:
                if split in writers:
                    writers[split].close()
                name = f"{split}-{len(shards[split]):05d}.tfrecord"
                shards[split].append(name)
                writers[split] = tf.io.TFRecordWriter(str(staging / name))
            writers[split].write(_example(tf, sample))
            counts[split] += 1
            ids.update(sample.id.encode() + b"\n")
            if split == "train":
                stats.add(sample)
    finally:
        for writer in writers.values():
            writer.close()
    if counts["train"] == 0:
        raise InputError("the query selected no training samples", where=f"{spec.name} query")
    return Manifest(
        directory=staging,
        key=key,
        spec=spec,
        store=fingerprint,
        counts=counts,
        shards=shards,
        stats=stats.to_json(),
        ids_sha256=ids.hexdigest(),
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )


def _example(tf: Any, sample: Any) -> bytes:
    feature = {
        "id": tf.train.Feature(bytes_list=tf.train.BytesList(value=[sample.id.encode()])),
        "image": tf.train.Feature(bytes_list=tf.train.BytesList(value=[sample.x.tobytes()])),
        "scalars": tf.train.Feature(float_list=tf.train.FloatList(value=sample.scalars.tolist())),
        "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[sample.label])),
    }
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def read_shards(
    manifest: Manifest,
    split: str,
    *,
    batch_size: int,
    shuffle: bool = False,
    repeat: bool = False,
    seed: int = 42,
    shard_policy: str | None = None,
    with_ids: bool = False,
    cache_max_bytes: int = CACHE_MAX_BYTES,
) -> Any:
    """Batches of ({"image", "scalars"}, label[, id]) read from the shards.

    Records are parsed vectorised (batch first, then one ``parse_example`` per
    batch).  A split whose decoded size is at most ``cache_max_bytes`` is kept
    decoded in memory after the first pass (``cache``), so later epochs cost
    what an in-memory array costs; a larger one is streamed from disk every
    epoch, in constant memory.
    """
    from eokg.ml.tfcompat import tensorflow

    tf = tensorflow()
    files = [str(p) for p in manifest.files(split)]
    if not files:
        raise InputError(f"the dataset has no {split} samples", where=str(manifest.directory))
    f = manifest.spec.features
    shape = f.input_shape
    n_scalars = len(f.scalars)
    schema = {
        "id": tf.io.FixedLenFeature([], tf.string),
        "image": tf.io.FixedLenFeature([], tf.string),
        "scalars": tf.io.FixedLenFeature([n_scalars], tf.float32),
        "label": tf.io.FixedLenFeature([], tf.int64),
    }

    def parse(records: Any) -> Any:
        parsed = tf.io.parse_example(records, schema)
        image = tf.reshape(tf.io.decode_raw(parsed["image"], tf.float32), (-1, *shape))
        features = {"image": image, "scalars": parsed["scalars"]}
        label = tf.cast(parsed["label"], tf.int32)
        if with_ids:
            return features, label, parsed["id"]
        return features, label

    count = manifest.counts[split]
    decoded_bytes = count * 4 * (int(np.prod(shape)) + n_scalars + 1)
    dataset = tf.data.TFRecordDataset(files)
    if decoded_bytes <= cache_max_bytes:
        # decode once, keep the decoded samples, shuffle and batch those
        dataset = dataset.batch(256).map(parse, num_parallel_calls=tf.data.AUTOTUNE)
        dataset = dataset.unbatch().cache()
        if shuffle:
            dataset = dataset.shuffle(min(count, 4096), seed=seed, reshuffle_each_iteration=True)
        if repeat:
            dataset = dataset.repeat()
        dataset = dataset.batch(batch_size)
    else:
        if shuffle:
            dataset = dataset.shuffle(min(count, 4096), seed=seed, reshuffle_each_iteration=True)
        if repeat:
            dataset = dataset.repeat()
        dataset = dataset.batch(batch_size).map(parse, num_parallel_calls=tf.data.AUTOTUNE)
    if shard_policy is not None:
        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = getattr(
            tf.data.experimental.AutoShardPolicy, shard_policy
        )
        dataset = dataset.with_options(options)
    return dataset.prefetch(tf.data.AUTOTUNE)
