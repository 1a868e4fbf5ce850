"""Constructors take PyTorch's arguments in PyTorch's order, so code moves both ways; options
barecnn does not implement are refused loudly at their non-default values, never ignored."""
import numpy as np
import pytest

from barecnn import nn

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("ours, theirs", [
    (lambda: nn.Conv2d(2, 3, 3, 2, 1, 1, 1, False), lambda: torch.nn.Conv2d(2, 3, 3, 2, 1, 1, 1, False)),
    (lambda: nn.MaxPool2d(3, 2, 1, 1, False, False), lambda: torch.nn.MaxPool2d(3, 2, 1, 1, False, False)),
    (lambda: nn.AvgPool2d(2, 2, 1, False, False), lambda: torch.nn.AvgPool2d(2, 2, 1, False, False)),
    (lambda: nn.LeakyReLU(0.2, True), lambda: torch.nn.LeakyReLU(0.2, False)),
    (lambda: nn.ReLU(True), lambda: torch.nn.ReLU(False)),
    (lambda: nn.Dropout(0.0, False), lambda: torch.nn.Dropout(0.0, False)),
])
def test_positional_arguments_mean_what_they_mean_in_torch(ours, theirs):
    ours, theirs = ours().double(), theirs().double()
    if hasattr(theirs, "weight") and theirs.weight is not None:
        ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((2, 2, 7, 7))
    np.testing.assert_allclose(ours(x), theirs(torch.from_numpy(x)).detach().numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("make, message", [
    (lambda: nn.Conv2d(1, 2, 3, dilation=2), "dilation"),
    (lambda: nn.Conv2d(2, 2, 3, groups=2), "groups"),
    (lambda: nn.Conv2d(1, 2, 3, padding_mode="reflect"), "padding_mode"),
    (lambda: nn.MaxPool2d(2, ceil_mode=True), "ceil_mode"),
    (lambda: nn.MaxPool2d(2, return_indices=True), "return_indices"),
    (lambda: nn.AvgPool2d(2, divisor_override=3), "divisor_override"),
    (lambda: nn.CrossEntropyLoss(weight=np.ones(3)), "weight"),
    (lambda: nn.CrossEntropyLoss(reduction="none"), "reduction"),
    (lambda: nn.CrossEntropyLoss(label_smoothing=1.5), "label_smoothing"),
])
def test_unsupported_options_are_refused(make, message):
    with pytest.raises(ValueError, match=message):
        make()


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_cross_entropy_reduction_matches_torch(reduction):
    rng = np.random.default_rng(1)
    logits, labels = rng.standard_normal((6, 4)), rng.integers(0, 4, 6)
    crit = nn.CrossEntropyLoss(reduction=reduction, label_smoothing=0.1)
    loss, grad = crit(logits, labels), crit.backward()
    t = torch.tensor(logits, requires_grad=True)
    expected = torch.nn.CrossEntropyLoss(reduction=reduction, label_smoothing=0.1)(t, torch.tensor(labels))
    expected.backward()
    assert loss == pytest.approx(expected.item(), rel=1e-12)
    np.testing.assert_allclose(grad, t.grad.numpy(), rtol=1e-10, atol=1e-14)
