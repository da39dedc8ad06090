"""Validation helpers: what they accept, convert, and the messages they give."""

from __future__ import annotations

import numpy as np
import pytest

from bastion.exceptions import InputTypeError, ValidationError
from bastion.validation import check_choice, check_inputs, check_labels, check_scalar, check_seed


def test_check_scalar_returns_the_value_converted_to_kind():
    assert check_scalar(3, "eps") == 3.0
    assert isinstance(check_scalar(3, "eps"), float)
    assert isinstance(check_scalar(np.int64(4), "steps", kind=int), int)


def test_check_scalar_message_names_argument_interval_and_value():
    with pytest.raises(ValidationError, match=r"^`eps` must be a float in \[0, 1\], got -0.1$"):
        check_scalar(-0.1, "eps", low=0, high=1)


def test_check_scalar_open_bounds_refuse_the_bound():
    with pytest.raises(ValidationError, match=r"\(0, inf\), got 0"):
        check_scalar(0, "lr", low=0, include_low=False)
    with pytest.raises(ValidationError, match=r"\(-inf, 1\)"):
        check_scalar(1.0, "p", high=1, include_high=False)
    assert check_scalar(0.5, "p", low=0, high=1, include_low=False, include_high=False) == 0.5


@pytest.mark.parametrize("value", [True, "0.1", None, [0.1]])
def test_check_scalar_refuses_non_numbers_and_bools(value):
    with pytest.raises(InputTypeError, match=r"`eps` must be a float"):
        check_scalar(value, "eps")


def test_check_scalar_int_kind_refuses_floats():
    with pytest.raises(InputTypeError, match=r"`steps` must be an int .* got 2.5 of type float"):
        check_scalar(2.5, "steps", kind=int)


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_check_scalar_refuses_nan_and_inf(value):
    with pytest.raises(ValidationError, match=r"`eps`"):
        check_scalar(value, "eps")


def test_check_choice_lists_the_choices():
    assert check_choice("inf", "norm", ("inf", "2")) == "inf"
    with pytest.raises(ValidationError, match=r"`norm` must be one of 'inf', '2', got 'l1'"):
        check_choice("l1", "norm", ("inf", "2"))


@pytest.mark.parametrize("seed", [-1, 2**32])
def test_check_seed_refuses_values_outside_uint32(seed):
    with pytest.raises(ValidationError, match=r"`seed`"):
        check_seed(seed)


def test_check_inputs_returns_float32():
    x = check_inputs(np.zeros((2, 3), dtype=np.float64))
    assert x.dtype == np.float32 and x.shape == (2, 3)


def test_check_inputs_shape_error_says_expected_and_received_shapes():
    with pytest.raises(ValidationError, match=r"must have shape \(n, 1, 8, 8\), got \(2, 64\)"):
        check_inputs(np.zeros((2, 64)), sample_shape=(1, 8, 8))


def test_check_inputs_refuses_a_single_sample_without_batch_axis():
    with pytest.raises(ValidationError, match=r"batch with shape \(n, ...\)"):
        check_inputs(np.zeros(5))


def test_check_inputs_counts_non_finite_entries():
    x = np.zeros((2, 3))
    x[0, 0] = np.nan
    x[1, 2] = np.inf
    with pytest.raises(ValidationError, match=r"got 2 NaN or infinite entries"):
        check_inputs(x)


def test_check_inputs_range_error_gives_range_and_found_values():
    with pytest.raises(ValidationError, match=r"input range \[0, 1\], got values in \[-0.5, 1\]"):
        check_inputs(np.array([[-0.5, 1.0]]), value_range=(0.0, 1.0))


def test_check_inputs_tolerates_float32_round_off_of_the_bounds():
    check_inputs(np.array([[1.0 + 1e-7]]), value_range=(0.0, 1.0))


@pytest.mark.parametrize("x", ["abc", None, np.array([[True, False]]), np.array([["a"]]), np.ones((1, 2)) * 1j])
def test_check_inputs_refuses_non_numeric_arrays(x):
    with pytest.raises(InputTypeError, match=r"`x`"):
        check_inputs(x)


def test_check_inputs_refuses_empty_batches_unless_allowed():
    with pytest.raises(ValidationError, match=r"at least one sample"):
        check_inputs(np.zeros((0, 3)))
    assert check_inputs(np.zeros((0, 3)), allow_empty=True).shape == (0, 3)


def test_check_labels_accepts_integral_floats_and_returns_int64():
    labels = check_labels(np.array([0.0, 2.0, 1.0]))
    assert labels.dtype == np.int64 and labels.tolist() == [0, 2, 1]


def test_check_labels_refuses_non_integral_values():
    with pytest.raises(ValidationError, match=r"non-integral"):
        check_labels(np.array([0.5, 1.0]))


def test_check_labels_wrong_length_names_the_expected_count():
    with pytest.raises(ValidationError, match=r"must have 3 labels .* got 2"):
        check_labels([0, 1], n_samples=3)


def test_check_labels_refuses_negative_labels_and_labels_beyond_n_classes():
    with pytest.raises(ValidationError, match=r"0..k-1, got -1"):
        check_labels([0, -1])
    with pytest.raises(ValidationError, match=r"labels in 0..2 for a 3-class model, got 3"):
        check_labels([0, 3], n_classes=3)


def test_check_labels_refuses_two_dimensional_labels():
    with pytest.raises(ValidationError, match=r"one-dimensional \(n,\), got shape \(2, 2\)"):
        check_labels(np.zeros((2, 2), dtype=int))


@pytest.mark.parametrize("y", [None, "012", np.array([True, False])])
def test_check_labels_refuses_non_integer_types(y):
    with pytest.raises(InputTypeError, match=r"`y`"):
        check_labels(y)
