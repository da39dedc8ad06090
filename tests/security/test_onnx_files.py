"""Hostile ONNX graphs: every tensor is checked for external data, every size is bounded."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from .conftest import PROBE_TIMEOUT_SECONDS, run_probes


def external(name: str, target: str) -> TensorProto:
    """A float tensor whose data lives in a file of the author's choosing."""
    tensor = helper.make_tensor(name, TensorProto.FLOAT, [4], [0.0, 0.0, 0.0, 0.0])
    tensor.ClearField("float_data")
    tensor.data_location = TensorProto.EXTERNAL
    entry = tensor.external_data.add()
    entry.key, entry.value = "location", target
    return tensor


def int64s(name: str, values) -> TensorProto:
    return numpy_helper.from_array(np.asarray(values, dtype=np.int64), name)


def classifier(extra_nodes=(), initializers=(), sparse=(), opset: int = 17) -> onnx.ModelProto:
    """x (N, 4) -> MatMul -> (N, 3) logits, with hostile extras that feed nothing."""
    weights = numpy_helper.from_array(np.ones((4, 3), np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"]), *extra_nodes],
        "classifier",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3])],
        initializer=[weights, *initializers],
        sparse_initializer=list(sparse),
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def loop(trip_count_name: str, initializers=()) -> onnx.ModelProto:
    body = helper.make_graph(
        [helper.make_node("Identity", ["cond"], ["cond_out"])],
        "body",
        [
            helper.make_tensor_value_info("i", TensorProto.INT64, []),
            helper.make_tensor_value_info("cond", TensorProto.BOOL, []),
        ],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, [])],
    )
    node = helper.make_node("Loop", [trip_count_name, ""], [], body=body)
    return classifier([node], initializers)


def build_hostile_graphs(root, secret) -> dict[str, onnx.ModelProto]:
    target = str(secret)
    sparse = helper.make_sparse_tensor(external("sparse_values", target), int64s("sparse_idx", [0, 1, 2, 3]), [8])
    sparse_attribute = helper.make_sparse_tensor(external("cv", target), int64s("ci", [0, 1, 2, 3]), [8])
    constant = helper.make_node("Constant", [], ["c"], sparse_value=sparse_attribute)
    tensor_list = helper.make_node("Identity", ["x"], ["x2"])
    tensor_list.attribute.append(helper.make_attribute("payload", [external("listed", target)]))
    mistyped = helper.make_node("Identity", ["x"], ["x3"])
    attribute = helper.make_attribute("alpha", 1.0)
    attribute.t.CopyFrom(external("hidden_in_a_float_attribute", target))
    mistyped.attribute.append(attribute)
    then_branch = helper.make_graph(
        [helper.make_node("Identity", ["inner"], ["out"])],
        "then",
        [],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, [4])],
        initializer=[external("inner", target)],
    )
    nested_if = helper.make_node("If", ["flag"], ["z"], then_branch=then_branch, else_branch=then_branch)
    big = 10**11
    one = numpy_helper.from_array(np.array([1.0], np.float32))
    huge_sparse = helper.make_sparse_tensor(
        numpy_helper.from_array(np.array([1.0], np.float32), "hv"), int64s("hi", [0]), [10**6, 10**6]
    )
    return {
        "external_dense_initializer": classifier(initializers=[external("dense", target)]),
        "external_sparse_initializer": classifier(sparse=[sparse]),
        "external_sparse_constant": classifier([constant]),
        "external_in_a_tensor_list_attribute": classifier([tensor_list]),
        "external_in_a_mistyped_attribute": classifier([mistyped]),
        "external_in_a_subgraph": classifier([nested_if], [numpy_helper.from_array(np.array(True), "flag")]),
        "loop_of_1e12_iterations": loop("m", [int64s("m", 10**12)]),
        "loop_without_trip_count": loop(""),
        "loop_with_a_computed_trip_count": classifier(
            [
                helper.make_node("Shape", ["x"], ["s"]),
                helper.make_node("ReduceProd", ["s"], ["m"], keepdims=0),
                *loop("m").graph.node[1:],
            ]
        ),
        "constant_of_shape_1e11": classifier(
            [helper.make_node("ConstantOfShape", ["shape"], ["big"], value=one)], [int64s("shape", [big])]
        ),
        "expand_to_1e12": classifier(
            [helper.make_node("Expand", ["one", "shape"], ["big"])],
            [int64s("shape", [10**6, 10**6]), numpy_helper.from_array(np.ones(1, np.float32), "one")],
        ),
        "tile_1e10_times": classifier(
            [helper.make_node("Tile", ["x", "reps"], ["big"])], [int64s("reps", [1, 10**10])]
        ),
        "shape_derived_from_the_input": classifier(
            [
                helper.make_node("Shape", ["x"], ["s"]),
                helper.make_node("Mul", ["s", "k"], ["shape"]),
                helper.make_node("ConstantOfShape", ["shape"], ["big"], value=one),
            ],
            [int64s("k", [10**6, 10**6])],
        ),
        "sparse_initializer_declaring_1e12": classifier(sparse=[huge_sparse]),
        "initializer_declaring_1e12_without_data": classifier(
            initializers=[TensorProto(name="lie", data_type=TensorProto.FLOAT, dims=[10**6, 10**6])]
        ),
    }


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile-onnx")
    secret = root / "secret.bin"
    secret.write_bytes(np.arange(4, dtype=np.float32).tobytes())
    probes = {}
    for name, model in build_hostile_graphs(root, secret).items():
        path = root / f"{name}.onnx"
        path.write_bytes(model.SerializeToString())
        probes[name] = f"result = bastion.models.io.load({str(path)!r}, input_shape=(4,), n_classes=3)"
        probes[f"torch:{name}"] = f"result = bastion.models.onnx_to_torch({str(path)!r})"
    # A graph that loads but fails at run time: onnxruntime's error must become a BastionError.
    failing = classifier()
    failing.graph.node.insert(0, helper.make_node("Reshape", ["x", "to"], ["x_bad"]))
    failing.graph.node[1].input[0] = "x_bad"
    failing.graph.initializer.append(int64s("to", [3, 4]))
    (root / "fails_at_run_time.onnx").write_bytes(failing.SerializeToString())
    probes["runtime_error"] = (
        f"model = bastion.models.io.load({str(root / 'fails_at_run_time.onnx')!r}, input_shape=(4,), n_classes=3)\n"
        "import numpy as np\nresult = model.predict_proba(np.zeros((2, 4), np.float32))"
    )
    (root / "truncated.onnx").write_bytes(classifier().SerializeToString()[:50])
    probes["truncated_file"] = f"result = bastion.models.io.load({str(root / 'truncated.onnx')!r})"
    probes["bytes_are_not_onnx"] = "result = bastion.models.OnnxModel(b'\\x08\\x07garbage')"
    return run_probes(probes, root)


def test_every_hostile_graph_is_refused_with_a_bastion_error(outcomes):
    failures = {name: o for name, o in outcomes.items() if o.kind != "bastion"}
    assert not failures, "\n\n".join(f"{name}: {o.kind} {o.type}\n{o.message}" for name, o in failures.items())


def test_every_hostile_graph_stays_within_memory_and_time(outcomes):
    slow = {name: o.seconds for name, o in outcomes.items() if not o.seconds < PROBE_TIMEOUT_SECONDS}
    heavy = {name: o.max_rss_mib for name, o in outcomes.items() if not o.max_rss_mib < 1024}
    assert not slow and not heavy, (slow, heavy)


@pytest.mark.parametrize(
    "name",
    [
        "external_dense_initializer",
        "external_sparse_initializer",
        "external_sparse_constant",
        "external_in_a_tensor_list_attribute",
        "external_in_a_mistyped_attribute",
        "external_in_a_subgraph",
    ],
)
def test_external_data_anywhere_is_refused_as_unsafe_by_both_paths(outcomes, name):
    assert outcomes[name].refused("UnsafeFileError", "external file")
    assert outcomes[f"torch:{name}"].refused("UnsafeFileError", "external file")


@pytest.mark.parametrize(
    "name", ["loop_of_1e12_iterations", "loop_without_trip_count", "loop_with_a_computed_trip_count"]
)
def test_loops_without_a_bounded_trip_count_are_refused(outcomes, name):
    assert outcomes[name].refused("ValidationError", "Loop")


@pytest.mark.parametrize(
    "name",
    [
        "constant_of_shape_1e11",
        "expand_to_1e12",
        "tile_1e10_times",
        "shape_derived_from_the_input",
        "sparse_initializer_declaring_1e12",
    ],
)
def test_tensors_over_the_limit_are_refused_before_onnxruntime_runs(outcomes, name):
    assert outcomes[name].refused("ValidationError", "limit")


def test_onnxruntime_errors_at_run_time_are_bastion_errors(outcomes):
    assert outcomes["runtime_error"].refused("ValidationError", "onnxruntime failed to run")
