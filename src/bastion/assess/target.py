"""The assessed model and data as cells receive them, and what the model can do.

Cells run in other processes or on other machines of a Ray cluster, so the model travels
as the bytes of a bastion model folder (:func:`bastion.models.io.save`: safetensors weights,
skops or ONNX plus a spec), rebuilt on arrival with :func:`bastion.models.io.load`: nothing
is unpickled. A model that folder cannot hold (a torch module outside the zoo) can only be
assessed in this process (``backend="serial"``).
"""

from __future__ import annotations

import hashlib
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bastion.data.dataset import Dataset
from bastion.exceptions import InputTypeError, ValidationError
from bastion.models import GRADIENTS, SCORES, SklearnModel, TorchModel, io

_LOADED: dict[str, Any] = {}


@dataclass(frozen=True)
class Profile:
    """What the assessed model offers, decided once in the driver; planners read it.

    Attributes:
        kind: ``"torch"``, ``"sklearn"``, ``"onnx"`` or the adapter's class name.
        capabilities: the model's capabilities (``labels``, ``scores``, ``gradients``).
        rebuildable: a torch zoo architecture, so defenses can train fresh copies of it.
        trainable: :func:`~bastion.attacks.inference.train_like` can train copies of it
            (zoo torch or scikit-learn): shadow models, poisoned retraining.
        linear: a scikit-learn linear model (equation solving applies).
        images: samples are ``(channels, height, width)`` images.
        input_shape, n_classes: the task.
    """

    kind: str
    capabilities: tuple[str, ...]
    rebuildable: bool
    trainable: bool
    linear: bool
    images: bool
    input_shape: tuple[int, ...]
    n_classes: int

    @property
    def gradients(self) -> bool:
        """White-box access."""
        return GRADIENTS in self.capabilities

    @property
    def scores(self) -> bool:
        """The model answers probabilities."""
        return SCORES in self.capabilities

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "kind": self.kind,
            "capabilities": list(self.capabilities),
            "rebuildable": self.rebuildable,
            "trainable": self.trainable,
            "linear": self.linear,
            "images": self.images,
            "input_shape": list(self.input_shape),
            "n_classes": self.n_classes,
        }


def profile(model: Any) -> Profile:
    """The :class:`Profile` of a bastion model."""
    rebuildable = isinstance(model, TorchModel) and hasattr(model.module, "arch")
    estimator = getattr(model, "estimator", None)
    linear = isinstance(model, SklearnModel) and type(estimator).__module__.startswith("sklearn.linear_model")
    kind = {"TorchModel": "torch", "SklearnModel": "sklearn", "OnnxModel": "onnx"}.get(
        type(model).__name__, type(model).__name__
    )
    shape = tuple(int(s) for s in model.input_shape)
    return Profile(
        kind=kind,
        capabilities=tuple(sorted(model.capabilities)),
        rebuildable=rebuildable,
        trainable=rebuildable or isinstance(model, SklearnModel),
        linear=linear,
        images=len(shape) == 3 and shape[0] in (1, 3),
        input_shape=shape,
        n_classes=int(model.n_classes),
    )


def dataset_sha256(dataset: Dataset) -> str:
    """SHA-256 over a dataset's four arrays (shapes, dtypes and bytes)."""
    digest = hashlib.sha256()
    for array in (dataset.x_train, dataset.y_train, dataset.x_test, dataset.y_test):
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


@dataclass(frozen=True, eq=False)
class Target:
    """The model and data every cell of one assessment receives.

    Attributes:
        dataset: the assessed data (training split: what the model was trained on).
        sha256: the model's fingerprint: SHA-256 of its saved data file (weights,
            ``.skops`` or ``.onnx``), as in the ``model.json`` spec.
        files: the saved model folder, file name -> bytes; ``None`` when it cannot be saved.
        model: the model object itself, kept only when ``files`` is ``None``.
    """

    dataset: Dataset
    sha256: str
    files: dict[str, bytes] | None = None
    model: Any = field(default=None, repr=False)

    @property
    def portable(self) -> bool:
        """Whether the model can travel to other processes (it saved to files)."""
        return self.files is not None

    def load(self) -> Any:
        """The model, rebuilt from its files once per process (or the object itself)."""
        if self.files is None:
            return self.model
        if self.sha256 not in _LOADED:
            with tempfile.TemporaryDirectory(prefix="bastion-assess-") as folder:
                for name, data in self.files.items():
                    (Path(folder) / name).write_bytes(data)
                # Trust exactly the skops types the driver trusted when it saved the model.
                _LOADED[self.sha256] = io.load(folder, trusted=_skops_types(Path(folder)))
        return _LOADED[self.sha256]


def _skops_types(folder: Path) -> tuple[str, ...]:
    skops_file = folder / io.SKOPS_FILE
    if not skops_file.is_file():
        return ()
    import skops.io

    return tuple(skops.io.get_untrusted_types(file=skops_file))


def make_target(model: Any, dataset: Dataset) -> Target:
    """Package ``model`` and ``dataset`` for the cells.

    Raises:
        InputTypeError: ``model`` is not a bastion model or ``dataset`` not a Dataset.
        ValidationError: the model does not fit the data (input shape, classes).
    """
    if not isinstance(dataset, Dataset):
        raise InputTypeError(f"`dataset` must be a bastion Dataset (bastion.load(...)), got {type(dataset).__name__}")
    if not all(hasattr(model, name) for name in ("predict", "capabilities", "input_shape", "n_classes")):
        raise InputTypeError(
            f"`model` must be a bastion Model (TorchModel, SklearnModel, OnnxModel, ...), got {type(model).__name__}"
        )
    if tuple(model.input_shape) != tuple(dataset.input_shape):
        raise ValidationError(
            f"`model` expects samples of shape {tuple(model.input_shape)}, but `dataset` {dataset.name!r} has "
            f"samples of shape {tuple(dataset.input_shape)}"
        )
    if model.n_classes != dataset.n_classes:
        raise ValidationError(
            f"`model` has {model.n_classes} classes, but `dataset` {dataset.name!r} has {dataset.n_classes}"
        )
    with tempfile.TemporaryDirectory(prefix="bastion-assess-") as folder:
        try:
            io.save(model, folder)
        except (ValidationError, InputTypeError):
            return Target(dataset=dataset, sha256=_object_sha256(model), model=model)
        files = {path.name: path.read_bytes() for path in Path(folder).iterdir() if path.is_file()}
        sha256 = io.read_spec(folder)["sha256"]
    return Target(dataset=dataset, sha256=sha256, files=files)


def _object_sha256(model: Any) -> str:
    # A model bastion cannot save: fingerprint its torch parameters, or failing that its repr.
    digest = hashlib.sha256()
    module = getattr(model, "module", None)
    if module is not None and hasattr(module, "state_dict"):
        for name, tensor in sorted(module.state_dict().items()):
            digest.update(name.encode())
            digest.update(tensor.detach().cpu().numpy().tobytes())
    else:
        digest.update(repr(model).encode())
    return digest.hexdigest()


__all__ = ["Profile", "Target", "dataset_sha256", "make_target", "profile"]
