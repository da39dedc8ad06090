"""Data sanitization: find and remove poisoned training samples before training.

Each sanitizer is ``clean(dataset) -> CleaningResult``: the cleaned data, what was removed,
per-sample suspicion scores, and precision/recall against a PoisonedDataset's mask.
"""

from bastion.defenses.sanitization.activation_clustering import ActivationClustering
from bastion.defenses.sanitization.base import CleaningResult, Sanitizer, keep_rows
from bastion.defenses.sanitization.iterative import Iterative
from bastion.defenses.sanitization.knn_label import KNNLabelFilter
from bastion.defenses.sanitization.loss import LossFilter
from bastion.defenses.sanitization.outliers import OutlierFilter
from bastion.defenses.sanitization.spectral_signatures import SpectralSignatures
from bastion.defenses.sanitization.spectre import SPECTRE

SANITIZERS = {
    "spectre": SPECTRE,
    "spectral_signatures": SpectralSignatures,
    "activation_clustering": ActivationClustering,
    "outliers": OutlierFilter,
    "knn_label": KNNLabelFilter,
    "loss": LossFilter,
}

__all__ = [
    "SANITIZERS",
    "SPECTRE",
    "ActivationClustering",
    "CleaningResult",
    "Iterative",
    "KNNLabelFilter",
    "LossFilter",
    "OutlierFilter",
    "Sanitizer",
    "SpectralSignatures",
    "keep_rows",
]
