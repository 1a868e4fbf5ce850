"""Questions about the tutorials' experiments.

    python benchmarks/tutorial_checks.py init            # seed000: does the initialisation explain Keras's 97.4%?
    python benchmarks/tutorial_checks.py preprocessing   # seed004 / seed001 / seed000: which input scaling?
    python benchmarks/tutorial_checks.py keras-twin      # Keras's 97.4% run redone in PyTorch, several seeds
    python benchmarks/tutorial_checks.py all [--seeds 5]

``init`` and ``preprocessing`` hold 5,000 (seed000, seed004) or 400 (seed001) images out of MNIST's
training set and report accuracy on them; they never read the test set. They are the
measurements behind choices in the zoo: seed004 reads ``x / 255 - 0.5`` (not standardised pixels),
seed000 keeps the tutorial's initialisation and input scaling.

``keras-twin`` chooses nothing: it measures the reference. It trains the Keras tutorial's exact
recipe in PyTorch (conv 3x3x8 without bias, max-pool 2, dense 10, Glorot-uniform weights, inputs
``x / 255 - 0.5``, SGD lr 0.005, batch 1, 3 epochs over all 60,000 images reshuffled each epoch,
cross-entropy on probabilities clipped to [1e-7, 1 - 1e-7] as Keras computes it) and reports its
test accuracy per seed: the spread a single published run such as Keras's 97.4% comes from.
PyTorch is only needed for this check (``pip install torch==2.13.0``).

``init``: the 3x3 net with the Keras settings (SGD 0.005, batch 1, 3 epochs on 55,000 images)
with the tutorial's initialisation (filters ``randn/9``, dense ``randn/1352``) and with Keras's
defaults (Glorot-uniform weights, zero biases).

``preprocessing``: each tutorial recipe with standardised input (MNIST's mean and std), ``x / 255``
and ``x / 255 - 0.5``.
"""
from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from barecnn import init  # noqa: E402
from barecnn.data import load_dataset  # noqa: E402
from barecnn.data.preprocess import Preprocess  # noqa: E402
from barecnn.train import TrainConfig, Trainer, evaluate, split_dataset  # noqa: E402

SEED000_KERAS = TrainConfig(model="seed000", epochs=3, batch_size=1, optimizer="sgd", lr=0.005, momentum=0.0,
                            val_size=5000)
# (recipe, training images) exactly as in examples/seed004_lenet_like.py, examples/seed001_cs229.py
# and examples/seed000_keras_full.py (with 5,000 images held out)
RECIPES = {
    "seed000": (SEED000_KERAS, None),
    "seed004": (TrainConfig(model="seed004", epochs=1, batch_size=4, optimizer="sgd", lr=0.01, momentum=0.9,
                            schedule="inverse-time", lr_decay=1e-5, val_size=5000), 2000 * 4),
    "seed001": (TrainConfig(model="seed001", epochs=1, batch_size=16, optimizer="sgd", lr=1e-2, momentum=0.0,
                            val_size=400), 400 * 16),
}


def keras_initialisation(model, rng: np.random.Generator) -> None:
    """Glorot-uniform weights and zero biases, Keras's defaults for Conv2D and Dense."""
    for name, param in model.named_parameters():
        if name.endswith("weight"):
            init.xavier_uniform_(param, rng=rng)
        else:
            init.zeros_(param)


def validation_accuracy(config: TrainConfig, data, train_size=None, adjust=None) -> float:
    """Train ``config`` (``adjust(model, train_split)`` first, if given) and score the held-out split."""
    train, val, _ = split_dataset(data, config.val_size, np.random.default_rng(config.seed), train_size)
    trainer = Trainer.create(config, train, val, out_dir=None, progress=False, log=lambda message: None)
    if adjust is not None:
        adjust(trainer.model, train)
    trainer.fit()
    return evaluate(trainer.model, val)["accuracy"]


def report(title: str, results: dict[str, list[float]]) -> None:
    print(title)
    for label, accuracies in results.items():
        runs = ", ".join(f"{a:.2%}" for a in accuracies)
        print(f"  {label:>22}: mean {np.mean(accuracies):.2%}  ({runs})", flush=True)


def check_init(data, seeds: int) -> None:
    results = {"tutorial (randn/9)": [], "Keras (Glorot-uniform)": []}
    for seed in range(seeds):
        config = replace(SEED000_KERAS, seed=seed)
        results["tutorial (randn/9)"].append(validation_accuracy(config, data))
        def glorot(model, _train, seed=seed):
            keras_initialisation(model, np.random.default_rng(1000 + seed))
        results["Keras (Glorot-uniform)"].append(validation_accuracy(config, data, adjust=glorot))
    report(f"seed000 with the Keras settings, validation accuracy on 5,000 held-out images ({seeds} seeds):", results)


def check_preprocessing(data, seeds: int) -> None:
    scalings = {"standardised": "standardize", "x / 255": "scale", "x / 255 - 0.5": "center"}
    for name, (recipe, train_size) in RECIPES.items():
        results = {}
        for label, mode in scalings.items():
            def rescale(model, train, mode=mode):
                model.preprocess = Preprocess.fit(train.images, mode)
            results[label] = [validation_accuracy(replace(recipe, seed=seed), data, train_size, rescale)
                              for seed in range(seeds)]
        report(f"{name}, validation accuracy on {recipe.val_size:,} held-out images ({seeds} seeds):", results)


def keras_twin_test_accuracy(data, seed: int) -> float:
    """Keras's recipe for the 3x3 net, in PyTorch; test accuracy after 3 epochs (see the module doc)."""
    import torch

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    scale = lambda images: torch.tensor(images / 255.0 - 0.5, dtype=torch.float32)[:, None]  # noqa: E731
    x_train, y_train = scale(data.train_images), torch.tensor(data.train_labels)
    x_test, y_test = scale(data.test_images), torch.tensor(data.test_labels)
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 8, 3, bias=False), torch.nn.MaxPool2d(2), torch.nn.Flatten(),
                              torch.nn.Linear(8 * 13 * 13, 10))
    torch.nn.init.xavier_uniform_(net[0].weight)
    torch.nn.init.xavier_uniform_(net[3].weight)
    torch.nn.init.zeros_(net[3].bias)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.005)
    for _ in range(3):
        for i in rng.permutation(len(x_train)):
            optimizer.zero_grad()
            probabilities = torch.softmax(net(x_train[i:i + 1]), dim=1).clamp(1e-7, 1 - 1e-7)
            (-torch.log(probabilities[0, y_train[i]])).backward()
            optimizer.step()
    with torch.no_grad():
        return float((net(x_test).argmax(dim=1) == y_test).float().mean())


def check_keras_twin(data, seeds: int) -> None:
    import torch

    torch.set_num_threads(1)     # batch 1: threads only add overhead
    accuracies = []
    for seed in range(seeds):
        accuracies.append(keras_twin_test_accuracy(data, seed))
        print(f"  seed {seed}: test accuracy {accuracies[-1]:.2%}", flush=True)
    print(f"Keras's recipe in PyTorch (torch {torch.__version__}), test accuracy over {seeds} seeds: "
          f"mean {np.mean(accuracies):.2%}, min {min(accuracies):.2%}, max {max(accuracies):.2%}; "
          f"Keras's one run: 97.4%")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("check", choices=("init", "preprocessing", "keras-twin", "all"))
    parser.add_argument("--seeds", type=int, default=None,
                        help="default: 3 for init, 5 for preprocessing and keras-twin")
    args = parser.parse_args(argv)
    data = load_dataset("mnist")
    start = time.perf_counter()
    if args.check in ("init", "all"):
        check_init(data, args.seeds or 3)
    if args.check in ("preprocessing", "all"):
        check_preprocessing(data, args.seeds or 5)
    if args.check in ("keras-twin", "all"):
        check_keras_twin(data, args.seeds or 5)
    print(f"({time.perf_counter() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
