"""The global policy: dangerous, known-safe and unknown, decided without importing anything."""

from __future__ import annotations

import sys

import pytest

from bastion.scan.policy import classify, classify_dotted


@pytest.mark.parametrize(
    ("module", "name"),
    [
        ("os", "system"),
        ("posix", "system"),
        ("subprocess", "Popen"),
        ("builtins", "eval"),
        ("runpy", "_run_code"),
        ("socket", "create_connection"),
        ("pty", "spawn"),
        ("torch.utils.cpp_extension", "load_inline"),
    ],
)
def test_code_running_globals_are_critical(module, name):
    verdict = classify(module, name)
    assert (verdict.kind, verdict.severity) == ("dangerous", "critical")


@pytest.mark.parametrize(
    ("module", "name"),
    [
        ("torch._utils", "_rebuild_tensor_v2"),
        ("collections", "OrderedDict"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("torch", "FloatStorage"),
        ("sklearn.linear_model._logistic", "LogisticRegression"),
        ("copyreg", "_reconstructor"),
    ],
)
def test_rebuild_functions_are_safe(module, name):
    assert classify(module, name).kind == "safe"


def test_gadgets_are_high():
    assert classify("builtins", "getattr").severity == "high"
    assert classify("functools", "partial").severity == "high"


def test_scikit_learn_functions_are_unknown_not_safe():
    assert classify("sklearn.utils", "check_array").kind == "unknown"


def test_a_submodule_inherits_its_package_verdict():
    assert classify_dotted("os.path.join").kind == "dangerous"


def test_classifying_never_imports_the_module():
    classify("bastion_scan_never_imported", "Thing")
    assert "bastion_scan_never_imported" not in sys.modules


def test_a_dotted_name_into_an_allowed_class_is_a_gadget():
    verdict = classify("builtins", "object.__subclasses__")
    assert (verdict.kind, verdict.severity) == ("dangerous", "high")
