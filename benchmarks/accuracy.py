"""Full-accuracy runs behind the README's results table (minutes each: a benchmark, not a test).

Each row runs the `barecnn train` command exactly as a user would, times it, and reads the test
accuracy from its last line. Hyperparameters were chosen on the validation split that `barecnn
train` holds out of the training data; the test set is scored once, at the end of each run.

    python benchmarks/accuracy.py                      # every row
    python benchmarks/accuracy.py --rows barenet lenet5
    python benchmarks/accuracy.py --list
"""
from __future__ import annotations

import argparse
import json
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

# name -> (command arguments after `barecnn train`, reference number for the README)
ROWS = {
    "barenet": ("--model barenet", "target 99.5% in <= 10 min"),
    "barenet-fashion": ("--model barenet --dataset fashion-mnist", "small BN CNNs: 92.5-93.4%"),
    "lenet5": ("--model lenet5", "LeNet-5: 99.05%"),
    "kerascnn": ("--model kerascnn", "Keras example: 99.25% after 12 epochs"),
    "seed000-keras": ("--model seed000 --epochs 3 --batch-size 1 --optimizer sgd --lr 0.005 --momentum 0 --val-size 0",
                      "Keras, same net: 97.4%"),
    "seed000-1k": ("--model seed000 --epochs 3 --batch-size 1 --optimizer sgd --lr 0.005 --momentum 0 "
                   "--train-size 1000 --test-size 1000 --val-size 0", "tutorial: 78%"),
    "seed004": ("--model seed004 --epochs 1 --train-size 8000 --batch-size 4 --optimizer sgd --lr 0.01 "
                "--momentum 0.9 --schedule inverse-time --lr-decay 1e-5", "tutorial: 92.82%"),
    "threelayer": ("--model threelayer --epochs 1", "cs231n: learns in one epoch"),
}


def run_row(name: str, out_root: Path) -> dict:
    args, reference = ROWS[name]
    out = out_root / name
    command = [sys.executable, "-m", "barecnn", "train", *shlex.split(args), "--out", str(out), "--no-progress"]
    print("$ barecnn train " + args, flush=True)
    start = time.perf_counter()
    completed = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    lines = completed.stdout.strip().splitlines()
    print("\n".join(lines[-4:]), flush=True)
    if completed.returncode != 0:
        print(completed.stderr, file=sys.stderr)
        return {"row": name, "error": completed.stderr.strip()}
    history = json.loads((out / "history.json").read_text())
    accuracy = float(re.search(r"test accuracy ([0-9.]+)", lines[-1]).group(1))
    train_time = re.search(r"training took ([0-9.]+) s", completed.stdout)
    return {"row": name, "command": "barecnn train " + args, "epochs": len(history["train_acc"]),
            "train_seconds": float(train_time.group(1)) if train_time else seconds, "wall_seconds": seconds,
            "test_accuracy": accuracy, "best_val_accuracy": history["best_val_acc"], "reference": reference}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", nargs="+", choices=list(ROWS), default=list(ROWS))
    parser.add_argument("--out", default="runs/accuracy", help="where the runs' folders go")
    parser.add_argument("--list", action="store_true")
    args = parser.parse_args()
    if args.list:
        for name, (row_args, reference) in ROWS.items():
            print(f"{name:16} barecnn train {row_args}   ({reference})")
        return 0
    results = [run_row(name, Path(args.out)) for name in args.rows]
    print("\n| model | command | epochs | training time | test accuracy | reference |")
    print("|---|---|---|---|---|---|")
    for r in results:
        if "error" in r:
            print(f"| {r['row']} | failed: {r['error']} | | | | |")
            continue
        print(f"| {r['row']} | `{r['command']}` | {r['epochs']} | {r['train_seconds'] / 60:.1f} min | "
              f"{r['test_accuracy']:.2%} | {r['reference']} |")
    Path(args.out).mkdir(parents=True, exist_ok=True)
    (Path(args.out) / "results.json").write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
