"""Shared by the example scripts: run one tutorial experiment and print its number beside ours."""
from __future__ import annotations

import argparse
import time
from dataclasses import replace

import numpy as np

from barecnn.data import load_dataset
from barecnn.train import TrainConfig, Trainer, evaluate, split_dataset


def command_line(seeds: int) -> argparse.Namespace:
    """The examples' options: ``--seeds`` (default ``seeds``) and ``--limit``."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=seeds, help="independent runs (seeds 0, 1, ...)")
    parser.add_argument("--limit", type=int, default=None,
                        help="train, validate and test on at most this many images each: a quick check that "
                             "the script runs, not the tutorial's experiment")
    return parser.parse_args()


def limited(size: int | None, limit: int | None) -> int | None:
    """``size`` images (None: all of them), but at most ``limit`` when given."""
    if limit is None:
        return size
    return limit if size is None else min(size, limit)


def run_experiment(title: str, config: TrainConfig, tutorial_result: str, explanation: str,
                   options: argparse.Namespace, train_size: int | None = None, test_size: int | None = None,
                   dataset: str = "mnist") -> list[float]:
    """Train ``config`` once per seed (``options.seeds`` of them: a different initialisation, data
    subset and shuffling each time) and report test accuracy beside the tutorial's number.

    The hyperparameters are the tutorial's, fixed in advance: the seeds show the run-to-run
    spread, they are not a search. ``config.val_size`` images are held out of the training data.
    ``options.limit`` caps the training, validation and test images.
    """
    seeds = list(range(options.seeds))
    config = replace(config, val_size=limited(config.val_size, options.limit))
    train_size, test_size = limited(train_size, options.limit), limited(test_size, options.limit)
    print(f"== {title}")
    data = load_dataset(dataset)
    print(f"data: {data.source}")
    accuracies = []
    for seed in seeds:
        run = replace(config, seed=seed)
        train, val, test = split_dataset(data, run.val_size, np.random.default_rng(seed), train_size, test_size)
        start = time.perf_counter()
        trainer = Trainer.create(run, train, val, out_dir=None, log=None)
        trainer.fit()
        accuracy = evaluate(trainer.model, test)["accuracy"]
        accuracies.append(accuracy)
        print(f"seed {seed}: test accuracy {accuracy:.2%} on {len(test):,} test images "
              f"({len(train):,} training images, {trainer.config.epochs} epochs, batch {trainer.config.batch_size}, "
              f"{time.perf_counter() - start:.0f} s)")
    spread = f" (min {min(accuracies):.2%}, max {max(accuracies):.2%} over {len(seeds)} seeds)" if len(seeds) > 1 else ""
    print(f"ours: mean test accuracy {np.mean(accuracies):.2%}{spread}")
    if options.limit is not None:
        print(f"(--limit {options.limit}: a check that the script runs, not the tutorial's experiment)")
    print(f"tutorial: {tutorial_result}")
    print(f"why they differ: {explanation}")
    return accuracies
