"""Resuming: a run killed with SIGKILL after a checkpoint and resumed ends bit for bit where an
uninterrupted run ends (weights, optimizer state, RNG states, history)."""
from __future__ import annotations

import json
import signal
import sys
import textwrap

import numpy as np
import pytest

from barecnn import io
from barecnn import random as barecnn_random
from barecnn.train import Split, TrainConfig, Trainer

# Runs barecnn's CLI, but SIGKILLs itself right after the checkpoint of epoch ``argv[1]`` is on
# disk: deterministic, unlike polling for the file from outside.
KILLER = textwrap.dedent("""
    import os, signal, sys
    from barecnn import train

    kill_after = int(sys.argv[1])
    save_checkpoint = train.Trainer.save_checkpoint

    def save_checkpoint_then_die(self, path):
        save_checkpoint(self, path)
        if self.epoch >= kill_after:
            os.kill(os.getpid(), signal.SIGKILL)

    train.Trainer.save_checkpoint = save_checkpoint_then_die
    from barecnn.cli import main
    sys.exit(main(sys.argv[2:]))
""")

HISTORY_KEYS = ("loss", "train_acc", "val_acc", "val_loss", "lr", "best_epoch", "best_val_acc")


@pytest.fixture(scope="module")
def killer(tmp_path_factory):
    path = tmp_path_factory.mktemp("killer") / "kill_after_checkpoint.py"
    path.write_text(KILLER)
    return lambda epoch: [sys.executable, str(path), str(epoch)]


def seed004_args(data_dir):
    return ["train", "--model", "seed004", "--augment", "--epochs", "3", "--batch-size", "16", "--seed", "7",
            "--dataset", data_dir, "--train-size", "200", "--val-size", "50", "--test-size", "50", "--no-progress"]


def kerascnn_args(data_dir):
    return ["train", "--model", "kerascnn", "--augment", "--epochs", "2", "--batch-size", "16", "--seed", "3",
            "--dataset", data_dir, "--train-size", "32", "--val-size", "8", "--test-size", "8", "--no-progress"]


@pytest.fixture(scope="module")
def run_a(barecnn_cli, synthetic_data_dir, tmp_path_factory):
    """The uninterrupted seed004 run (3 epochs)."""
    out = tmp_path_factory.mktemp("resume") / "A"
    result = barecnn_cli(*seed004_args(synthetic_data_dir), "--out", out)
    assert result.returncode == 0, result.stderr
    return out


def kill_after_first_epoch(barecnn_cli, killer, args, out):
    result = barecnn_cli(*args, "--out", out, executable=killer(1))
    assert result.returncode == -signal.SIGKILL, (result.returncode, result.stderr)
    header, _ = io.load_arrays(out / "checkpoint.npz")
    assert header["training"]["epoch"] == 1
    assert "epoch 2/" not in result.stdout
    return header


def assert_runs_identical(a, b):
    header_a, arrays_a = io.load_arrays(a / "checkpoint.npz")
    header_b, arrays_b = io.load_arrays(b / "checkpoint.npz")
    assert sorted(arrays_a) == sorted(arrays_b)
    assert any(key.startswith("optim/") for key in arrays_a), "the checkpoint holds no optimizer state"
    for key in arrays_a:
        assert arrays_a[key].dtype == arrays_b[key].dtype, key
        assert np.array_equal(arrays_a[key], arrays_b[key]), f"{key} differs after resuming"
    training_a, training_b = header_a["training"], header_b["training"]
    assert training_a["epoch"] == training_b["epoch"]
    for key in HISTORY_KEYS:
        assert training_a["history"][key] == training_b["history"][key], key
    assert training_a["data_rng"] == training_b["data_rng"]
    assert training_a["global_rng"] == training_b["global_rng"]
    assert training_a["optimizer"] == training_b["optimizer"]
    history_a = json.loads((a / "history.json").read_text())
    history_b = json.loads((b / "history.json").read_text())
    for key in HISTORY_KEYS:
        assert history_a[key] == history_b[key], key
    _, model_a = io.load_arrays(a / "model.npz")
    _, model_b = io.load_arrays(b / "model.npz")
    assert all(np.array_equal(model_a[key], model_b[key]) for key in model_a)


def test_sigkilled_run_resumes_bit_for_bit(barecnn_cli, killer, synthetic_data_dir, run_a, tmp_path):
    b = tmp_path / "B"
    header = kill_after_first_epoch(barecnn_cli, killer, seed004_args(synthetic_data_dir), b)
    assert len(header["training"]["history"]["loss"]) == 13            # ceil(200 / 16)
    result = barecnn_cli("train", "--resume", b, "--dataset", synthetic_data_dir, "--no-progress")
    assert result.returncode == 0, result.stderr
    assert "resuming seed004 after epoch 1 of 3" in result.stdout
    assert "first batch loss" not in result.stdout
    assert_runs_identical(run_a, b)
    assert len(json.loads((b / "history.json").read_text())["loss"]) == 3 * 13


def test_dropout_and_augmentation_resume_bit_for_bit(barecnn_cli, killer, synthetic_data_dir, tmp_path):
    """kerascnn draws dropout masks from the global generator and augmentation from the data one."""
    a, b = tmp_path / "A", tmp_path / "B"
    result = barecnn_cli(*kerascnn_args(synthetic_data_dir), "--out", a)
    assert result.returncode == 0, result.stderr
    kill_after_first_epoch(barecnn_cli, killer, kerascnn_args(synthetic_data_dir), b)
    result = barecnn_cli("train", "--resume", b, "--dataset", synthetic_data_dir, "--no-progress")
    assert result.returncode == 0, result.stderr
    assert_runs_identical(a, b)


def test_resuming_a_finished_run_changes_nothing(barecnn_cli, synthetic_data_dir, run_a, tmp_path):
    import shutil
    copy = tmp_path / "A-copy"
    shutil.copytree(run_a, copy)
    before = (copy / "checkpoint.npz").read_bytes()
    result = barecnn_cli("train", "--resume", copy, "--dataset", synthetic_data_dir, "--no-progress")
    assert result.returncode == 0, result.stderr
    assert "after epoch 3 of 3" in result.stdout and "epoch 4" not in result.stdout
    assert (copy / "checkpoint.npz").read_bytes() == before


def test_resume_uses_the_dataset_of_the_run(barecnn_cli, killer, synthetic_data_dir, run_a, tmp_path):
    b = tmp_path / "B"
    kill_after_first_epoch(barecnn_cli, killer, seed004_args(synthetic_data_dir), b)
    assert json.loads((b / "run.json").read_text())["dataset"] == str(synthetic_data_dir)
    result = barecnn_cli("train", "--resume", b, "--no-progress", "--no-download")
    assert result.returncode == 0, result.stderr
    assert_runs_identical(run_a, b)


# ---------------------------------------------------------------------------- in-process
@pytest.fixture(scope="module")
def splits(make_synthetic_digits):
    return Split(*make_synthetic_digits(120, seed=4)), Split(*make_synthetic_digits(30, seed=5))


@pytest.mark.parametrize("config", [
    dict(model="seed001", optimizer="sgd", momentum=0.9, nesterov=True, schedule="inverse-time", augment=True),
    dict(model="seed001", optimizer="adam", schedule="cosine", weight_decay=1e-3),
    dict(model="seed001", optimizer="rmsprop", momentum=0.5, schedule="onecycle", label_smoothing=0.1),
    dict(model="seed001", optimizer="sgd", momentum=0.9, schedule="step", clip_grad_norm=0.5, augment=True),
], ids=["sgd-nesterov-inverse-time", "adam-cosine", "rmsprop-onecycle", "sgd-step-clip"])
def test_trainer_resume_matches_an_uninterrupted_run(splits, tmp_path, config):
    config = TrainConfig(epochs=3, batch_size=20, lr=0.01, seed=2, **config)
    whole = Trainer.create(config, *splits, tmp_path / "whole", log=None)
    whole.fit()

    part = Trainer.create(config, *splits, tmp_path / "part", log=None)
    part.run_epoch()
    barecnn_random.seed(12345)           # whatever happens in between must not matter
    np.random.default_rng(0).random(10)
    resumed = Trainer.resume(tmp_path / "part" / "checkpoint.npz", *splits, log=None)
    assert resumed.epoch == 1 and resumed.out_dir == tmp_path / "part"
    assert resumed.optimizer.param_groups[0]["lr"] == part.optimizer.param_groups[0]["lr"]
    resumed.fit()
    a, b = whole.model.state_dict(), resumed.model.state_dict()
    assert all(np.array_equal(a[key], b[key]) for key in a)
    for key in HISTORY_KEYS:
        assert getattr(whole.history, key) == getattr(resumed.history, key), key


def test_resume_refuses_a_model_file(splits, tmp_path):
    trainer = Trainer.create(TrainConfig(model="seed001", epochs=1, batch_size=40), *splits, tmp_path,
                             log=None)
    trainer.fit()
    with pytest.raises(ValueError, match="not a training checkpoint"):
        Trainer.resume(tmp_path / "model.npz", *splits)
    with pytest.raises(FileNotFoundError):
        Trainer.resume(tmp_path / "nothing.npz", *splits)
