"""Poisoning benchmark: backdoors against the sanitizers (bastion beside ART), label flips,
boundary shift and gradient poisoning, on digits with small_cnn (10 epochs, seed 0).

Run ``python -m benchmarks.poisoning`` (one thread; about five minutes of CPU, most of it
training small_cnn some sixty times; far longer on a machine shared with other jobs). It rewrites the ``poisoning``
section of docs/benchmarks.md, the results block of docs/poisoning.md and the figures
docs/poisoning_backdoor.png and docs/poisoning_label_flip.png.
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn.svm import SVC
from torch import nn

import bastion
from bastion.attacks.poisoning import (
    Backdoor,
    BoundaryShift,
    GradientPoisoning,
    LabelFlip,
    PoisonedDataset,
    evaluate_poisoning,
)
from bastion.defenses.sanitization import (
    SPECTRE,
    ActivationClustering,
    Iterative,
    KNNLabelFilter,
    LossFilter,
    OutlierFilter,
    SpectralSignatures,
    keep_rows,
)
from bastion.models import SklearnModel
from bastion.models.representations import ReferenceTrainer, penultimate
from bastion.plots import plot_curves, plot_sanitizer_bars
from benchmarks.report import machine, write_section

DOCS = Path(__file__).resolve().parent.parent / "docs"
BARS = DOCS / "poisoning_backdoor.png"
CURVE = DOCS / "poisoning_label_flip.png"
EPOCHS = 10
LR = 3e-3
FLIP_RATES = (0.0, 0.1, 0.2, 0.3, 0.4)
GP_POINTS = (1, 2, 5, 10, 20)
GP_PAIRS = ((3, 8),)
SHIFT_DEPTHS = (0.5, 0.8, 0.95)


def train(dataset: bastion.Dataset):
    return ReferenceTrainer(epochs=EPOCHS, lr=LR, seed=0).train_on(dataset, description="benchmark model")


def pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}"


# --------------------------------------------------------------------------- backdoors


def art_masks(model, poisoned: PoisonedDataset) -> dict[str, np.ndarray]:
    """ART's two detectors on the same model's penultimate layer; True = removed."""
    from art.defences.detector.poison import ActivationDefence, SpectralSignatureDefense
    from art.estimators.classification import PyTorchClassifier

    # ART reads the last layer's activations: hand it the network up to the penultimate layer.
    head = list(model.module.children())
    trunk = nn.Sequential(*head[:-1]).eval()
    classifier = PyTorchClassifier(
        trunk,
        loss=nn.CrossEntropyLoss(),
        input_shape=poisoned.input_shape,
        nb_classes=poisoned.n_classes,
        clip_values=(0.0, 1.0),
    )
    onehot = np.eye(poisoned.n_classes)[poisoned.y_train]
    masks = {}
    for name, rate in (("ART spectral (expected 0.33, its default)", 0.33), ("ART spectral (expected 0.05)", 0.05)):
        _, clean = SpectralSignatureDefense(
            classifier, poisoned.x_train, onehot, expected_pp_poison=rate
        ).detect_poison()
        masks[name] = np.asarray(clean) == 0
    _, clean = ActivationDefence(classifier, poisoned.x_train, onehot).detect_poison(
        nb_clusters=2, nb_dims=10, reduce="PCA", cluster_analysis="smaller"
    )
    masks["ART activation clustering (PCA 10, smaller)"] = np.asarray(clean) == 0
    return masks


def backdoors(clean_accuracy: float) -> tuple[list[str], dict[str, tuple[float, float]], dict[str, dict[str, float]]]:
    digits = bastion.load("digits", seed=0)
    attacks = {
        "patch 2x2": Backdoor(0.05, target_class=0),
        "blend alpha 0.2": Backdoor(0.05, target_class=0, trigger="blend"),
        "clean-label patch 3x3": Backdoor(0.05, target_class=0, clean_label=True, patch_size=3),
    }
    table = [
        "| attack | defense | removed | precision | recall | clean removed (%) | attack success (%) "
        "| clean accuracy (%) |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    side = [
        "| attack | detector (same model, same penultimate layer) | removed | precision | recall |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    bars: dict[str, tuple[float, float]] = {}
    facts: dict[str, dict[str, float]] = {}
    for name, attack in attacks.items():
        poisoned = attack.poison(digits)
        undefended = evaluate_poisoning(poisoned, train)
        table.append(
            f"| {name} | none | 0 | - | - | 0.0 | {pct(undefended.attack_success_rate)} | "
            f"{pct(undefended.test_accuracy)} |"
        )
        if name == "patch 2x2":
            bars["no defense"] = (undefended.attack_success_rate, undefended.test_accuracy)
        model = train(poisoned)
        features = penultimate(model, poisoned.x_train)
        y, k = poisoned.y_train, poisoned.n_classes
        masks = {
            "bastion spectral signatures (expected 0.05 x 1.5)": SpectralSignatures().score_features(features, y, k)[1],
            "bastion activation clustering (PCA 10)": ActivationClustering().score_features(features, y, k)[1],
        }
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            masks.update(art_masks(model, poisoned))
        mask = poisoned.poison_mask
        for detector, removed in masks.items():
            caught = (removed & mask).sum()
            precision = caught / removed.sum() if removed.sum() else 0.0
            side.append(f"| {name} | {detector} | {removed.sum()} | {precision:.2f} | {caught / mask.sum():.2f} |")
        cleaned = {
            "spectral signatures": (masks["bastion spectral signatures (expected 0.05 x 1.5)"], None),
            "activation clustering": (masks["bastion activation clustering (PCA 10)"], None),
            "spectral x4 rounds": (None, Iterative(SpectralSignatures(), rounds=4)),
            "SPECTRE": (None, SPECTRE()),
        }
        for defense, (removed, sanitizer) in cleaned.items():
            if sanitizer is not None:
                result = sanitizer.clean(poisoned)
                removed, kept = result.removed_mask, result.dataset
            else:
                kept = keep_rows(poisoned, ~removed)
            after = evaluate_poisoning(kept, train)
            caught = (removed & mask).sum()
            precision = caught / removed.sum() if removed.sum() else 0.0
            clean_removed = (removed & ~mask).sum() / (~mask).sum()
            table.append(
                f"| {name} | {defense} | {removed.sum()} | {precision:.2f} | {caught / mask.sum():.2f} | "
                f"{pct(clean_removed)} | {pct(after.attack_success_rate)} | {pct(after.test_accuracy)} |"
            )
            if name == "patch 2x2":
                bars[defense] = (after.attack_success_rate, after.test_accuracy)
                facts[defense] = {"recall": caught / mask.sum(), "clean_removed": clean_removed}
    plot_sanitizer_bars(bars, BARS, title=f"2x2 patch backdoor, 5% poison (clean model {100 * clean_accuracy:.1f}%)")
    return [*table, "", *side], bars, facts


# --------------------------------------------------------------------------- label flips


def label_flips(clean_accuracy: float) -> tuple[list[str], float]:
    digits = bastion.load("digits", seed=0)
    curves: dict[str, list[float]] = {"random": [clean_accuracy], "boundary": [clean_accuracy]}
    for rate in FLIP_RATES[1:]:
        for strategy in curves:
            result = evaluate_poisoning(LabelFlip(rate, strategy=strategy).poison(digits), train)
            curves[strategy].append(result.test_accuracy)
    lines = [
        "| flip rate | random: accuracy (%) | boundary: accuracy (%) |",
        "| ---: | ---: | ---: |",
        *(
            f"| {rate:.0%} | {pct(curves['random'][i])} | {pct(curves['boundary'][i])} |"
            for i, rate in enumerate(FLIP_RATES)
        ),
        "",
        "| 20% flips | KNNLabelFilter removed | precision | recall | accuracy after (%) | vs clean model (points) |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    knn_curves: dict[str, float] = {}
    for strategy in ("random", "boundary"):
        poisoned = LabelFlip(0.2, strategy=strategy).poison(digits)
        result = KNNLabelFilter().clean(poisoned)
        after = evaluate_poisoning(result.dataset, train)
        knn_curves[strategy] = after.test_accuracy
        lines.append(
            f"| {strategy} | {result.n_removed} | {result.precision:.2f} | {result.recall:.2f} | "
            f"{pct(after.test_accuracy)} | {100 * (after.test_accuracy - clean_accuracy):+.1f} |"
        )
    shown = {f"{s} flips": [100 * a for a in v] for s, v in curves.items()}
    plot_curves(
        [100 * r for r in FLIP_RATES],
        shown,
        CURVE,
        xlabel="training labels flipped (%)",
        ylabel="clean test accuracy (%)",
        title="Label flips on digits (small_cnn)",
    )
    return lines, 100 * (knn_curves["random"] - clean_accuracy)


# --------------------------------------------------------------------------- boundary shift


def boundary_shift() -> list[str]:
    digits = bastion.load("digits", seed=0)
    base = evaluate_poisoning(digits, train)
    source, target = 3, 8
    rest = float(np.mean(np.delete(base.per_class_accuracy, source)))
    lines = [
        f"Source class {source}, target {target}, 10% of the training set injected. Clean model: class {source} "
        f"{pct(base.per_class_accuracy[source])}%, other classes {pct(rest)}% on average.",
        "",
        "| depth | defense | removed | recall | source-class accuracy (%) | worst other class change (points) |",
        "| ---: | --- | ---: | ---: | ---: | ---: |",
    ]
    others = [c for c in range(digits.n_classes) if c != source]
    for depth in SHIFT_DEPTHS:
        poisoned = BoundaryShift(0.1, source_class=source, target_class=target, depth=depth).poison(digits)
        defenses = {"none": None}
        if depth == SHIFT_DEPTHS[-1]:
            defenses.update(
                {
                    "KNNLabelFilter": KNNLabelFilter(),
                    "OutlierFilter (lof)": OutlierFilter(method="lof"),
                    "LossFilter": LossFilter(),
                    "SPECTRE": SPECTRE(),
                }
            )
        for name, sanitizer in defenses.items():
            if sanitizer is None:
                kept, removed, recall = poisoned, 0, "-"
            else:
                cleaning = sanitizer.clean(poisoned)
                kept, removed, recall = cleaning.dataset, cleaning.n_removed, f"{cleaning.recall:.2f}"
            result = evaluate_poisoning(kept, train)
            worst = min(result.per_class_accuracy[c] - base.per_class_accuracy[c] for c in others)
            lines.append(
                f"| {depth} | {name} | {removed} | {recall} | {pct(result.per_class_accuracy[source])} | "
                f"{100 * worst:+.1f} |"
            )
    return lines


# --------------------------------------------------------------------------- gradient poisoning


def binary_pair(digits: bastion.Dataset, a: int, b: int, n_train: int = 100) -> bastion.Dataset:
    train_rows = np.flatnonzero(np.isin(digits.y_train, [a, b]))[:n_train]
    test_rows = np.isin(digits.y_test, [a, b])
    return bastion.Dataset.from_arrays(
        digits.x_train[train_rows],
        (digits.y_train[train_rows] == b).astype(int),
        digits.x_test[test_rows],
        (digits.y_test[test_rows] == b).astype(int),
        name=f"digits {a} vs {b}",
    )


def linear_svm(dataset: bastion.Dataset) -> SklearnModel:
    x = dataset.x_train.reshape(len(dataset.x_train), -1)
    return SklearnModel(SVC(kernel="linear", C=1.0).fit(x, dataset.y_train), input_shape=dataset.input_shape)


def gradient_poisoning() -> list[str]:
    digits = bastion.load("digits", seed=0)
    lines = [
        "| pair | poison points | gradient poisoning: test error (%) | random label flips: test error (%, mean of 3) |",
        "| --- | ---: | ---: | ---: |",
    ]
    for a, b in GP_PAIRS:
        pair = binary_pair(digits, a, b)
        clean_error = 1 - evaluate_poisoning(pair, linear_svm).test_accuracy
        lines.append(f"| {a} vs {b} | 0 | {pct(clean_error)} | {pct(clean_error)} |")
        for n in GP_POINTS:
            optimised = 1 - evaluate_poisoning(GradientPoisoning(n).poison(pair), linear_svm).test_accuracy
            flips = [
                1 - evaluate_poisoning(LabelFlip(n / len(pair.y_train), seed=s).poison(pair), linear_svm).test_accuracy
                for s in range(3)
            ]
            lines.append(f"| {a} vs {b} | {n} | {pct(optimised)} | {pct(float(np.mean(flips)))} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args()
    torch.set_num_threads(1)
    started = time.perf_counter()
    clean = evaluate_poisoning(bastion.load("digits", seed=0), train)
    backdoor_lines, bars, facts = backdoors(clean.test_accuracy)
    flip_lines, knn_random = label_flips(clean.test_accuracy)
    shift_lines = boundary_shift()
    gp_lines = gradient_poisoning()
    minutes = (time.perf_counter() - started) / 60
    preface = [
        "What: how far each poisoning attack moves a digits classifier, and how much of it each sanitizer "
        "undoes (precision and recall of the rows it removes, attack success and accuracy after retraining). "
        "Peers: the undefended training run, ART 1.20's spectral-signature and activation-clustering "
        "detectors on the same features, and random label flips for gradient poisoning (Biggio et al. 2012). "
        f"Data: digits, `small_cnn` trained {EPOCHS} epochs (Adam, lr {LR:g}, seed 0) on each training set; the "
        f"clean model has {pct(clean.test_accuracy)}% test accuracy. Attack success = the share of non-target "
        "test images classified as the target once triggered.",
        "",
        f"Command: `python -m benchmarks.poisoning` ({minutes:.0f} minutes). Machine: {machine()}.",
        "",
    ]
    results = [
        "### Backdoors (5% of the training set, target class 0) and the sanitizers",
        "",
        *backdoor_lines,
        "",
        "![backdoor bars](poisoning_backdoor.png)",
        "",
        "### Label flips",
        "",
        *flip_lines,
        "",
        "![label flip curve](poisoning_label_flip.png)",
        "",
        "### Boundary shift",
        "",
        *shift_lines,
        "",
        "### Gradient poisoning (Biggio et al. 2012, Fig. 2 analogue: linear SVM, C = 1, 100 training images)",
        "",
        *gp_lines,
    ]
    reading = (
        f"SPECTRE removes the 5% patch backdoor (attack success {pct(bars['no defense'][0])}% -> "
        f"{pct(bars['SPECTRE'][0])}%) at {pct(facts['SPECTRE']['clean_removed'])}% of the clean rows where one-shot "
        f"spectral signatures catch {facts['spectral signatures']['recall']:.0%} of the poison, and KNNLabelFilter "
        f"brings 20% random flips back to {abs(knn_random):.1f} points of the clean model; no sanitizer here undoes "
        "the boundary shift or the clean-label backdoor"
    )
    write_section(
        "poisoning",
        "\n".join(["## Poisoning", "", *preface, *results, "", reading + " (see [poisoning.md](poisoning.md))."]),
    )
    write_section(
        "poisoning-results",
        "\n".join(
            [
                f"Measured by `python -m benchmarks.poisoning` ({machine()}): digits, `small_cnn` trained {EPOCHS} "
                f"epochs (Adam, lr {LR:g}, seed 0) on each training set; clean model {pct(clean.test_accuracy)}% "
                "test accuracy. Attack success: the share of non-target test images classified as the target "
                "once triggered.",
                "",
                *results,
                "",
                reading + ".",
            ]
        ),
        path=DOCS / "poisoning.md",
    )


if __name__ == "__main__":
    main()
