"""Safe model files: round trips, integrity checks, and every refusal."""

from __future__ import annotations

import json
import pickle
import warnings

import numpy as np
import pytest
import torch
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from torch import nn

import bastion
from bastion.exceptions import InputTypeError, UnsafeFileError, ValidationError
from bastion.models import OnnxModel, SklearnModel, TorchModel, io, zoo

from .conftest import SHAPE, export


def save_torchscript(module: nn.Module, path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # torch deprecates TorchScript
        torch.jit.save(torch.jit.trace(module, torch.zeros(1, *SHAPE)), path)


@pytest.fixture()
def zoo_model(tiny_module) -> TorchModel:
    return TorchModel(tiny_module, input_shape=SHAPE, n_classes=3, clip=(0.0, 2.0), preprocessing=(0.5, [0.25]))


@pytest.fixture(scope="module")
def table():
    rng = np.random.default_rng(0)
    x = rng.random((60, 4))
    return x, (x[:, 0] > 0.5).astype(int)


def test_zoo_model_round_trip_gives_the_same_logits_clip_and_preprocessing(tmp_path, zoo_model, tiny_x):
    loaded = io.load(io.save(zoo_model, tmp_path / "model"))
    assert isinstance(loaded, TorchModel) and isinstance(loaded.module, zoo.ZooNet)
    assert loaded.clip == (0.0, 2.0) and loaded.input_shape == SHAPE and loaded.n_classes == 3
    np.testing.assert_array_equal(loaded.logits(tiny_x * 2), zoo_model.logits(tiny_x * 2))


def test_zoo_spec_records_architecture_shapes_hash_and_version(tmp_path, zoo_model):
    folder = io.save(zoo_model, tmp_path / "model")
    spec = json.loads((folder / "model.json").read_text())
    assert spec["arch"] == "small_cnn" and spec["config"] == zoo_model.module.config
    assert spec["input_shape"] == [1, 4, 4] and spec["n_classes"] == 3 and spec["clip"] == [0.0, 2.0]
    assert spec["preprocessing"] == {"mean": 0.5, "std": [0.25]}
    assert spec["file"] == "weights.safetensors" and spec["sha256"] == io.sha256(folder / "weights.safetensors")
    assert spec["bastion_version"] == bastion.__version__


def test_changed_weights_are_refused_naming_the_file(tmp_path, zoo_model):
    folder = io.save(zoo_model, tmp_path / "model")
    weights = folder / "weights.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0x01
    weights.write_bytes(bytes(data))
    with pytest.raises(UnsafeFileError, match=r"weights.safetensors: SHA-256 .* does not match"):
        io.load(folder)


def test_spec_naming_an_unknown_architecture_is_refused(tmp_path, zoo_model):
    folder = io.save(zoo_model, tmp_path / "model")
    spec = json.loads((folder / "model.json").read_text())
    spec["arch"] = "resnet"
    (folder / "model.json").write_text(json.dumps(spec))
    with pytest.raises(ValidationError, match=r"`arch` must be one of"):
        io.load(folder)


def test_spec_with_a_config_that_does_not_fit_is_refused(tmp_path, zoo_model):
    folder = io.save(zoo_model, tmp_path / "model")
    spec = json.loads((folder / "model.json").read_text())
    spec["config"]["depth"] = 3
    (folder / "model.json").write_text(json.dumps(spec))
    with pytest.raises(ValidationError, match=r"config does not fit architecture 'small_cnn'"):
        io.load(folder)


def test_folder_without_a_spec_is_refused(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValidationError, match=r"must hold model.json"):
        io.load(tmp_path / "empty")


def test_missing_path_is_refused(tmp_path):
    with pytest.raises(ValidationError, match=r"existing model file or folder.*\(not found\)"):
        io.load(tmp_path / "nothing")


def test_module_outside_the_zoo_cannot_be_saved_and_the_error_points_to_onnx(tmp_path):
    model = TorchModel(nn.Sequential(nn.Flatten(), nn.Linear(16, 3)), input_shape=SHAPE, n_classes=3)
    with pytest.raises(ValidationError, match=r"only zoo architectures.*torch.onnx.export"):
        io.save(model, tmp_path / "model")


def test_saving_something_else_is_refused(tmp_path):
    with pytest.raises(InputTypeError, match=r"`model` must be a TorchModel"):
        io.save(object(), tmp_path / "model")


def test_saving_onto_an_existing_file_is_refused(tmp_path, zoo_model):
    (tmp_path / "file").write_text("")
    with pytest.raises(ValidationError, match=r"must be a folder"):
        io.save(zoo_model, tmp_path / "file")


def test_sklearn_round_trip_through_skops(tmp_path, table):
    x, y = table
    model = SklearnModel(LogisticRegression().fit(x, y), input_shape=(2, 2))
    loaded = io.load(io.save(model, tmp_path / "model"))
    assert isinstance(loaded, SklearnModel) and loaded.input_shape == (2, 2)
    np.testing.assert_array_equal(loaded.predict_proba(x.reshape(-1, 2, 2)), model.predict_proba(x.reshape(-1, 2, 2)))


def test_skops_types_outside_the_default_trust_are_listed_and_refused(tmp_path, table):
    x, y = table
    folder = io.save(SklearnModel(RandomForestClassifier(3, random_state=0).fit(x, y)), tmp_path / "model")
    with pytest.raises(UnsafeFileError, match=r"\['sklearn.tree._tree.Tree'\].*trusted=\[...\]"):
        io.load(folder)


def test_skops_types_the_caller_trusts_are_loaded(tmp_path, table):
    x, y = table
    model = SklearnModel(RandomForestClassifier(3, random_state=0).fit(x, y))
    loaded = io.load(io.save(model, tmp_path / "model"), trusted=["sklearn.tree._tree.Tree"])
    np.testing.assert_array_equal(loaded.predict_proba(x), model.predict_proba(x))


def test_bare_skops_file_loads(tmp_path, table):
    import skops.io

    x, y = table
    skops.io.dump(LogisticRegression().fit(x, y), tmp_path / "model.skops")
    assert io.load(tmp_path / "model.skops").n_classes == 2


def test_onnx_model_round_trip(tmp_path, tiny_x):
    module = zoo.mlp(SHAPE, 3, hidden=(5,), seed=0)
    model = OnnxModel(export(module, SHAPE), clip=(0.0, 2.0))
    loaded = io.load(io.save(model, tmp_path / "model"))
    assert isinstance(loaded, OnnxModel) and loaded.clip == (0.0, 2.0)
    np.testing.assert_array_equal(loaded.predict_proba(tiny_x), model.predict_proba(tiny_x))
    (tmp_path / "model.onnx").write_bytes(export(module, SHAPE))
    np.testing.assert_array_equal(io.load(tmp_path / "model.onnx").predict(tiny_x), model.predict(tiny_x))


@pytest.mark.parametrize("suffix", [".pkl", ".pickle", ".joblib"])
def test_pickle_suffixes_are_refused_with_why_and_what_instead(tmp_path, suffix):
    path = tmp_path / f"model{suffix}"
    path.write_bytes(b"anything")
    with pytest.raises(
        UnsafeFileError, match=r"refuses pickle files: unpickling runs arbitrary code.*safetensors.*ONNX.*skops"
    ):
        io.load(path)


def test_pickle_content_is_refused_whatever_the_suffix(tmp_path):
    path = tmp_path / "model.bin"
    path.write_bytes(pickle.dumps({"weights": [1, 2, 3]}))
    with pytest.raises(UnsafeFileError, match=r"refuses pickle files"):
        io.load(path)


def test_torch_legacy_format_is_a_pickle_and_is_refused(tmp_path, tiny_module):
    path = tmp_path / "weights.pt"
    torch.save(tiny_module.state_dict(), path, _use_new_zipfile_serialization=False)
    with pytest.raises(UnsafeFileError, match=r"refuses pickle files"):
        io.load(path)


def test_state_dict_needs_a_spec_and_loads_with_one(tmp_path, zoo_model, tiny_x):
    torch.save(zoo_model.module.state_dict(), tmp_path / "weights.pt")
    with pytest.raises(ValidationError, match=r"a state dict holds weights only; pass spec="):
        io.load(tmp_path / "weights.pt")
    spec = {"arch": "small_cnn", "config": zoo_model.module.config, "preprocessing": {"mean": 0.5, "std": 0.25}}
    loaded = io.load(tmp_path / "weights.pt", spec=spec)
    np.testing.assert_allclose(loaded.logits(tiny_x), zoo_model.logits(tiny_x), atol=1e-6)


def test_whole_module_saved_with_torch_save_is_diagnosed_as_a_pickled_module(tmp_path, tiny_module):
    torch.save(tiny_module, tmp_path / "model.pt")
    for spec in (None, {"arch": "small_cnn", "config": tiny_module.config}):
        with pytest.raises(UnsafeFileError, match=r"a pickled module \(the whole nn.Module.*never unpickles") as raised:
            io.load(tmp_path / "model.pt", spec=spec)
        assert "state_dict()" in str(raised.value) and "ONNX" in str(raised.value)
        assert "a state dict holds" not in str(raised.value)


def test_state_dict_with_a_saved_spec_file(tmp_path, zoo_model, tiny_x):
    folder = io.save(zoo_model, tmp_path / "model")
    torch.save(zoo_model.module.state_dict(), tmp_path / "weights.pt")
    loaded = io.load(tmp_path / "weights.pt", spec=folder / "model.json")
    np.testing.assert_allclose(loaded.logits(tiny_x), zoo_model.logits(tiny_x), atol=1e-6)


def test_state_dict_with_weights_of_another_architecture_is_refused(tmp_path, tiny_module):
    torch.save(tiny_module.state_dict(), tmp_path / "weights.pt")
    spec = {"arch": "mlp", "config": {"input_shape": [1, 4, 4], "n_classes": 3}}
    with pytest.raises(ValidationError, match=r"weights do not fit the architecture"):
        io.load(tmp_path / "weights.pt", spec=spec)


def test_torch_file_with_more_than_tensors_is_refused(tmp_path):
    torch.save({"weight": torch.zeros(2), "hook": print}, tmp_path / "weights.pt")
    with pytest.raises(UnsafeFileError, match=r"weights_only=True"):
        io.load(tmp_path / "weights.pt", spec={"arch": "mlp", "config": {"input_shape": [2], "n_classes": 2}})


def test_bare_safetensors_loads_with_a_spec_and_garbage_is_refused(tmp_path, zoo_model, tiny_x):
    from safetensors.torch import save_file

    save_file(zoo_model.module.state_dict(), str(tmp_path / "w.safetensors"))
    spec = {"arch": "small_cnn", "config": zoo_model.module.config, "preprocessing": {"mean": 0.5, "std": 0.25}}
    np.testing.assert_allclose(io.load(tmp_path / "w.safetensors", spec=spec).logits(tiny_x), zoo_model.logits(tiny_x))
    (tmp_path / "bad.safetensors").write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{garbage")
    with pytest.raises(ValidationError, match=r"bad.safetensors: not a readable safetensors file"):
        io.load(tmp_path / "bad.safetensors", spec=spec)


def test_zip_that_is_not_a_torch_file_is_refused(tmp_path):
    import zipfile

    with zipfile.ZipFile(tmp_path / "weights.pt", "w") as archive:
        archive.writestr("readme.txt", "hello")
    with pytest.raises(ValidationError, match=r"not a readable torch state dict"):
        io.load(tmp_path / "weights.pt", spec={"arch": "mlp", "config": {"input_shape": [2], "n_classes": 2}})


def test_torchscript_is_refused_without_trust_code(tmp_path, tiny_module):
    save_torchscript(tiny_module, tmp_path / "model.pt")
    with pytest.raises(UnsafeFileError, match=r"TorchScript archive is code.*trust_code=True"):
        io.load(tmp_path / "model.pt")


def test_torchscript_loads_with_trust_code(tmp_path, tiny_model, tiny_x):
    save_torchscript(tiny_model.module, tmp_path / "model.pt")
    loaded = io.load(tmp_path / "model.pt", trust_code=True, input_shape=SHAPE)
    assert loaded.n_classes == 3
    np.testing.assert_allclose(loaded.logits(tiny_x), tiny_model.logits(tiny_x), atol=1e-6)


def test_unknown_format_is_refused(tmp_path):
    (tmp_path / "model.h5").write_bytes(b"\x89HDF\r\n")
    with pytest.raises(ValidationError, match=r"unknown model format"):
        io.load(tmp_path / "model.h5")


def test_load_with_need_gradients_gives_the_white_box_view_of_an_onnx_graph(tmp_path, tiny_module, tiny_model, tiny_x):
    path = tmp_path / "tiny.onnx"
    path.write_bytes(export(tiny_module, SHAPE))
    assert isinstance(io.load(path), OnnxModel)
    white_box = io.load(path, need="gradients")
    assert isinstance(white_box, TorchModel)
    np.testing.assert_allclose(white_box.predict_proba(tiny_x), tiny_model.predict_proba(tiny_x), atol=1e-5)


def test_load_refuses_an_unknown_need(tmp_path, tiny_module):
    path = tmp_path / "tiny.onnx"
    path.write_bytes(export(tiny_module, SHAPE))
    with pytest.raises(ValidationError, match="`need` must be one of"):
        io.load(path, need="weights")


def test_save_records_the_test_accuracy_and_refuses_one_outside_the_unit_interval(tmp_path, zoo_model):
    folder = io.save(zoo_model, tmp_path / "model", test_accuracy=0.93)
    assert io.recorded_accuracy(folder) == 0.93
    assert io.recorded_accuracy(io.save(zoo_model, tmp_path / "plain")) is None
    with pytest.raises(ValidationError, match="`test_accuracy` must be a float in"):
        io.save(zoo_model, tmp_path / "bad", test_accuracy=1.5)
