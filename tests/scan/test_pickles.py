"""Pickle streams: every technique of the corpus is reported, with where it is and what it does."""

from __future__ import annotations

import io
import pickle

import pytest

from bastion.scan.pickles import render, scan_pickle

from .conftest import CASES, assert_caught
from .corpus import _command, _System

PICKLE_CASES = [
    *(f"reduce_os_system_protocol_{p}" for p in range(6)),
    "builtins_exec",
    "stack_global_memo",
    "stack_global_detour",
    "functools_partial",
    "functools_partial_explicit",
    "getattr_import_chain",
    "dotted_qualname",
    "nested_pickle",
    "nested_in_storage_bytes",
    "broken_after_payload",
    "extension_code",
    "torch_legacy_payload",
]


@pytest.mark.parametrize("name", PICKLE_CASES)
def test_pickle_technique_is_reported_without_running_it(scan_case, name):
    assert_caught(scan_case(name), CASES[name])


@pytest.mark.parametrize("protocol", range(6))
def test_call_finding_names_the_command_and_the_offset_of_the_reduce(tmp_path, protocol):
    data = pickle.dumps(_System(tmp_path / "MARKER"), protocol=protocol)
    result = scan_pickle(io.BytesIO(data))
    (finding,) = [f for f in result.findings if f.check == "pickle.dangerous-call"]
    assert _command(tmp_path / "MARKER") in finding.what
    assert finding.node in ("posix.system", "os.system", "nt.system")
    assert data[finding.offset_bytes] == pickle.REDUCE[0]


def test_memoized_stack_global_resolves_to_the_memoized_names(scan_case):
    report = scan_case("stack_global_memo")
    assert "os.system" in report.imports
    assert any(f.node == "os.system" and f.severity == "critical" for f in report.findings)


def test_getattr_chain_is_resolved_to_the_function_it_reaches(scan_case):
    report = scan_case("getattr_import_chain")
    (call,) = [f for f in report.findings if f.node == "os.system"]
    assert "through builtins.getattr" in call.what


def test_partial_chain_is_resolved_to_the_wrapped_function(scan_case):
    report = scan_case("functools_partial_explicit")
    call = next(f for f in report.findings if f.severity == "critical")
    assert call.node == "os.system" and "through functools.partial" in call.what


def test_nested_pickle_findings_are_located_inside_the_outer_bytes(scan_case):
    report = scan_case("nested_in_storage_bytes")
    (inner,) = [f for f in report.findings if f.check == "pickle.dangerous-call"]
    assert inner.member.startswith("nested at byte ")


def test_plain_data_pickle_has_no_findings_and_lists_its_imports(scan_case):
    report = scan_case("pickled_arrays")
    assert report.findings == ()
    assert "torch._utils._rebuild_tensor_v2" in report.imports


def test_unknown_global_is_medium_and_counted_once():
    data = b"\x80\x02" + b"cmylib.models\nNet\n)\x81" * 3 + b"\x87."
    result = scan_pickle(io.BytesIO(data))
    (finding,) = result.findings
    assert (finding.severity, finding.check, finding.node) == ("medium", "pickle.unknown-global", "mylib.models.Net")
    assert "3 times" in finding.what


def test_bytes_after_stop_are_reported_as_trailing_data():
    result = scan_pickle(io.BytesIO(pickle.dumps([1, 2]) + b"\x00garbage"))
    assert [f.check for f in result.findings] == ["pickle.trailing-data"]


def test_legacy_torch_storages_after_the_five_pickles_are_not_trailing_data(scan_case):
    report = scan_case("torch_legacy_state_dict")
    assert report.format == "torch-legacy" and report.findings == ()


def test_speculative_stream_that_is_not_a_pickle_returns_none():
    assert scan_pickle(io.BytesIO(b"hello world, not a pickle"), speculative=True) is None


def test_memo_read_of_an_unwritten_slot_is_reported_as_malformed():
    data = b"\x80\x02h\x07."
    result = scan_pickle(io.BytesIO(data))
    assert any(f.check == "pickle.malformed" and "memo slot 7" in f.what for f in result.findings)


def test_render_shortens_long_values():
    assert render("x" * 500).endswith("...") and len(render("x" * 500)) <= 160


def test_a_very_long_getattr_chain_is_scanned_without_recursing_forever():
    # getattr(getattr(...getattr(__import__("os"), "path")..., "path"), "path")("x"), 3000 levels deep.
    body = b"cbuiltins\n__import__\nX\x02\x00\x00\x00os\x85R"
    for _ in range(3000):
        body = b"cbuiltins\ngetattr\n" + body + b"X\x04\x00\x00\x00path\x86R"
    data = b"\x80\x02" + body + b"X\x01\x00\x00\x00x\x85R."
    result = scan_pickle(io.BytesIO(data))
    assert any(f.check == "pickle.unresolved-call" for f in result.findings)
