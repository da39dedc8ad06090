"""joblib files: the scan reads past raw array data and into object arrays' nested pickles."""

from __future__ import annotations

import joblib
import numpy as np
import pytest

import bastion.scan
from bastion.scan.joblib_arrays import layout
from bastion.scan.pickles import Call, Ref, Seq

from .conftest import CASES, assert_caught
from .corpus import _System


def test_joblib_payload_is_reported_without_running_it(scan_case):
    assert_caught(scan_case("joblib_payload"), CASES["joblib_payload"])


def test_joblib_random_forest_is_clean(scan_case):
    assert scan_case("joblib_sklearn").findings == ()


def test_a_payload_after_a_large_raw_array_is_still_found(tmp_path):
    path = tmp_path / "after.joblib"
    joblib.dump([np.zeros(100_000), _System(tmp_path / "MARKER")], path)
    report = bastion.scan(path)
    assert report.max_severity == "critical" and not (tmp_path / "MARKER").exists()
    assert not any(f.check == "pickle.malformed" for f in report.findings)


def test_layout_counts_the_raw_bytes_of_the_wrapped_array():
    wrapper = ("joblib.numpy_pickle", "NumpyArrayWrapper")
    dtype = Call(Ref("numpy", "dtype", 0), Seq("tuple", ["f4", False, True]), 0)
    state = Seq("dict", ["shape", Seq("tuple", [3, 5]), "dtype", dtype, "numpy_array_alignment_bytes", 16])
    found = layout(wrapper, state)
    assert (found.nested_pickle, found.data_bytes, found.aligned) == (False, 60, True)


def test_layout_of_an_unreadable_wrapper_is_refused():
    with pytest.raises(ValueError, match="unreadable"):
        layout(("joblib.numpy_pickle", "NumpyArrayWrapper"), Seq("dict", ["shape", "?"]))
