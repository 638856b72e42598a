"""The reference search of bench/perf.py row 3: KerasTuner's BayesianOptimization over the same head space, on
the same cached features."""

from __future__ import annotations

import time
from pathlib import Path


def keras_tuner_search(xt, yt, xv, yv, trials: int, epochs: int, workdir: Path) -> tuple[float, float]:
    import keras
    import keras_tuner as kt

    def build(hp):
        inp = keras.Input(xt.shape[1:])
        pool = (
            keras.layers.Flatten()
            if hp.Choice("pooling", ["flatten", "avg"]) == "flatten"
            else keras.layers.GlobalAveragePooling2D()
        )
        x = keras.layers.Dense(hp.Int("width", 32, 1024, sampling="log"), activation="relu")(pool(inp))
        x = keras.layers.Dropout(hp.Float("dropout", 0.0, 0.7))(x)
        model = keras.Model(inp, keras.layers.Dense(1, activation="sigmoid")(x))
        lr = hp.Float("learning_rate", 1e-5, 1e-2, sampling="log")
        opt = (
            keras.optimizers.RMSprop(lr)
            if hp.Choice("optimizer", ["rmsprop", "adam"]) == "rmsprop"
            else keras.optimizers.Adam(lr)
        )
        model.compile(opt, "binary_crossentropy", metrics=["accuracy"])
        return model

    class Tuner(kt.BayesianOptimization):
        def run_trial(self, trial, *args, **kwargs):
            kwargs["batch_size"] = trial.hyperparameters.Choice("batch_size", [16, 32, 64, 128, 256])
            return super().run_trial(trial, *args, **kwargs)

    tuner = Tuner(
        build,
        objective="val_loss",
        max_trials=trials,
        seed=0,
        directory=str(workdir / "kt"),
        project_name="bench",
        overwrite=True,
    )
    stop = keras.callbacks.EarlyStopping(patience=5, restore_best_weights=True)
    t = time.perf_counter()
    tuner.search(xt, yt, validation_data=(xv, yv), epochs=epochs, callbacks=[stop], verbose=0)
    seconds = time.perf_counter() - t
    return seconds, float(tuner.oracle.get_best_trials(1)[0].score)
