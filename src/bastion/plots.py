"""Plots of the toolkit's results, in one place: robustness curves, membership ROC curves,
adversarial examples, extraction fidelity, PATE's privacy/accuracy trade-off, poisoning.

Every figure is a :class:`matplotlib.figure.Figure` drawn and saved directly, never through
``pyplot``'s global state: the library must not switch the caller's matplotlib backend
(``matplotlib.use``) nor leave figures open in a notebook. :func:`new_figure` and
:func:`save_figure` are the two steps every plot (and every benchmark's plot) shares;
:func:`figure_svg` gives a figure as inline SVG for the HTML report of ``bastion assess``.

The ``*_figure`` functions return the figure; each takes plain numbers or objects with the
fields of the matching result (a ``RobustnessResult``, a ``MembershipResult``), so the report
draws them from ``results.json`` as the CLI draws them from live results.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bastion.exceptions import ValidationError

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from bastion.attacks.evasion.robustness import RobustnessResult
    from bastion.attacks.inference.evaluation import MembershipResult

DPI = 120


def new_figure(
    figsize: tuple[float, float], *, rows: int = 1, cols: int = 1, squeeze: bool = True
) -> tuple[Figure, Axes]:
    """A figure with one set of axes (or a ``rows x cols`` grid), detached from ``pyplot``.

    No backend is selected and no global figure is left open.
    """
    # Imported here: matplotlib is slow to import and most commands draw nothing.
    from matplotlib.figure import Figure

    figure = Figure(figsize=figsize)
    return figure, figure.subplots(rows, cols, squeeze=squeeze)


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


def figure_svg(figure: Figure) -> str:
    """``figure`` as one ``<svg>`` element to inline in HTML: text drawn as paths (no font
    needed to view it), no XML header, no metadata."""
    import matplotlib

    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "path", "svg.hashsalt": "bastion"}):
        figure.tight_layout()
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    text = buffer.getvalue()
    return re.sub(r"\s*<metadata>.*?</metadata>", "", text[text.index("<svg") :], flags=re.S)


def _percent_axes(axes: Axes, title: str, xlabel: str, ylabel: str = "%") -> None:
    axes.set_title(title)
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    axes.set_ylim(-3, 103)
    axes.grid(alpha=0.3)


def robustness_figure(curves: Mapping[str, Any], *, title: str = "robust accuracy") -> Figure:
    """Robust accuracy against eps, one curve per model (clean accuracy at eps = 0).

    Args:
        curves: label -> a :class:`~bastion.attacks.evasion.robustness.RobustnessResult`
            (or any object with its ``eps``, ``robust_accuracy``, ``clean_accuracy``, ``norm``
            and ``gradient_masking``); curves with masking findings are dashed.
        title: the figure's title.

    Raises:
        ValidationError: no curves.
    """
    if not curves:
        raise ValidationError("`curves` must hold at least one robustness result to plot, got none")
    figure, axes = new_figure((6, 3.6))
    for index, (label, result) in enumerate(curves.items()):
        eps = [0.0, *result.eps] if result.eps[0] > 0 else list(result.eps)
        accuracy = list(result.robust_accuracy)
        if result.eps[0] > 0:
            accuracy = [result.clean_accuracy, *accuracy]
        masked = bool(result.gradient_masking)
        axes.plot(
            eps,
            [100 * a for a in accuracy],
            marker="o",
            color=f"C{index}",
            linestyle="--" if masked else "-",
            label=label + (" (gradient masking suspected)" if masked else ""),
        )
    norm = next(iter(curves.values())).norm
    _percent_axes(axes, title, f"eps (L{'∞' if norm == 'inf' else '2'}, input units)", "robust accuracy (%)")
    axes.legend(fontsize=8)
    return figure


def plot_robustness(result: RobustnessResult, path: str | Path, *, title: str | None = None) -> Path:
    """Save a plot of robust accuracy against eps (clean accuracy at eps = 0).

    Args:
        result: what :func:`bastion.attacks.robustness` returned.
        path: where to write the figure; its suffix picks the format.
        title: the figure's title.

    Returns:
        The path written.
    """
    suffix = "\n(gradient masking suspected)" if result.gradient_masking else ""
    figure = robustness_figure({"robust accuracy": result}, title=(title or "robust accuracy") + suffix)
    figure.axes[0].get_legend().remove()
    return save_figure(figure, path)


def roc_figure(results: Mapping[str, Any], *, title: str = "Membership inference") -> Figure:
    """Each result's ROC curve on log-log axes (see :func:`plot_roc`).

    Args:
        results: label -> a :class:`~bastion.attacks.inference.MembershipResult` (or any
            object with its ``roc_fpr``, ``roc_tpr``, ``auc``, ``tpr_at_fpr_1pct`` and
            ``n_nonmembers``).
        title: the figure's title.

    Raises:
        ValidationError: no results.
    """
    if not results:
        raise ValidationError("`results` must hold at least one MembershipResult to plot, got none")
    figure, axes = new_figure((5.5, 5.2 + 0.22 * len(results)))
    floor = 1.0
    drawn: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for index, (label, result) in enumerate(results.items()):
        fpr, tpr = np.asarray(result.roc_fpr), np.asarray(result.roc_tpr)
        shown = (fpr > 0) & (tpr > 0)
        floor = min(floor, 1.0 / result.n_nonmembers)
        # A curve (nearly) identical to one already drawn would hide under it: dash it,
        # draw it thinner on top, and say so in the legend.
        same = next((name for name, curve in drawn.items() if _curves_coincide(curve, (fpr, tpr))), None)
        drawn[label] = (fpr, tpr)
        note = "" if same is None else f", same curve as {same}, dashed"
        axes.plot(
            fpr[shown],
            tpr[shown],
            drawstyle="steps-post",
            color=f"C{index}",
            linestyle="--" if same else "-",
            linewidth=1.2 if same else 2.0,
            zorder=3 if same else 2,
            label=f"{label} (AUC {result.auc:.3f}, TPR@1%FPR {result.tpr_at_fpr_1pct:.1%}{note})",
        )
    axes.plot([floor, 1], [floor, 1], linestyle="--", color="grey", linewidth=1, label="chance")
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlim(floor, 1)
    axes.set_ylim(floor, 1)
    axes.set_xlabel("false-positive rate")
    axes.set_ylabel("true-positive rate")
    axes.set_title(title)
    # Below the axes, so the legend never covers the low-FPR end of a curve.
    axes.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.12))
    return figure


def _curves_coincide(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]) -> bool:
    """Whether two ROC curves ``(fpr, tpr)`` would cover each other on log-log axes: their TPRs
    within 0.02 decades (5%) of each other at 95% of their non-zero false-positive rates."""
    grid = np.union1d(a[0], b[0])
    grid = grid[grid > 0]

    def log_tpr_at(curve: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        order = np.argsort(curve[0], kind="stable")
        fpr, tpr = curve[0][order], curve[1][order]
        index = np.clip(np.searchsorted(fpr, grid, side="right") - 1, 0, len(fpr) - 1)
        return np.log10(np.maximum(tpr[index], 1e-9))

    return grid.size > 0 and bool(np.mean(np.abs(log_tpr_at(a) - log_tpr_at(b)) <= 0.02) >= 0.95)


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
    return save_figure(roc_figure(results, title=title), path)


def _image(x: Any) -> np.ndarray:
    # (c, h, w) in the input range -> what imshow takes.
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 3 and x.shape[0] in (1, 3):
        x = x[0] if x.shape[0] == 1 else np.transpose(x, (1, 2, 0))
    return np.clip(x, 0, 1)


def _show_input(axes: Axes, x: Any, title: str, *, colour: str = "black", cmap: str = "gray") -> None:
    x = np.asarray(x)
    if x.ndim == 3:
        axes.imshow(_image(x), cmap=cmap, vmin=0, vmax=1, interpolation="nearest")
    else:
        axes.plot(np.ravel(x), linewidth=0.8, color=colour)
    axes.set_xticks([])
    axes.set_yticks([])
    axes.set_title(title, fontsize=8, color=colour)


def adversarial_examples_figure(
    clean: Any,
    adversarial: Any,
    *,
    clean_labels: Sequence[int],
    adversarial_labels: Sequence[int],
    clean_confidences: Sequence[float | None],
    adversarial_confidences: Sequence[float | None],
    classes: Sequence[str],
    title: str = "",
) -> Figure:
    """Clean inputs over their adversarial versions and the perturbation, with labels and confidences.

    The picture of Goodfellow, Shlens & Szegedy 2015, Fig. 1 (the panda classified as a
    gibbon). Image inputs ``(c, h, w)`` are drawn as images, others as feature profiles.
    """
    clean, adversarial = np.asarray(clean), np.asarray(adversarial)
    n, images = len(clean), clean.ndim == 4
    figure, grid = new_figure((max(1.5 * n, 4), 4.8 if images else 3.2), rows=3 if images else 2, cols=n, squeeze=False)

    def caption(kind: str, label: int, confidence: float | None) -> str:
        return f"{kind}\n'{classes[label]}'" + ("" if confidence is None else f" {confidence:.0%}")

    for i in range(n):
        _show_input(grid[0][i], clean[i], caption("clean", clean_labels[i], clean_confidences[i]))
        fooled = adversarial_labels[i] != clean_labels[i]
        _show_input(
            grid[1][i],
            adversarial[i],
            caption("adversarial", adversarial_labels[i], adversarial_confidences[i]),
            colour="C3" if fooled else "C2",
        )
        if images:
            delta = adversarial[i] - clean[i]
            scale = max(float(np.abs(delta).max()), 1e-12)
            _show_input(grid[2][i], 0.5 + 0.5 * delta / scale, f"perturbation\n(x{0.5 / scale:.0f})", cmap="coolwarm")
    if title:
        figure.suptitle(title, fontsize=10)
    return figure


def fidelity_figure(curves: Mapping[str, tuple[Sequence[float], Sequence[float]]]) -> Figure:
    """Extraction fidelity (agreement of the stolen copy, in [0, 1]) against queries, per output policy.

    Args:
        curves: label -> ``(queries, fidelity)``.
    """
    figure, axes = new_figure((6, 3.6))
    for index, (label, (queries, fidelity)) in enumerate(curves.items()):
        axes.plot(queries, [100 * f for f in fidelity], marker="o", color=f"C{index}", label=label)
    axes.set_xscale("log")
    _percent_axes(axes, "model extraction: fidelity of the stolen copy", "queries to the model", "agreement (%)")
    axes.legend(fontsize=8)
    return figure


def gateway_figure(
    policies: Sequence[str], fidelity: Sequence[float], first_alerts: Sequence[int | None], *, quota: int
) -> Figure:
    """Extraction fidelity (in [0, 1]) through the gateway per output policy, PRADA's first alert on each bar."""
    figure, axes = new_figure((6, 3.6))
    positions = np.arange(len(policies))
    axes.bar(positions, [100 * f for f in fidelity], color=[f"C{i}" for i in range(len(policies))])
    for position, value, alert in zip(positions, fidelity, first_alerts):
        mark = "no PRADA alert" if alert is None else f"PRADA alert @ {alert}"
        axes.text(position, 100 * value + 1, mark, ha="center", va="bottom", fontsize=7)
    axes.set_xticks(positions, list(policies))
    axes.set_ylim(0, 110)
    _percent_axes(axes, f"extraction through the gateway, {quota} queries per key", "output policy", "agreement (%)")
    return figure


def privacy_figure(
    epsilons: Sequence[float],
    accuracies: Sequence[float],
    *,
    baseline: float | None = None,
    epsilon_label: str = "epsilon (data-dependent)",
) -> Figure:
    """PATE student accuracy against the privacy cost epsilon, beside a non-private baseline.

    ``epsilon_label`` names which epsilon is on the x axis (the published one, or the
    data-dependent one that is not safe to publish).
    """
    figure, axes = new_figure((6, 3.6))
    order = np.argsort(epsilons)
    axes.plot(np.asarray(epsilons)[order], 100 * np.asarray(accuracies)[order], marker="o", label="PATE student")
    if baseline is not None:
        axes.axhline(100 * baseline, color="grey", linestyle="--", label="the model without privacy")
    _percent_axes(axes, "PATE: student accuracy against privacy cost", epsilon_label, "accuracy (%)")
    axes.legend(fontsize=8)
    return figure


def poisoning_figure(
    labels: Sequence[str], success: Sequence[float | None], accuracy: Sequence[float], *, title: str
) -> Figure:
    """Attack success and clean accuracy (both in [0, 1]) per defense, as grouped bars."""
    figure, axes = new_figure((6, 3.6))
    positions = np.arange(len(labels))
    axes.bar(positions - 0.2, [100 * (s or 0.0) for s in success], 0.4, label="attack success", color="C3")
    axes.bar(positions + 0.2, [100 * a for a in accuracy], 0.4, label="clean accuracy", color="C2")
    axes.set_xticks(positions, labels, rotation=20, ha="right", fontsize=8)
    _percent_axes(axes, title, "")
    axes.set_ylim(0, 105)
    axes.legend(fontsize=8)
    return figure


def trigger_figure(clean: Any, triggered: Any, *, labels: tuple[str, str] = ("clean", "triggered")) -> Figure:
    """A clean input beside the same input carrying a backdoor trigger."""
    figure, grid = new_figure((3.2, 2.0), cols=2)
    for axes, x, label in zip(grid, (clean, triggered), labels, strict=True):
        _show_input(axes, x, label)
    return figure


__all__ = [
    "adversarial_examples_figure",
    "fidelity_figure",
    "figure_svg",
    "new_figure",
    "plot_robustness",
    "plot_roc",
    "poisoning_figure",
    "privacy_figure",
    "robustness_figure",
    "roc_figure",
    "save_figure",
    "trigger_figure",
]


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
