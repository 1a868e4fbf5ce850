"""The command's errors: a non-zero exit and ONE line on stderr, ``barecnn: error: ...``, never a
traceback. Usage mistakes argparse catches (bad option values) exit 2 with argparse's usage message."""
from __future__ import annotations

import os

import numpy as np
import pytest
from PIL import Image

from barecnn import io, models

TRAIN = ["train", "--model", "seed001", "--epochs", "1", "--no-progress", "--no-download"]


def assert_one_line_error(result, *fragments):
    assert result.returncode not in (0, None), f"exit code {result.returncode}; stdout: {result.stdout}"
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, f"stderr should be one line:\n{result.stderr}"
    assert lines[0].startswith("barecnn: error:"), lines[0]
    for fragment in fragments:
        assert fragment in lines[0], f"{fragment!r} not in {lines[0]!r}"
    return lines[0]


def assert_usage_error(result, *fragments):
    """argparse's own report: exit 2, usage line(s) then ``barecnn <command>: error: ...``."""
    assert result.returncode == 2, result.returncode
    assert "Traceback" not in result.stderr, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("barecnn") and ": error: " in last, last
    for fragment in fragments:
        assert fragment in last, f"{fragment!r} not in {last!r}"


class PickleBomb:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("models") / "seed001.npz"
    return io.save(models.create("seed001", rng=np.random.default_rng(0)), path)


@pytest.fixture(scope="module")
def digit_png(tmp_path_factory):
    image = Image.new("L", (60, 60), 255)
    image.paste(0, (25, 10, 35, 50))                 # a dark "1" on white paper
    path = tmp_path_factory.mktemp("images") / "one.png"
    image.save(path)
    return path


# ------------------------------------------------------------------------------------ train
def test_unknown_model(barecnn_cli, synthetic_data_dir):
    result = barecnn_cli("train", "--model", "nope", "--dataset", synthetic_data_dir, "--no-progress")
    assert_usage_error(result, "--model", "nope")
    assert all(name in result.stderr for name in models.ZOO)


def test_unknown_dataset_name(barecnn_cli, tmp_path):
    result = barecnn_cli(*TRAIN, "--dataset", "nope", "--out", tmp_path / "run", cwd=tmp_path)
    assert_one_line_error(result, "unknown dataset 'nope'", "mnist")
    assert not (tmp_path / "run").exists()


def test_missing_dataset_dir(barecnn_cli, tmp_path):
    missing = tmp_path / "no" / "such" / "dir"
    result = barecnn_cli(*TRAIN, "--dataset", missing, "--out", tmp_path / "run")
    assert_one_line_error(result, "not found", str(missing))


def test_dataset_dir_without_the_files(barecnn_cli, tmp_path):
    (tmp_path / "empty").mkdir()
    result = barecnn_cli(*TRAIN, "--dataset", tmp_path / "empty", "--out", tmp_path / "run")
    assert_one_line_error(result, str(tmp_path / "empty"))


@pytest.mark.parametrize("value", ["-1", "nan", "fast"])
def test_bad_learning_rate(barecnn_cli, synthetic_data_dir, tmp_path, value):
    result = barecnn_cli(*TRAIN, "--dataset", synthetic_data_dir, "--lr", value, "--out", tmp_path / "run")
    if result.returncode == 2:
        assert_usage_error(result, "--lr")
    else:
        assert_one_line_error(result, "--lr")
    assert not (tmp_path / "run").exists()


def test_zero_learning_rate(barecnn_cli, synthetic_data_dir, tmp_path):
    result = barecnn_cli(*TRAIN, "--dataset", synthetic_data_dir, "--lr", "0", "--out", tmp_path / "run")
    assert_one_line_error(result, "--lr must be positive")


@pytest.mark.parametrize("option", ["--batch-size", "--epochs", "--workers"])
def test_zero_batch_size_or_epochs(barecnn_cli, synthetic_data_dir, tmp_path, option):
    result = barecnn_cli(*TRAIN, "--dataset", synthetic_data_dir, option, "0", "--out", tmp_path / "run")
    assert_usage_error(result, option, "positive integer")


def test_resume_of_a_folder_without_checkpoint(barecnn_cli, synthetic_data_dir, tmp_path):
    (tmp_path / "empty-run").mkdir()
    result = barecnn_cli("train", "--resume", tmp_path / "empty-run", "--dataset", synthetic_data_dir,
                         "--no-progress")
    assert_one_line_error(result, "--resume", "no checkpoint.npz")
    result = barecnn_cli("train", "--resume", tmp_path / "not-there", "--dataset", synthetic_data_dir,
                         "--no-progress")
    assert_one_line_error(result, "--resume", "no checkpoint.npz")


def test_resume_without_run_json(barecnn_cli, synthetic_data_dir, tmp_path, make_synthetic_digits):
    from barecnn.train import Split, TrainConfig, Trainer
    train, val = Split(*make_synthetic_digits(40, 1)), Split(*make_synthetic_digits(10, 2))
    Trainer.create(TrainConfig(model="seed001", epochs=2, batch_size=20), train, val, tmp_path / "run",
                   log=None).run_epoch()
    result = barecnn_cli("train", "--resume", tmp_path / "run", "--dataset", synthetic_data_dir, "--no-progress")
    assert_one_line_error(result, "run.json")


def test_resume_of_a_corrupt_checkpoint(barecnn_cli, synthetic_data_dir, tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "checkpoint.npz").write_bytes(b"PK\x03\x04" + os.urandom(200))
    result = barecnn_cli("train", "--resume", tmp_path / "run", "--dataset", synthetic_data_dir, "--no-progress")
    assert_one_line_error(result, str(tmp_path / "run" / "checkpoint.npz"))


# ---------------------------------------------------------------------- evaluate / predict
@pytest.fixture(params=["evaluate", "predict"])
def command(request, synthetic_data_dir, digit_png):
    """The tail of each command line after the model path."""
    if request.param == "evaluate":
        return lambda model: ["evaluate", model, "--dataset", synthetic_data_dir, "--no-progress"]
    return lambda model: ["predict", model, digit_png]


def test_missing_model_file(barecnn_cli, command, tmp_path):
    result = barecnn_cli(*command(tmp_path / "missing.npz"))
    assert_one_line_error(result, "not found", str(tmp_path / "missing.npz"))


def test_garbage_model_file(barecnn_cli, command, tmp_path):
    path = tmp_path / "garbage.npz"
    path.write_bytes(b"PK\x03\x04" + os.urandom(3000))
    result = barecnn_cli(*command(path))
    assert_one_line_error(result, str(path))


def test_truncated_model_file(barecnn_cli, command, model_file, tmp_path):
    path = tmp_path / "truncated.npz"
    path.write_bytes(model_file.read_bytes()[:-200])
    assert_one_line_error(barecnn_cli(*command(path)), str(path))


def test_pickled_model_file(barecnn_cli, command, tmp_path):
    marker = tmp_path / "PWNED"
    path = tmp_path / "evil.npz"
    np.savez(path, obj=np.array([PickleBomb(marker)], dtype=object))
    result = barecnn_cli(*command(path))
    assert_one_line_error(result, "pickle", str(path))
    assert not marker.exists(), "the CLI executed code from a pickled model file"


def test_plain_state_dict_as_model_file(barecnn_cli, command, tmp_path):
    path = io.export_state_dict(models.create("seed001"), tmp_path / "state.npz")
    assert_one_line_error(barecnn_cli(*command(path)), "import_state_dict")


def test_predict_on_a_non_image_file(barecnn_cli, model_file, tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("this is not a picture of a digit\n")
    result = barecnn_cli("predict", model_file, path)
    assert_one_line_error(result, str(path), "not an image")
    assert result.stdout == ""


def test_predict_on_a_blank_image(barecnn_cli, model_file, digit_png, tmp_path):
    blank = tmp_path / "blank.png"
    Image.new("L", (64, 64), 255).save(blank)
    result = barecnn_cli("predict", model_file, digit_png, blank)
    assert_one_line_error(result, "no ink found")
    assert result.stdout == "", "nothing is printed unless every image could be read"


def test_predict_on_a_missing_image(barecnn_cli, model_file, tmp_path):
    result = barecnn_cli("predict", model_file, tmp_path / "nope.png")
    assert_one_line_error(result, "not found", "nope.png")


def test_evaluate_on_labels_the_model_does_not_have(barecnn_cli, model_file, make_synthetic_digits, tmp_path):
    from barecnn.data import write_idx
    from barecnn.data.registry import IDX_STEMS
    images, labels = make_synthetic_digits(30, 3)
    labels = labels.copy()
    labels[:3] = 11
    folder = tmp_path / "eleven"
    folder.mkdir()
    for stem, array in zip(IDX_STEMS, (images, labels, images, labels)):
        write_idx(folder / stem, array)
    result = barecnn_cli("evaluate", model_file, "--dataset", folder, "--json")
    assert_one_line_error(result, "11")


# ------------------------------------------------------------------------------------ plot
def test_plot_with_a_missing_model(barecnn_cli, synthetic_data_dir, tmp_path):
    result = barecnn_cli("plot", tmp_path / "missing.npz", "--dataset", synthetic_data_dir, "--no-progress")
    assert_one_line_error(result, "not found")


def test_plot_with_an_index_past_the_test_set(barecnn_cli, model_file, synthetic_data_dir, tmp_path):
    result = barecnn_cli("plot", model_file, "--dataset", synthetic_data_dir, "--index", "100000",
                         "--out", tmp_path, "--no-progress")
    assert_one_line_error(result, "--index")


# ------------------------------------------------------------------------------ evaluate --images
@pytest.fixture
def image_folder(tmp_path, digit_png):
    (tmp_path / "digits" / "1").mkdir(parents=True)
    Image.open(digit_png).save(tmp_path / "digits" / "1" / "one.png")
    return tmp_path / "digits"


def test_evaluate_images_and_dataset_together(barecnn_cli, model_file, image_folder):
    result = barecnn_cli("evaluate", model_file, "--images", image_folder, "--dataset", "mnist")
    assert_one_line_error(result, "--images", "--dataset", "not both")


@pytest.mark.parametrize("bad, fragment", [
    ("folder", "folder names must be labels 0 .. 9, got 'ten'"),
    ("label", "folder names must be labels 0 .. 9, got '10'"),
    ("stray", "expected only sub-folders named by label"),
    ("text", "is not an image Pillow can read"),
    ("blank", "no ink found"),
])
def test_evaluate_images_bad_folder(barecnn_cli, model_file, image_folder, bad, fragment):
    if bad == "folder":
        (image_folder / "ten").mkdir()
        culprit = image_folder / "ten"
    elif bad == "label":
        (image_folder / "10").mkdir()
        culprit = image_folder / "10"
    elif bad == "stray":
        culprit = image_folder / "loose.png"
        Image.new("L", (20, 20), 0).save(culprit)
    elif bad == "text":
        culprit = image_folder / "1" / "notes.txt"
        culprit.write_text("not an image")
    else:
        culprit = image_folder / "1" / "white.png"
        Image.new("L", (40, 40), 255).save(culprit)
    result = barecnn_cli("evaluate", model_file, "--images", image_folder)
    assert_one_line_error(result, str(culprit), fragment)


def test_evaluate_images_empty_or_missing(barecnn_cli, model_file, tmp_path):
    (tmp_path / "empty" / "3").mkdir(parents=True)
    assert_one_line_error(barecnn_cli("evaluate", model_file, "--images", tmp_path / "empty"), "no images found")
    assert_one_line_error(barecnn_cli("evaluate", model_file, "--images", tmp_path / "absent"),
                          "image folder not found", str(tmp_path / "absent"))


def test_a_bug_of_ours_is_one_line_too(model_file, digit_png, monkeypatch, capsys):
    """An exception nobody foresaw (here an IndexError from inside predict's preparation) is still one
    line, saying how to see the traceback; with --debug the traceback is shown."""
    import barecnn.data
    from barecnn import cli

    def broken(*args, **kwargs):
        raise IndexError("index 1 is out of bounds for axis 0 with size 1")

    monkeypatch.setattr(barecnn.data, "load_digit_image", broken)     # predict imports it when it runs
    assert cli.main(["predict", str(model_file), str(digit_png)]) != 0
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("barecnn: error: internal error (IndexError: index 1")
    assert "--debug" in lines[0]
    with pytest.raises(IndexError):
        cli.main(["predict", str(model_file), str(digit_png), "--debug"])
