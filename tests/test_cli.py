"""The ``barecnn`` command end to end: train -> evaluate -> predict -> plot, gradcheck, models."""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from barecnn import io, models
from barecnn.data import load_digit_image

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def trained_run(barecnn_cli, mnist_subset_dir, tmp_path_factory):
    """One short real training run (seed004, 2,000 MNIST digits, 2 epochs, batches split across 2
    worker processes): about 90% accurate."""
    out = tmp_path_factory.mktemp("cli") / "run"
    result = barecnn_cli("train", "--model", "seed004", "--optimizer", "adam", "--lr", "2e-3", "--batch-size", "32",
                         "--schedule", "none", "--epochs", "2", "--dataset", mnist_subset_dir, "--train-size", "2000",
                         "--val-size", "200", "--test-size", "300", "--no-progress", "--workers", "2", "--out", out)
    assert result.returncode == 0, result.stderr
    return out, result


def assert_png(path):
    assert path.is_file(), f"{path} was not written"
    assert path.read_bytes()[:8] == PNG_MAGIC
    with Image.open(path) as image:
        assert image.size[0] > 50 and image.size[1] > 50


def test_train_writes_the_run_and_reports_test_accuracy(trained_run):
    out, result = trained_run
    for name in ("model.npz", "checkpoint.npz", "history.json", "run.json"):
        assert (out / name).is_file(), name
    assert_png(out / "curves.png")
    assert "Traceback" not in result.stderr
    assert "first batch loss" in result.stdout and "epoch 2/2" in result.stdout
    assert "; 2 workers" in result.stdout                     # batches of 32 split in two (DataParallel)
    match = re.search(r"test accuracy (\d\.\d+) \((\d+)/300\)", result.stdout)
    assert match, result.stdout
    assert float(match.group(1)) > 0.8
    history = json.loads((out / "history.json").read_text())
    assert len(history["loss"]) == 2 * 63                     # ceil(2000 / 32) batches per epoch
    run = json.loads((out / "run.json").read_text())
    assert (run["train_size"], run["val_size"], run["test_size"]) == (2000, 200, 300)


def test_evaluate_json_prints_one_object(barecnn_cli, trained_run, mnist_subset_dir, mnist_subset, tmp_path):
    out, _ = trained_run
    figure = tmp_path / "confusion.png"
    result = barecnn_cli("evaluate", out / "model.npz", "--dataset", mnist_subset_dir, "--json",
                         "--confusion", figure)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1, result.stdout
    summary = json.loads(lines[0])
    assert isinstance(summary, dict)
    assert summary["n"] == 500 and 0.8 < summary["accuracy"] <= 1.0
    assert 0 < summary["loss"] < 1.5
    assert sorted(summary["per_class_accuracy"]) == [str(d) for d in range(10)]
    assert summary["model"] == "seed004"
    assert_png(figure)
    # The same numbers as evaluating in-process.
    model = io.load(out / "model.npz")
    predictions = model.predict(mnist_subset["test_images"])
    assert summary["accuracy"] == pytest.approx(np.mean(predictions == mnist_subset["test_labels"]))


def test_evaluate_human_output(barecnn_cli, trained_run, mnist_subset_dir):
    out, _ = trained_run
    result = barecnn_cli("evaluate", out / "model.npz", "--dataset", mnist_subset_dir)
    assert result.returncode == 0, result.stderr
    assert re.search(r"accuracy 0\.\d{4}, loss \d+\.\d{4}, n 500", result.stdout)
    assert result.stdout.count("  class ") == 10
    assert_png(out / "model_confusion.png")                    # default: beside the model


def write_paper_digit(path, digit, mode="L"):
    """An MNIST digit as a scan would look: dark ink on white paper, 4x larger, with a margin."""
    ink = Image.fromarray(255 - digit).resize((112, 112), Image.Resampling.BILINEAR)
    page = Image.new("L", (160, 150), 255)
    page.paste(ink, (30, 20))
    page.convert(mode).save(path)
    return path


def test_predict_own_pngs(barecnn_cli, trained_run, mnist_subset, tmp_path):
    out, _ = trained_run
    digits, labels = mnist_subset["test_images"][:12], mnist_subset["test_labels"][:12]
    paths = [write_paper_digit(tmp_path / f"digit{i}.png", d, mode="RGB" if i % 3 == 0 else "L")
             for i, d in enumerate(digits)]
    show = tmp_path / "seen"
    show.mkdir()
    result = barecnn_cli("predict", out / "model.npz", *paths, "--show", show)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == len(paths)
    predicted = []
    for path, line in zip(paths, lines):
        match = re.match(rf"{re.escape(str(path))}: (\d) \(p=([01]\.\d+)\)", line)
        assert match, line
        predicted.append(int(match.group(1)))
        assert 0.1 <= float(match.group(2)) <= 1.0
        assert_png(show / f"{path.stem}_seen.png")
    correct = int(np.sum(np.array(predicted) == labels))
    assert correct >= 9, f"only {correct}/12 of the paper digits were recognised: {predicted} vs {list(labels)}"
    # The command agrees with the library on what the network saw.
    model = io.load(out / "model.npz")
    assert predicted == list(model.predict(np.stack([load_digit_image(p) for p in paths])))


def test_evaluate_own_labelled_images(barecnn_cli, trained_run, mnist_subset, tmp_path):
    """`evaluate --images DIR` scores DIR/<label>/* prepared as predict prepares them, and names
    the files it misread."""
    out, _ = trained_run
    digits, labels = mnist_subset["test_images"][:30], mnist_subset["test_labels"][:30]
    paths = []
    for i, (digit, label) in enumerate(zip(digits, labels)):
        (tmp_path / "mine" / str(label)).mkdir(parents=True, exist_ok=True)
        paths.append(write_paper_digit(tmp_path / "mine" / str(label) / f"scan{i:02d}.png", digit))
    (tmp_path / "mine" / ".DS_Store").write_text("ignored")
    result = barecnn_cli("evaluate", out / "model.npz", "--images", tmp_path / "mine", "--json",
                         "--confusion", tmp_path / "confusion.png")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    model = io.load(out / "model.npz")
    predicted = model.predict(np.stack([load_digit_image(path) for path in paths]))
    assert summary["n"] == 30 and summary["accuracy"] == pytest.approx(np.mean(predicted == labels))
    assert summary["accuracy"] > 0.7
    misread = {Path(item["file"]).name: (item["label"], item["predicted"]) for item in summary["misclassified"]}
    expected = {path.name: (int(label), int(guess)) for path, label, guess in zip(paths, labels, predicted)
                if label != guess}
    assert misread == expected
    assert sorted(summary["per_class_accuracy"]) == sorted({str(label) for label in labels})
    assert summary["dataset"] == str(tmp_path / "mine")
    assert_png(tmp_path / "confusion.png")
    human = barecnn_cli("evaluate", out / "model.npz", "--images", tmp_path / "mine",
                        "--confusion", tmp_path / "confusion.png")
    assert human.returncode == 0, human.stderr
    assert f"on 30 images from {tmp_path / 'mine'}: accuracy" in human.stdout
    assert human.stdout.count("  misread: ") == len(expected)


def test_plot_writes_the_three_figures(barecnn_cli, trained_run, mnist_subset_dir, tmp_path):
    out, _ = trained_run
    result = barecnn_cli("plot", out / "model.npz", "--dataset", mnist_subset_dir, "--out", tmp_path,
                         "--index", "3", "--count", "16")
    assert result.returncode == 0, result.stderr
    for name in ("filters.png", "feature_maps.png", "predictions.png"):
        assert_png(tmp_path / name)
        assert f"wrote {tmp_path / name}" in result.stdout


def test_gradcheck_prints_a_table_and_passes(barecnn_cli):
    result = barecnn_cli("gradcheck")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split()[:3] == ["layer", "gradient", "relative"]
    assert any(line.startswith("Conv2d") for line in lines)
    assert "FAIL" not in result.stdout
    worst = re.search(r"worst relative error (\S+) \(tolerance", result.stdout)
    assert worst and float(worst.group(1)) < 1e-5


def test_gradcheck_fails_with_an_impossible_tolerance(barecnn_cli):
    result = barecnn_cli("gradcheck", "--tolerance", "0")
    assert result.returncode == 1
    assert "<-- FAIL" in result.stdout and "Traceback" not in result.stderr


def test_models_lists_the_zoo(barecnn_cli):
    """Also checks that `python -m barecnn` works: barecnn_cli runs the package with -m."""
    result = barecnn_cli("models")
    assert result.returncode == 0, result.stderr
    names = [line.split()[0] for line in result.stdout.splitlines()[1:]]
    assert names == list(models.ZOO)
    assert "(default)" in next(line for line in result.stdout.splitlines() if line.startswith(models.DEFAULT_MODEL))


def test_console_script_is_installed(barecnn_cli):
    executable = shutil.which("barecnn")
    if executable is None:
        pytest.skip("the barecnn console script is not on PATH")
    result = barecnn_cli("models", executable=[executable])
    assert result.returncode == 0, result.stderr
    assert all(name in result.stdout for name in models.ZOO)


def test_no_command_prints_help(barecnn_cli):
    result = barecnn_cli()
    assert result.returncode == 2
    assert "train" in result.stdout and "predict" in result.stdout and "Traceback" not in result.stderr


def test_new_runs_never_overwrite_an_earlier_run(tmp_path, monkeypatch):
    from barecnn.cli import CommandError, _new_run_dir
    monkeypatch.chdir(tmp_path)
    first = _new_run_dir(None, "lenet5")
    assert first == Path("runs/lenet5")
    first.mkdir(parents=True)
    (first / "model.npz").write_bytes(b"x")
    assert _new_run_dir(None, "lenet5") == Path("runs/lenet5-2")
    (first / "checkpoint.npz").write_bytes(b"x")
    with pytest.raises(CommandError, match="already holds a run.*--resume"):
        _new_run_dir(str(first), "lenet5")


def test_val_size_that_leaves_no_training_data_is_refused(barecnn_cli, synthetic_data_dir, tmp_path):
    result = barecnn_cli("train", "--dataset", synthetic_data_dir, "--val-size", "100000", "--out", tmp_path / "r")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "--val-size 100000 leaves no training images" in result.stderr


def test_default_validation_split_shrinks_for_small_datasets():
    from barecnn.cli import _validation_size
    assert _validation_size(None, 55_000 + 5_000) == 5_000
    assert _validation_size(None, 4_000) == 400          # the embedded 5,000-digit MNIST subset
    assert _validation_size(0, 4_000) == 0


def test_train_without_validation_split_says_so(barecnn_cli, synthetic_data_dir, tmp_path):
    """--val-size 0 (train on everything, as the Keras comparison does) must not report the training
    accuracy as a validation accuracy."""
    result = barecnn_cli("train", "--dataset", synthetic_data_dir, "--model", "seed000", "--epochs", "1",
                         "--val-size", "0", "--out", tmp_path / "r")
    assert result.returncode == 0, result.stderr
    assert "no validation split, so the last epoch's model (1) was kept" in result.stdout
    assert "best validation accuracy" not in result.stdout
