"""The ``barecnn`` command: train, evaluate, predict, gradcheck, plot, models.

Errors are one line on stderr and a non-zero exit (``--debug`` shows the traceback).
"""
from __future__ import annotations

import argparse
import json
import os
from dataclasses import replace
import math
import sys
import time
from pathlib import Path

import numpy as np

EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 1, 2, 130


class CommandError(Exception):
    """A problem to report to the user in one line."""


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (exit 2), like every other barecnn error."""

    def error(self, message):
        self.exit(EXIT_USAGE, f"barecnn: error: {self.prog.removeprefix('barecnn ')}: {message} (see --help)\n")


# ------------------------------------------------------------------------------ helpers
def _int_at_least(minimum: int, description: str):
    """An argparse type: an integer >= ``minimum``."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {description}, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected {description}, got {text!r}")
        return value
    return parse


_positive_int = _int_at_least(1, "a positive integer")
_non_negative_int = _int_at_least(0, "an integer >= 0")


def _finite_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"expected a finite number >= 0, got {text!r}")
    return value


def _load_data(args, log):
    """Load the dataset named on the command line and say which data is in use (name, size, where).

    The library warns when it falls back to the embedded 5,000 digits; here ``source`` already
    says so in plain words, so that warning is not repeated as a Python warning."""
    import warnings

    from .data import load_dataset
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        dataset = load_dataset(args.dataset, data_dir=args.data_dir, download=not args.no_download,
                               progress=not args.no_progress)
    log(f"data: {dataset.source}")
    return dataset


def _log(quiet: bool = False):
    return (lambda message: None) if quiet else (lambda message: print(message, flush=True))


# -------------------------------------------------------------------------------- train
def cmd_train(args) -> int:
    from . import io
    from .viz import plot_curves
    from .train import Split, TrainConfig, Trainer, evaluate, split_dataset

    log = _log()
    out_dir = Path(args.resume) if args.resume else _new_run_dir(args.out, args.model)
    if args.resume:
        _check_resume_options(args)
        checkpoint = out_dir / "checkpoint.npz"
        if not checkpoint.is_file():
            raise CommandError(f"--resume {args.resume}: no checkpoint.npz in that folder")
        seed = io.load_arrays(checkpoint)[0]["training"]["config"]["seed"]
        state = json.loads(_read_text(out_dir / "run.json"))
        args.dataset = args.dataset or state["dataset"]
        dataset = _load_data(args, log)
        train, val, test = split_dataset(dataset, state["val_size"], np.random.default_rng(seed),
                                         state["train_size"], state["test_size"])
        train, val = _overfit_splits(train, val, state.get("overfit"))
        trainer = Trainer.resume(checkpoint, train, val, out_dir, progress=not args.no_progress, log=log)
        log(f"resuming {trainer.config.model} after epoch {trainer.epoch} of {trainer.config.epochs}")
        overfit = state.get("overfit")
    else:
        overfit = args.overfit
        config = TrainConfig(model=args.model, epochs=args.epochs, batch_size=args.batch_size,
                             optimizer=args.optimizer, lr=args.lr, momentum=args.momentum,
                             weight_decay=args.weight_decay, schedule=args.schedule, lr_decay=args.lr_decay,
                             label_smoothing=args.label_smoothing, augment=args.augment,
                             clip_grad_norm=args.clip_grad_norm, seed=args.seed, val_size=args.val_size or 0,
                             workers=args.workers)
        if overfit:
            config = _overfit_config(config, overfit)
        config.resolved().validate()          # bad options fail before any data is read
        args.dataset = args.dataset or "mnist"
        dataset = _load_data(args, log)
        args.val_size = _validation_size(args.val_size, len(dataset.train_labels))
        config = replace(config, val_size=args.val_size, dataset=dataset.name)
        train, val, test = split_dataset(dataset, args.val_size, np.random.default_rng(args.seed),
                                         args.train_size, args.test_size)
        train, val = _overfit_splits(train, val, overfit)
        trainer = Trainer.create(config, train, val, out_dir, progress=not args.no_progress, log=log)
        out_dir.mkdir(parents=True, exist_ok=True)
        io.atomic_write_text(out_dir / "run.json", json.dumps(
            {"dataset": str(args.dataset), "val_size": args.val_size, "train_size": args.train_size,
             "test_size": args.test_size, "overfit": overfit}))
    c = trainer.config
    log(f"model {c.model}: {sum(p.data.size for p in trainer.model.parameters()):,} parameters; "
        f"{len(train):,} training / {len(val):,} validation images; {c.epochs} epochs, batch {c.batch_size}, "
        f"{c.optimizer} lr {c.lr}, schedule {c.schedule}, augment {c.augment}; {trainer.runner.workers} workers")
    def overfit_reached(trainer) -> bool:
        if overfit and evaluate(trainer.model, train)["accuracy"] == 1.0:
            log(f"overfit check: 100% training accuracy on {len(train)} samples after {trainer.epoch} epochs")
            return True
        return False

    start = time.perf_counter()
    trainer.fit(stop=overfit_reached)
    seconds = time.perf_counter() - start
    plot_curves(trainer.history, out_dir / "curves.png")
    best = io.load(out_dir / "model.npz")
    if trainer.history.val_acc:
        chosen = (f"best validation accuracy {trainer.history.best_val_acc:.4f} (epoch {trainer.history.best_epoch})")
    else:
        chosen = f"no validation split, so the last epoch's model ({trainer.history.best_epoch}) was kept"
    log(f"training took {seconds:.1f} s; {chosen}; model saved to {out_dir / 'model.npz'}")
    if overfit:
        final = evaluate(trainer.model, train)["accuracy"]
        log(f"overfit {overfit}: train accuracy {final:.4f}, validation accuracy "
            f"{trainer.history.val_acc[-1] if trainer.history.val_acc else float('nan'):.4f}")
        return 0 if final == 1.0 else EXIT_ERROR
    result = evaluate(best, test)
    log(f"test accuracy {result['accuracy']:.4f} ({int(round(result['accuracy'] * result['n']))}/{result['n']}) "
        f"on {dataset.name} test set")
    return 0


DEFAULT_VAL_SIZE = 5000


def _validation_size(requested: int | None, n_train: int) -> int:
    """``--val-size``, or by default 5,000 images (a tenth of a training set under 50,000)."""
    if requested is None:
        return min(DEFAULT_VAL_SIZE, n_train // 10)
    if requested >= n_train:
        raise CommandError(f"--val-size {requested} leaves no training images: the dataset has "
                           f"{n_train:,} training images in all")
    return requested


def _new_run_dir(out: str | None, model: str) -> Path:
    """The folder for a new run: ``--out`` if given (refused if it already holds a run), else the
    first of ``runs/MODEL``, ``runs/MODEL-2``, ... that holds none, so no run is overwritten."""
    if out is not None:
        if (Path(out) / "checkpoint.npz").exists():
            raise CommandError(f"--out {out} already holds a run (checkpoint.npz): continue it with --resume {out} "
                               f"or choose another folder")
        return Path(out)
    candidate, number = Path("runs") / model, 1
    while (candidate / "checkpoint.npz").exists() or (candidate / "model.npz").exists():
        number += 1
        candidate = Path("runs") / f"{model}-{number}"
    return candidate


RUN_OPTIONS = ("epochs", "batch_size", "optimizer", "lr", "momentum", "weight_decay", "schedule", "lr_decay",
               "label_smoothing", "clip_grad_norm", "augment", "train_size", "test_size", "overfit", "out",
               "workers")


def _check_resume_options(args) -> None:
    """A resumed run continues exactly as configured: options that would change it are refused."""
    given = [name for name in RUN_OPTIONS if getattr(args, name) is not None]
    if given:
        flags = ", ".join("--" + name.replace("_", "-") for name in given)
        raise CommandError(f"--resume continues the run exactly as it was configured; drop {flags}")


def _overfit_config(config, n: int):
    """cs231n's sanity check: a tiny training set, no regularisation, a constant learning rate."""
    return replace(config, epochs=config.epochs or 50, batch_size=config.batch_size or min(25, n),
                   optimizer=config.optimizer or "adam", lr=config.lr or 1e-3, schedule=config.schedule or "none",
                   augment=False if config.augment is None else config.augment,
                   weight_decay=config.weight_decay or 0.0)


def _overfit_splits(train, val, overfit):
    from .train import Split
    if not overfit:
        return train, val
    return Split(train.images[:overfit], train.labels[:overfit]), Split(val.images[:1000], val.labels[:1000])


def _read_text(path: Path) -> str:
    if not path.is_file():
        raise CommandError(f"{path} is missing: cannot tell how the interrupted run split its data")
    return path.read_text()


# ----------------------------------------------------------------------------- evaluate
def cmd_evaluate(args) -> int:
    from . import io
    from .train import Split, evaluate
    from .viz import confusion_matrix, per_class_accuracy, plot_confusion

    log = _log(quiet=args.json)
    model = io.load(args.model)
    split, paths, class_names, name, source = _evaluation_split(args, model, log)
    result = evaluate(model, split)
    num_classes = len(class_names)
    confusion = confusion_matrix(split.labels, result["predictions"], num_classes)
    per_class = per_class_accuracy(confusion)
    figure = Path(args.confusion or Path(args.model).with_name(Path(args.model).stem + "_confusion.png"))
    plot_confusion(split.labels, result["predictions"], figure, list(class_names))
    summary = {"accuracy": result["accuracy"], "loss": result["loss"], "n": result["n"],
               "per_class_accuracy": {name: float(a) for name, a, count in zip(class_names, per_class,
                                                                               confusion.sum(axis=1)) if count},
               "dataset": name, "model": model.name, "confusion_png": str(figure)}
    wrong = np.flatnonzero(result["predictions"] != split.labels)
    if paths is not None:
        summary["misclassified"] = [{"file": str(paths[i]), "label": int(split.labels[i]),
                                     "predicted": int(result["predictions"][i])} for i in wrong]
    if args.json:
        print(json.dumps(summary))
        return 0
    log(f"model {model.name} on {source}: accuracy {result['accuracy']:.4f}, "
        f"loss {result['loss']:.4f}, n {result['n']}")
    for name, accuracy in summary["per_class_accuracy"].items():
        log(f"  class {name:>12}: {accuracy:.4f}")
    for item in summary.get("misclassified", []):
        log(f"  misread: {item['file']}: a {item['label']} read as {item['predicted']}")
    log(f"confusion matrix: {figure}")
    return 0


def _evaluation_split(args, model, log):
    """What ``evaluate`` scores: a dataset's test split, or the user's labelled images (``--images``).

    Returns (Split, file paths or None, class names, the data's name, a phrase naming it)."""
    from .data import DIGIT_CLASSES, read_image_folder
    from .train import Split

    if args.images is None:
        args.dataset = args.dataset or "mnist"
        dataset = _load_data(args, log)
        return (Split(dataset.test_images, dataset.test_labels), None, dataset.class_names, dataset.name,
                f"{dataset.name} test set")
    if args.dataset is not None:
        raise CommandError("evaluate: give --images DIR or --dataset NAME, not both")
    num_classes = model.num_classes
    images, labels, paths = read_image_folder(args.images, num_classes)
    log(f"data: {len(labels):,} images from {args.images}, each prepared as `barecnn predict` prepares it")
    class_names = DIGIT_CLASSES if num_classes == len(DIGIT_CLASSES) else tuple(str(k) for k in range(num_classes))
    return Split(images, labels), paths, class_names, str(args.images), f"{len(labels):,} images from {args.images}"


# ------------------------------------------------------------------------------ predict
def cmd_predict(args) -> int:
    from . import io
    from .data import load_digit_image
    from .viz import plot_digit

    model = io.load(args.model)
    images = [load_digit_image(path) for path in args.images]   # all checked before printing anything
    probabilities = model.predict_proba(np.stack(images))
    for path, image, probs in zip(args.images, images, probabilities):
        label = int(probs.argmax())
        line = f"{path}: {label} (p={probs[label]:.3f})"
        if args.show:
            picture = Path(args.show) / (Path(path).stem + "_seen.png")
            plot_digit(image, picture, title=f"predicted {label} (p={probs[label]:.2f})")
            line += f"  [what the network saw: {picture}]"
        print(line)
    return 0


# ---------------------------------------------------------------------------- gradcheck
def cmd_gradcheck(args) -> int:
    from .gradcheck import check_all_layers
    results = check_all_layers(seed=args.seed)
    width = max(len(name) for name, _ in results)
    print(f"{'layer':<{width}}  {'gradient':<10} relative error   (central differences, float64)")
    worst = 0.0
    for name, errors in results:
        for what, error in errors.items():
            flag = "" if error < args.tolerance else "  <-- FAIL"
            print(f"{name:<{width}}  {what:<10} {error:.2e}{flag}")
            worst = max(worst, error)
    print(f"worst relative error {worst:.2e} (tolerance {args.tolerance:.0e})")
    return 0 if worst < args.tolerance else EXIT_ERROR


# --------------------------------------------------------------------------------- plot
def cmd_plot(args) -> int:
    from . import io
    from .viz import plot_feature_maps, plot_filters, plot_predictions

    model = io.load(args.model)
    dataset = _load_data(args, _log())
    out = Path(args.out or Path(args.model).parent)
    if args.index >= len(dataset.test_images):
        raise CommandError(f"--index {args.index} is past the end of the {len(dataset.test_images)}-image test set")
    written = [plot_filters(model, out / "filters.png"),
               plot_feature_maps(model, dataset.test_images[args.index], out / "feature_maps.png"),
               plot_predictions(model, dataset.test_images[:args.count], dataset.test_labels[:args.count],
                                out / "predictions.png", n=args.count, class_names=list(dataset.class_names),
                                wrong_first=True)]
    for path in written:
        print(f"wrote {path}")
    return 0


# ------------------------------------------------------------------------------- models
def cmd_models(args) -> int:
    from . import models
    print(f"{'name':<11} {'parameters':>11} {'MFLOPs/img':>11}  description")
    for name in models.ZOO:
        model = models.create(name, rng=np.random.default_rng(0))
        summary = " ".join((models.ZOO[name].__doc__ or "").split("\n\n")[0].split())
        description = summary.split(". ")[0].rstrip(".")
        default = " (default)" if name == models.DEFAULT_MODEL else ""
        print(f"{name:<11} {models.count_parameters(model):>11,} {models.flops_per_image(model) / 1e6:>11.2f}  "
              f"{description}{default}")
    return 0


# ------------------------------------------------------------------------------- parser
def _add_data_options(parser, default="mnist"):
    parser.add_argument("--dataset", default=default,
                        help="mnist, fashion-mnist, or a folder of IDX/CSV files"
                             + (" (default mnist)" if default is None else ""))
    parser.add_argument("--data-dir", default=None, help="look here first for the named dataset")
    parser.add_argument("--no-download", action="store_true", help="never download; fail if not found")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def build_parser() -> argparse.ArgumentParser:
    from .models import DEFAULT_MODEL, ZOO
    from .train import EPOCH_SCHEDULES, ITERATION_SCHEDULES, OPTIMIZERS

    parser = OneLineParser(prog="barecnn", description="CNNs in bare NumPy: train, evaluate, predict.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    debug = argparse.ArgumentParser(add_help=False)   # --debug also after the command name
    debug.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineParser)

    train = commands.add_parser("train", parents=[debug], help="train a model (default: the best MNIST model)")
    train.add_argument("--model", default=DEFAULT_MODEL, choices=list(ZOO))
    _add_data_options(train, default=None)
    train.add_argument("--epochs", type=_positive_int)
    train.add_argument("--batch-size", type=_positive_int)
    train.add_argument("--optimizer", choices=OPTIMIZERS)
    train.add_argument("--lr", type=_finite_float)
    train.add_argument("--momentum", type=_finite_float)
    train.add_argument("--weight-decay", type=_finite_float, help="L2 regularisation strength")
    train.add_argument("--schedule", choices=EPOCH_SCHEDULES + ITERATION_SCHEDULES)
    train.add_argument("--lr-decay", type=_finite_float, help="per-epoch factor (step) or decay (inverse-time)")
    train.add_argument("--label-smoothing", type=_finite_float)
    train.add_argument("--clip-grad-norm", type=_finite_float)
    train.add_argument("--augment", action=argparse.BooleanOptionalAction, default=None,
                       help="distort each training digit: shift, rotation, scale, slant, stroke width "
                            "(barecnn.data.augment_digits)")
    train.add_argument("--seed", type=_non_negative_int, default=0)
    train.add_argument("--workers", type=_positive_int,
                       help="split each batch across N processes, one per core (default: every usable core)")
    train.add_argument("--train-size", type=_positive_int)
    train.add_argument("--test-size", type=_positive_int)
    train.add_argument("--val-size", type=_non_negative_int, default=None,
                       help="held out from the training data (default 5,000, or a tenth of a smaller set)")
    train.add_argument("--overfit", type=_positive_int, metavar="N", help="sanity check: overfit N samples")
    train.add_argument("--out", help="output folder (default: runs/MODEL, or runs/MODEL-2, ... if taken)")
    train.add_argument("--resume", metavar="DIR", help="continue the run whose checkpoint is in DIR")
    train.set_defaults(func=cmd_train)

    evaluate = commands.add_parser("evaluate", parents=[debug],
                                   help="accuracy, loss, per-class accuracy, confusion matrix")
    evaluate.add_argument("model")
    _add_data_options(evaluate, default=None)
    evaluate.add_argument("--images", metavar="DIR",
                          help="score your own labelled images instead: DIR/0/*.png ... DIR/9/*.png, "
                               "each prepared as predict prepares it")
    evaluate.add_argument("--json", action="store_true", help="print one JSON object")
    evaluate.add_argument("--confusion", help="where to write the confusion-matrix PNG")
    evaluate.set_defaults(func=cmd_evaluate)

    predict = commands.add_parser("predict", parents=[debug], help="classify your own digit images (PNG/JPEG/BMP)")
    predict.add_argument("model")
    predict.add_argument("images", nargs="+")
    predict.add_argument("--show", metavar="DIR", help="save what the network saw into DIR")
    predict.set_defaults(func=cmd_predict)

    gradcheck = commands.add_parser("gradcheck", parents=[debug], help="numerical gradient check of every layer")
    gradcheck.add_argument("--seed", type=_non_negative_int, default=0)
    gradcheck.add_argument("--tolerance", type=_finite_float, default=1e-5)
    gradcheck.set_defaults(func=cmd_gradcheck)

    plot = commands.add_parser("plot", parents=[debug], help="filters, feature maps and predictions of a model")
    plot.add_argument("model")
    _add_data_options(plot)
    plot.add_argument("--out", help="folder for the PNGs (default: beside the model)")
    plot.add_argument("--index", type=_non_negative_int, default=0, help="test image for the feature maps")
    plot.add_argument("--count", type=_positive_int, default=36, help="test images in the prediction grid")
    plot.set_defaults(func=cmd_plot)

    models_cmd = commands.add_parser("models", parents=[debug], help="list the model zoo")
    models_cmd.set_defaults(func=cmd_models)

    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("barecnn: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:   # output piped into e.g. `head`, which stopped reading: not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (CommandError, ValueError, TypeError, KeyError, OSError, RuntimeError, MemoryError, ImportError) as error:
        if args.debug:
            raise
        message = str(error) if not isinstance(error, KeyError) else str(error.args[0] if error.args else error)
        print(f"barecnn: error: {message.splitlines()[0] if message else type(error).__name__}", file=sys.stderr)
        return EXIT_ERROR
    except Exception as error:   # a bug of ours: still one line, with the way to the traceback
        if args.debug:
            raise
        detail = str(error).splitlines()[0] if str(error) else ""
        print(f"barecnn: error: internal error ({type(error).__name__}: {detail}); run it again with --debug "
              f"for the traceback, and please report it", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
