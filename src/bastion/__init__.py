"""bastion: red-team a machine-learning model and harden it.

Threat families (see the design map): model duplication (extraction, membership
inference; PATE), adversarial examples (evasion; adversarial training, distillation),
poisoning (label flips, injection, backdoors; sanitization, micro-models).
"""

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

# The public names, imported on first use so that ``import bastion`` (and ``bastion --help``)
# does not pay for torch and scikit-learn up front.
_LAZY = {
    "BastionError": "bastion.exceptions",
    "Dataset": "bastion.data",
    "SklearnModel": "bastion.models",
    "TorchModel": "bastion.models",
    "is_deterministic": "bastion.determinism",
    "load": "bastion.data",
    "set_deterministic": "bastion.determinism",
    "set_limits": "bastion.limits",
}


def __getattr__(name: str) -> Any:
    if name == "assess":
        return import_module("bastion.assess")
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    try:  # a subpackage used as an attribute (``bastion.models.io``), as an eager import made it
        return import_module(f"bastion.{name}")
    except ModuleNotFoundError as error:
        if error.name != f"bastion.{name}":
            raise
        raise AttributeError(f"module 'bastion' has no attribute {name!r}") from None


__all__ = [
    "BastionError",
    "Dataset",
    "SklearnModel",
    "TorchModel",
    "__version__",
    "assess",
    "is_deterministic",
    "load",
    "set_deterministic",
    "set_limits",
]
