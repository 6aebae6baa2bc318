"""Model factories, by name: a spec says ``model = "lenet"`` and gets a compiled model.

A plain name -> function map, no registry or plug-in machinery: adding an
architecture is adding a function here.  Factories receive the feature spec
and the train-split statistics and bake the normalisation into the model
(``Normalization`` layers), so a saved model takes raw dB values and the
prediction path cannot forget or mismatch the scaling.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from eokg.errors import InputError
from eokg.ml.spec import FeatureSpec
from eokg.ml.tfcompat import keras


def lenet(features: FeatureSpec, stats: dict[str, list[float]], seed: int = 42) -> Any:
    """A LeNet-style CNN on the stacked bands, with the scalars joined before the head."""
    k = keras()
    k.utils.set_random_seed(seed)
    image = k.Input(shape=features.input_shape, name="image")
    scalars = k.Input(shape=(len(features.scalars),), name="scalars")
    x = image
    if features.normalise:
        x = k.layers.Normalization(
            axis=-1,
            mean=np.asarray(stats["mean"], dtype=np.float32),
            variance=np.square(np.asarray(stats["std"], dtype=np.float32)),
            name="band_norm",
        )(x)
    for filters, size in ((16, 5), (32, 5), (64, 3)):
        x = k.layers.Conv2D(filters, size, activation="relu")(x)
        x = k.layers.MaxPooling2D(2)(x)
    x = k.layers.Flatten()(x)
    x = k.layers.Dense(64, activation="relu")(x)
    if features.scalars:
        s = scalars
        if features.normalise:
            s = k.layers.Normalization(
                axis=-1,
                mean=np.asarray(stats["scalar_mean"], dtype=np.float32),
                variance=np.square(np.asarray(stats["scalar_std"], dtype=np.float32)),
                name="scalar_norm",
            )(s)
        x = k.layers.Concatenate()([x, s])
    x = k.layers.Dense(32, activation="relu")(x)
    x = k.layers.Dropout(0.3, seed=seed)(x)
    out = k.layers.Dense(len(features.classes), activation="softmax", name="class")(x)
    model = k.Model(inputs={"image": image, "scalars": scalars}, outputs=out, name="lenet")
    model.compile(
        optimizer=k.optimizers.Adam(learning_rate=1e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


#: Architecture name (``DatasetSpec.model``) -> factory.
FACTORIES: dict[str, Callable[..., Any]] = {"lenet": lenet}


def build_model(
    name: str, features: FeatureSpec, stats: dict[str, list[float]], seed: int = 42
) -> Any:
    """The compiled model ``name``; InputError lists the known names."""
    try:
        factory = FACTORIES[name]
    except KeyError:
        raise InputError(
            f"unknown model {name!r}; known: {sorted(FACTORIES)}", where="spec.model"
        ) from None
    return factory(features, stats, seed=seed)
