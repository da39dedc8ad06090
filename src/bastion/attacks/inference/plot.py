"""ROC curves of membership attacks on log-log axes, as Carlini et al. (2022) draw them."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from bastion.attacks.inference.base import MembershipResult
from bastion.exceptions import ValidationError


def plot_roc(
    results: Mapping[str, MembershipResult],
    path: str | Path,
    *,
    title: str = "Membership inference",
) -> Path:
    """Draw each result's ROC curve on log-log axes and save the figure (PNG, SVG, PDF ...).

    Log scales show the low false-positive region, where an attack that confidently finds
    a few members stands apart from one that does no better than chance (the diagonal).
    Points at zero rate cannot be drawn on a log axis and are dropped.

    Args:
        results: ``{label: MembershipResult}``, one curve each; the legend adds its AUC and
            TPR at 1% FPR.
        path: the file to write; its suffix picks the format.
        title: the figure's title.

    Returns:
        The path written.

    Raises:
        ValidationError: no results.
    """
    if not results:
        raise ValidationError("`results` must hold at least one MembershipResult to plot, got none")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(5.5, 5))
    floor = 1.0
    for label, result in results.items():
        fpr, tpr = np.asarray(result.roc_fpr), np.asarray(result.roc_tpr)
        shown = (fpr > 0) & (tpr > 0)
        floor = min(floor, 1.0 / result.n_nonmembers)
        axes.plot(
            fpr[shown],
            tpr[shown],
            drawstyle="steps-post",
            label=f"{label} (AUC {result.auc:.3f}, TPR@1%FPR {result.tpr_at_fpr_1pct:.1%})",
        )
    axes.plot([floor, 1], [floor, 1], linestyle="--", color="grey", linewidth=1, label="chance")
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlim(floor, 1)
    axes.set_ylim(floor, 1)
    axes.set_xlabel("false-positive rate")
    axes.set_ylabel("true-positive rate")
    axes.set_title(title)
    axes.legend(fontsize=7, loc="lower right")
    figure.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path
