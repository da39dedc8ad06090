"""What every defense that trains a model shares: the ``fit(module_factory, dataset)`` inputs.

Defenses that train follow scikit-learn (see ``docs/contributing.md``): hyperparameters in
``__init__``, ``fit(module_factory, dataset)`` returns ``self``, the hardened model ends in
``model_`` and learned state in a trailing ``_`` (:class:`~bastion.mixins.FittedMixin`
raises :class:`~bastion.exceptions.NotFittedError` when it is read before ``fit``). The
model is given as a *factory*, a callable that returns a fresh torch module, so a defense
that trains several networks (distillation's teacher and student) and one that trains one
(adversarial training) take the same argument, and ``fit`` never trains a caller's module
in place.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

from bastion.exceptions import InputTypeError, ValidationError
from bastion.models.torch import module_output_width

ModuleFactory = Callable[[], nn.Module]


def check_module_factory(module_factory: Any) -> ModuleFactory:
    """Refuse what is not a callable returning a module (a module itself included).

    Raises:
        InputTypeError: ``module_factory`` is a torch module or not callable.
    """
    if not callable(module_factory) or isinstance(module_factory, nn.Module):
        raise InputTypeError(
            "`module_factory` must be a callable returning a fresh torch module "
            f"(e.g. lambda: zoo.small_cnn((1, 8, 8), 10)), got {type(module_factory).__name__}"
        )
    return module_factory


def check_dataset(dataset: Any) -> Any:
    """Refuse what is not a bastion :class:`~bastion.data.Dataset`.

    Raises:
        InputTypeError: ``dataset`` lacks the training split or its shape.
    """
    if not all(hasattr(dataset, name) for name in ("x_train", "y_train", "input_shape", "n_classes")):
        raise InputTypeError(f"`dataset` must be a bastion Dataset, got {type(dataset).__name__}")
    return dataset


def build_module(module_factory: ModuleFactory, role: str, dataset: Any) -> nn.Module:
    """Call the factory and check the module fits ``dataset`` (input shape, one logit per class).

    Args:
        module_factory: checked by :func:`check_module_factory`.
        role: what the module is for (``"model"``, ``"teacher"``, ``"student"``), for messages.
        dataset: the Dataset the module will be trained on.

    Raises:
        InputTypeError: the factory returned something other than a torch module.
        ValidationError: the module does not take the dataset's inputs or has the wrong
            number of logits.
    """
    module = module_factory()
    if not isinstance(module, nn.Module):
        raise InputTypeError(
            f"`module_factory` must return a torch.nn.Module, got {type(module).__name__} for the {role}"
        )
    try:
        width = module_output_width(module, tuple(dataset.input_shape), "dataset.input_shape")
    except ValidationError as error:
        raise ValidationError(f"`module_factory` built a {role} that does not fit `dataset`: {error}") from error
    if width != dataset.n_classes:
        raise ValidationError(
            f"`module_factory` must build a {role} with {dataset.n_classes} logits (the dataset's classes), got {width}"
        )
    return module
