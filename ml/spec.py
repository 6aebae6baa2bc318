"""What a training dataset is: a SPARQL SELECT plus how its variables become tensors.

A spec is data, not code, so that it can be written in a small TOML or JSON
file, hashed into a cache key, recorded in the dataset manifest and in the
model's RDF lineage (``eo:selectionQuery``, ``eo:featureSpec``) and replayed
later to rebuild exactly the same dataset.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from eokg.errors import InputError

SEAICE = "https://w3id.org/eokg/concept/seaice/"

#: The default selection: labelled SAR patches with their footprint.  Mapped data
#: lives in named graphs (the default graph holds the ontology and schemes), hence
#: ``GRAPH ?g``; a spec can instead list ``graphs`` to use as the default graph.
PATCH_QUERY = """\
PREFIX eo: <https://w3id.org/eokg/ontology#>
PREFIX geo: <http://www.opengis.net/ont/geosparql#>
SELECT ?patch ?band1 ?band2 ?inc_angle ?label ?wkt WHERE {
  GRAPH ?g {
    ?patch a eo:ImagePatch ;
           eo:band1 ?band1 ;
           eo:band2 ?band2 ;
           eo:hasLabel/eo:labelClass ?label ;
           geo:hasGeometry/geo:asWKT ?wkt .
    OPTIONAL { ?patch eo:incidenceAngle ?inc_angle }
  }
}"""

#: Every patch, labelled or not: what a model is run over.
PREDICT_QUERY = """\
PREFIX eo: <https://w3id.org/eokg/ontology#>
PREFIX geo: <http://www.opengis.net/ont/geosparql#>
SELECT ?patch ?band1 ?band2 ?inc_angle ?wkt WHERE {
  GRAPH ?g {
    ?patch a eo:ImagePatch ;
           eo:band1 ?band1 ;
           eo:band2 ?band2 ;
           geo:hasGeometry/geo:asWKT ?wkt .
    OPTIONAL { ?patch eo:incidenceAngle ?inc_angle }
  }
}"""

_VAR = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class FeatureSpec:
    """How result variables become model inputs.

    ``tensors`` are variables holding ``eo:Tensor`` literals (JSON arrays) of
    ``tensor_shape`` values, stacked as channels; ``scalars`` maps a numeric
    variable to the value used when it is unbound; ``label`` holds a concept
    IRI whose index in ``classes`` is the target.
    """

    tensors: tuple[str, ...] = ("band1", "band2")
    tensor_shape: tuple[int, int] = (75, 75)
    scalars: dict[str, float] = field(default_factory=lambda: {"inc_angle": 39.0})
    label: str = "label"
    classes: tuple[str, ...] = (SEAICE + "iceberg", SEAICE + "ship")
    #: The variable binding the subject: split hashing, ordering and prediction ids.
    id: str = "patch"
    #: The variable binding the footprint WKT: spatial split and prediction geometry.
    geometry: str | None = "wkt"
    #: Per-channel mean/std from the train split, baked into the model.
    normalise: bool = True

    @property
    def channels(self) -> int:
        return len(self.tensors)

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (*self.tensor_shape, self.channels)

    @property
    def class_keys(self) -> tuple[str, ...]:
        """Short class names (the last IRI segment): the ``class`` column of predictions."""
        return tuple(re.split(r"[/#]", c.rstrip("/#"))[-1] for c in self.classes)


@dataclass(frozen=True)
class SplitSpec:
    """Train/validation split: by hash of the subject IRI or by spatial grid cell.

    ``spatial`` hashes the 0.5-degree (``cell_deg``) cell of the footprint
    centroid, so that neighbouring patches (often the same berg or ship seen
    twice) never straddle train and validation.
    """

    kind: Literal["hash", "spatial"] = "hash"
    val_fraction: float = 0.2
    cell_deg: float = 0.5
    seed: int = 42


@dataclass(frozen=True)
class DatasetSpec:
    """A named selection query, its feature spec, split and model factory name."""

    name: str = "seaice-patches"
    query: str = PATCH_QUERY
    predict_query: str = PREDICT_QUERY
    features: FeatureSpec = field(default_factory=FeatureSpec)
    split: SplitSpec = field(default_factory=SplitSpec)
    model: str = "lenet"
    #: Named graphs merged into the default graph of the query (empty: the store's own).
    graphs: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check(self)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def feature_json(self) -> str:
        """The feature spec as canonical JSON (for ``eo:featureSpec``)."""
        return json.dumps(asdict(self.features), sort_keys=True)

    def digest(self) -> str:
        """Hash of everything that changes the dataset's content (not the model)."""
        payload = {k: v for k, v in self.to_dict().items() if k not in ("model", "predict_query")}
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, where: str = "spec") -> DatasetSpec:
        data = dict(data)
        unknown = set(data) - {
            "name",
            "query",
            "predict_query",
            "features",
            "split",
            "model",
            "graphs",
        }
        if unknown:
            raise InputError(f"unknown key(s) {sorted(unknown)}", where=where)
        try:
            features = dict(data.pop("features", {}) or {})
            for key in ("tensors", "tensor_shape", "classes"):
                if key in features:
                    features[key] = tuple(features[key])
            split = dict(data.pop("split", {}) or {})
            if "graphs" in data:
                data["graphs"] = tuple(data["graphs"])
            return cls(features=FeatureSpec(**features), split=SplitSpec(**split), **data)
        except TypeError as exc:  # unknown field in a section
            raise InputError(str(exc), where=where) from exc


def _check(spec: DatasetSpec) -> None:
    f = spec.features
    names = [*f.tensors, *f.scalars, f.label, f.id, *([f.geometry] if f.geometry else [])]
    for name in names:
        if not _VAR.match(name):
            raise InputError(f"not a SPARQL variable name: {name!r}", where="spec.features")
        if not re.search(rf"\?{name}\b", spec.query):
            raise InputError(f"variable ?{name} does not occur in the query", where="spec.query")
    if not f.tensors:
        raise InputError("at least one tensor variable is needed", where="spec.features.tensors")
    if len(f.classes) < 2:
        raise InputError("at least two classes are needed", where="spec.features.classes")
    if not 0.0 < spec.split.val_fraction < 1.0:
        raise InputError("val_fraction must be in (0, 1)", where="spec.split.val_fraction")
    if spec.split.kind == "spatial" and not f.geometry:
        raise InputError("a spatial split needs features.geometry", where="spec.split.kind")
    if re.search(r"\b(LIMIT|OFFSET)\b", _strip_strings(spec.query), re.IGNORECASE):
        raise InputError("leave LIMIT/OFFSET out: results are paged", where="spec.query")


def _strip_strings(query: str) -> str:
    return re.sub(r'"[^"\n]*"|<[^>\s]*>|#[^\n]*', "", query)


def load_spec(path: Path) -> DatasetSpec:
    """Read a spec from a ``.toml`` or ``.json`` file; errors name the file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read the spec: {exc}", where=str(path)) from exc
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else tomllib.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise InputError(
            f"not valid {path.suffix.lstrip('.') or 'TOML'}: {exc}", where=str(path)
        ) from exc
    return DatasetSpec.from_dict(data, where=str(path))
