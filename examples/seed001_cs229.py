"""The CS229-style tutorial: conv 4x4x2 -> max-pool 5 -> ReLU -> dense -> softmax, plain SGD
lr 1e-2, batch 16, 400 batches, with a 400-sample dev split.

    python examples/seed001_cs229.py
"""
from _common import command_line, run_experiment

from barecnn.train import TrainConfig

run_experiment(
    "CS229-style net: batch 16, 400 batches, lr 1e-2, 400-image dev split",
    TrainConfig(model="seed001", epochs=1, batch_size=16, optimizer="sgd", lr=1e-2, momentum=0.0, val_size=400),
    tutorial_result="the tutorial reports dev-set accuracy while it trains; no final test figure is quoted for it",
    explanation="400 batches of 16 is only 6,400 images seen once, and two 4x4 filters pooled to 50 features "
                "is a tiny model, so roughly 80% is what this network reaches in that budget.",
    train_size=400 * 16, options=command_line(seeds=5))
