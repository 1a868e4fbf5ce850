"""Shared by the example scripts: run one tutorial experiment and print its number beside ours."""
from __future__ import annotations

import time

import numpy as np

from barecnn.data import load_dataset
from barecnn.train import TrainConfig, Trainer, evaluate, split_dataset


def run_experiment(title: str, config: TrainConfig, tutorial_result: str, explanation: str,
                   train_size: int | None = None, test_size: int | None = None, dataset: str = "mnist") -> dict:
    """Train ``config`` on a subset of ``dataset`` and report test accuracy beside the tutorial's.

    ``config.val_size`` images are held out of the training data for validation; the test set
    is scored once, at the end.
    """
    print(f"== {title}")
    data = load_dataset(dataset)
    print(f"data: {data.source}")
    train, val, test = split_dataset(data, config.val_size, np.random.default_rng(config.seed), train_size, test_size)
    start = time.perf_counter()
    trainer = Trainer.create(config, train, val, out_dir=None, progress=True)
    trainer.fit()
    seconds = time.perf_counter() - start
    result = evaluate(trainer.model, test)
    print(f"ours: test accuracy {result['accuracy']:.2%} on {len(test):,} test images after {seconds:.0f} s "
          f"({len(train):,} training images, {trainer.config.epochs} epochs, batch {trainer.config.batch_size})")
    print(f"tutorial: {tutorial_result}")
    print(f"why they differ: {explanation}")
    return {"accuracy": result["accuracy"], "seconds": seconds, "trainer": trainer, "train": train, "val": val}
