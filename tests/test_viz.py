"""barecnn.viz: every plot writes a readable PNG atomically; the counting helpers count right."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from barecnn import models, viz
from barecnn.train import History

pytest.importorskip("matplotlib")


def random_images(n=8, seed=0) -> np.ndarray:
    """Raw uint8 images (n, 28, 28): a bright random blob on a dark background."""
    rng = np.random.default_rng(seed)
    images = np.zeros((n, 28, 28), np.uint8)
    images[:, 8:20, 8:20] = rng.integers(0, 256, size=(n, 12, 12), dtype=np.uint8)
    return images


def mlp() -> models.Classifier:
    return models.Classifier("mlp", [["Flatten", {}], ["Linear", {"in_features": 784, "out_features": 10}]],
                             models.STANDARDIZE)


def assert_png(path) -> tuple[int, int]:
    """``path`` is a PNG Pillow can decode, of non-zero size, with no temp files left beside it."""
    assert path.exists() and path.stat().st_size > 0
    with Image.open(path) as image:
        assert image.format == "PNG"
        image.load()
        width, height = image.size
    assert width > 0 and height > 0
    assert [p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")] == []
    return width, height


@pytest.fixture(scope="module")
def lenet():
    return models.create("lenet5", np.random.default_rng(0))


# ------------------------------------------------------------------ import cost
def test_importing_barecnn_and_viz_does_not_import_matplotlib():
    code = "import sys, barecnn, barecnn.viz; sys.exit('matplotlib' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


# ------------------------------------------------------------------ curves
def test_plot_curves_from_history(tmp_path):
    history = History(loss=list(np.linspace(2.3, 0.1, 300)), train_acc=[0.8, 0.9, 0.95],
                      val_acc=[0.85, 0.92, 0.91], val_loss=[0.5, 0.3, 0.35], lr=[1e-3] * 3,
                      epoch_time=[1.0] * 3, best_epoch=2, best_val_acc=0.92)
    path = viz.plot_curves(history, tmp_path / "curves.png")
    assert path == tmp_path / "curves.png"
    assert_png(path)


@pytest.mark.parametrize("values", [
    {"loss": [2.3, 2.0, 1.5], "train_acc": [0.5], "val_acc": [], "val_loss": [], "best_epoch": 1},
    {"loss": [], "train_acc": [], "val_acc": [], "val_loss": [], "best_epoch": -1},
    {"loss": [1.0]},
], ids=["one-epoch-no-val", "empty", "one-iteration-dict-missing-keys"])
def test_plot_curves_small_and_empty_dicts(tmp_path, values):
    assert_png(viz.plot_curves(values, tmp_path / "sub" / "curves.png"))


def test_moving_average():
    np.testing.assert_allclose(viz.moving_average([1, 2, 3, 4], 2), [1.5, 2.5, 3.5])
    np.testing.assert_allclose(viz.moving_average([1, 2, 3], 1), [1, 2, 3])
    assert viz.moving_average([1, 2], 5).shape == (0,)


# ------------------------------------------------------------------ confusion
def test_confusion_matrix_counts_rows_true_cols_predicted():
    labels = [0, 0, 1, 1, 1, 2]
    predictions = [0, 1, 1, 1, 2, 0]
    expected = np.array([[1, 1, 0],
                         [0, 2, 1],
                         [1, 0, 0]])
    np.testing.assert_array_equal(viz.confusion_matrix(labels, predictions), expected)
    np.testing.assert_array_equal(viz.confusion_matrix(labels, predictions, num_classes=4)[:3, :3], expected)
    assert viz.confusion_matrix(labels, predictions, num_classes=4).shape == (4, 4)
    np.testing.assert_allclose(viz.per_class_accuracy(expected), [0.5, 2 / 3, 0.0])


def test_per_class_accuracy_is_nan_for_an_absent_class():
    accuracy = viz.per_class_accuracy(viz.confusion_matrix([0, 0, 1], [0, 1, 0], num_classes=3))
    assert accuracy[0] == 0.5 and accuracy[1] == 0.0 and np.isnan(accuracy[2])


@pytest.mark.parametrize("labels, predictions, num_classes", [
    ([0, 1], [0], None),          # lengths differ
    ([0, -1], [0, 0], None),      # negative label
    ([0, 5], [0, 0], 3),          # label beyond num_classes
    ([0.5, 1], [0, 1], None),     # not integers
])
def test_confusion_matrix_rejects_bad_input(labels, predictions, num_classes):
    with pytest.raises(ValueError):
        viz.confusion_matrix(labels, predictions, num_classes)


def test_plot_confusion(tmp_path):
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, 500)
    predictions = np.where(rng.random(500) < 0.9, labels, rng.integers(0, 10, 500))
    assert_png(viz.plot_confusion(labels, predictions, tmp_path / "confusion.png"))
    names = ["zero", "one", "two"]
    assert_png(viz.plot_confusion([0, 1, 1], [0, 1, 0], tmp_path / "named.png", class_names=names))


# ------------------------------------------------------------------ filters and feature maps
@pytest.mark.parametrize("name", ["lenet5", "seed000"])
def test_plot_filters(tmp_path, name):
    assert_png(viz.plot_filters(models.create(name, np.random.default_rng(0)), tmp_path / "filters.png"))


def test_plot_filters_and_feature_maps_need_a_conv(tmp_path):
    with pytest.raises(ValueError, match="no Conv2d"):
        viz.plot_filters(mlp(), tmp_path / "filters.png")
    with pytest.raises(ValueError, match="no Conv2d"):
        viz.plot_feature_maps(mlp(), random_images(1)[0], tmp_path / "maps.png")
    assert not (tmp_path / "filters.png").exists()


def test_conv_activations_shapes(lenet):
    activations = viz.conv_activations(lenet, random_images(1)[0])
    assert [maps.shape for _, maps in activations] == [(6, 28, 28), (16, 10, 10)]


@pytest.mark.parametrize("training", [True, False])
def test_plot_feature_maps_restores_training_flags(tmp_path, lenet, training):
    lenet.train(training)
    lenet[3].training = not training            # a mixed state must come back exactly too
    before = [m.training for m in lenet.modules()]
    assert_png(viz.plot_feature_maps(lenet, random_images(1)[0], tmp_path / "maps.png", max_maps=4))
    assert [m.training for m in lenet.modules()] == before


def test_conv_activations_restore_training_flags_on_error(lenet):
    lenet.train()
    with pytest.raises(ValueError):
        viz.conv_activations(lenet, np.zeros((5, 5), np.uint8))     # wrong size for the preprocessor
    assert all(m.training for m in lenet.modules())


# ------------------------------------------------------------------ predictions and digits
def test_plot_predictions(tmp_path, lenet):
    images = random_images(12)
    labels = lenet.predict(images)
    labels[:3] = (labels[:3] + 1) % 10          # three wrong ones
    assert_png(viz.plot_predictions(lenet, images, labels, tmp_path / "preds.png", n=9))
    assert_png(viz.plot_predictions(lenet, images, labels, tmp_path / "wrong.png", n=4, wrong_first=True,
                                    class_names=[f"digit {k}" for k in range(10)]))
    assert_png(viz.plot_predictions(lenet, images, None, tmp_path / "unlabelled.png", n=5))


def test_wrong_first_order_keeps_each_group_in_order():
    predicted = np.array([0, 1, 2, 3, 4])
    labels = np.array([0, 9, 2, 9, 4])
    np.testing.assert_array_equal(viz._prediction_order(predicted, labels, True), [1, 3, 0, 2, 4])
    np.testing.assert_array_equal(viz._prediction_order(predicted, labels, False), [0, 1, 2, 3, 4])


def test_plot_predictions_checks_label_count(tmp_path, lenet):
    with pytest.raises(ValueError, match="labels"):
        viz.plot_predictions(lenet, random_images(4), [0, 1], tmp_path / "p.png")


@pytest.mark.parametrize("shape, dtype", [((28, 28), np.uint8), ((1, 28, 28), np.uint8), ((1, 1, 28, 28), np.float32)])
def test_plot_digit(tmp_path, shape, dtype):
    image = random_images(1)[0].reshape(shape).astype(dtype)
    assert_png(viz.plot_digit(image, tmp_path / "digit.png", title="what the network saw"))


def test_plot_digit_rejects_a_batch(tmp_path):
    with pytest.raises(ValueError):
        viz.plot_digit(random_images(2), tmp_path / "digit.png")


def test_writing_replaces_an_existing_file(tmp_path):
    target = tmp_path / "digit.png"
    target.write_bytes(b"old")
    viz.plot_digit(random_images(1)[0], target)
    assert_png(target)
