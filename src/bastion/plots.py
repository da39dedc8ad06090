"""Plots of the toolkit's results, in one place: robustness curves, membership ROC curves.

Every figure is a :class:`matplotlib.figure.Figure` drawn and saved directly, never through
``pyplot``'s global state: the library must not switch the caller's matplotlib backend
(``matplotlib.use``) nor leave figures open in a notebook. :func:`new_figure` and
:func:`save_figure` are the two steps every plot (and every benchmark's plot) shares.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.figure import Figure

from bastion.exceptions import ValidationError

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from bastion.attacks.evasion.robustness import RobustnessResult
    from bastion.attacks.inference.evaluation import MembershipResult

DPI = 120


def new_figure(figsize: tuple[float, float]) -> tuple[Figure, Axes]:
    """A figure with one set of axes, detached from ``pyplot`` (no backend is selected)."""
    figure = Figure(figsize=figsize)
    return figure, figure.subplots()


def save_figure(figure: Figure, path: str | Path, *, dpi: int = DPI) -> Path:
    """Lay out ``figure`` and write it to ``path`` (its suffix picks PNG, SVG, PDF ...).

    Returns:
        The path written; missing parent folders are created.
    """
    path = Path(path)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=dpi)
    return path


def plot_robustness(result: RobustnessResult, path: str | Path, *, title: str | None = None) -> Path:
    """Save a plot of robust accuracy against eps (clean accuracy at eps = 0).

    Args:
        result: what :func:`bastion.attacks.robustness` returned.
        path: where to write the figure; its suffix picks the format.
        title: the figure's title.

    Returns:
        The path written.
    """
    eps = [0.0, *result.eps] if result.eps[0] > 0 else list(result.eps)
    accuracy = [result.clean_accuracy, *result.robust_accuracy] if result.eps[0] > 0 else list(result.robust_accuracy)
    figure, axes = new_figure((5, 3.5))
    axes.plot(eps, [100 * a for a in accuracy], marker="o")
    axes.set_xlabel(f"eps (L{'∞' if result.norm == 'inf' else '2'}, input units)")
    axes.set_ylabel("robust accuracy (%)")
    axes.set_ylim(-2, 102)
    axes.grid(alpha=0.3)
    suffix = "\n(gradient masking suspected)" if result.gradient_masking else ""
    axes.set_title((title or "robust accuracy") + suffix)
    return save_figure(figure, path)


def plot_roc(
    results: Mapping[str, MembershipResult],
    path: str | Path,
    *,
    title: str = "Membership inference",
) -> Path:
    """Draw each result's ROC curve on log-log axes and save the figure (PNG, SVG, PDF ...).

    Log scales show the low false-positive region, as Carlini et al. (2022) draw them: an
    attack that confidently finds a few members stands apart from one that does no better
    than chance (the diagonal). Points at zero rate cannot be drawn on a log axis and are
    dropped.

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
    figure, axes = new_figure((5.5, 5))
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
    return save_figure(figure, path)


def plot_sanitizer_bars(
    rows: Mapping[str, tuple[float, float]],
    path: str | Path,
    *,
    title: str = "Backdoor before and after sanitization",
) -> Path:
    """Grouped bars of attack success and clean accuracy per setting (e.g. per sanitizer).

    Args:
        rows: ``{label: (attack_success, clean_accuracy)}``, fractions in [0, 1], drawn in order
            (e.g. "no defense", then one entry per sanitizer).
        path: the file to write; its suffix picks the format.
        title: the figure's title.

    Returns:
        The path written.

    Raises:
        ValidationError: no rows.
    """
    if not rows:
        raise ValidationError("`rows` must hold at least one (attack_success, clean_accuracy) pair, got none")
    labels = list(rows)
    success = [100 * rows[label][0] for label in labels]
    accuracy = [100 * rows[label][1] for label in labels]
    positions = np.arange(len(labels))
    figure, axes = new_figure((max(5.0, 1.1 * len(labels) + 2), 3.8))
    axes.bar(positions - 0.2, success, width=0.4, label="attack success (%)", color="tab:red")
    axes.bar(positions + 0.2, accuracy, width=0.4, label="clean test accuracy (%)", color="tab:blue")
    axes.set_xticks(positions, labels, rotation=20, ha="right", fontsize=8)
    axes.set_ylim(0, 105)
    axes.grid(alpha=0.3, axis="y")
    axes.legend(fontsize=8, loc="center right")
    axes.set_title(title)
    return save_figure(figure, path)


def plot_curves(
    x: list[float] | np.ndarray,
    curves: Mapping[str, list[float] | np.ndarray],
    path: str | Path,
    *,
    xlabel: str,
    ylabel: str,
    title: str,
) -> Path:
    """Lines of ``curves[label]`` against ``x`` (e.g. test accuracy against the label-flip rate).

    Args:
        x: the shared abscissa.
        curves: ``{label: values}``, each as long as ``x``.
        path: the file to write; its suffix picks the format.
        xlabel, ylabel, title: the axes' labels and the figure's title.

    Returns:
        The path written.

    Raises:
        ValidationError: no curves, or a curve whose length differs from ``x``.
    """
    if not curves:
        raise ValidationError("`curves` must hold at least one curve, got none")
    figure, axes = new_figure((5.5, 3.8))
    for label, values in curves.items():
        if len(values) != len(x):
            raise ValidationError(f"curve {label!r} has {len(values)} values for {len(x)} x positions")
        axes.plot(x, values, marker="o", label=label)
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8)
    axes.set_title(title)
    return save_figure(figure, path)
