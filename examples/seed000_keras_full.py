"""The 3x3-conv tutorial's Keras comparison: the same net, SGD lr 0.005, batch 1, 3 epochs on all
of MNIST's training images (Keras reports 97.4% test accuracy).

    python examples/seed000_keras_full.py
"""
from _common import run_experiment, seeds_from_command_line

from barecnn.train import TrainConfig

run_experiment(
    "3x3 net, full MNIST, SGD 0.005, batch 1, 3 epochs (the Keras settings)",
    TrainConfig(model="seed000", epochs=3, batch_size=1, optimizer="sgd", lr=0.005, momentum=0.0, val_size=5000),
    tutorial_result="97.4% test accuracy with Keras after 3 epochs",
    explanation="the same layers and update rule, but not the same model: Keras's Conv2D has biases (use_bias "
                "defaults to True) and Glorot-uniform weights, ours is the tutorial's bias-free conv with "
                "randn/9 and randn/input_len weights; Keras also trained on all 60,000 images, we hold 5,000 out "
                "for validation, and its 97.4% is one run.",
    seeds=seeds_from_command_line(3))
