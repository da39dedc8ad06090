"""The report's figures, drawn with matplotlib from the cells' JSON results, as inline SVG.

Every function takes plain numbers (what ``results.json`` holds) and returns the markup of
one ``<svg>`` element: text is drawn as paths, so the figure needs no font or network.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

WIDTH, HEIGHT = 6.0, 3.6


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    return pyplot


def to_svg(figure: Any) -> str:
    """The figure as one ``<svg>`` element (XML header and DOCTYPE dropped), then closed."""
    pyplot = _pyplot()
    buffer = io.StringIO()
    try:
        figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    finally:
        pyplot.close(figure)
    text = buffer.getvalue()
    return re.sub(r"\s*<metadata>.*?</metadata>", "", text[text.index("<svg") :], flags=re.S)


def scope_ids(svg: str, prefix: str) -> str:
    """Prefix every ``id`` of an SVG and the references to it, so several SVGs share a page safely."""
    ids = set(re.findall(r'\bid="([^"]+)"', svg))
    if not ids:
        return svg
    pattern = re.compile(r'(\bid="|#)(' + "|".join(re.escape(i) for i in sorted(ids, key=len, reverse=True)) + r")\b")
    return pattern.sub(lambda m: f"{m.group(1)}{prefix}-{m.group(2)}", svg)


def _axes(title: str, xlabel: str, ylabel: str):
    pyplot = _pyplot()
    pyplot.rcParams["svg.fonttype"] = "path"
    figure, axes = pyplot.subplots(figsize=(WIDTH, HEIGHT))
    axes.set_title(title)
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    axes.grid(alpha=0.3)
    return figure, axes


def _show(image: np.ndarray) -> np.ndarray:
    # (c, h, w) in [0, 1] -> what imshow takes.
    image = np.asarray(image, dtype=np.float32)
    if image.ndim == 3 and image.shape[0] in (1, 3):
        image = image[0] if image.shape[0] == 1 else np.transpose(image, (1, 2, 0))
    return np.clip(image, 0, 1)


def adversarial_grid(examples: dict[str, Any], classes: Sequence[str]) -> str:
    """Clean inputs over their adversarial versions, each with its label and confidence.

    Goodfellow, Shlens & Szegedy 2015, Fig. 1 (the panda that becomes a gibbon), on the
    assessed data; non-image inputs are drawn as feature profiles.
    """
    pyplot = _pyplot()
    clean, adversarial = np.asarray(examples["clean"]), np.asarray(examples["adversarial"])
    n = len(clean)
    images = clean.ndim == 4
    figure, grid = pyplot.subplots(3 if images else 2, n, figsize=(1.5 * n, 4.8 if images else 3.2), squeeze=False)
    for i in range(n):
        rows = [
            (clean[i], examples["clean_label"][i], examples["clean_confidence"][i], "clean"),
            (adversarial[i], examples["adversarial_label"][i], examples["adversarial_confidence"][i], "adversarial"),
        ]
        for row, (x, label, confidence, kind) in enumerate(rows):
            axes = grid[row][i]
            if images:
                axes.imshow(_show(x), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            else:
                axes.plot(np.ravel(x), lw=0.8, color="C0" if row == 0 else "C3")
            axes.set_xticks([])
            axes.set_yticks([])
            colour = "black" if row == 0 else ("C3" if label != examples["clean_label"][i] else "C2")
            axes.set_title(f"{kind}\n'{classes[label]}' {confidence:.0%}", fontsize=8, color=colour)
        if images:
            axes = grid[2][i]
            delta = np.asarray(adversarial[i]) - np.asarray(clean[i])
            scale = max(float(np.abs(delta).max()), 1e-12)
            axes.imshow(_show(0.5 + 0.5 * delta / scale), cmap="coolwarm", vmin=0, vmax=1, interpolation="nearest")
            axes.set_xticks([])
            axes.set_yticks([])
            axes.set_title(f"perturbation\n(x{0.5 / scale:.0f})", fontsize=8)
    figure.suptitle(f"{examples['attack']} at eps = {examples['eps']:g}", fontsize=10)
    figure.tight_layout()
    return to_svg(figure)


def robust_accuracy_curves(curves: dict[str, dict[str, Any]], norm: str) -> str:
    """Robust accuracy against eps, one curve per model variant; dashed where masking was found.

    Args:
        curves: label -> ``{"eps", "robust_accuracy", "clean_accuracy", "masking"}``.
        norm: ``"inf"`` or ``"2"``, for the axis label.
    """
    figure, axes = _axes("robust accuracy under the attack ensemble", f"eps (L{'∞' if norm == 'inf' else '2'})", "%")
    for index, (label, curve) in enumerate(curves.items()):
        eps = [0.0, *curve["eps"]]
        accuracy = [100 * curve["clean_accuracy"], *(100 * a for a in curve["robust_accuracy"])]
        masked = curve.get("masking", False)
        axes.plot(
            eps,
            accuracy,
            marker="o",
            color=f"C{index}",
            linestyle="--" if masked else "-",
            label=label + (" (gradient masking suspected)" if masked else ""),
        )
    axes.set_ylim(-3, 103)
    axes.legend(fontsize=8)
    return to_svg(figure)


def fidelity_curves(curves: dict[str, dict[str, list[float]]]) -> str:
    """Extraction fidelity (agreement of the stolen copy) against queries, per output policy."""
    figure, axes = _axes("model extraction: fidelity of the stolen copy", "queries to the model", "agreement (%)")
    for index, (label, curve) in enumerate(curves.items()):
        axes.plot(curve["queries"], [100 * f for f in curve["fidelity"]], marker="o", color=f"C{index}", label=label)
    axes.set_xscale("log")
    axes.set_ylim(-3, 103)
    axes.legend(fontsize=8)
    return to_svg(figure)


def roc_curves(curves: dict[str, dict[str, list[float]]]) -> str:
    """Membership-inference ROC curves on log-log axes (what matters is the low-FPR corner)."""
    figure, axes = _axes("membership inference ROC", "false-positive rate", "true-positive rate")
    floor = 1e-4
    grid = np.logspace(-4, 0, 50)
    axes.plot(grid, grid, color="grey", linestyle=":", label="chance")
    for index, (label, curve) in enumerate(curves.items()):
        fpr = np.maximum(np.asarray(curve["fpr"], dtype=float), floor)
        tpr = np.maximum(np.asarray(curve["tpr"], dtype=float), floor)
        axes.plot(fpr, tpr, color=f"C{index}", label=f"{label} (AUC {curve['auc']:.2f})")
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlim(floor, 1)
    axes.set_ylim(floor, 1.05)
    axes.legend(fontsize=8, loc="lower right")
    return to_svg(figure)


def pate_curve(points: list[dict[str, float]], baseline: float) -> str:
    """PATE student accuracy against the privacy cost epsilon, beside the undefended model."""
    figure, axes = _axes("PATE: student accuracy against privacy cost", "epsilon (data-dependent)", "accuracy (%)")
    points = sorted(points, key=lambda p: p["epsilon"])
    axes.plot([p["epsilon"] for p in points], [100 * p["accuracy"] for p in points], marker="o", label="PATE student")
    axes.axhline(100 * baseline, color="grey", linestyle="--", label="assessed model (no privacy)")
    axes.set_ylim(-3, 103)
    axes.legend(fontsize=8)
    return to_svg(figure)


def poisoning_bars(rows: list[dict[str, Any]], title: str) -> str:
    """Attack success and clean accuracy before and after each sanitizer (grouped bars)."""
    figure, axes = _axes(title, "", "%")
    labels = [row["label"] for row in rows]
    positions = np.arange(len(rows))
    success = [100 * (row["attack_success"] or 0.0) for row in rows]
    clean = [100 * row["clean_accuracy"] for row in rows]
    axes.bar(positions - 0.2, success, 0.4, label="attack success", color="C3")
    axes.bar(positions + 0.2, clean, 0.4, label="clean accuracy", color="C2")
    axes.set_xticks(positions, labels, rotation=20, ha="right", fontsize=8)
    axes.set_ylim(0, 105)
    axes.legend(fontsize=8)
    return to_svg(figure)


def triggered_pair(clean: Any, triggered: Any, labels: tuple[str, str]) -> str:
    """A clean input beside the same input carrying the backdoor trigger."""
    pyplot = _pyplot()
    figure, grid = pyplot.subplots(1, 2, figsize=(3.2, 2.0))
    for axes, x, label in zip(grid, (clean, triggered), labels):
        x = np.asarray(x)
        if x.ndim == 3:
            axes.imshow(_show(x), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        else:
            axes.plot(np.ravel(x), lw=0.8)
        axes.set_xticks([])
        axes.set_yticks([])
        axes.set_title(label, fontsize=8)
    figure.tight_layout()
    return to_svg(figure)


__all__ = [
    "adversarial_grid",
    "fidelity_curves",
    "pate_curve",
    "poisoning_bars",
    "robust_accuracy_curves",
    "roc_curves",
    "scope_ids",
    "to_svg",
    "triggered_pair",
]
