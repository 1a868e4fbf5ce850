"""The model zoo: every entry builds, runs forward and backward, and rebuilds from its description."""
from __future__ import annotations

import json

import numpy as np
import pytest

from barecnn import models, nn
from barecnn.data import Preprocess

ZOO_NAMES = list(models.ZOO)


@pytest.fixture(scope="module")
def raw_batch():
    """Four raw uint8 digits-shaped images (0 = background)."""
    return np.random.default_rng(7).integers(0, 256, size=(4, 28, 28), dtype=np.uint8)


def test_zoo_lists_the_tutorials_and_the_default():
    assert {"seed000", "seed001", "seed004", "threelayer", "lenet5", "kerascnn", "barenet"} <= set(ZOO_NAMES)
    assert models.DEFAULT_MODEL in models.ZOO


@pytest.mark.parametrize("name", ZOO_NAMES)
def test_forward_backward_on_a_batch_of_four(name, raw_batch):
    model = models.create(name, rng=np.random.default_rng(0))
    assert isinstance(model, models.Classifier) and model.name == name
    model.train()
    x = model.preprocess(raw_batch, dtype=model.dtype)
    assert x.shape == (4, 1, 28, 28) and x.dtype == np.float32
    logits = model(x)
    assert logits.shape == (4, 10) and logits.dtype == np.float32
    assert np.all(np.isfinite(logits))
    criterion = nn.CrossEntropyLoss()
    loss = criterion(logits, np.array([0, 1, 2, 3]))
    assert np.isfinite(loss)
    model.zero_grad()
    dx = model.backward(criterion.backward())
    assert dx.shape == x.shape and np.all(np.isfinite(dx))
    for pname, param in model.named_parameters():
        assert param.grad is not None, f"{name}: no gradient for {pname}"
        assert param.grad.shape == param.data.shape
        assert np.all(np.isfinite(param.grad))
    # The classifier has to learn something: the last layer's weight gradient is not all zero.
    last = [p for p in model.parameters()][-2]
    assert np.any(last.grad != 0)


@pytest.mark.parametrize("name", ZOO_NAMES)
def test_parameter_count_and_flops_are_positive(name):
    model = models.create(name, rng=np.random.default_rng(0))
    assert models.count_parameters(model) > 0
    assert models.count_parameters(model) == sum(v.size for k, v in model.state_dict().items()
                                                 if not k.endswith(("running_mean", "running_var",
                                                                    "num_batches_tracked")))
    model.train()
    assert models.flops_per_image(model) > 0
    assert model.training, "flops_per_image must restore the training flag"


def test_known_parameter_counts():
    """Counts that follow from the architectures in the docstrings."""
    lenet5 = (1 * 6 * 25 + 6) + (6 * 16 * 25 + 16) + (400 * 120 + 120) + (120 * 84 + 84) + (84 * 10 + 10)
    seed000 = 8 * 9 + (1352 * 10 + 10)
    seed001 = (2 * 16 + 2) + (50 * 10 + 10)
    expected = {"lenet5": lenet5, "seed000": seed000, "seed001": seed001}
    for name, count in expected.items():
        assert models.count_parameters(models.create(name, rng=np.random.default_rng(0))) == count, name


@pytest.mark.parametrize("name", ZOO_NAMES)
def test_predict_runs_in_eval_mode_and_restores_the_flag(name, raw_batch):
    model = models.create(name, rng=np.random.default_rng(0)).train()
    first = model.predict_proba(raw_batch)
    assert first.shape == (4, 10)
    np.testing.assert_allclose(first.sum(axis=1), 1.0, rtol=1e-5)
    assert model.training
    # Deterministic: dropout is off in predict.
    np.testing.assert_array_equal(first, model.predict_proba(raw_batch))
    assert model.predict(raw_batch).shape == (4,)


@pytest.mark.parametrize("name", ZOO_NAMES)
def test_config_is_json_and_rebuilds_the_same_architecture(name):
    model = models.create(name, rng=np.random.default_rng(0))
    config = json.loads(json.dumps(model.config()))
    rebuilt = models.from_config(config)
    assert rebuilt.name == name
    assert {k: v.shape for k, v in rebuilt.state_dict().items()} == {k: v.shape for k, v in model.state_dict().items()}
    assert rebuilt.preprocess == model.preprocess


def test_same_rng_same_weights_different_rng_different_weights():
    a = models.create("lenet5", rng=np.random.default_rng(3)).state_dict()
    b = models.create("lenet5", rng=np.random.default_rng(3)).state_dict()
    c = models.create("lenet5", rng=np.random.default_rng(4)).state_dict()
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["0.weight"], c["0.weight"])


def test_seed000_initialisation_matches_the_tutorial():
    """filters randn / 9, dense weights randn / 1352, zero biases, input x / 255 - 0.5."""
    model = models.create("seed000", rng=np.random.default_rng(0))
    conv, dense = model[0], model[3]
    assert conv.weight.shape == (8, 1, 3, 3) and conv.bias is None
    assert set(model.state_dict()) == {"0.weight", "3.weight", "3.bias"}
    assert abs(conv.weight.data.std() - 1 / 9) < 0.3 / 9
    assert abs(conv.weight.data.mean()) < 0.4 / 9
    assert dense.weight.shape == (10, 1352)
    assert abs(dense.weight.data.std() - 1 / 1352) < 0.05 / 1352
    assert np.all(dense.bias.data == 0)
    assert model.preprocess == Preprocess.for_mode("center")
    x = model.preprocess(np.array([[0, 255] * 392], dtype=np.uint8).reshape(28, 28))
    assert x.min() == pytest.approx(-0.5) and x.max() == pytest.approx(0.5)


def test_seed000_without_rng_uses_the_global_generator():
    from barecnn import random as barecnn_random
    barecnn_random.seed(11)
    a = models.create("seed000").state_dict()
    barecnn_random.seed(11)
    b = models.create("seed000").state_dict()
    assert all(np.array_equal(a[k], b[k]) for k in a)


def test_unknown_model_lists_the_names():
    with pytest.raises(ValueError) as info:
        models.create("nope")
    message = str(info.value)
    assert "nope" in message
    for name in ZOO_NAMES:
        assert name in message


def test_from_config_rejects_unknown_layer_types():
    config = models.create("seed001", rng=np.random.default_rng(0)).config()
    config["layers"][0] = ["Lambda", {"code": "import os"}]
    with pytest.raises(ValueError, match="unknown layer type 'Lambda'"):
        models.from_config(config)
    with pytest.raises(ValueError, match="missing"):
        models.from_config({"layers": []})


@pytest.mark.parametrize("name", sorted(models.ZOO))
def test_num_classes_is_the_output_width(name):
    model = models.create(name, rng=np.random.default_rng(0))
    assert model.num_classes == 10


def test_num_classes_of_a_described_model():
    three = models.from_config({"name": "tiny", "layers": [["Flatten", {}], ["Linear", {"in_features": 12 * 9,
                                "out_features": 3}]], "preprocess": Preprocess.for_mode("scale", 12, 9).to_config()})
    assert three.num_classes == 3
