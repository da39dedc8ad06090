"""Each result class says in one plain sentence what its numbers mean."""

from __future__ import annotations

import numpy as np

from bastion.attacks.evasion.evaluation import EvasionResult
from bastion.attacks.evasion.robustness import RobustnessResult
from bastion.attacks.extraction.base import ExtractionResult
from bastion.attacks.inference.evaluation import MembershipResult
from bastion.defenses.pate.pate import LabelingResult


def test_evasion_summary_names_attack_eps_rate_samples_and_verdict():
    result = EvasionResult("PGD(eps=0.1, steps=10)", 360, 0.9, 0.6, 0.34, 0.1, 0.1, 1.0, 1.2, 0, 1.0)
    assert result.summary() == (
        "PGD at eps 0.1 fools the model on 34% of the inputs it classified correctly (360 samples): vulnerable"
    )


def test_evasion_summary_says_robust_below_five_percent():
    result = EvasionResult("FGSM(eps=0.01)", 10, 0.9, 0.9, 0.01, 0.0, 0.0, 0.0, 0.0, 0, 0.0)
    assert result.summary().endswith(": robust to this attack")


def test_robustness_summary_reports_largest_eps_and_masking():
    result = RobustnessResult("inf", 50, 0.9, (0.1, 0.2), (0.7, 0.2), np.zeros((2, 50), bool), (), (), {}, 1.0)
    assert result.summary() == (
        "Under the attack ensemble at eps 0.2 (Linf), accuracy falls from 90% to 20% (50 samples): vulnerable"
    )


def test_extraction_summary_reports_agreement_and_queries():
    result = ExtractionResult("Knockoff(epochs=3)", None, 1000, 900, 0.95, 0.9, None, 200, 1.0)
    assert result.summary() == (
        "Knockoff built a copy that gives the target's label on 95% of 200 inputs after 900 queries: "
        "the model can be duplicated"
    )


def test_membership_summary_reports_auc_and_counts():
    result = MembershipResult("Loss()", 100, 80, 0.5, 0.0, 0.0, 0.5, 0.0, (0.0, 1.0), (0.0, 1.0))
    assert result.summary().endswith("(0.5 is chance; 100 members, 80 non-members): no clear leak")


def test_pate_summary_prefers_the_smooth_sensitivity_epsilon():
    labels = np.zeros(3, int)
    result = LabelingResult(labels, labels, 10, 3, 1e-5, 0.5, 0.6, 30.0, 0.8, 8.0, None, "GNMax", None)
    summary = result.summary()
    assert "at epsilon 0.80 (smooth sensitivity" in summary
    assert summary.endswith(": strong privacy")
