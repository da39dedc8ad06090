"""Property-based fuzzing of the loaders and of ``check_x``, inside the capped subprocess.

Each fuzz target is a hypothesis test run as one probe: malformed archives, headers,
specs, weights, graphs and arrays must end in a BastionError (or load), never in another
exception, a MemoryError under the cap, or a hang. Examples are bounded and derandomised,
so the suite is reproducible and stays fast.
"""

from __future__ import annotations

import pytest

from .conftest import run_probes

COMMON = """
import gzip, io, json, tempfile, zipfile
from pathlib import Path
import numpy as np
from hypothesis import given, settings, HealthCheck, strategies as st
from hypothesis.extra import numpy as hnp
from bastion.exceptions import BastionError

fuzz = settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                suppress_health_check=list(HealthCheck))
folder = Path(tempfile.mkdtemp(dir="."))

def survives(function, *args, **kwargs):
    try:
        function(*args, **kwargs)
    except BastionError:
        pass

def mutations(blob):
    # Truncations, byte flips and spliced garbage of a valid file.
    position = st.integers(0, max(len(blob) - 1, 0))
    truncated = position.map(lambda i: blob[:i])
    flipped = st.lists(st.tuples(position, st.integers(1, 255)), min_size=1, max_size=8).map(
        lambda flips: bytes(b ^ dict(flips).get(i, 0) for i, b in enumerate(blob)))
    spliced = st.tuples(position, st.binary(max_size=64)).map(lambda p: blob[:p[0]] + p[1] + blob[p[0]:])
    return st.one_of(truncated, flipped, spliced)
"""

NPZ = """
buffer = io.BytesIO()
np.savez_compressed(buffer, x_train=np.zeros((6, 3), np.float32), y_train=np.arange(6) % 3,
                    x_test=np.zeros((3, 3), np.float32), y_test=np.arange(3))
valid = buffer.getvalue()
header_dicts = st.fixed_dictionaries({
    "descr": st.sampled_from(["<f4", "<f8", "|u1", "|b1", "<c8", "|O", "<U3", "<M8[s]", "V8", "<i8", ">f4"]),
    "fortran_order": st.booleans(),
    "shape": st.lists(st.integers(0, 2**40), max_size=4).map(tuple),
})

@fuzz
@given(mutations(valid))
def mutated_archive(blob):
    path = folder / "d.npz"
    path.write_bytes(blob)
    survives(bastion.load, path)

@fuzz
@given(header_dicts, st.binary(max_size=256), st.sampled_from(["x_train", "y_train", "x_test"]))
def forged_member(header, data, key):
    member = io.BytesIO()
    np.lib.format.write_array_header_1_0(member, header)
    arrays = {"x_train": np.zeros((6, 3), np.float32), "y_train": np.arange(6) % 3,
              "x_test": np.zeros((3, 3), np.float32), "y_test": np.arange(3)}
    path = folder / "f.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, array in arrays.items():
            raw = io.BytesIO()
            np.save(raw, array)
            archive.writestr(f"{name}.npy", member.getvalue() + data if name == key else raw.getvalue())
    survives(bastion.load, path)

@fuzz
@given(st.binary(min_size=0, max_size=64), st.booleans())
def idx_file(blob, compressed):
    mnist = folder / "mnist"
    mnist.mkdir(exist_ok=True)
    header = bytes([0, 0, 0x08, 3]) + np.array([2, 28, 28], ">u4").tobytes()
    good = {"train-images-idx3-ubyte": header + bytes(2 * 784),
            "train-labels-idx1-ubyte": bytes([0, 0, 8, 1]) + np.array([2], ">u4").tobytes() + bytes([0, 1]),
            "t10k-images-idx3-ubyte": header + bytes(2 * 784),
            "t10k-labels-idx1-ubyte": bytes([0, 0, 8, 1]) + np.array([2], ">u4").tobytes() + bytes([0, 1])}
    for name, raw in good.items():
        for stale in (mnist / name, mnist / f"{name}.gz"):
            stale.unlink(missing_ok=True)
        raw = blob if name == "train-images-idx3-ubyte" else raw
        (mnist / (name + ".gz" if compressed else name)).write_bytes(gzip.compress(raw) if compressed else raw)
    survives(bastion.load, mnist)

mutated_archive(); forged_member(); idx_file()
result = "survived"
"""

MODEL_IO = """
import os
from bastion.models import TorchModel, io as model_io, zoo
module = zoo.mlp((1, 4, 4), 3, hidden=(4,), seed=0)
saved = model_io.save(TorchModel(module, input_shape=(1, 4, 4), n_classes=3), folder / "model")
spec = json.loads((saved / "model.json").read_text())
weights = (saved / "weights.safetensors").read_bytes()
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats() | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=12)
fields = st.sampled_from(["arch", "config", "input_shape", "n_classes", "clip", "preprocessing", "file", "kind"])

@fuzz
@given(st.dictionaries(fields, json_values, min_size=1, max_size=3))
def edited_spec(changes):
    (saved / "model.json").write_text(json.dumps({**spec, **changes}))
    survives(model_io.load, saved)

@fuzz
@given(st.dictionaries(st.sampled_from(["input_shape", "n_classes", "hidden", "seed", "channels"]), json_values,
                       min_size=1, max_size=3))
def edited_config(changes):
    (saved / "model.json").write_text(json.dumps({**spec, "config": {**spec["config"], **changes}}))
    survives(model_io.load, saved)

@fuzz
@given(mutations(weights))
def mutated_weights(blob):
    (saved / "weights.safetensors").write_bytes(blob)
    (saved / "model.json").write_text(json.dumps({**spec, "sha256": model_io.sha256(saved / "weights.safetensors")}))
    survives(model_io.load, saved)

@fuzz
@given(st.binary(max_size=2000))
def raw_bytes_as_every_format(blob):
    for suffix in (".onnx", ".skops", ".safetensors", ".pt", ".json"):
        path = folder / f"blob{suffix}"
        path.write_bytes(blob)
        survives(model_io.load, path, spec={"arch": "mlp", "config": spec["config"]})

edited_spec(); edited_config(); mutated_weights(); raw_bytes_as_every_format()
result = "survived"
"""

ONNX = """
import torch
from bastion.models import io as model_io, zoo
from bastion.models.onnx_graph import read_onnx
module = zoo.mlp((4,), 3, hidden=(4,), seed=0).eval()
buffer = io.BytesIO()
import warnings
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    torch.onnx.export(module, torch.zeros(1, 4), buffer, dynamo=False, input_names=["x"],
                      dynamic_axes={"x": {0: "n"}})
valid = buffer.getvalue()

@fuzz
@given(mutations(valid))
def mutated_graph(blob):
    path = folder / "m.onnx"
    path.write_bytes(blob)
    try:
        model = model_io.load(path, input_shape=(4,), n_classes=3)
        model.predict_proba(np.zeros((2, 4), np.float32))
    except BastionError:
        pass
    survives(bastion.models.onnx_to_torch, blob)

mutated_graph()
result = "survived"
"""

CHECK_X = """
import onnx
from sklearn.linear_model import LogisticRegression
from bastion.models import OnnxModel, SklearnModel, TorchModel, zoo
shape = (1, 2, 2)
torch_model = TorchModel(zoo.mlp(shape, 3, hidden=(4,), seed=0), input_shape=shape, n_classes=3)
sklearn_model = SklearnModel(LogisticRegression().fit(np.eye(4), [0, 1, 2, 0]), input_shape=shape)
from onnx import helper, numpy_helper, TensorProto
graph = helper.make_graph([helper.make_node("Flatten", ["x"], ["f"]), helper.make_node("MatMul", ["f", "w"], ["y"])],
    "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 1, 2, 2])],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 3])],
    initializer=[numpy_helper.from_array(np.ones((4, 3), np.float32), "w")])
onnx_model = OnnxModel(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))
dtypes = st.one_of(hnp.scalar_dtypes(), hnp.byte_string_dtypes(max_len=3), hnp.unicode_string_dtypes(max_len=3))
arrays = hnp.arrays(dtypes, hnp.array_shapes(min_dims=0, max_dims=5, min_side=0, max_side=3))
near = hnp.arrays(st.sampled_from([np.float16, np.float32, np.float64, np.int8, np.uint64]),
                  st.sampled_from([(1, 1, 2, 2), (3, 1, 2, 2), (0, 1, 2, 2), (2, 4), (2, 2, 2, 1)]))

@fuzz
@given(st.one_of(arrays, near), st.sampled_from([torch_model, sklearn_model, onnx_model]))
def check_x(x, model):
    try:
        checked = model.check_x(x)
    except BastionError:
        return
    assert checked.dtype == np.float32 and checked.shape[1:] == shape and np.isfinite(checked).all()
    assert checked.min() >= model.clip[0] - 1e-6 and checked.max() <= model.clip[1] + 1e-6
    answer = model.predict_proba(checked)
    assert answer.shape == (len(checked), 3)

check_x()
result = "survived"
"""

TARGETS = {"data_loaders": NPZ, "model_files": MODEL_IO, "onnx_graphs": ONNX, "check_x": CHECK_X}


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fuzz")
    probes = {name: f"EXAMPLES = 40\n{COMMON}\n{body}" for name, body in TARGETS.items()}
    return run_probes(probes, folder, timeout=120)


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_fuzzed_inputs_end_in_bastion_errors_only(outcomes, target):
    outcome = outcomes[target]
    assert outcome.kind == "ok", f"{target}: {outcome.kind} {outcome.type}\n{outcome.message}"
    assert outcome.max_rss_mib < 1536, outcome.max_rss_mib
