"""Model adapters (torch, scikit-learn), reference architectures, training and safe I/O."""

from bastion.models import io, zoo
from bastion.models.base import GRADIENTS, LABELS, SCORES, BaseModel, Model, WhiteBoxModel, require
from bastion.models.onnx import OnnxModel
from bastion.models.onnx_torch import onnx_to_torch
from bastion.models.sklearn import SklearnModel
from bastion.models.torch import TorchModel
from bastion.models.training import fit
from bastion.models.wrappers import LabelOnly, LeafIdentity, RoundedScores

__all__ = [
    "GRADIENTS",
    "LABELS",
    "SCORES",
    "BaseModel",
    "LabelOnly",
    "LeafIdentity",
    "Model",
    "OnnxModel",
    "RoundedScores",
    "SklearnModel",
    "TorchModel",
    "WhiteBoxModel",
    "fit",
    "io",
    "onnx_to_torch",
    "require",
    "zoo",
]
