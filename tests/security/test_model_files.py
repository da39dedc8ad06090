"""Hostile model files and folders: each must end in a BastionError, within memory and time."""

from __future__ import annotations

import json
import os
import pickle
import zipfile

import numpy as np
import pytest
import torch

from bastion.models import TorchModel, io, zoo

from .conftest import PROBE_TIMEOUT_SECONDS, assert_one_line_error, run_probes
from .test_data_files import WritesMarker

SHAPE = (1, 4, 4)


def saved_folder(folder):
    module = zoo.mlp(SHAPE, 3, hidden=(4,), seed=0)
    return io.save(TorchModel(module, input_shape=SHAPE, n_classes=3), folder)


def edited_spec(folder, **changes):
    """A saved zoo model whose spec is edited (the data file, and so its hash, unchanged)."""
    saved_folder(folder)
    spec = json.loads((folder / "model.json").read_text())
    spec.update(changes)
    (folder / "model.json").write_text(json.dumps(spec))
    return folder


def edited_config(folder, **changes):
    saved_folder(folder)
    spec = json.loads((folder / "model.json").read_text())
    spec["config"].update(changes)
    (folder / "model.json").write_text(json.dumps(spec))
    return folder


def build_hostile_models(root) -> dict[str, str]:
    """Write every hostile model under ``root``; return probe name -> source."""
    probes = {}

    def load(name: str, target, **kwargs) -> None:
        shown = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
        probes[name] = f"result = bastion.models.io.load({str(target)!r}{', ' if shown else ''}{shown})"

    # Declared sizes: a spec of enormous layers is refused before anything is built.
    load("spec_hidden_1e9", edited_config(root / "hidden_1e9", hidden=[10**9]))
    load("spec_hidden_1e5_wrong_weights", edited_config(root / "hidden_1e5", hidden=[10**5]))
    load("spec_input_shape_1e12", edited_config(root / "input_1e12", input_shape=[10**6, 10**6]))
    load("spec_n_classes_huge", edited_config(root / "classes_huge", n_classes=10**12))
    load("spec_hidden_negative", edited_config(root / "hidden_negative", hidden=[-5]))
    load("spec_hidden_string", edited_config(root / "hidden_string", hidden="wide"))
    load("spec_seed_list", edited_config(root / "seed_list", seed=[1]))
    # Wrong types in the spec.
    for name, changes in {
        "clip_int": {"clip": 5},
        "clip_strings": {"clip": ["a", "b"]},
        "clip_nan": {"clip": [float("nan"), 1.0]},
        "clip_object": {"clip": {"low": 0}},
        "preprocessing_string": {"preprocessing": "imagenet"},
        "preprocessing_list": {"preprocessing": [0.5, 0.5]},
        "preprocessing_bad_mean": {"preprocessing": {"mean": "x", "std": 1}},
        "preprocessing_nested_mean": {"preprocessing": {"mean": [[[[[1]]]]], "std": 1}},
        "input_shape_string": {"input_shape": "1x4x4"},
        "n_classes_string": {"n_classes": "three"},
        "config_list": {"config": [1, 2]},
        "arch_list": {"arch": ["mlp"]},
        "kind_unknown": {"kind": "pickle"},
        "file_traversal": {"file": "../../etc/passwd"},
        "sha_missing": {"sha256": None},
    }.items():
        load(f"spec_{name}", edited_spec(root / name, **changes))
    # JSON that is not a spec.
    for name, text in {
        "json_nested_100000": "[" * 100_000 + "]" * 100_000,
        "json_nested_64": '{"format": "bastion-model", "x": ' + "[" * 64 + "]" * 64 + "}",
        "json_two_megabytes": '{"format": "bastion-model", "pad": "' + "x" * (2 << 20) + '"}',
        "json_not_utf8": "\udcff",
    }.items():
        folder = root / name
        folder.mkdir()
        if name == "json_not_utf8":
            (folder / "model.json").write_bytes(b"\xff\xfe{")
        else:
            (folder / "model.json").write_text(text)
        load(name, folder)
    # Links out of the folder.
    secret = root / "secret.txt"
    secret.write_text("secret")
    outside = root / "outside"
    saved_folder(outside)
    linked = root / "spec_link"
    linked.mkdir()
    (linked / "model.json").symlink_to(outside / "model.json")
    (linked / "weights.safetensors").symlink_to(outside / "weights.safetensors")
    load("spec_is_a_link_outside", linked)
    weights_link = saved_folder(root / "weights_link")
    os.replace(weights_link / "weights.safetensors", root / "moved.safetensors")
    (weights_link / "weights.safetensors").symlink_to(root / "moved.safetensors")
    load("weights_is_a_link_outside", weights_link)
    # skops files that are not skops files.
    (root / "not_zip.skops").write_bytes(b"plain text")
    load("skops_not_a_zip", root / "not_zip.skops")
    with zipfile.ZipFile(root / "no_schema.skops", "w") as archive:
        archive.writestr("other.txt", "x")
    load("skops_without_schema", root / "no_schema.skops")
    with zipfile.ZipFile(root / "bad_schema.skops", "w") as archive:
        archive.writestr("schema.json", "[[[[")
    load("skops_schema_not_json", root / "bad_schema.skops")
    with zipfile.ZipFile(root / "odd_schema.skops", "w") as archive:
        archive.writestr("schema.json", json.dumps({"__class__": "open", "__module__": "builtins", "content": 1}))
    load("skops_schema_names_builtins_open", root / "odd_schema.skops")
    # Pickles, whatever they are called, and code.
    payload = pickle.dumps(WritesMarker(root / "MARKER"))
    for suffix in (".pt", ".onnx", ".safetensors", ".skops", ".bin"):
        (root / f"payload{suffix}").write_bytes(payload)
        load(f"pickle_named{suffix}", root / f"payload{suffix}")
    torch.save({"w": torch.zeros(2)}, root / "legacy.pt", _use_new_zipfile_serialization=False)
    load("torch_legacy_pickle", root / "legacy.pt")
    # Files that are not what their suffix says.
    (root / "garbage.safetensors").write_bytes(b"\xff" * 8 + b"{")
    load("safetensors_garbage", root / "garbage.safetensors", spec={"arch": "mlp", "config": {}})
    header = json.dumps({"w": {"dtype": "F32", "shape": [10**6, 10**6], "data_offsets": [0, 4 * 10**12]}}).encode()
    (root / "forged.safetensors").write_bytes(len(header).to_bytes(8, "little") + header + bytes(16))
    spec = {"arch": "mlp", "config": {"input_shape": [1], "n_classes": 2, "hidden": []}}
    load("safetensors_declares_4_terabytes", root / "forged.safetensors", spec=spec)
    (root / "truncated.pt").write_bytes((root / "legacy.pt").read_bytes()[:40])
    load("torch_truncated", root / "truncated.pt", spec=spec)
    with zipfile.ZipFile(root / "zip.pt", "w") as archive:
        archive.writestr("a/data.pkl", payload)
    load("torch_zip_with_payload", root / "zip.pt", spec=spec)
    os.mkfifo(root / "fifo.onnx")
    load("fifo_named_onnx", root / "fifo.onnx")
    load("dev_zero_named_onnx", "/dev/zero")
    # Odd arguments.
    probes["path_is_an_int"] = "result = bastion.models.io.load(123)"
    probes["trusted_is_an_int"] = f"result = bastion.models.io.load({str(root / 'not_zip.skops')!r}, trusted=5)"
    load("spec_argument_is_an_int", root / "forged.safetensors", spec=5)
    load("spec_argument_lacks_arch", root / "forged.safetensors", spec={"config": {}})
    probes["cli_evasion_on_enormous_layers"] = (
        f"result = cli('attack', 'evasion', '--model', {str(root / 'hidden_1e9')!r}, '--data', 'digits', "
        "'--attack', 'fgsm', '--eps', '0.1')"
    )
    return probes


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile-models")
    probes = build_hostile_models(root)
    return run_probes(probes, root)


def test_every_hostile_model_is_refused_with_a_bastion_error(outcomes):
    failures = {name: o for name, o in outcomes.items() if o.kind != "bastion" and not name.startswith("cli_")}
    assert not failures, "\n\n".join(f"{name}: {o.kind} {o.type}\n{o.message}" for name, o in failures.items())


def test_every_hostile_model_stays_within_memory_and_time(outcomes):
    slow = {name: o.seconds for name, o in outcomes.items() if not o.seconds < PROBE_TIMEOUT_SECONDS}
    heavy = {name: o.max_rss_mib for name, o in outcomes.items() if not o.max_rss_mib < 1024}
    assert not slow and not heavy, (slow, heavy)


def test_enormous_layers_are_refused_before_the_module_is_built(outcomes):
    assert outcomes["spec_hidden_1e9"].refused("ValidationError", "over bastion's limit")


def test_weights_that_do_not_fit_are_refused_from_the_header(outcomes):
    assert outcomes["spec_hidden_1e5_wrong_weights"].refused("ValidationError", "do not fit the architecture")


def test_links_out_of_the_folder_are_refused(outcomes):
    assert outcomes["spec_is_a_link_outside"].refused("UnsafeFileError", "outside the model folder")
    assert outcomes["weights_is_a_link_outside"].refused("UnsafeFileError", "outside the model folder")


def test_deep_json_is_refused_as_not_a_spec(outcomes):
    assert outcomes["json_nested_100000"].refused("ValidationError", "nested")
    assert outcomes["json_nested_64"].refused("ValidationError", "nested deeper")


def test_spec_type_errors_name_the_file(outcomes):
    for name in ("spec_clip_int", "spec_preprocessing_string", "spec_input_shape_string"):
        assert "model.json" in outcomes[name].message or name.removeprefix("spec_") in outcomes[name].message


def test_cli_answers_a_hostile_model_with_one_line_and_exit_code_2(outcomes):
    assert_one_line_error(outcomes["cli_evasion_on_enormous_layers"], "limit")


def test_a_legitimate_model_still_loads(tmp_path):
    loaded = io.load(saved_folder(tmp_path / "m"))
    assert loaded.predict(np.zeros((2, *SHAPE), np.float32)).shape == (2,)
