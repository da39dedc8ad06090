"""Membership inference: was this record in the model's training set?

Four attacks, one protocol (``fit(model, x_population, y_population)`` then
``score(model, x, y)``, higher = member):

- :class:`LossThreshold` (Yeom et al. 2018) and :class:`ConfidenceThreshold` (Salem et al.
  2019): the target's own loss or confidence; no preparation;
- :class:`ShadowModels` (Shokri et al. 2017): attack models learned from shadow models;
- :class:`LiRA` (Carlini et al. 2022, offline): a per-record likelihood-ratio test against
  reference models.

:func:`evaluate_membership` measures any of them on known members and non-members
(:class:`MembershipResult`: AUC, TPR at 0.1% and 1% FPR, balanced accuracy, ROC curve);
:func:`membership_leakage` is the one-call audit of a model's leakage.
"""

from bastion.attacks.inference.base import MembershipAttack
from bastion.attacks.inference.confidence_threshold import ConfidenceThreshold
from bastion.attacks.inference.evaluation import MembershipResult, evaluate_membership, membership_metrics
from bastion.attacks.inference.leakage import ATTACKS, make_attack, membership_leakage
from bastion.attacks.inference.lira import LiRA
from bastion.attacks.inference.loss_threshold import LossThreshold
from bastion.attacks.inference.metrics import RocCurve, roc_auc, roc_curve, tpr_at_fpr
from bastion.attacks.inference.reference import train_like
from bastion.attacks.inference.shadow_models import ShadowModels

__all__ = [
    "ATTACKS",
    "ConfidenceThreshold",
    "LiRA",
    "LossThreshold",
    "MembershipAttack",
    "MembershipResult",
    "RocCurve",
    "ShadowModels",
    "evaluate_membership",
    "make_attack",
    "membership_leakage",
    "membership_metrics",
    "roc_auc",
    "roc_curve",
    "tpr_at_fpr",
    "train_like",
]
