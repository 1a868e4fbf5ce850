"""The training loop: configuration checks, what a run writes, divergence, determinism, overfitting."""
from __future__ import annotations

import json
import math
import time

import numpy as np
import pytest

from barecnn import io, models
from barecnn import train as train_module
from barecnn.train import Split, TrainConfig, Trainer, TrainingDiverged


@pytest.fixture(scope="module")
def splits(make_synthetic_digits):
    """Synthetic train (200) and validation (60) splits: learnable, no MNIST needed."""
    return Split(*make_synthetic_digits(200, seed=1)), Split(*make_synthetic_digits(60, seed=2))


def make_trainer(splits, out_dir=None, log=None, **config):
    config.setdefault("model", "seed001")
    config.setdefault("epochs", 2)
    config.setdefault("batch_size", 32)
    return Trainer.create(TrainConfig(**config), splits[0], splits[1], out_dir, log=log, progress=False)


def weights(model):
    return model.state_dict()


def assert_same_weights(a, b):
    assert list(a) == list(b)
    for key in a:
        assert np.array_equal(a[key], b[key]), f"{key} differs"


# ------------------------------------------------------------------------------ TrainConfig
def test_resolved_fills_the_models_recommendations_and_keeps_choices():
    config = TrainConfig(model="lenet5").resolved()
    assert (config.epochs, config.batch_size, config.optimizer, config.schedule) == (10, 64, "adam", "cosine")
    assert config.momentum == 0.9 and config.label_smoothing == 0.0 and config.augment is False
    chosen = TrainConfig(model="lenet5", lr=0.05, epochs=2, optimizer="sgd", augment=True).resolved()
    assert (chosen.lr, chosen.epochs, chosen.optimizer, chosen.augment) == (0.05, 2, "sgd", True)
    assert TrainConfig(model="lenet5").epochs is None, "resolved() must return a copy"
    barenet = TrainConfig().resolved()
    assert barenet.model == models.DEFAULT_MODEL and barenet.schedule == "onecycle"
    for name in models.ZOO:
        TrainConfig(model=name).resolved().validate()     # every recommendation is valid


@pytest.mark.parametrize("changes, option", [
    (dict(lr=-0.1), "--lr"),
    (dict(lr=0.0), "--lr"),
    (dict(lr=float("nan")), "--lr"),
    (dict(lr=float("inf")), "--lr"),
    (dict(momentum=-0.5), "--momentum"),
    (dict(weight_decay=-1e-4), "--weight-decay"),
    (dict(optimizer="adamw"), "--optimizer"),
    (dict(schedule="linear"), "--schedule"),
    (dict(model="nope"), "unknown model"),
    (dict(epochs=0), "--epochs"),
    (dict(batch_size=0), "--batch-size"),
    (dict(batch_size=2.5), "--batch-size"),
    (dict(dtype="float16"), "dtype"),
    (dict(val_size=-1), "--val-size"),
])
def test_validate_names_the_bad_option(changes, option):
    config = TrainConfig(**{"model": "seed001", **changes}).resolved()
    with pytest.raises(ValueError) as info:
        config.validate()
    assert option in str(info.value)


def test_unknown_model_error_lists_the_zoo():
    with pytest.raises(ValueError) as info:
        TrainConfig(model="nope").resolved().validate()
    assert all(name in str(info.value) for name in models.ZOO)


def test_create_validates(splits):
    with pytest.raises(ValueError, match="--optimizer"):
        make_trainer(splits, optimizer="lbfgs")
    with pytest.raises(ValueError, match="--lr"):
        make_trainer(splits, lr=-1.0)


# ----------------------------------------------------------------------------- a short run
def test_a_run_without_a_log_is_silent(splits, capsys):
    """``log=None``: no message and no progress bar (the examples and benchmarks train this way)."""
    trainer = Trainer.create(TrainConfig(model="seed001", epochs=1, batch_size=32), *splits, log=None)
    assert trainer.progress is False
    trainer.fit()
    assert capsys.readouterr() == ("", "")
    assert Trainer.create(TrainConfig(model="seed001"), *splits, log=print).progress is True


def test_fit_writes_model_checkpoint_and_history(splits, tmp_path):
    log = []
    trainer = make_trainer(splits, tmp_path, log=log.append, epochs=2, batch_size=32)
    history = trainer.fit()
    assert trainer.epoch == 2
    assert {"model.npz", "checkpoint.npz", "history.json"} <= {p.name for p in tmp_path.iterdir()}
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")], "temp files left behind"

    batches = math.ceil(len(splits[0]) / 32)
    saved = json.loads((tmp_path / "history.json").read_text())
    assert saved["loss"] == history.loss and len(saved["loss"]) == 2 * batches
    assert all(isinstance(v, float) and math.isfinite(v) for v in saved["loss"])
    for key in ("train_acc", "val_acc", "val_loss", "lr", "epoch_time"):
        assert len(saved[key]) == 2, key
    assert 1 <= saved["best_epoch"] <= 2 and saved["best_val_acc"] == max(saved["val_acc"])

    header, _ = io.load_arrays(tmp_path / "checkpoint.npz")
    assert header["kind"] == "checkpoint" and header["training"]["epoch"] == 2
    assert header["training"]["config"]["model"] == "seed001"
    assert_same_weights(weights(io.load(tmp_path / "checkpoint.npz")), weights(trainer.model))
    best = io.load(tmp_path / "model.npz")
    assert best.name == "seed001" and not best.training
    assert best.preprocess == trainer.model.preprocess
    assert any("first batch loss" in line for line in log)
    assert sum(line.startswith("epoch ") for line in log) == 2


def test_preprocessing_is_fitted_on_the_training_images(splits):
    trainer = make_trainer(splits, epochs=1)
    images = splits[0].images.astype(np.float64)
    assert trainer.model.preprocess.mode == "standardize"
    assert trainer.model.preprocess.mean == pytest.approx(images.mean() / 255)
    assert trainer.model.preprocess.std == pytest.approx(images.std() / 255)
    assert make_trainer(splits, model="seed000", epochs=1).model.preprocess.mode == "center"


@pytest.mark.parametrize("name", ["lenet5", "seed001", "seed004", "seed000"])
def test_first_batch_loss_is_near_ln_10(splits, name):
    trainer = make_trainer(splits, model=name, epochs=1, batch_size=50)
    trainer.run_epoch()
    assert abs(trainer.history.loss[0] - math.log(10)) < 0.35, trainer.history.loss[0]


def test_training_reduces_the_loss(splits):
    trainer = make_trainer(splits, model="seed001", epochs=3, batch_size=25, optimizer="adam", lr=2e-2,
                           schedule="none")
    history = trainer.fit()
    assert np.mean(history.loss[-5:]) < 0.5 * np.mean(history.loss[:3])
    assert history.val_acc[-1] > 0.8


def test_best_model_by_validation_is_kept(splits, tmp_path, monkeypatch):
    scripted = iter([0.5, 0.9, 0.7, 0.9])      # best at epoch 2; a later tie does not replace it
    real_evaluate = train_module.evaluate

    def fake_evaluate(model, split, batch_size=500):
        result = real_evaluate(model, split, batch_size)
        result["accuracy"] = next(scripted)
        return result

    monkeypatch.setattr(train_module, "evaluate", fake_evaluate)
    trainer = make_trainer(splits, tmp_path, epochs=4)
    snapshots = []
    for _ in range(4):
        trainer.run_epoch()
        snapshots.append(weights(trainer.model))
    assert trainer.history.best_epoch == 2 and trainer.history.best_val_acc == 0.9
    assert_same_weights(weights(io.load(tmp_path / "model.npz")), snapshots[1])
    header, _ = io.load_arrays(tmp_path / "model.npz")
    assert header["trained"] == {"epoch": 2}
    assert_same_weights(weights(io.load(tmp_path / "checkpoint.npz")), snapshots[3])


def test_without_validation_the_last_epoch_is_kept(splits, tmp_path):
    trainer = Trainer.create(TrainConfig(model="seed001", epochs=2, batch_size=50), splits[0],
                             Split(splits[1].images[:0], splits[1].labels[:0]), tmp_path, log=None)
    trainer.fit()
    assert trainer.history.val_acc == [] and trainer.history.best_epoch == 2
    assert trainer.history.best_val_acc == -1.0        # no training accuracy posing as validation
    assert_same_weights(weights(io.load(tmp_path / "model.npz")), weights(trainer.model))


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "rmsprop"])
@pytest.mark.parametrize("schedule", ["none", "step", "cosine", "inverse-time", "onecycle"])
def test_every_optimizer_and_schedule_runs(splits, optimizer, schedule):
    trainer = make_trainer(splits, epochs=2, batch_size=50, optimizer=optimizer, schedule=schedule, lr=0.01,
                           momentum=0.9, nesterov=True, weight_decay=1e-4, label_smoothing=0.1, clip_grad_norm=1.0)
    history = trainer.fit()
    assert len(history.loss) == 8 and all(math.isfinite(v) for v in history.loss)
    assert len(history.lr) == 2 and history.lr[0] > 0 and history.lr[1] >= 0   # cosine/onecycle end at 0
    if schedule == "step":
        assert history.lr == pytest.approx([0.01 * 0.95, 0.01 * 0.95 ** 2])
    if schedule == "none":
        assert history.lr == [0.01, 0.01]


def test_float64_training(splits, tmp_path):
    trainer = make_trainer(splits, tmp_path, epochs=1, dtype="float64")
    trainer.fit()
    assert trainer.model.dtype == np.float64
    assert io.load(tmp_path / "model.npz").dtype == np.float64


# ------------------------------------------------------------------------------ divergence
def test_huge_learning_rate_raises_training_diverged(splits):
    trainer = make_trainer(splits, model="seed001", optimizer="sgd", lr=1e6, momentum=0.0, epochs=2, batch_size=16)
    with pytest.raises(TrainingDiverged) as info:
        trainer.fit()
    message = str(info.value)
    assert "epoch 1" in message and "batch " in message and "--lr" in message
    assert isinstance(info.value, RuntimeError)


class NaNAt:
    """A criterion wrapper whose ``nan_call``-th call returns NaN."""

    def __init__(self, criterion, nan_call):
        self.criterion, self.nan_call, self.calls = criterion, nan_call, 0

    def __call__(self, logits, labels):
        self.calls += 1
        loss = self.criterion(logits, labels)
        return float("nan") if self.calls == self.nan_call else loss

    def backward(self, *args):
        return self.criterion.backward(*args)


def test_divergence_names_epoch_and_batch_and_keeps_the_last_checkpoint(splits, tmp_path):
    trainer = make_trainer(splits, tmp_path, epochs=3, batch_size=50)     # 4 batches per epoch
    trainer.criterion = NaNAt(trainer.criterion, nan_call=4 + 3)           # epoch 2, batch 3
    trainer.run_epoch()
    after_epoch_1 = weights(trainer.model)
    checkpoint_bytes = (tmp_path / "checkpoint.npz").read_bytes()
    with pytest.raises(TrainingDiverged) as info:
        trainer.fit()
    message = str(info.value)
    assert "epoch 2, batch 3" in message and str(tmp_path) in message
    assert (tmp_path / "checkpoint.npz").read_bytes() == checkpoint_bytes
    header, _ = io.load_arrays(tmp_path / "checkpoint.npz")
    assert header["training"]["epoch"] == 1
    assert_same_weights(weights(io.load(tmp_path / "checkpoint.npz")), after_epoch_1)
    assert len(json.loads((tmp_path / "history.json").read_text())["loss"]) == 4
    resumed = Trainer.resume(tmp_path / "checkpoint.npz", *splits, log=None)
    assert resumed.epoch == 1 and len(resumed.history.loss) == 4
    resumed.fit()                                 # the run can go on from the good checkpoint
    assert resumed.epoch == 3


# ------------------------------------------------------------------------------ determinism
def test_same_seed_gives_bit_identical_weights(splits):
    splits = (Split(splits[0].images[:100], splits[0].labels[:100]), splits[1])
    runs = []
    for _ in range(2):
        trainer = make_trainer(splits, model="seed004", epochs=1, batch_size=25, augment=True, seed=3)
        trainer.fit()
        runs.append((weights(trainer.model), list(trainer.history.loss)))
    assert_same_weights(runs[0][0], runs[1][0])
    assert runs[0][1] == runs[1][1]
    other = make_trainer(splits, model="seed004", epochs=1, batch_size=25, augment=True, seed=4)
    other.fit()
    assert not np.array_equal(weights(other.model)["0.weight"], runs[0][0]["0.weight"])


def test_dropout_model_is_deterministic_too(splits):
    small = (Split(splits[0].images[:20], splits[0].labels[:20]), Split(splits[1].images[:4], splits[1].labels[:4]))
    runs = []
    for _ in range(2):
        trainer = make_trainer(small, model="kerascnn", epochs=1, batch_size=10, seed=5)
        trainer.fit()
        runs.append(weights(trainer.model))
    assert_same_weights(runs[0], runs[1])


def test_split_batches_are_deterministic_and_fit_stops_the_workers(splits):
    """Batches of 32 split across 2 worker processes (DataParallel): dropout and all, the same seed
    gives the same weights, and no worker outlives fit()."""
    import multiprocessing

    small = (Split(splits[0].images[:64], splits[0].labels[:64]), Split(splits[1].images[:8], splits[1].labels[:8]))
    runs = []
    for _ in range(2):
        trainer = make_trainer(small, model="kerascnn", epochs=1, batch_size=32, seed=5, workers=2)
        trainer.fit()
        assert trainer.runner._pool is None
        assert not [p for p in multiprocessing.active_children() if p.name == "barecnn-data-parallel"]
        runs.append(weights(trainer.model))
    assert_same_weights(runs[0], runs[1])


# ------------------------------------------------------------------------------- via the CLI
def test_overfit_50_reaches_100_percent(barecnn_cli, mnist_subset_dir, tmp_path):
    """cs231n's sanity check on real digits (seed004 rather than lenet5: 3x cheaper on busy cores)."""
    start = time.perf_counter()
    result = barecnn_cli("train", "--model", "seed004", "--lr", "0.01", "--overfit", "50",
                         "--dataset", mnist_subset_dir, "--val-size", "100", "--no-progress",
                         "--out", tmp_path / "overfit")
    seconds = time.perf_counter() - start
    assert result.returncode == 0, result.stderr
    assert "overfit 50: train accuracy 1.0000" in result.stdout
    assert "100% training accuracy on 50 samples" in result.stdout
    assert seconds < 60
    model = io.load(tmp_path / "overfit" / "model.npz")
    assert model.name == "seed004"


def test_cli_divergence_is_a_one_line_error(barecnn_cli, synthetic_data_dir, tmp_path):
    result = barecnn_cli("train", "--model", "seed001", "--optimizer", "sgd", "--lr", "1e6", "--epochs", "2",
                         "--dataset", synthetic_data_dir, "--val-size", "50", "--no-progress",
                         "--out", tmp_path / "nan")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("barecnn: error: loss became nan at epoch 1, batch ")


def test_cli_divergence_stderr_is_exactly_one_line(barecnn_cli, synthetic_data_dir, tmp_path):
    result = barecnn_cli("train", "--model", "seed001", "--optimizer", "sgd", "--lr", "1e6", "--epochs", "1",
                         "--dataset", synthetic_data_dir, "--val-size", "50", "--no-progress",
                         "--out", tmp_path / "nan")
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr



def test_fit_stops_early_when_asked(splits):
    trainer = make_trainer(splits, epochs=5)
    asked = []
    trainer.fit(stop=lambda t: asked.append(t.epoch) or t.epoch == 2)
    assert asked == [1, 2] and trainer.epoch == 2 and len(trainer.history.val_acc) == 2
