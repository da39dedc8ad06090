"""ONNX models: onnxruntime black-box adapter and the torch graph interpreter."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper

from bastion.attacks import PGD
from bastion.exceptions import CapabilityError, UnsafeFileError, ValidationError
from bastion.models import LABELS, SCORES, OnnxModel, TorchModel, onnx_to_torch, zoo

from .conftest import export

OPSET = 17


def graph_model(nodes, initializers=(), *, shape=(1, 4, 4), n_out=3, out_type=TensorProto.FLOAT, out_dims=None):
    """A one-input one-output model made with onnx.helper."""
    graph = helper.make_graph(
        nodes,
        "test",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", *shape])],
        [helper.make_tensor_value_info("out", out_type, out_dims or ["n", n_out])],
        [numpy_helper.from_array(np.asarray(value), name) for name, value in initializers],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], ir_version=8)


def weights(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32) * 0.5


@pytest.fixture()
def x4(rng):
    return rng.random((6, 1, 4, 4), dtype=np.float32)


@pytest.fixture(scope="module")
def every_op_model():
    """A CNN graph using every supported operator family, the way exporters write them."""
    rng = np.random.default_rng(1)
    nodes = [
        helper.make_node("Constant", [], ["half"], value=numpy_helper.from_array(np.array(0.5, np.float32))),
        helper.make_node("Sub", ["x", "half"], ["centred"]),
        helper.make_node("Div", ["centred", "scale"], ["scaled"]),
        helper.make_node("Conv", ["scaled", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1], strides=[1, 1]),
        helper.make_node("BatchNormalization", ["c1", "gamma", "beta", "mean", "var"], ["bn"], epsilon=1e-3),
        helper.make_node("Relu", ["bn"], ["r1"]),
        helper.make_node("Conv", ["r1", "w2"], ["c2"], pads=[0, 0, 1, 1], group=2),
        helper.make_node("LeakyRelu", ["c2"], ["r2"], alpha=0.1),
        helper.make_node("MaxPool", ["r2"], ["p1"], kernel_shape=[2, 2], strides=[1, 1], pads=[0, 0, 1, 1]),
        helper.make_node("AveragePool", ["p1"], ["p2"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("GlobalAveragePool", ["p2"], ["g"]),
        helper.make_node("Mul", ["p2", "g"], ["m"]),
        helper.make_node("Transpose", ["m"], ["t"], perm=[0, 2, 3, 1]),
        helper.make_node("Shape", ["t"], ["shape"]),
        helper.make_node("Gather", ["shape", "zero"], ["batch"], axis=0),
        helper.make_node("Unsqueeze", ["batch", "axes"], ["batch1"]),
        helper.make_node("Concat", ["batch1", "minus_one"], ["target_shape"], axis=0),
        helper.make_node("Reshape", ["t", "target_shape"], ["flat"]),
        helper.make_node("Dropout", ["flat"], ["dropped"]),
        helper.make_node("MatMul", ["dropped", "w3"], ["h"]),
        helper.make_node("Add", ["h", "b3"], ["h1"]),
        helper.make_node("Tanh", ["h1"], ["h2"]),
        helper.make_node("Sigmoid", ["h2"], ["h3"]),
        helper.make_node("Gemm", ["h3", "w4", "b4"], ["logits"], transB=1, alpha=2.0),
        helper.make_node("LogSoftmax", ["logits"], ["log_p"], axis=1),
        helper.make_node("Identity", ["log_p"], ["out"]),
    ]
    initializers = [
        ("scale", np.array(0.25, np.float32)),
        ("w1", weights(rng, 4, 1, 3, 3)),
        ("b1", weights(rng, 4)),
        ("gamma", weights(rng, 4) + 1),
        ("beta", weights(rng, 4)),
        ("mean", weights(rng, 4)),
        ("var", np.abs(weights(rng, 4)) + 0.5),
        ("w2", weights(rng, 4, 2, 2, 2)),
        ("zero", np.array(0, np.int64)),
        ("axes", np.array([0], np.int64)),
        ("minus_one", np.array([-1], np.int64)),
        ("w3", weights(rng, 64, 8)),
        ("b3", weights(rng, 8)),
        ("w4", weights(rng, 3, 8)),
        ("b4", weights(rng, 3)),
    ]
    return graph_model(nodes, initializers)


@pytest.fixture(scope="module")
def exported_mlp(digits_mlp):
    return export(digits_mlp.module, (1, 8, 8))


def test_exported_cnn_agrees_with_the_torch_module_in_onnxruntime_and_converted(digits):
    module = zoo.small_cnn((1, 8, 8), 10, channels=(4, 8), hidden=16, seed=0).eval()
    original = TorchModel(module, input_shape=(1, 8, 8), n_classes=10)
    x = digits.x_test[:20]
    black_box = OnnxModel(export(module, (1, 8, 8)))
    white_box = black_box.to_torch()
    np.testing.assert_allclose(black_box.predict_proba(x), original.predict_proba(x), atol=1e-5)
    np.testing.assert_allclose(white_box.logits(x), original.logits(x), atol=1e-5)


def test_exported_mlp_gradients_agree_with_the_original(digits, digits_mlp, exported_mlp):
    converted = TorchModel(onnx_to_torch(exported_mlp), input_shape=(1, 8, 8), n_classes=10)
    x, y = digits.x_test[:20], digits.y_test[:20]
    np.testing.assert_allclose(converted.loss_gradient(x, y), digits_mlp.loss_gradient(x, y), atol=1e-5)


def test_pgd_on_the_converted_model_matches_pgd_on_the_original(digits, digits_mlp, exported_mlp):
    converted = OnnxModel(exported_mlp).to_torch()
    x, y = digits.x_test[:40], digits.y_test[:40]
    attack = PGD(eps=0.1, steps=10, seed=0)
    adversarial = attack.generate(converted, x, y)
    assert np.abs(adversarial - x).max() <= 0.1 + 1e-6
    robust = (digits_mlp.predict(adversarial) == y).mean()
    assert robust < (digits_mlp.predict(x) == y).mean() - 0.3
    np.testing.assert_allclose(adversarial, attack.generate(digits_mlp, x, y), atol=1e-4)


def test_converted_weights_are_buffers_that_never_get_gradients(exported_mlp, digits):
    module = onnx_to_torch(exported_mlp)
    assert list(module.parameters()) == []
    assert all(not buffer.requires_grad for buffer in module.buffers())
    x = torch.from_numpy(digits.x_test[:4]).requires_grad_(True)
    module(x).sum().backward()
    assert x.grad is not None and all(buffer.grad is None for buffer in module.buffers())


def test_every_supported_operator_agrees_with_onnxruntime(every_op_model, x4):
    black_box = OnnxModel(every_op_model)
    converted = TorchModel(onnx_to_torch(every_op_model), input_shape=(1, 4, 4), n_classes=3)
    assert black_box.outputs == "logits"
    np.testing.assert_allclose(converted.predict_proba(x4), black_box.predict_proba(x4), atol=1e-5)


def test_float64_graph_is_fed_float32_and_converted_to_float32(rng, x4):
    nodes = [helper.make_node("Flatten", ["x"], ["f"]), helper.make_node("Gemm", ["f", "w", "b"], ["out"])]
    graph = helper.make_graph(
        nodes,
        "double",
        [helper.make_tensor_value_info("x", TensorProto.DOUBLE, ["n", 1, 4, 4])],
        [helper.make_tensor_value_info("out", TensorProto.DOUBLE, ["n", 3])],
        [
            numpy_helper.from_array(rng.standard_normal((16, 3)), "w"),
            numpy_helper.from_array(rng.standard_normal(3), "b"),
        ],
    )
    black_box = OnnxModel(helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], ir_version=8))
    white_box = black_box.to_torch()
    assert white_box.logits(x4).dtype == np.float32
    np.testing.assert_allclose(white_box.predict_proba(x4), black_box.predict_proba(x4), atol=1e-5)


def test_opset_11_softmax_flattens_from_its_axis(rng):
    nodes = [helper.make_node("Flatten", ["x"], ["f"]), helper.make_node("Softmax", ["f"], ["out"])]
    model = graph_model(nodes, shape=(3,))
    model.opset_import[0].version = 11
    x = rng.random((4, 3), dtype=np.float32)
    module = onnx_to_torch(model, strip_softmax=False)
    np.testing.assert_allclose(module(torch.from_numpy(x)).numpy(), OnnxModel(model).predict_proba(x), atol=1e-6)


def test_final_softmax_is_detected_as_probabilities_and_stripped_for_torch(rng, x4):
    nodes = [
        helper.make_node("Flatten", ["x"], ["f"]),
        helper.make_node("Gemm", ["f", "w", "b"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["out"], axis=1),
    ]
    model = graph_model(nodes, [("w", weights(rng, 16, 3)), ("b", weights(rng, 3))])
    black_box = OnnxModel(model)
    assert black_box.outputs == "probabilities"
    converted = black_box.to_torch()
    with torch.no_grad():
        logits = converted.module(torch.from_numpy(x4))
    assert not torch.allclose(logits.sum(1), torch.ones(6))
    np.testing.assert_allclose(converted.predict_proba(x4), black_box.predict_proba(x4), atol=1e-6)


def test_declared_probabilities_without_a_final_softmax_become_log_logits_for_torch(rng, x4):
    nodes = [
        helper.make_node("Flatten", ["x"], ["f"]),
        helper.make_node("Gemm", ["f", "w", "b"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["p"], axis=1),
        helper.make_node("Mul", ["p", "one"], ["out"]),
    ]
    one = np.array(1.0, np.float32)
    model = graph_model(nodes, [("w", weights(rng, 16, 3)), ("b", weights(rng, 3)), ("one", one)])
    assert OnnxModel(model).outputs == "logits"
    black_box = OnnxModel(model, outputs="probabilities")
    np.testing.assert_allclose(black_box.to_torch().predict_proba(x4), black_box.predict_proba(x4), atol=1e-6)


def test_integer_output_is_a_label_only_model(rng, x4):
    nodes = [
        helper.make_node("Flatten", ["x"], ["f"]),
        helper.make_node("MatMul", ["f", "w"], ["logits"]),
        helper.make_node("ArgMax", ["logits"], ["out"], axis=1, keepdims=0),
    ]
    w = weights(rng, 16, 3)
    model = OnnxModel(graph_model(nodes, [("w", w)], out_type=TensorProto.INT64, out_dims=["n"]), n_classes=3)
    assert model.capabilities == frozenset({LABELS})
    np.testing.assert_array_equal(model.predict(x4), (x4.reshape(6, -1) @ w).argmax(1))
    with pytest.raises(CapabilityError, match=r"'scores'"):
        model.predict_proba(x4)
    with pytest.raises(ValidationError, match=r"no logits"):
        model.to_torch()


def test_outputs_argument_overrides_detection(every_op_model, x4):
    model = OnnxModel(every_op_model, outputs="probabilities")
    assert model.outputs == "probabilities" and SCORES in model.capabilities
    np.testing.assert_allclose(model.predict_proba(x4).sum(1), 1, atol=1e-5)
    with pytest.raises(ValidationError, match=r"`outputs` must be one of"):
        OnnxModel(every_op_model, outputs="scores")


def test_queries_are_counted(every_op_model, x4):
    model = OnnxModel(every_op_model)
    model.predict(x4)
    model.predict_proba(x4[:2])
    assert model.queries == 8


def test_graph_with_a_fixed_batch_size_answers_any_batch(rng, x4):
    nodes = [helper.make_node("Flatten", ["x"], ["f"]), helper.make_node("MatMul", ["f", "w"], ["out"])]
    w = weights(rng, 16, 3)
    model = graph_model(nodes, [("w", w)])
    model.graph.input[0].type.tensor_type.shape.dim[0].dim_value = 4
    fixed, dynamic = OnnxModel(model), OnnxModel(graph_model(nodes, [("w", w)]))
    np.testing.assert_allclose(fixed.predict_proba(x4), dynamic.predict_proba(x4), atol=1e-6)


def test_unknown_sample_dimensions_need_input_shape(rng, x4):
    nodes = [helper.make_node("ReduceMean", ["x"], ["out"], axes=[2, 3], keepdims=0)]
    model = graph_model(nodes, shape=("c", "h", "w"), n_out=None)
    model.opset_import[0].version = 13
    with pytest.raises(ValidationError, match=r"pass `input_shape`"):
        OnnxModel(model)
    with pytest.raises(ValidationError, match=r"n_classes`"):
        OnnxModel(model, input_shape=(1, 4, 4))
    three = OnnxModel(model, input_shape=(3, 4, 4))
    assert three.n_classes == 3 and three.predict(np.zeros((2, 3, 4, 4), np.float32)).shape == (2,)


def test_input_shape_that_contradicts_the_graph_is_refused(every_op_model):
    with pytest.raises(ValidationError, match=r"`input_shape` \(1, 8, 8\) does not match"):
        OnnxModel(every_op_model, input_shape=(1, 8, 8))


def test_external_data_is_refused_naming_the_tensor(tmp_path, every_op_model):
    path = tmp_path / "model.onnx"
    model = onnx.ModelProto()
    model.CopyFrom(every_op_model)  # save_model moves the tensors out of the proto it is given
    onnx.save_model(model, str(path), save_as_external_data=True, location="weights.bin", size_threshold=0)
    with pytest.raises(UnsafeFileError, match=r"ONNX tensor 'scale' stores its data in an external file"):
        OnnxModel(path)
    with pytest.raises(UnsafeFileError, match=r"external"):
        onnx_to_torch(path)


def test_custom_domain_is_refused_naming_node_and_operator():
    nodes = [helper.make_node("Evil", ["x"], ["out"], domain="com.example", name="payload")]
    model = graph_model(nodes)
    with pytest.raises(UnsafeFileError, match=r"node 'payload' uses operator 'Evil' of custom domain 'com.example'"):
        OnnxModel(model)
    with pytest.raises(UnsafeFileError, match=r"'Evil'"):
        onnx_to_torch(model)


def test_custom_operator_hidden_in_a_subgraph_is_refused():
    branch = helper.make_graph(
        [helper.make_node("Evil", ["x"], ["y"], domain="com.example", name="hidden")],
        "branch",
        [],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 3])],
    )
    condition = helper.make_node("Constant", [], ["yes"], value=numpy_helper.from_array(np.array(True)))
    nodes = [condition, helper.make_node("If", ["yes"], ["out"], then_branch=branch, else_branch=branch)]
    with pytest.raises(UnsafeFileError, match=r"node 'hidden' uses operator 'Evil'"):
        OnnxModel(graph_model(nodes))


def test_operator_the_converter_lacks_is_named_with_its_node(rng):
    nodes = [helper.make_node("Flatten", ["x"], ["f"]), helper.make_node("Erf", ["f"], ["out"], name="gelu_part")]
    with pytest.raises(ValidationError, match=r"node 'gelu_part' uses operator 'Erf'.*Use OnnxModel"):
        onnx_to_torch(graph_model(nodes, n_out=16))


def test_graph_with_two_inputs_is_refused():
    graph = helper.make_graph(
        [helper.make_node("Add", ["a", "b"], ["out"])],
        "two",
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, ["n", 3]) for name in "ab"],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["n", 3])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], ir_version=8)
    with pytest.raises(ValidationError, match=r"exactly one input .* got 2: \['a', 'b'\]"):
        onnx_to_torch(model)


def test_missing_file_and_garbage_bytes_are_refused(tmp_path):
    with pytest.raises(ValidationError, match=r"existing .onnx file.*\(not found\)"):
        OnnxModel(tmp_path / "nope.onnx")
    (tmp_path / "junk.onnx").write_bytes(b"\x00\xffnot protobuf at all")
    with pytest.raises(ValidationError, match=r"junk.onnx"):
        OnnxModel(tmp_path / "junk.onnx")
