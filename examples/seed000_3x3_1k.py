"""The 3x3-conv tutorial: conv 3x3x8 -> max-pool 2 -> softmax, plain SGD lr 0.005, batch 1,
3 epochs on 1,000 training images, tested on 1,000 test images (the tutorial reports 78%).

    python examples/seed000_3x3_1k.py
"""
from _common import command_line, run_experiment

from barecnn.train import TrainConfig

run_experiment(
    "3x3 net, 1k/1k, 3 epochs (the tutorial's experiment)",
    TrainConfig(model="seed000", epochs=3, batch_size=1, optimizer="sgd", lr=0.005, momentum=0.0, val_size=0),
    tutorial_result="78% test accuracy after 3 epochs (its printed log; 1k train / 1k test)",
    explanation="same network, initialisation, learning rate and batch size. With only 1,000 training "
                "images the result swings by several points with the initialisation and the subset (see the "
                "spread over seeds); the tutorial shows one run on the first 1,000 images of each set.",
    train_size=1000, test_size=1000, options=command_line(seeds=5))
