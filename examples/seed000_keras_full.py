"""The 3x3-conv tutorial's Keras comparison: the same net, SGD lr 0.005, batch 1, 3 epochs on all
of MNIST's training images (Keras reports 97.4% test accuracy).

    python examples/seed000_keras_full.py
"""
from _common import run_experiment

from barecnn.train import TrainConfig

run_experiment(
    "3x3 net, full MNIST, SGD 0.005, batch 1, 3 epochs (the Keras settings)",
    TrainConfig(model="seed000", epochs=3, batch_size=1, optimizer="sgd", lr=0.005, momentum=0.0, val_size=5000),
    tutorial_result="97.4% test accuracy with Keras after 3 epochs",
    explanation="the same model and update rule; we train on 55,000 images and hold 5,000 out for validation, "
                "Keras trained on all 60,000, and initialisations differ (Keras: Glorot uniform; ours: the "
                "tutorial's randn/9 and randn/input_len).")
