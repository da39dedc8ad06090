"""The one exception tree of bastion.

Every error bastion raises on purpose derives from :class:`BastionError`. Leaves also
inherit the matching builtin, so ``except ValueError`` keeps working for callers who do
not know bastion::

    BastionError
    ├── ValidationError (ValueError)      bad argument value, shape, range or budget
    ├── InputTypeError (TypeError)        argument of the wrong type
    ├── CapabilityError (TypeError)       the model lacks what an attack needs
    ├── NotFittedError (RuntimeError)     an estimator used before ``fit``
    ├── BudgetExceededError (RuntimeError) a query budget would be overrun
    ├── UnsafeFileError (ValueError)      a file format bastion refuses to load
    ├── BackendUnavailableError (ImportError) an execution backend's optional dependency is missing
    ├── AccessDeniedError (PermissionError) a server refused the API key (missing, wrong, revoked)
    └── RemoteError (ConnectionError)     a remote model could not answer (down, 503, retries spent)

The CLI turns any ``BastionError`` into one line and exit code 2; the server turns it into
a 4xx JSON answer.
"""

from __future__ import annotations


class BastionError(Exception):
    """Root of every error bastion raises on purpose."""


class ValidationError(BastionError, ValueError):
    """An argument has a bad value, shape, range or budget."""


class InputTypeError(BastionError, TypeError):
    """An argument has the wrong type."""


class CapabilityError(BastionError, TypeError):
    """A model lacks a capability (for example gradients) that an attack needs."""


class NotFittedError(BastionError, RuntimeError):
    """An estimator or defense was used before ``fit``."""


class BudgetExceededError(BastionError, RuntimeError):
    """A query budget would be overrun."""


class UnsafeFileError(BastionError, ValueError):
    """A file in a format bastion refuses to load (pickle, untrusted code, ...)."""


class BackendUnavailableError(BastionError, ImportError):
    """A backend's optional dependency (for example ``ray``) is not installed."""


class AccessDeniedError(BastionError, PermissionError):
    """A prediction server refused the API key: missing, wrong, revoked or blocked."""


class RemoteError(BastionError, ConnectionError):
    """A remote model could not answer: unreachable, unavailable, or retries spent."""
