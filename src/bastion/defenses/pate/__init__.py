"""PATE: private aggregation of teacher ensembles, with Rényi-DP privacy accounting.

Teachers trained on disjoint shards of the private data vote on public queries; a noisy
aggregator (:class:`LNMax`, :class:`GNMax`, :class:`ConfidentGNMax`) releases only their
consensus; a student trained on those labels is the model that gets deployed.
"""

from bastion.defenses.pate.aggregators import (
    AGGREGATORS,
    UNANSWERED,
    Aggregator,
    ConfidentGNMax,
    GNMax,
    LNMax,
    make_aggregator,
)
from bastion.defenses.pate.pate import PATE, LabelingResult, partition
from bastion.defenses.pate.privacy import PrivacyAccountant, PrivacySpent, epsilon_from_rdp
from bastion.defenses.pate.smooth_sensitivity import (
    SmoothSensitivityAnalysis,
    SmoothSensitivityWarning,
    smooth_sensitivity_analysis,
)
from bastion.defenses.pate.student import LabelSpreadingClassifier, StudentReport, TorchTrainer

__all__ = [
    "AGGREGATORS",
    "PATE",
    "UNANSWERED",
    "Aggregator",
    "ConfidentGNMax",
    "GNMax",
    "LNMax",
    "LabelSpreadingClassifier",
    "LabelingResult",
    "PrivacyAccountant",
    "PrivacySpent",
    "SmoothSensitivityAnalysis",
    "SmoothSensitivityWarning",
    "StudentReport",
    "TorchTrainer",
    "epsilon_from_rdp",
    "make_aggregator",
    "partition",
    "smooth_sensitivity_analysis",
]
