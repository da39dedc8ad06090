"""Poisoning: label flips, boundary shift and a backdoor, then each data sanitizer.

One cell per (attack, defense), defense ``none`` or a sanitizer. The cells of one attack
share their seed (``seed_key = "poisoning/<attack>"``), so every sanitizer cleans the same
poisoned data; each cell retrains a copy of the model
(:func:`~bastion.attacks.inference.train_like`, the ``[training]`` schedule) on what it
kept and measures it on the clean test split with
:func:`~bastion.attacks.poisoning.evaluate_poisoning`. The ``none`` cell also trains on the
clean data, the baseline of the damage.

Attacks and sanitizers are looked up by class name in :mod:`bastion.attacks.poisoning`,
:mod:`bastion.defenses.sanitization` and :mod:`bastion.defenses.micromodels` (Cretu et al.'s
micro-models, voting with :class:`~bastion.sensors.LabelDisagreementSensor`); one this
version of bastion lacks is reported as not available instead of failing the run.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

import numpy as np

from bastion import plots
from bastion.assess.atlas import mitigation, technique
from bastion.assess.registry import Cell, Figure, Section, cell_function, register_section
from bastion.assess.sections.common import done, percent, require_class, retrain_schedule

SECTION = "poisoning"
ATTACK_CLASSES = {"label_flip": "LabelFlip", "boundary_shift": "BoundaryShift", "backdoor": "Backdoor"}
# name -> (module, class): the sanitizers of bastion.defenses.sanitization, and micro-models.
SANITIZER_CLASSES = {
    "spectral_signatures": ("bastion.defenses.sanitization", "SpectralSignatures"),
    "activation_clustering": ("bastion.defenses.sanitization", "ActivationClustering"),
    "spectre": ("bastion.defenses.sanitization", "SPECTRE"),
    "knn_label": ("bastion.defenses.sanitization", "KNNLabelFilter"),
    "micromodels": ("bastion.defenses.micromodels", "MicroModels"),
}
MICRO_MODELS = 10


def _missing(name: str, module: Any, family: str) -> str | None:
    if getattr(module, name, None) is None:
        return f"not available: {module.__name__}.{name} ({family}) is not in this version of bastion"
    return None


def plan(config: Any, profile: Any) -> list[Cell]:
    """One cell per (attack, none or sanitizer)."""
    import bastion.attacks.poisoning as attacks

    section = config.section(SECTION)
    if not section["enabled"]:
        return []
    cells = []
    untrainable = (
        None
        if profile.trainable
        else f"poisoning retrains the model, which needs a torch zoo or scikit-learn model (got {profile.kind})"
    )
    for attack in section["attacks"]:
        attack_missing = _missing(ATTACK_CLASSES[attack], attacks, "poisoning attack")
        if attack == "backdoor" and profile.n_classes < 2:
            attack_missing = "a backdoor needs at least two classes"
        for defense in ("none", *section["sanitizers"]):
            skip = untrainable or attack_missing
            if skip is None and defense != "none":
                module, name = SANITIZER_CLASSES[defense]
                skip = _missing(name, importlib.import_module(module), "data sanitizer")
            label = "no defense" if defense == "none" else mitigation(defense)["label"]
            cells.append(
                Cell(
                    f"{SECTION}/{attack}/{defense}",
                    SECTION,
                    "poisoning.attack",
                    f"{technique(attack)['label']}, {label}",
                    {"attack": attack, "defense": defense},
                    seed_key=f"{SECTION}/{attack}",
                    cost=2 if defense == "none" else 1.5,
                    skip=skip,
                )
            )
    return cells


def _accepted(cls: type, options: dict[str, Any]) -> dict[str, Any]:
    # Pass only the options this class takes: sanitizers differ in what they need.
    parameters = inspect.signature(cls.__init__).parameters
    return {k: v for k, v in options.items() if k in parameters}


def _attack(name: str, section: dict[str, Any], n_classes: int, epochs: int, seed: int) -> Any:
    import bastion.attacks.poisoning as attacks

    cls = require_class(attacks, ATTACK_CLASSES[name], "poisoning attack")
    target = section["target_class"] % n_classes
    source = (target + 1) % n_classes
    options: dict[str, Any] = {"epochs": epochs, "seed": seed}
    if name == "boundary_shift":
        options.update(source_class=source, target_class=target)
    elif name == "backdoor":
        options.update(target_class=target)
    return cls(section["fraction"], **_accepted(cls, options))


def _sanitizer(name: str, fraction: float, epochs: int, seed: int) -> Any:
    module, class_name = SANITIZER_CLASSES[name]
    cls = require_class(importlib.import_module(module), class_name, "data sanitizer")
    if name == "micromodels":
        # Cretu et al. on labelled data: each micro-model is a classifier of one slice, and a
        # sample is suspect when the micro-models disagree with its label.
        from bastion.sensors import LabelDisagreementSensor

        return cls(LabelDisagreementSensor, n_slices=MICRO_MODELS, backend="serial", seed=seed)
    options = {"expected_rate": fraction, "epochs": epochs, "progress": False, "seed": seed}
    return cls(**_accepted(cls, options))


@cell_function("poisoning.attack")
def poisoning_cell(context: Any) -> dict[str, Any]:
    """Poison the training data, optionally sanitize it, retrain, measure on the clean test split."""
    import bastion.attacks.poisoning as poisoning
    from bastion.attacks.inference import train_like

    evaluate_poisoning = require_class(poisoning, "evaluate_poisoning", "poisoning evaluation")
    section, model, dataset = context.section(), context.model, context.dataset
    schedule = retrain_schedule(context.config)
    name, defense = context.params["attack"], context.params["defense"]
    poisoned = _attack(name, section, dataset.n_classes, schedule["epochs"], context.seed).poison(dataset)
    trainer = train_like(model, **schedule)

    def train(data: Any) -> Any:
        return trainer(data.x_train, data.y_train, context.seed)

    cleaning = None
    data = poisoned
    if defense != "none":
        cleaning = _sanitizer(defense, section["fraction"], schedule["epochs"], context.seed).clean(poisoned)
        data = cleaning.dataset
    result = evaluate_poisoning(data, train, clean=dataset if defense == "none" else None)
    out: dict[str, Any] = {
        "attack": name,
        "defense": defense,
        "label": "no defense" if defense == "none" else mitigation(defense)["label"],
        "n_poison": int(poisoned.n_poison),
        "n_train": len(poisoned.x_train),
        "clean_accuracy": result.test_accuracy,
        "attack_success": _success(name, result, poisoned),
        "baseline_clean_accuracy": result.clean_test_accuracy,
        "baseline_attack_success": result.clean_attack_success_rate,
        "removed": None if cleaning is None else cleaning.n_removed,
        "precision": None if cleaning is None else cleaning.precision,
        "recall": None if cleaning is None else cleaning.recall,
    }
    if poisoned.trigger is not None and defense == "none":
        others = np.flatnonzero(dataset.y_test != poisoned.target_class)
        x = dataset.x_test[others[:1]]
        out["example"] = {
            "clean": np.round(x[0], 4).tolist(),
            "triggered": np.round(poisoned.apply_trigger(x)[0], 4).tolist(),
            "target_class": dataset.classes[poisoned.target_class],
        }
    return out


def _success(name: str, result: Any, poisoned: Any) -> float | None:
    """Backdoor: triggered inputs sent to the target; boundary shift: source-class accuracy lost."""
    if name == "backdoor":
        return result.attack_success_rate
    if name == "boundary_shift" and poisoned.target_class is not None:
        source = (poisoned.target_class + 1) % poisoned.n_classes
        value = result.per_class_accuracy[source]
        return None if value != value else 1.0 - value  # NaN: the class is absent from the test split
    return None


def _by_attack(records: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for record in done(records, "poisoning.attack"):
        grouped.setdefault(record["result"]["attack"], []).append(record["result"])
    return grouped


def summarize(records: list[dict[str, Any]], config: Any) -> list[dict[str, Any]]:
    """Per attack: the damage undefended and under the sanitizer that undoes it best."""
    rows = []
    share = percent(config.section(SECTION)["fraction"])
    for name, results in _by_attack(records).items():
        base = next((r for r in results if r["defense"] == "none"), None)
        if base is None:
            continue
        by_success = base["attack_success"] is not None
        key = "attack_success" if by_success else "clean_accuracy"
        sign = -1 if by_success else 1
        sanitized = [
            r for r in results if r["defense"] != "none" and r[key] is not None and sign * (r[key] - base[key]) > 0
        ]
        pick = min if by_success else max
        best = pick(sanitized, key=lambda r: r[key], default=None)
        metric = {"backdoor": "backdoor success rate", "boundary_shift": "source-class inputs misclassified"}.get(
            name, "test accuracy"
        )
        row = {
            "family": SECTION,
            "threat": "backdoor" if name == "backdoor" else "training-data poisoning",
            "attack": f"{technique(name)['label']} ({share} of the training set)",
            "technique": technique(name)["id"],
            "metric": metric,
            "higher_is_better": not by_success,
            "undefended": base[key],
            "best_defense": None if best is None else best["label"],
            "mitigation": None if best is None else mitigation(best["defense"])["id"],
            "defended": None if best is None else best[key],
            "cost": None,
            "notes": [],
        }
        if by_success:
            row["verdict"] = f"Poisoning {share} of the training data: {metric} {percent(base[key])}."
        else:
            row["verdict"] = (
                f"Poisoning {share} of the training data leaves {percent(base[key])} test accuracy "
                f"(trained on clean data: {percent(base['baseline_clean_accuracy'])})."
            )
        if best is not None:
            row["cost"] = f"{best['removed']} training rows removed, clean accuracy {percent(best['clean_accuracy'])}"
            row["verdict"] += f" {best['label'][:1].upper() + best['label'][1:]} brings it to {percent(best[key])}."
        rows.append(row)
    return rows


def metrics(records: list[dict[str, Any]], config: Any) -> dict[str, float]:
    """``poisoning_accuracy[<attack>]``, ``poisoning_success[<attack>]`` (no defense; per sanitizer too)."""
    out: dict[str, float] = {}
    for name, results in _by_attack(records).items():
        for result in results:
            suffix = f"[{name}]" if result["defense"] == "none" else f"[{name},{result['defense']}]"
            out[f"poisoning_accuracy{suffix}"] = result["clean_accuracy"]
            if result["attack_success"] is not None:
                out[f"poisoning_success{suffix}"] = result["attack_success"]
    return out


def make_figures(records: list[dict[str, Any]], config: Any) -> list[Figure]:
    """Per attack, success and clean accuracy before and after each sanitizer; a triggered input."""
    out = []
    for name, results in _by_attack(records).items():
        results = sorted(results, key=lambda r: r["defense"] != "none")
        label = technique(name)["label"]
        out.append(
            Figure(
                f"poisoning-{name}",
                f"{label[:1].upper() + label[1:]}: before and after sanitization",
                plots.figure_svg(
                    plots.poisoning_figure(
                        [r["label"] for r in results],
                        [r["attack_success"] for r in results],
                        [r["clean_accuracy"] for r in results],
                        title=label,
                    )
                ),
                "Red: attack success (backdoor: triggered inputs classified as the target class; boundary shift: "
                "source-class inputs misclassified); green: accuracy on the clean test split; one pair per sanitizer, "
                "the model retrained on what it kept.",
                tuple(
                    f"{r['label']}: removed {r['removed']} rows, precision {percent(r['precision'])}, "
                    f"recall {percent(r['recall'])}"
                    for r in results
                    if r["removed"] is not None
                ),
            )
        )
        example = next((r["example"] for r in results if "example" in r), None)
        if example is not None:
            out.append(
                Figure(
                    f"poisoning-{name}-trigger",
                    "A triggered input",
                    plots.figure_svg(
                        plots.trigger_figure(
                            example["clean"],
                            example["triggered"],
                            labels=("clean", f"triggered (-> '{example['target_class']}')"),
                        )
                    ),
                    "The backdoor's trigger: a model trained on the poisoned data sends inputs carrying it to the "
                    "target class.",
                )
            )
    return out


register_section(Section(SECTION, "Poisoning and backdoors", plan, summarize, make_figures, metrics, order=30))
