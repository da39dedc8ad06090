"""skops: the types skops would need trusted."""

from __future__ import annotations

import numpy as np
import skops.io
from sklearn.tree import DecisionTreeClassifier

import bastion.scan

from .conftest import CASES, assert_caught


def test_skops_needing_os_system_is_critical(scan_case):
    assert_caught(scan_case("skops_dangerous_type"), CASES["skops_dangerous_type"])


def test_bastion_skops_folder_is_clean(scan_case):
    assert scan_case("skops_folder").findings == ()


def test_scikit_learn_type_outside_the_trust_list_is_listed_as_info(tmp_path):
    x = np.random.default_rng(0).random((20, 3))
    path = tmp_path / "tree.skops"
    skops.io.dump(DecisionTreeClassifier(random_state=0).fit(x, np.arange(20) % 2), path)
    report = bastion.scan(path)
    assert [(f.severity, f.node) for f in report.findings] == [("info", "sklearn.tree._tree.Tree")]
    assert report.clean
