"""The exception tree: every leaf is a BastionError and the matching builtin."""

from __future__ import annotations

import pytest

from bastion import exceptions
from bastion.exceptions import (
    AccessDeniedError,
    BastionError,
    BudgetExceededError,
    CapabilityError,
    InputTypeError,
    NotFittedError,
    RemoteError,
    UnsafeFileError,
    ValidationError,
)

LEAVES = [
    (ValidationError, ValueError),
    (InputTypeError, TypeError),
    (CapabilityError, TypeError),
    (NotFittedError, RuntimeError),
    (BudgetExceededError, RuntimeError),
    (UnsafeFileError, ValueError),
    (AccessDeniedError, PermissionError),
    (RemoteError, ConnectionError),
]


@pytest.mark.parametrize(("leaf", "builtin"), LEAVES)
def test_every_leaf_is_caught_as_bastion_error_and_as_its_builtin(leaf, builtin):
    with pytest.raises(BastionError):
        raise leaf("message")
    with pytest.raises(builtin):
        raise leaf("message")


def test_bastion_error_is_not_a_builtin_value_or_type_error():
    assert not issubclass(BastionError, (ValueError, TypeError, RuntimeError))


@pytest.mark.parametrize(("leaf", "builtin"), LEAVES)
def test_module_docstring_draws_every_leaf_with_its_builtin(leaf, builtin):
    assert f"{leaf.__name__} ({builtin.__name__})" in exceptions.__doc__


def test_message_is_kept():
    assert str(ValidationError("`eps` must be a float")) == "`eps` must be a float"
