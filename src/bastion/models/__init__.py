"""Model adapters (torch, scikit-learn), reference architectures, training and safe I/O."""

from bastion.models import io, zoo
from bastion.models.base import GRADIENTS, LABELS, SCORES, BaseModel, Model, WhiteBoxModel, require
from bastion.models.onnx import OnnxModel
from bastion.models.onnx_torch import onnx_to_torch
from bastion.models.remote import RemoteModel
from bastion.models.sklearn import SklearnModel
from bastion.models.torch import TorchModel
from bastion.models.training import fit
from bastion.models.wrappers import LabelOnly, LeafIdentity, NoisyScores, RoundedScores, TopK

__all__ = [
    "GRADIENTS",
    "LABELS",
    "SCORES",
    "BaseModel",
    "LabelOnly",
    "LeafIdentity",
    "Model",
    "NoisyScores",
    "OnnxModel",
    "RemoteModel",
    "RoundedScores",
    "SklearnModel",
    "TopK",
    "TorchModel",
    "WhiteBoxModel",
    "fit",
    "io",
    "onnx_to_torch",
    "require",
    "zoo",
]
