"""Model files: save -> load -> predict, refusing anything that is not an intact barecnn file,
atomic writes, and PyTorch state_dict exchange (torch as the oracle)."""
from __future__ import annotations

import json
import os
import stat
import zipfile

import numpy as np
import pytest

import barecnn
from barecnn import io, models
from barecnn.data import Preprocess

ZOO_NAMES = list(models.ZOO)


def raw_digits(n=6, seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=(n, 28, 28), dtype=np.uint8)


def zoo_model(name, seed=0):
    """A zoo model with non-default preprocessing and, for BatchNorm, non-trivial running statistics."""
    model = models.create(name, rng=np.random.default_rng(seed))
    model.preprocess = Preprocess.fit(raw_digits(20, seed=seed + 1), model.preprocess.mode)
    model.train()
    model(model.preprocess(raw_digits(8, seed=seed + 2)))   # updates BatchNorm buffers (if any)
    return model.eval()


def logits(model, images):
    model.eval()
    return model(model.preprocess(images, dtype=model.dtype))


def files_in(directory):
    return sorted(p.name for p in directory.iterdir())


# ------------------------------------------------------------------------------ round trip
@pytest.mark.parametrize("name", ZOO_NAMES)
def test_save_load_predict_round_trip(name, tmp_path):
    model = zoo_model(name)
    images = raw_digits(5, seed=9)
    path = io.save(model, tmp_path / f"{name}.npz")
    assert path == tmp_path / f"{name}.npz" and path.is_file()
    loaded = io.load(path)
    assert isinstance(loaded, models.Classifier) and loaded.name == name
    assert not loaded.training and not any(m.training for m in loaded.modules()), "load must return eval mode"
    assert loaded.preprocess == model.preprocess
    assert loaded.spec == json.loads(json.dumps(model.spec))
    state, loaded_state = model.state_dict(), loaded.state_dict()
    assert list(loaded_state) == list(state)
    for key in state:
        assert loaded_state[key].dtype == state[key].dtype, key
        np.testing.assert_array_equal(loaded_state[key], state[key], err_msg=key)
    np.testing.assert_array_equal(logits(loaded, images), logits(model, images))
    np.testing.assert_array_equal(loaded.predict_proba(images), model.predict_proba(images))


def test_loaded_model_reads_raw_uint8_in_every_layout(tmp_path):
    model = zoo_model("lenet5")
    loaded = io.load(io.save(model, tmp_path / "m.npz"))
    images = raw_digits(4, seed=3)
    expected = model.predict_proba(images)
    np.testing.assert_array_equal(loaded.predict_proba(images), expected)                  # (N, 28, 28)
    np.testing.assert_array_equal(loaded.predict_proba(images[:, None]), expected)         # (N, 1, 28, 28)
    np.testing.assert_array_equal(loaded.predict_proba(images[2]), model.predict_proba(images[2:3]))  # (28, 28)
    np.testing.assert_allclose(loaded.predict_proba(images[2]), expected[2:3], rtol=1e-5)  # BLAS batch rounding
    np.testing.assert_array_equal(loaded.predict(images), expected.argmax(axis=1))
    assert loaded.predict(images[0]).shape == (1,)


def test_preprocessing_travels_with_the_file(tmp_path):
    """A model standardised on bright images must not be read back with MNIST's statistics."""
    model = models.create("seed001", rng=np.random.default_rng(0))
    model.preprocess = Preprocess("standardize", mean=0.7, std=0.2)
    loaded = io.load(io.save(model, tmp_path / "m.npz"))
    assert loaded.preprocess == Preprocess("standardize", mean=0.7, std=0.2)
    assert loaded.preprocess != models.STANDARDIZE


def test_top_level_save_and_load(tmp_path):
    model = zoo_model("seed001")
    path = barecnn.save(model, tmp_path / "top.npz")
    loaded = barecnn.load(path)
    np.testing.assert_array_equal(loaded.predict_proba(raw_digits()), model.predict_proba(raw_digits()))
    assert barecnn.load(str(path)).name == "seed001"      # str paths work too


def test_float64_model_round_trips_as_float64(tmp_path):
    model = zoo_model("seed004").double()
    loaded = io.load(io.save(model, tmp_path / "m64.npz"))
    assert loaded.dtype == np.float64
    np.testing.assert_array_equal(logits(loaded, raw_digits()), logits(model, raw_digits()))


def test_save_creates_parent_folders_and_overwrites(tmp_path):
    target = tmp_path / "a" / "b" / "m.npz"
    io.save(zoo_model("seed001", seed=0), target)
    second = zoo_model("seed001", seed=5)
    io.save(second, target)
    np.testing.assert_array_equal(io.load(target).state_dict()["0.weight"], second.state_dict()["0.weight"])
    assert files_in(target.parent) == ["m.npz"]


def test_save_refuses_a_plain_module(tmp_path):
    from barecnn import nn
    with pytest.raises(TypeError, match="Classifier"):
        io.save(nn.Sequential(nn.Linear(2, 2)), tmp_path / "x.npz")
    assert not (tmp_path / "x.npz").exists()


def test_file_holds_a_json_header_and_torch_keys(tmp_path):
    path = io.save(zoo_model("lenet5"), tmp_path / "m.npz")
    with np.load(path, allow_pickle=False) as npz:
        keys = set(npz.files)
        header = json.loads(npz[io.HEADER_KEY].tobytes().decode("utf-8"))
    assert header["format"] == io.FORMAT and header["kind"] == "model" and header["model"]["name"] == "lenet5"
    assert {"model/0.weight", "model/0.bias", "model/11.weight", "model/11.bias"} <= keys


# ------------------------------------------------------------------------------- refusals
class PickleBomb:
    """Unpickling this creates ``marker`` (via ``open(marker, 'w')``): proof that code ran."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_the_pickle_bomb_really_goes_off_when_pickle_is_allowed(tmp_path):
    """Sanity check of the test below: numpy with allow_pickle=True would run it."""
    marker = tmp_path / "ran"
    np.savez(tmp_path / "bomb.npz", obj=np.array([PickleBomb(marker)], dtype=object))
    with np.load(tmp_path / "bomb.npz", allow_pickle=True) as npz:
        npz["obj"][0].close()
    assert marker.exists()


@pytest.mark.parametrize("with_header", [False, True], ids=["bare", "inside-a-model-file"])
def test_pickled_object_arrays_are_refused_without_unpickling(tmp_path, with_header):
    marker = tmp_path / "PWNED"
    path = tmp_path / "evil.npz"
    payload = {"obj": np.array([PickleBomb(marker)], dtype=object)}
    if with_header:
        model = zoo_model("seed001")
        header = json.dumps(io.model_header(model)).encode("utf-8")
        payload = {io.HEADER_KEY: np.frombuffer(header, dtype=np.uint8), **io.model_arrays(model), **payload}
    np.savez(path, **payload)
    with pytest.raises(ValueError) as info:
        io.load(path)
    assert "pickle" in str(info.value) and str(path) in str(info.value)
    assert not marker.exists(), "loading a model file executed pickled code"
    with pytest.raises(ValueError, match="pickle"):
        io.load_arrays(path)
    assert not marker.exists()


def test_save_refuses_object_arrays(tmp_path):
    with pytest.raises(TypeError, match="pickle"):
        io.save_arrays(tmp_path / "x.npz", {"format": io.FORMAT}, {"obj": np.array([object()], dtype=object)})
    assert files_in(tmp_path) == []


def test_truncated_file_is_a_value_error_naming_it(tmp_path):
    path = io.save(zoo_model("lenet5"), tmp_path / "m.npz")
    data = path.read_bytes()
    for keep in (len(data) // 2, len(data) - 30, 10):
        path.write_bytes(data[:keep])
        with pytest.raises(ValueError) as info:
            io.load(path)
        assert str(path) in str(info.value)


def test_garbage_bytes_are_a_value_error_naming_the_file(tmp_path):
    path = tmp_path / "garbage.npz"
    for content in (os.urandom(2000), b"", b"PK\x03\x04" + os.urandom(500), b"hello, I am not a model\n" * 20):
        path.write_bytes(content)
        with pytest.raises(ValueError) as info:
            io.load(path)
        assert str(path) in str(info.value)


def test_garbage_bytes_are_not_reported_as_pickled(tmp_path):
    path = tmp_path / "notes.npz"
    path.write_bytes(b"hello, I am not a model\n" * 20)
    with pytest.raises(ValueError) as info:
        io.load(path)
    assert "pickle" not in str(info.value)


def test_a_plain_npy_file_is_a_value_error_naming_the_file(tmp_path):
    np.save(tmp_path / "weights.npy", np.zeros((3, 3), np.float32))
    path = tmp_path / "weights.npz"
    os.replace(tmp_path / "weights.npy", path)
    with pytest.raises(ValueError) as info:
        io.load(path)
    assert str(path) in str(info.value)


def test_plain_npz_without_header_is_refused(tmp_path):
    path = tmp_path / "state.npz"
    np.savez(path, **zoo_model("lenet5").state_dict())
    with pytest.raises(ValueError) as info:
        io.load(path)
    assert str(path) in str(info.value) and "import_state_dict" in str(info.value)


def _rewrite(path, new_path, change_header=None, change_arrays=None):
    header, arrays = io.load_arrays(path)
    if change_header:
        change_header(header)
    if change_arrays:
        change_arrays(arrays)
    io.save_arrays(new_path, header, arrays)
    return new_path


def test_header_of_another_architecture_is_refused(tmp_path):
    lenet = io.save(zoo_model("lenet5"), tmp_path / "lenet.npz")
    seed001_config = models.create("seed001", rng=np.random.default_rng(0)).config()
    path = _rewrite(lenet, tmp_path / "mixed.npz", change_header=lambda h: h.update(model=seed001_config))
    with pytest.raises(ValueError) as info:
        io.load(path)
    assert str(path) in str(info.value) and "do not fit" in str(info.value)


def test_weights_of_the_wrong_shape_are_refused(tmp_path):
    lenet = io.save(zoo_model("lenet5"), tmp_path / "lenet.npz")

    def shrink(arrays):
        arrays["model/0.weight"] = arrays["model/0.weight"][:5]
    path = _rewrite(lenet, tmp_path / "shape.npz", change_arrays=shrink)
    with pytest.raises(ValueError) as info:
        io.load(path)
    assert str(path) in str(info.value)

    def drop(arrays):
        del arrays["model/9.bias"]
    path = _rewrite(lenet, tmp_path / "missing.npz", change_arrays=drop)
    with pytest.raises(ValueError, match="9.bias"):
        io.load(path)


@pytest.mark.parametrize("change", [
    lambda h: h.update(format="something-else"),
    lambda h: h.update(version=99),
    lambda h: h.update(model={"name": "x", "layers": [["Exec", {"code": "1"}]], "preprocess": {"mode": "scale"}}),
    lambda h: h.update(model={"name": "x"}),
    lambda h: h.pop("model"),
], ids=["format", "newer-version", "unknown-layer", "incomplete-model", "no-model"])
def test_bad_headers_are_value_errors_naming_the_file(tmp_path, change):
    path = _rewrite(io.save(zoo_model("seed001"), tmp_path / "m.npz"), tmp_path / "bad.npz", change_header=change)
    with pytest.raises(ValueError) as info:
        io.load(path)
    assert str(path) in str(info.value)


def test_header_that_is_not_json_is_refused(tmp_path):
    path = tmp_path / "m.npz"
    np.savez(path, **{io.HEADER_KEY: np.frombuffer(b"\xff{not json", dtype=np.uint8)})
    with pytest.raises(ValueError, match="corrupt header"):
        io.load(path)


def test_non_integer_version_is_a_value_error(tmp_path):
    path = _rewrite(io.save(zoo_model("seed001"), tmp_path / "m.npz"), tmp_path / "bad.npz",
                    change_header=lambda h: h.update(version="2"))
    with pytest.raises(ValueError) as info:
        io.load(path)
    assert str(path) in str(info.value)


def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.npz"):
        io.load(tmp_path / "nope.npz")
    with pytest.raises(FileNotFoundError):
        io.import_state_dict(models.create("seed001"), tmp_path / "nope.npz")
    with pytest.raises(FileNotFoundError):     # a folder is not a model file
        io.load(tmp_path)


# ---------------------------------------------------------------------------- atomic writes
@pytest.mark.parametrize("error", [OSError("disk full"), KeyboardInterrupt()], ids=["OSError", "KeyboardInterrupt"])
def test_failed_write_leaves_the_old_file_and_no_temp_files(tmp_path, monkeypatch, error):
    old_model = zoo_model("seed001", seed=0)
    path = io.save(old_model, tmp_path / "m.npz")
    old_bytes = path.read_bytes()
    real_savez = np.savez

    def savez_then_fail(file, *args, **kwargs):
        file.write(b"PK\x03\x04 half a zip file")   # some bytes reach the temp file first
        file.flush()
        raise error

    monkeypatch.setattr(np, "savez", savez_then_fail)
    with pytest.raises(type(error)):
        io.save(zoo_model("seed001", seed=1), path)
    monkeypatch.setattr(np, "savez", real_savez)
    assert path.read_bytes() == old_bytes
    assert files_in(tmp_path) == ["m.npz"], "a temp file was left behind"
    np.testing.assert_array_equal(io.load(path).state_dict()["0.weight"], old_model.state_dict()["0.weight"])


def test_failed_first_write_leaves_nothing(tmp_path, monkeypatch):
    def fail(*args, **kwargs):
        raise OSError("no space left")
    monkeypatch.setattr(np, "savez", fail)
    with pytest.raises(OSError):
        io.save(zoo_model("seed001"), tmp_path / "m.npz")
    assert files_in(tmp_path) == []


def test_saved_files_follow_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        path = io.save(zoo_model("seed001"), tmp_path / "m.npz")
        reference = tmp_path / "plain"
        reference.write_bytes(b"x")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == stat.S_IMODE(reference.stat().st_mode) == 0o644


# ------------------------------------------------------------------ PyTorch state_dict exchange
def torch_twin(model):
    """The torch.nn.Sequential with the same layers in the same order (so the same state_dict keys)."""
    torch = pytest.importorskip("torch")
    layers = []
    for kind, kwargs in model.spec:
        if kind == "GlobalAvgPool2d":
            layers.append(torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten()))
        else:
            layers.append(getattr(torch.nn, kind)(**kwargs))
    return torch.nn.Sequential(*layers).double()


def test_torch_twin_of_lenet5_is_the_textbook_network():
    torch = pytest.importorskip("torch")
    twin = torch_twin(models.create("lenet5"))
    assert [type(m).__name__ for m in twin] == ["Conv2d", "ReLU", "MaxPool2d", "Conv2d", "ReLU", "MaxPool2d",
                                                 "Flatten", "Linear", "ReLU", "Linear", "ReLU", "Linear"]


@pytest.mark.parametrize("name", ["lenet5", "barenet", "seed000"])
def test_export_to_torch_gives_identical_outputs(name, tmp_path):
    torch = pytest.importorskip("torch")
    ours = zoo_model(name).double().eval()
    path = io.export_state_dict(ours, tmp_path / "sd.npz")
    with np.load(path, allow_pickle=False) as npz:
        state = {key: torch.from_numpy(npz[key]) for key in npz.files}
    assert list(state) == list(ours.state_dict())
    twin = torch_twin(ours)
    twin.load_state_dict(state)          # strict: every key and shape must match
    twin.eval()
    x = ours.preprocess(raw_digits(3), dtype=np.float64)
    with torch.no_grad():
        expected = twin(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(ours(x), expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", ["lenet5", "barenet", "kerascnn"])
def test_import_from_torch_gives_identical_outputs(name, tmp_path):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    ours = models.create(name, rng=np.random.default_rng(0)).double()
    twin = torch_twin(ours)
    twin.train()
    with torch.no_grad():
        twin(torch.randn(8, 1, 28, 28, dtype=torch.float64))   # non-trivial BatchNorm statistics
    twin.eval()
    path = tmp_path / "from_torch.npz"
    np.savez(path, **{key: value.numpy() for key, value in twin.state_dict().items()})
    assert io.import_state_dict(ours, path) is ours
    ours.eval()
    x = ours.preprocess(raw_digits(3), dtype=np.float64)
    with torch.no_grad():
        expected = twin(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(ours(x), expected, rtol=1e-10, atol=1e-12)


def test_import_state_dict_refuses_pickles_and_garbage(tmp_path):
    marker = tmp_path / "PWNED"
    np.savez(tmp_path / "evil.npz", obj=np.array([PickleBomb(marker)], dtype=object))
    with pytest.raises(ValueError):
        io.import_state_dict(models.create("seed001"), tmp_path / "evil.npz")
    assert not marker.exists()
    (tmp_path / "junk.npz").write_bytes(os.urandom(300))
    with pytest.raises(ValueError, match="junk.npz"):
        io.import_state_dict(models.create("seed001"), tmp_path / "junk.npz")


def test_export_writes_a_plain_npz_without_header(tmp_path):
    path = io.export_state_dict(zoo_model("seed001"), tmp_path / "sd.npz")
    assert zipfile.is_zipfile(path)
    with np.load(path, allow_pickle=False) as npz:
        assert io.HEADER_KEY not in npz.files
        assert set(npz.files) == {"0.weight", "0.bias", "4.weight", "4.bias"}
