"""The training loop: cs231n's Solver grown up.

:class:`TrainConfig` holds every choice of a run (JSON-able, stored in checkpoints), and
:func:`fit` runs it: data -> preprocessing (+ augmentation) -> model -> loss -> backward ->
optimizer, the only place that knows all of them. After every epoch it writes, atomically,

* ``checkpoint.npz``: weights, optimizer and schedule state, both RNG states, history and the
  config, so ``resume`` continues exactly where the run stopped (bit for bit on the CPU);
* ``model.npz``: the best model by validation accuracy;
* ``history.json``: loss per iteration, train/validation accuracy per epoch.
"""
from __future__ import annotations

import json
import math
import sys
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Callable

import numpy as np

from . import io, models, nn, optim
from . import random as barecnn_random
from .data import Dataset, Preprocess, augment_digits, iterate_minibatches, num_batches

EPOCH_SCHEDULES = ("none", "step", "cosine", "inverse-time")
ITERATION_SCHEDULES = ("onecycle",)


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite."""


@dataclass
class TrainConfig:
    """Every choice of a training run. ``None`` means "the model's recommended value"."""
    model: str = models.DEFAULT_MODEL
    epochs: int | None = None
    batch_size: int | None = None
    optimizer: str | None = None          # sgd | adam | rmsprop
    lr: float | None = None
    momentum: float | None = None
    nesterov: bool | None = None
    weight_decay: float | None = None     # L2 regularisation (added to the gradient, as torch.optim)
    schedule: str | None = None           # none | step | cosine | inverse-time | onecycle
    lr_decay: float | None = None         # StepLR gamma per epoch, or InverseTimeDecay's decay
    label_smoothing: float | None = None
    augment: bool | None = None
    clip_grad_norm: float | None = None
    seed: int = 0
    val_size: int = 5000
    dtype: str = "float32"
    dataset: str = "mnist"                # informs the recommended settings only
    workers: int | None = None            # DataParallel workers (processes); None: every usable core

    def resolved(self) -> "TrainConfig":
        """A copy with every ``None`` replaced by the recommendation for this model and dataset."""
        recommended = {**RECOMMENDED.get(self.model, RECOMMENDED["_default"]),
                       **RECOMMENDED_FOR_DATASET.get((self.model, self.dataset), {})}
        values = asdict(self)
        for key, value in values.items():
            if value is None:
                values[key] = recommended.get(key, RECOMMENDED["_default"].get(key))
        return TrainConfig(**values)

    def validate(self) -> None:
        """Raise ``ValueError`` for anything out of range, naming the option."""
        if self.model not in models.ZOO:
            raise ValueError(f"unknown model {self.model!r}; choose one of: {', '.join(models.ZOO)}")
        for name in ("epochs", "batch_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be a positive integer, got {value!r}")
        for name in ("lr", "momentum", "weight_decay", "lr_decay", "label_smoothing", "clip_grad_norm"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0):
                raise ValueError(f"--{name.replace('_', '-')} must be a finite number >= 0, got {value!r}")
        if self.lr is not None and self.lr <= 0:
            raise ValueError(f"--lr must be positive, got {self.lr}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"--optimizer must be one of {', '.join(OPTIMIZERS)}, got {self.optimizer!r}")
        if self.schedule not in EPOCH_SCHEDULES + ITERATION_SCHEDULES:
            raise ValueError(f"--schedule must be one of {', '.join(EPOCH_SCHEDULES + ITERATION_SCHEDULES)}, "
                             f"got {self.schedule!r}")
        if self.dtype not in ("float32", "float64"):
            raise ValueError(f"dtype must be float32 or float64, got {self.dtype!r}")
        if self.workers is not None and (not isinstance(self.workers, int) or self.workers < 1):
            raise ValueError(f"--workers must be a positive integer, got {self.workers!r}")
        if self.val_size < 0:
            raise ValueError(f"--val-size must be >= 0, got {self.val_size}")


# Recommended settings per model. barenet's recipe and epoch count were set by the ten-minute
# budget and checked on the validation split; the tutorials' nets use their tutorials' settings;
# lenet5 and kerascnn use common Adam + cosine settings, not tuned.
RECOMMENDED: dict[str, dict] = {
    "_default": dict(epochs=10, batch_size=64, optimizer="adam", lr=1e-3, momentum=0.9, nesterov=False,
                     weight_decay=0.0, schedule="none", lr_decay=0.95, label_smoothing=0.0, augment=False,
                     clip_grad_norm=None),
    "barenet": dict(epochs=13, batch_size=128, optimizer="sgd", lr=0.1, momentum=0.9, nesterov=True,
                    weight_decay=5e-4, schedule="onecycle", label_smoothing=0.0, augment=True),
    "seed000": dict(epochs=3, batch_size=1, optimizer="sgd", lr=0.005, momentum=0.0),
    "seed001": dict(epochs=10, batch_size=16, optimizer="sgd", lr=1e-2, momentum=0.0),
    "seed004": dict(epochs=5, batch_size=4, optimizer="sgd", lr=0.01, momentum=0.9, schedule="inverse-time",
                    lr_decay=1e-5),
    "threelayer": dict(epochs=1, batch_size=50, optimizer="adam", lr=1e-3),
    "lenet5": dict(epochs=10, batch_size=64, optimizer="adam", lr=1e-3, schedule="cosine"),
    "kerascnn": dict(epochs=12, batch_size=128, optimizer="adam", lr=1e-3, schedule="cosine"),
}

# Where a dataset wants other settings. barenet's shifts and rotations suit digits; on
# Fashion-MNIST the validation split preferred no augmentation (93.64% vs 91.92%, same recipe).
RECOMMENDED_FOR_DATASET: dict[tuple[str, str], dict] = {
    ("barenet", "fashion-mnist"): dict(augment=False),
}

OPTIMIZERS = ("sgd", "adam", "rmsprop")


def make_optimizer(config: TrainConfig, parameters) -> optim.Optimizer:
    if config.optimizer == "sgd":
        return optim.SGD(parameters, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay,
                         nesterov=bool(config.nesterov and config.momentum > 0))
    if config.optimizer == "adam":
        return optim.Adam(parameters, lr=config.lr, weight_decay=config.weight_decay)
    return optim.RMSprop(parameters, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)


def make_schedule(config: TrainConfig, optimizer, iterations_per_epoch: int):
    """The learning-rate schedule and whether it steps per iteration (else per epoch)."""
    if config.schedule == "step":
        return optim.StepLR(optimizer, step_size=1, gamma=config.lr_decay), False
    if config.schedule == "cosine":
        return optim.CosineAnnealingLR(optimizer, T_max=config.epochs), False
    if config.schedule == "inverse-time":   # Keras's SGD decay: per iteration
        return optim.InverseTimeDecay(optimizer, decay=config.lr_decay), True
    if config.schedule == "onecycle":
        total = config.epochs * iterations_per_epoch
        return optim.WarmupCosine(optimizer, warmup_steps=max(1, total // 5), total_steps=total), True
    return None, False


@dataclass
class History:
    """What a run learned, ready for plots (cs231n's ``loss_history`` etc.)."""
    loss: list = field(default_factory=list)            # per iteration
    train_acc: list = field(default_factory=list)       # per epoch, running accuracy in train mode
    val_acc: list = field(default_factory=list)         # per epoch, eval mode
    val_loss: list = field(default_factory=list)
    lr: list = field(default_factory=list)              # per epoch (at its end)
    epoch_time: list = field(default_factory=list)      # seconds
    best_epoch: int = -1
    best_val_acc: float = -1.0                          # -1 without a validation split

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "History":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})


@dataclass
class Split:
    """Raw images ``(N, H, W)`` uint8 and labels ``(N,)``."""
    images: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)


def evaluate(model: models.Classifier, split: Split, batch_size: int = 500) -> dict:
    """Accuracy, mean cross-entropy and predictions of ``model`` (eval mode) on ``split``."""
    probs = model.predict_proba(split.images, batch_size)
    labels = np.asarray(split.labels)
    if len(labels) and (labels.min() < 0 or labels.max() >= probs.shape[1]):
        raise ValueError(f"labels range from {labels.min()} to {labels.max()} "
                         f"but the model has {probs.shape[1]} classes")
    picked = probs[np.arange(len(split)), split.labels]
    loss = float(-np.mean(np.log(np.maximum(picked, np.finfo(probs.dtype).tiny))))
    predictions = probs.argmax(axis=1)
    return {"accuracy": float(np.mean(predictions == split.labels)), "loss": loss, "n": len(split),
            "predictions": predictions}


class Trainer:
    """Runs :class:`TrainConfig` on a model and data, writing checkpoints into ``out_dir``.

    Use :meth:`create` for a new run and :meth:`resume` to continue one from its checkpoint.
    ``log`` receives each message (None: a silent run); ``progress`` shows a bar per epoch on a
    terminal (by default when there is a log).
    """

    def __init__(self, config: TrainConfig, model: models.Classifier, train: Split, val: Split,
                 out_dir: Path | None, log: Callable[[str], None] | None = print, progress: bool | None = None):
        self.config, self.model, self.train_split, self.val_split = config, model, train, val
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.log = log if log is not None else (lambda message: None)
        self.progress = log is not None if progress is None else progress
        # Each batch is split across the cores, one model replica each (see barecnn.nn.DataParallel).
        self.runner = nn.DataParallel(model, workers=config.workers)
        self.criterion = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
        self.optimizer = make_optimizer(config, model.parameters())
        self.iterations_per_epoch = num_batches(len(train), config.batch_size)
        self.schedule, self.schedule_per_iteration = make_schedule(config, self.optimizer, self.iterations_per_epoch)
        self.data_rng = np.random.default_rng(config.seed + 1)
        self.history = History()
        self.epoch = 0   # epochs completed

    @classmethod
    def create(cls, config: TrainConfig, train: Split, val: Split, out_dir=None, **kwargs) -> "Trainer":
        config = config.resolved()
        config.validate()
        barecnn_random.seed(config.seed)
        model = models.create(config.model)
        if config.dtype == "float64":
            model.double()
        model.preprocess = Preprocess.fit(train.images, model.preprocess.mode)
        return cls(config, model, train, val, out_dir, **kwargs)

    @classmethod
    def resume(cls, checkpoint_path, train: Split, val: Split, out_dir=None, **kwargs) -> "Trainer":
        """Rebuild a run from ``checkpoint.npz``: model, optimizer, schedule, RNGs and history."""
        header, arrays = io.load_arrays(checkpoint_path)
        if header.get("kind") != "checkpoint":
            raise ValueError(f"{checkpoint_path}: is a model file, not a training checkpoint")
        state = header["training"]
        config = TrainConfig(**state["config"])
        model = io.model_from_file(header, arrays, checkpoint_path).train()
        trainer = cls(config, model, train, val, out_dir if out_dir is not None else Path(checkpoint_path).parent,
                      **kwargs)
        trainer.optimizer.load_state_dict(optim.unflatten_state(arrays, state["optimizer"]))
        if trainer.schedule is not None:
            trainer.schedule.load_state_dict(state["schedule"])
        trainer.data_rng.bit_generator.state = state["data_rng"]
        barecnn_random.set_state(state["global_rng"])
        trainer.history = History.from_dict(state["history"])
        trainer.epoch = state["epoch"]
        return trainer

    # ----------------------------------------------------------------------------- one step
    def train_step(self, images: np.ndarray, labels: np.ndarray) -> tuple[float, int]:
        """One optimisation step on raw images; returns (loss, number of correct predictions)."""
        if self.config.augment:
            images = augment_digits(images, self.data_rng)
        x = self.model.preprocess(images, dtype=self.model.dtype)
        self.optimizer.zero_grad()
        with np.errstate(over="ignore", invalid="ignore"):   # a diverging run is reported below, not warned
            logits = self.runner(x)
            loss = self.criterion(logits, labels)
        if not math.isfinite(loss):
            return loss, 0
        self.runner.backward(self.criterion.backward(), need_input_grad=False)
        if self.config.clip_grad_norm:
            clip_grad_norm(self.model.parameters(), self.config.clip_grad_norm)
        self.optimizer.step()
        if self.schedule_per_iteration:
            self.schedule.step()
        return loss, int(np.sum(logits.argmax(axis=1) == labels))

    def run_epoch(self) -> None:
        epoch_number = self.epoch + 1
        start = time.perf_counter()
        self.model.train()
        batches = iterate_minibatches(self.train_split.images, self.train_split.labels, self.config.batch_size,
                                      shuffle=True, rng=self.data_rng)
        bar = _progress_bar(self.progress, self.iterations_per_epoch, f"epoch {epoch_number}/{self.config.epochs}")
        correct = seen = 0
        for batch_index, (images, labels) in enumerate(batches):
            loss, batch_correct = self.train_step(images, labels)
            if not math.isfinite(loss):
                raise TrainingDiverged(f"loss became {loss} at epoch {epoch_number}, batch {batch_index + 1}; "
                                       f"try a lower --lr{self._checkpoint_note()}")
            if self.epoch == 0 and batch_index == 0:
                self.log(f"first batch loss {loss:.4f} (ln(10) = {math.log(10):.4f} for an untrained 10-class net)")
            self.history.loss.append(loss)
            correct, seen = correct + batch_correct, seen + len(labels)
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{loss:.4f}", acc=f"{correct / seen:.4f}", refresh=False)
        if bar is not None:
            bar.close()
        if self.schedule is not None and not self.schedule_per_iteration:
            self.schedule.step()
        self._end_epoch(correct / max(seen, 1), time.perf_counter() - start)

    def _checkpoint_note(self) -> str:
        if self.out_dir is not None and (self.out_dir / "checkpoint.npz").is_file():
            return f" (the last good checkpoint, epoch {self.epoch}, is kept in {self.out_dir})"
        return ""

    def _end_epoch(self, train_acc: float, seconds: float) -> None:
        self.epoch += 1
        h = self.history
        h.train_acc.append(train_acc)
        h.epoch_time.append(seconds)
        h.lr.append(float(self.optimizer.param_groups[0]["lr"]))
        message = f"epoch {self.epoch}/{self.config.epochs}: train acc {train_acc:.4f}"
        improved = False
        if len(self.val_split):
            result = evaluate(self.model, self.val_split)
            h.val_acc.append(result["accuracy"])
            h.val_loss.append(result["loss"])
            improved = result["accuracy"] > h.best_val_acc
            message += f", val acc {result['accuracy']:.4f}, val loss {result['loss']:.4f}"
        else:
            improved = True
        if improved:   # without a validation split every epoch "improves": the last one is kept
            h.best_epoch = self.epoch
            if h.val_acc:
                h.best_val_acc = h.val_acc[-1]
        self.log(message + f" ({seconds:.1f} s)")
        if self.out_dir is not None:
            if improved:
                io.save(self.model, self.out_dir / "model.npz", trained={"epoch": self.epoch})
            self.save_checkpoint(self.out_dir / "checkpoint.npz")
            io.atomic_write_text(self.out_dir / "history.json", json.dumps(h.to_dict(), indent=1))

    def save_checkpoint(self, path) -> None:
        opt_arrays, opt_meta = optim.flatten_state(self.optimizer.state_dict(), prefix="optim/")
        training = {"config": asdict(self.config), "epoch": self.epoch, "history": self.history.to_dict(),
                    "optimizer": opt_meta,
                    "schedule": self.schedule.state_dict() if self.schedule is not None else None,
                    "data_rng": self.data_rng.bit_generator.state, "global_rng": barecnn_random.get_state()}
        arrays = {**io.model_arrays(self.model), **opt_arrays}
        io.save_arrays(path, io.model_header(self.model, kind="checkpoint", training=training), arrays)

    def fit(self, stop: Callable[["Trainer"], bool] | None = None) -> History:
        """Train until ``config.epochs`` epochs are complete (continuing a resumed run), or until
        ``stop(trainer)``, asked after each epoch, is true; the worker processes stop at the end."""
        try:
            while self.epoch < self.config.epochs:
                self.run_epoch()
                if stop is not None and stop(self):
                    break
        finally:
            self.runner.close()
        return self.history


def clip_grad_norm(parameters, max_norm: float) -> float:
    """Scale all gradients so their global L2 norm is at most ``max_norm``; returns the norm before."""
    grads = [p.grad for p in parameters if p.grad is not None]
    total = math.sqrt(sum(float(np.sum(g.astype(np.float64) ** 2)) for g in grads))
    if total > max_norm:
        scale = max_norm / (total + 1e-6)
        for g in grads:
            g *= scale
    return total


def _progress_bar(enabled: bool, total: int, description: str):
    """A tqdm bar on a terminal; nothing when disabled or when stderr is not a TTY."""
    if not enabled or not sys.stderr.isatty():
        return None
    from tqdm import tqdm
    return tqdm(total=total, desc=description, leave=False, dynamic_ncols=True)


def split_dataset(dataset: Dataset, val_size: int, rng: np.random.Generator,
                  train_size: int | None = None, test_size: int | None = None) -> tuple[Split, Split, Split]:
    """Train / validation / test splits: the validation split is held out from the training data.

    ``train_size`` and ``test_size`` take random subsets (the 3x3 tutorial uses 1k/1k).
    """
    order = rng.permutation(len(dataset.train_labels))
    n_val = min(val_size, max(len(order) - 1, 0))
    val_idx, train_idx = order[:n_val], order[n_val:]
    if train_size is not None:
        train_idx = train_idx[:train_size]
    test_images, test_labels = dataset.test_images, dataset.test_labels
    if test_size is not None and test_size < len(test_labels):
        pick = np.sort(rng.permutation(len(test_labels))[:test_size])
        test_images, test_labels = test_images[pick], test_labels[pick]
    take = lambda idx: Split(dataset.train_images[idx], dataset.train_labels[idx])
    return take(train_idx), take(val_idx), Split(test_images, test_labels)
