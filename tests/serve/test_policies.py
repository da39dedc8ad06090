"""Output policies by name, built from bastion.models.wrappers."""

from __future__ import annotations

import pytest

from bastion.exceptions import ValidationError
from bastion.models import LabelOnly, NoisyScores, RoundedScores, TopK
from bastion.serve.policies import apply_policy, capabilities, parse_policy


@pytest.mark.parametrize(
    ("text", "canonical"),
    [("probs", "probs"), ("TOP1", "top1"), ("top:1", "top1"), ("top:3", "top:3"), ("label", "label"),
     ("round:2", "round:2"), ("noise:0.010", "noise:0.01")],
)  # fmt: skip
def test_policies_parse_to_one_spelling(text, canonical):
    assert parse_policy(text) == canonical


@pytest.mark.parametrize("text", ["all", "round:11", "round:x", "noise:2", "top:0", ""])
def test_unknown_policies_name_the_choices(text):
    with pytest.raises(ValidationError, match="`policy` must be one of probs"):
        parse_policy(text)


def test_each_policy_is_a_wrapper_of_the_model(digits_mlp):
    assert apply_policy(digits_mlp, "probs") is digits_mlp
    assert isinstance(apply_policy(digits_mlp, "label"), LabelOnly)
    assert isinstance(apply_policy(digits_mlp, "top1"), TopK)
    assert isinstance(apply_policy(digits_mlp, "round:3"), RoundedScores)
    assert isinstance(apply_policy(digits_mlp, "noise:0.1"), NoisyScores)
    assert capabilities("label") == {"labels"} and capabilities("top1") == {"labels", "scores"}


def test_top_k_beyond_the_classes_is_refused(digits_mlp):
    with pytest.raises(ValidationError, match="top:11"):
        apply_policy(digits_mlp, "top:11")
