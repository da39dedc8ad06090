"""The warning for a model scoring far below its expected accuracy (a scaling mismatch)."""

from __future__ import annotations

import pytest

from bastion.models.sanity import (
    ScalingMismatchWarning,
    expected_accuracy_floor,
    low_accuracy_message,
    warn_if_low_accuracy,
)


@pytest.mark.parametrize(("n_classes", "floor"), [(2, 0.75), (3, 2 / 3), (10, 0.5), (100, 0.5)])
def test_floor_is_about_twice_chance_or_half_capped_for_few_classes(n_classes, floor):
    assert expected_accuracy_floor(n_classes) == pytest.approx(floor)


def test_accuracy_below_the_floor_names_the_usual_causes():
    message = low_accuracy_message(0.12, 10, 450)
    assert "12% clean accuracy on these 450 samples" in message
    assert "the usual sign of a scaling mismatch (data range / channel axis / feature scaling)" in message


def test_accuracy_above_the_floor_says_nothing():
    assert low_accuracy_message(0.9, 10, 450) is None


def test_far_below_a_recorded_accuracy_is_flagged_even_above_the_floor():
    assert "far below its recorded accuracy 97%" in low_accuracy_message(0.6, 10, 450, recorded=0.97)
    assert low_accuracy_message(0.9, 10, 450, recorded=0.97) is None


def test_too_few_samples_say_nothing():
    assert low_accuracy_message(0.0, 10, 9) is None


def test_warning_has_its_own_class():
    with pytest.warns(ScalingMismatchWarning, match="scaling mismatch"):
        warn_if_low_accuracy(0.1, 10, 100)
