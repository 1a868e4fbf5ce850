"""Plots: training curves, confusion matrices, filters, feature maps, predictions, one digit.

Every ``plot_*`` function draws on its own ``matplotlib.figure.Figure`` with the Agg canvas (no
``pyplot``, so no global state changes and no display is needed), writes a PNG atomically (a temp
file beside the target, then a rename) and returns the target's ``Path``. matplotlib is imported
inside the functions, so ``import barecnn`` never pays for it.

Shape letters: ``N`` images of ``H x W`` pixels, ``K`` classes, ``F`` filters of ``C`` channels
and ``kH x kW`` pixels, ``C'`` channels of ``H' x W'`` in a feature map.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from . import nn
from .io import atomic_write

RAW_IMAGE_CMAP = "gray_r"        # raw pixels: 0 (background) white, 255 (ink) black
DIVERGING_CMAP = "RdBu_r"        # signed values: negative blue, 0 white, positive red
CONFUSION_CMAP = "Blues"
WRONG_COLOR = "tab:red"


# ------------------------------------------------------------------ figure plumbing
def _new_figure(width: float, height: float):
    """A constrained-layout ``Figure`` on an Agg canvas, independent of ``pyplot``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _save_png(figure, path, dpi: int = 100) -> Path:
    """Write ``figure`` to ``path`` as a PNG, atomically; return the ``Path``."""
    path = Path(path)
    atomic_write(path, lambda handle: figure.savefig(handle, format="png", dpi=dpi))
    return path


def _grid_shape(count: int) -> tuple[int, int]:
    """(rows, cols) of a near-square grid holding ``count`` cells (at least one)."""
    cols = max(1, math.ceil(math.sqrt(count)))
    rows = max(1, math.ceil(count / cols))
    return rows, cols


def _image_grid(figure, rows: int, cols: int) -> np.ndarray:
    """A (rows, cols) array of axes with ticks and frames off, ready for ``imshow``."""
    axes = np.asarray(figure.subplots(rows, cols, squeeze=False))
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    return axes


def _class_name(k: int, class_names) -> str:
    return str(class_names[k]) if class_names is not None else str(k)


def _symmetric_limit(values: np.ndarray) -> float:
    """Largest absolute value, or 1 for an all-zero array (so a colormap centred at 0 still works)."""
    limit = float(np.max(np.abs(values))) if values.size else 0.0
    return limit if limit > 0 else 1.0


# ------------------------------------------------------------------ training curves
def moving_average(values, window: int) -> np.ndarray:
    """Mean of each run of ``window`` consecutive values: ``(L,)`` -> ``(L - window + 1,)``.

    Empty when ``L < window``; ``window`` is clipped to at least 1.
    """
    values = np.asarray(values, dtype=float)
    window = max(1, int(window))
    if len(values) < window:
        return np.empty(0)
    sums = np.cumsum(np.concatenate([[0.0], values]))
    return (sums[window:] - sums[:-window]) / window


def _history_dict(history) -> dict:
    """A ``History`` (anything with ``to_dict``) or its dict, as a plain dict with lists."""
    values = history.to_dict() if hasattr(history, "to_dict") else dict(history)
    for key in ("loss", "train_acc", "val_acc", "val_loss"):
        values[key] = list(values.get(key) or [])
    values["best_epoch"] = int(values.get("best_epoch", -1))
    return values


def _draw_loss(ax, history: dict) -> None:
    """Raw loss per iteration (faint), its moving average, epoch boundaries and val loss per epoch."""
    loss = np.asarray(history["loss"], dtype=float)
    epochs = max(len(history["train_acc"]), len(history["val_acc"]))
    ax.set_title("training loss")
    ax.set_xlabel("iteration")
    ax.set_ylabel("cross-entropy")
    if loss.size == 0:
        ax.text(0.5, 0.5, "no loss recorded", ha="center", va="center", transform=ax.transAxes)
        return
    iterations = np.arange(1, len(loss) + 1)
    ax.plot(iterations, loss, color="tab:blue", alpha=0.25, linewidth=0.8, label="per iteration")
    window = max(1, len(loss) // 50)
    if window > 1:
        smooth = moving_average(loss, window)
        ax.plot(iterations[window - 1:], smooth, color="tab:blue", linewidth=1.8,
                label=f"moving average ({window})")
    if epochs:
        per_epoch = len(loss) / epochs
        for epoch in range(1, epochs):
            ax.axvline(epoch * per_epoch, color="0.6", linestyle=":", linewidth=0.8)
        if history["val_loss"]:
            ends = per_epoch * np.arange(1, len(history["val_loss"]) + 1)
            ax.plot(ends, history["val_loss"], "o-", color="tab:orange", markersize=4, label="validation (epoch end)")
    ax.set_xlim(1, max(len(loss), 2))
    _integer_ticks(ax.xaxis)
    ax.legend(loc="upper right", fontsize="small")


def _draw_accuracy(ax, history: dict) -> None:
    """Train and validation accuracy (%) per epoch, the best epoch marked with a star and a line."""
    ax.set_title("accuracy per epoch")
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy (%)")
    curves = [(name, history[key]) for name, key in (("train", "train_acc"), ("validation", "val_acc"))
              if history[key]]
    if not curves:
        ax.text(0.5, 0.5, "no epochs recorded", ha="center", va="center", transform=ax.transAxes)
        return
    for name, values in curves:
        epochs = np.arange(1, len(values) + 1)
        ax.plot(epochs, 100 * np.asarray(values, dtype=float), "o-", markersize=4, label=name)
    _mark_best_epoch(ax, history["best_epoch"], curves[-1][1])
    last_epoch = max(len(values) for _, values in curves)
    ax.set_xlim(0.5, last_epoch + 0.5)
    _integer_ticks(ax.xaxis)
    ax.legend(loc="lower right", fontsize="small")


def _integer_ticks(axis) -> None:
    """Tick ``axis`` at whole numbers only (iterations and epochs), even on a range of one."""
    from matplotlib.ticker import MaxNLocator

    axis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))


def _mark_best_epoch(ax, best_epoch: int, values: list) -> None:
    """Star the value of ``best_epoch`` (1-based, as ``History`` counts) on ``values``, if it exists."""
    if not 1 <= best_epoch <= len(values):
        return
    best = 100 * float(values[best_epoch - 1])
    ax.axvline(best_epoch, color="tab:green", linestyle="--", linewidth=0.8)
    ax.plot([best_epoch], [best], "*", color="tab:green", markersize=14,
            label=f"best: epoch {best_epoch}, {best:.2f}%")


def plot_curves(history, path) -> Path:
    """Training loss per iteration and accuracy per epoch, side by side.

    Parameters
    ----------
    history : barecnn.train.History or its ``to_dict()``
        ``loss`` (per iteration), ``train_acc`` / ``val_acc`` / ``val_loss`` (per epoch, may be
        empty), ``best_epoch`` (1-based; -1 for none).
    path : str or Path
        Where the PNG goes.
    """
    values = _history_dict(history)
    figure = _new_figure(12, 4.5)
    loss_ax, acc_ax = figure.subplots(1, 2)
    _draw_loss(loss_ax, values)
    _draw_accuracy(acc_ax, values)
    return _save_png(figure, path)


# ------------------------------------------------------------------ confusion matrix
def confusion_matrix(labels, predictions, num_classes: int | None = None) -> np.ndarray:
    """Count each (true, predicted) pair.

    Parameters
    ----------
    labels, predictions : array of int, (N,)
    num_classes : int, optional
        ``K``; defaults to one more than the largest label or prediction.

    Returns
    -------
    np.ndarray of int64, (K, K)
        ``confusion[i, j]`` = how many images of class ``i`` were predicted as ``j``.
    """
    labels = np.asarray(labels).ravel()
    predictions = np.asarray(predictions).ravel()
    if labels.shape != predictions.shape:
        raise ValueError(f"{labels.size} labels but {predictions.size} predictions")
    for name, values in (("labels", labels), ("predictions", predictions)):
        if values.size and (values.dtype.kind not in "iub" or values.min() < 0):
            raise ValueError(f"{name} must be non-negative integers")
    largest = int(max(labels.max(initial=-1), predictions.max(initial=-1)))
    if num_classes is None:
        num_classes = largest + 1
    if largest >= num_classes:
        raise ValueError(f"class {largest} found but num_classes is {num_classes}")
    pairs = labels.astype(np.int64) * num_classes + predictions.astype(np.int64)
    return np.bincount(pairs, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def per_class_accuracy(confusion) -> np.ndarray:
    """Fraction of each true class predicted correctly: ``(K, K)`` -> ``(K,)``; NaN for an empty class."""
    confusion = np.asarray(confusion, dtype=float)
    totals = confusion.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(totals > 0, np.diag(confusion) / totals, np.nan)


def _annotate_counts(ax, confusion: np.ndarray, shade: np.ndarray) -> None:
    """Write each count in its cell: white where ``shade`` (0..1, as drawn) is dark, grey for zeros."""
    k = len(confusion)
    fontsize = 9 if k <= 10 else 7
    for i in range(k):
        for j in range(k):
            count = confusion[i, j]
            color = "white" if shade[i, j] > 0.6 else ("0.7" if count == 0 else "black")
            ax.text(j, i, str(count), ha="center", va="center", color=color, fontsize=fontsize)


def plot_confusion(labels, predictions, path, class_names=None) -> Path:
    """Confusion matrix heatmap with counts; each true class's accuracy on the row labels.

    Cells are shaded by the fraction of their row (so each class reads on the same scale), on a
    square-root scale so that a few percent of errors still shows, and labelled with raw counts.

    Parameters
    ----------
    labels, predictions : array of int, (N,)
    path : str or Path
    class_names : sequence of str, optional
        ``K`` names; default the class indices.
    """
    num_classes = len(class_names) if class_names is not None else None
    confusion = confusion_matrix(labels, predictions, num_classes)
    k = len(confusion)
    accuracy = per_class_accuracy(confusion)
    shade = confusion / np.maximum(confusion.sum(axis=1, keepdims=True), 1)
    overall = np.trace(confusion) / max(confusion.sum(), 1)

    side = max(5.0, 0.6 * k + 2.5)
    figure = _new_figure(side + 1, side)
    ax = figure.subplots()
    from matplotlib.colors import PowerNorm

    norm = PowerNorm(gamma=0.5, vmin=0, vmax=1)
    image = ax.imshow(shade, cmap=CONFUSION_CMAP, norm=norm)
    if k <= 30:
        _annotate_counts(ax, confusion, np.sqrt(shade))
    names = [_class_name(i, class_names) for i in range(k)]
    row_names = [f"{name}  ({'n/a' if np.isnan(a) else f'{100 * a:.1f}%'})" for name, a in zip(names, accuracy)]
    ax.set_xticks(range(k), names)
    ax.set_yticks(range(k), row_names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true (per-class accuracy)")
    ax.set_title(f"confusion matrix: {confusion.sum()} images, accuracy {100 * overall:.2f}%")
    figure.colorbar(image, ax=ax, shrink=0.8, label="fraction of the true class")
    return _save_png(figure, path)


# ------------------------------------------------------------------ filters and feature maps
def _first_conv(model) -> nn.Conv2d:
    """The first ``Conv2d`` in ``model`` (depth-first), or ValueError."""
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            return module
    name = getattr(model, "name", type(model).__name__)
    raise ValueError(f"model {name!r} has no Conv2d layer, so it has no filters to plot")


def plot_filters(model, path) -> Path:
    """The first ``Conv2d``'s filters as a grid of small images.

    Each filter ``(C, kH, kW)`` is averaged over its ``C`` channels, scaled by its own largest
    absolute weight and drawn with a diverging colormap centred at 0 (blue negative, red positive).

    Raises ValueError when ``model`` has no ``Conv2d``.
    """
    conv = _first_conv(model)
    weights = np.asarray(conv.weight.data, dtype=float)            # (F, C, kH, kW)
    filters = weights.mean(axis=1)                                  # (F, kH, kW)
    rows, cols = _grid_shape(len(filters))
    figure = _new_figure(1.3 * cols + 0.6, 1.3 * rows + 0.6)
    axes = _image_grid(figure, rows, cols)
    for index, ax in enumerate(axes.flat):
        if index >= len(filters):
            ax.set_axis_off()
            continue
        kernel = filters[index]
        ax.imshow(kernel / _symmetric_limit(kernel), cmap=DIVERGING_CMAP, vmin=-1, vmax=1)
        ax.set_title(str(index), fontsize=8)
    f, c, kh, kw = weights.shape
    channels = f", mean over {c} channels" if c > 1 else ""
    figure.suptitle(f"first Conv2d: {f} filters {kh}x{kw}{channels}\n"
                    "(each scaled to its own range; blue < 0 < red)", fontsize=10)
    return _save_png(figure, path)


def _model_dtype(model):
    return next(model.parameters()).data.dtype


def conv_activations(model, image) -> list[tuple[str, np.ndarray]]:
    """Run one raw image through ``model`` in eval mode and keep each ``Conv2d``'s output.

    Parameters
    ----------
    model : Classifier
    image : np.ndarray, (H, W)
        Raw pixels (uint8, 0 = background), preprocessed with ``model.preprocess``.

    Returns
    -------
    list of (description, np.ndarray (C', H', W')), one per Conv2d in layer order.
    The training flag of every module is restored afterwards, even on an error.
    """
    flags = [(module, module.training) for module in model.modules()]
    model.eval()
    try:
        x = model.preprocess(np.asarray(image)[None], dtype=_model_dtype(model))   # (1, 1, H, W)
        activations = []
        with nn.no_grad():
            for index, layer in enumerate(model):
                x = layer(x)
                if isinstance(layer, nn.Conv2d):
                    label = f"layer {index}\nConv2d({layer.in_channels}, {layer.out_channels})"
                    activations.append((label, np.array(x[0])))
    finally:
        for module, training in flags:
            module.training = training
    return activations


def plot_feature_maps(model, image, path, max_maps: int = 16) -> Path:
    """The input image, then one row per ``Conv2d`` with up to ``max_maps`` of its output channels.

    Each map is the convolution's output (before any activation), scaled to its own largest
    absolute value with a diverging colormap centred at 0.

    Parameters
    ----------
    model : Classifier
    image : np.ndarray, (H, W)
        Raw pixels (uint8).
    path : str or Path
    max_maps : int
        Most channels drawn per layer.
    """
    activations = conv_activations(model, image)
    if not activations:
        _first_conv(model)          # raises the ValueError
    cols = max(1, min(max_maps, max(maps.shape[0] for _, maps in activations)))
    rows = 1 + len(activations)
    figure = _new_figure(max(4.0, 1.1 * cols + 1.0), 1.3 * rows + 0.5)
    axes = _image_grid(figure, rows, cols)
    _draw_raw_image(axes[0, 0], image)
    axes[0, 0].set_ylabel("input", fontsize=8)
    for ax in axes[0, 1:]:
        ax.set_axis_off()
    for row, (label, maps) in enumerate(activations, start=1):
        _draw_map_row(axes[row], label, maps)
    figure.suptitle(f"Conv2d outputs (up to {max_maps} channels each; "
                    "each scaled to its own range, blue < 0 < red)",
                    fontsize=10)
    return _save_png(figure, path)


def _draw_map_row(axes, label: str, maps: np.ndarray) -> None:
    """Fill one row of axes with channels of ``maps`` (C', H', W'); label the row on its first axes."""
    channels, height, width = maps.shape
    axes[0].set_ylabel(f"{label}\n{channels}x{height}x{width}", fontsize=7)
    for channel, ax in enumerate(axes):
        if channel >= channels:
            ax.set_axis_off()
            continue
        limit = _symmetric_limit(maps[channel])
        ax.imshow(maps[channel], cmap=DIVERGING_CMAP, vmin=-limit, vmax=limit)
        ax.set_title(str(channel), fontsize=7)


# ------------------------------------------------------------------ images and predictions
def _as_2d_image(image) -> np.ndarray:
    """One image as ``(H, W)``, accepting ``(H, W)``, ``(1, H, W)`` or ``(1, 1, H, W)``."""
    image = np.asarray(image)
    while image.ndim > 2 and image.shape[0] == 1:
        image = image[0]
    if image.ndim != 2:
        raise ValueError(f"expected one image of shape (H, W), got {image.shape}")
    return image


def _draw_raw_image(ax, image) -> None:
    """Draw one image: uint8 on the fixed 0..255 scale, floats on their own range."""
    image = _as_2d_image(image)
    if image.dtype == np.uint8:
        ax.imshow(image, cmap=RAW_IMAGE_CMAP, vmin=0, vmax=255)
    else:
        ax.imshow(image, cmap=RAW_IMAGE_CMAP)


def _prediction_order(predicted: np.ndarray, labels, wrong_first: bool) -> np.ndarray:
    """Indices to show: as given, or the wrong predictions first (each group in its original order)."""
    order = np.arange(len(predicted))
    if not wrong_first or labels is None:
        return order
    wrong = predicted != np.asarray(labels)
    return np.concatenate([order[wrong], order[~wrong]])


def _prediction_title(ax, predicted: int, confidence: float, label, class_names) -> bool:
    """Title one cell ``"pred (prob)"``; in red with the true label when wrong. Returns whether wrong."""
    title = f"{_class_name(predicted, class_names)} ({confidence:.2f})"
    wrong = label is not None and predicted != int(label)
    if wrong:
        title = f"{title}\ntrue {_class_name(int(label), class_names)}"
        for spine in ax.spines.values():
            spine.set_edgecolor(WRONG_COLOR)
            spine.set_linewidth(2)
    ax.set_title(title, fontsize=8, color=WRONG_COLOR if wrong else "black")
    return wrong


def plot_predictions(model, images, labels, path, n: int = 36, class_names=None, wrong_first: bool = False) -> Path:
    """A grid of ``n`` images titled with the predicted class and its probability.

    Wrong predictions are titled and framed in red, with the true label.

    Parameters
    ----------
    model : Classifier
    images : np.ndarray, (N, H, W)
        Raw pixels (uint8).
    labels : array of int, (N,), or None
        True classes; None draws predictions only.
    path : str or Path
    n : int
        How many images to show (the first ``n``).
    class_names : sequence of str, optional
    wrong_first : bool
        Show the wrong predictions first (this predicts all ``N`` images, not just ``n``).
    """
    images = np.asarray(images)
    if labels is not None and len(labels) != len(images):
        raise ValueError(f"{len(images)} images but {len(labels)} labels")
    candidates = images if wrong_first else images[:n]
    probabilities = model.predict_proba(candidates)                # (N or n, K)
    predicted = probabilities.argmax(axis=1)
    chosen = _prediction_order(predicted, labels, wrong_first)[:n]
    rows, cols = _grid_shape(len(chosen))
    figure = _new_figure(1.35 * cols + 0.4, 1.6 * rows + 0.6)
    axes = _image_grid(figure, rows, cols)
    wrong_count = 0
    for cell, ax in enumerate(axes.flat):
        if cell >= len(chosen):
            ax.set_axis_off()
            continue
        i = chosen[cell]
        _draw_raw_image(ax, images[i])
        label = None if labels is None else labels[i]
        confidence = float(probabilities[i, predicted[i]])
        wrong_count += _prediction_title(ax, int(predicted[i]), confidence, label, class_names)
    summary = f", {wrong_count} wrong (red, with the true label)" if labels is not None else ""
    order = "wrong first" if wrong_first and labels is not None else "in order"
    figure.suptitle(f"{len(chosen)} predictions ({order}){summary}", fontsize=10)
    return _save_png(figure, path)


def plot_digit(image, path, title: str | None = None) -> Path:
    """One image as the network sees it: ``(H, W)`` (or ``(1, H, W)``, ``(1, 1, H, W)``) raw pixels.

    uint8 images are drawn on the fixed 0..255 scale, float ones on their own range.
    """
    image = _as_2d_image(image)
    figure = _new_figure(3.2, 3.4)
    ax = figure.subplots()
    _draw_raw_image(ax, image)
    ax.set_xticks([])
    ax.set_yticks([])
    height, width = image.shape
    ax.set_title(title if title is not None else f"{height}x{width} input", fontsize=10)
    return _save_png(figure, path)
