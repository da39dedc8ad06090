"""bastion: red-team a machine-learning model and harden it.

Threat families (see the design map): model duplication (extraction, membership
inference; PATE), adversarial examples (evasion; adversarial training, distillation),
poisoning (label flips, injection, backdoors; sanitization, micro-models).
"""

from typing import Any

from bastion.data import Dataset, load
from bastion.determinism import is_deterministic, set_deterministic
from bastion.exceptions import BastionError
from bastion.limits import set_limits
from bastion.models import SklearnModel, TorchModel

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    # ``bastion.assess(model, data)`` without importing the assessment machinery up front.
    if name == "assess":
        import bastion.assess

        return bastion.assess
    raise AttributeError(f"module 'bastion' has no attribute {name!r}")


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
