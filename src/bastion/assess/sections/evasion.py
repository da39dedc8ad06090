"""Adversarial examples: the attack ensemble over an eps grid, then each model defense.

Cells: ``evasion/examples`` (the panda-to-gibbon figure), ``evasion/undefended`` and one
per defense (``evasion/adversarial_training``, ``evasion/distillation``): each trains its
model variant (defenses) and measures robust accuracy with
:func:`bastion.attacks.robustness` (worst case over the ensemble, gradient-masking
diagnostics included) on the same test samples.
"""

from __future__ import annotations

import inspect
import time
from types import SimpleNamespace
from typing import Any

import numpy as np

from bastion import plots
from bastion.assess.atlas import mitigation, technique
from bastion.assess.registry import Cell, CellUnavailableError, Figure, Section, cell_function, register_section
from bastion.assess.sections.common import accuracy, done, percent, rounded, subset

SECTION = "evasion"
WHITE_BOX = ("fgsm", "pgd", "apgd-ce", "apgd-dlr", "cw-l2")
VARIANT_LABELS = {
    "undefended": "undefended",
    **{d: mitigation(d)["label"] for d in ("adversarial_training", "distillation")},
}


def plan(config: Any, profile: Any) -> list[Cell]:
    """The examples cell, the undefended evaluation and one cell per defense."""
    section = config.section(SECTION)
    if not section["enabled"]:
        return []
    cells = [Cell(f"{SECTION}/examples", SECTION, "evasion.examples", "adversarial examples figure", cost=0.5)]
    runnable = [a for a in section["attacks"] if profile.gradients or a not in WHITE_BOX]
    skip = None if runnable else "every configured attack needs gradients, which the model does not offer"
    cells.append(
        Cell(
            f"{SECTION}/undefended",
            SECTION,
            "evasion.robustness",
            "robustness, undefended",
            {"variant": "undefended"},
            cost=4,
            skip=skip,
        )
    )
    for defense in section["defenses"]:
        reason = skip or (
            None
            if profile.rebuildable
            else f"{VARIANT_LABELS[defense]} retrains the architecture: it needs a torch zoo model (got {profile.kind})"
        )
        cells.append(
            Cell(
                f"{SECTION}/{defense}",
                SECTION,
                "evasion.robustness",
                f"robustness, {VARIANT_LABELS[defense]}",
                {"variant": defense},
                cost=8,
                skip=reason,
            )
        )
    return cells


def _ensemble(
    names: list[str], model: Any, section: dict[str, Any], seed: int
) -> tuple[dict[str, Any], dict[str, str]]:
    from bastion.attacks import APGD, FGSM, PGD, CarliniWagnerL2, HopSkipJump, SquareAttack
    from bastion.models import GRADIENTS, SCORES

    norm, steps, queries = section["norm"], section["steps"], section["queries"]
    factories = {
        "fgsm": lambda eps: FGSM(eps, norm=norm),
        "pgd": lambda eps: PGD(eps, steps=steps, norm=norm, seed=seed),
        "apgd-ce": lambda eps: APGD(eps, steps=steps, norm=norm, loss="ce", seed=seed),
        "apgd-dlr": lambda eps: APGD(eps, steps=steps, norm=norm, loss="dlr", seed=seed),
        # Unbounded: robustness() counts its examples only where they fall inside the ball.
        "cw-l2": lambda eps: CarliniWagnerL2(steps=steps, binary_search_steps=3),
        "square": lambda eps: SquareAttack(eps, max_queries=queries, norm=norm, seed=seed),
        "hopskipjump": lambda eps: HopSkipJump(max_queries=queries, norm=norm, seed=seed),
    }
    chosen, skipped = {}, {}
    for name in names:
        if name in WHITE_BOX and GRADIENTS not in model.capabilities:
            skipped[name] = "needs gradients"
        elif name == "square" and SCORES not in model.capabilities:
            skipped[name] = "needs probabilities"
        elif name == "apgd-dlr" and model.n_classes < 3:
            skipped[name] = "the DLR loss needs at least 3 classes"
        else:
            chosen[name] = factories[name]
    return chosen, skipped


def _variant(context: Any, variant: str) -> Any:
    from bastion.defenses import AdversarialTraining, DefensiveDistillation
    from bastion.models import zoo

    model, dataset = context.model, context.dataset
    if variant == "undefended":
        return model
    section, training = context.section(), context.section("training")
    arch, arch_config = model.module.arch, dict(model.module.config)

    def build() -> Any:
        return zoo.build(arch, {**arch_config, "seed": context.seed})

    started = time.perf_counter()
    if variant == "adversarial_training":
        defense = AdversarialTraining(
            method="pgd",
            eps=section["train_eps"],
            steps=section["train_steps"],
            norm=section["norm"],
            epochs=section["defense_epochs"],
            lr=training["lr"],
            batch_size=training["batch_size"],
            clip=model.clip,
            progress=False,
            seed=context.seed,
        )
        defense.fit(build, dataset)
    else:
        defense = DefensiveDistillation(
            temperature=section["distillation_temperature"],
            epochs=section["defense_epochs"],
            lr=training["lr"],
            batch_size=training["batch_size"],
            clip=model.clip,
            progress=False,
            seed=context.seed,
        )
        defense.fit(build, dataset)
    context.timing["train_seconds"] = time.perf_counter() - started
    return defense.model_


def _robustness(model: Any, x: np.ndarray, y: np.ndarray, attacks: dict[str, Any], section: dict, seed: int) -> Any:
    from bastion.attacks import robustness

    options: dict[str, Any] = {"eps_grid": section["eps"], "norm": section["norm"], "attacks": attacks, "seed": seed}
    options["diagnostics"] = section["diagnostics"]
    if "version" in inspect.signature(robustness).parameters:
        options["version"] = "custom"  # the ensemble is the configured one, not a preset
    return robustness(model, x, y, **options)


@cell_function("evasion.robustness")
def robustness_cell(context: Any) -> dict[str, Any]:
    """Train the variant (defenses), then robust accuracy over the grid on the shared samples."""
    section, dataset = context.section(), context.dataset
    variant = context.params["variant"]
    model = _variant(context, variant)
    attacks, skipped = _ensemble(section["attacks"], model, section, context.seed)
    if not attacks:
        raise CellUnavailableError(
            "no configured attack applies to this model: " + "; ".join(f"{k} {v}" for k, v in skipped.items())
        )
    index = subset(len(dataset.x_test), context.config.values["samples"], context.config.seed)
    x, y = dataset.x_test[index], dataset.y_test[index]
    result = _robustness(model, x, y, attacks, section, context.seed)
    broken: dict[str, int] = {}
    for record in result.records:
        broken[record.attack] = broken.get(record.attack, 0) + record.samples_broken
    return {
        "variant": variant,
        "label": VARIANT_LABELS[variant],
        "norm": result.norm,
        "n_samples": result.n_samples,
        "clean_accuracy": accuracy(model, dataset.x_test, dataset.y_test),
        "clean_accuracy_samples": result.clean_accuracy,
        "eps": list(result.eps),
        "robust_accuracy": list(result.robust_accuracy),
        "attacks": list(attacks),
        "attacks_skipped": skipped,
        "samples_broken_by_attack": broken,
        "findings": [finding.to_dict() for finding in result.findings],
        "gradient_masking": result.gradient_masking,
    }


@cell_function("evasion.examples")
def examples_cell(context: Any) -> dict[str, Any]:
    """Adversarial versions of a few correctly classified test inputs, with labels and confidences."""
    from bastion.attacks import PGD, HopSkipJump, SquareAttack
    from bastion.models import GRADIENTS, SCORES

    section, model, dataset = context.section(), context.model, context.dataset
    eps = section["headline_eps"]
    if GRADIENTS in model.capabilities:
        attack, name = PGD(eps, steps=max(section["steps"], 10), norm=section["norm"], seed=context.seed), "PGD"
    elif SCORES in model.capabilities:
        attack, name = (
            SquareAttack(eps, max_queries=section["queries"], norm=section["norm"], seed=context.seed),
            "Square",
        )
    else:
        attack, name = (
            HopSkipJump(max_queries=section["queries"], norm=section["norm"], seed=context.seed),
            "HopSkipJump",
        )
    index = subset(len(dataset.x_test), context.config.values["samples"], context.config.seed)
    x, y = dataset.x_test[index], dataset.y_test[index]
    correct = np.flatnonzero(model.predict(x) == y)[: section["examples"]]
    if correct.size == 0:
        raise CellUnavailableError("the model classifies none of the sampled test inputs correctly")
    x, y = x[correct], y[correct]
    x_adv = attack.generate(model, x, y)

    def answers(inputs: np.ndarray) -> tuple[list[int], list[float | None]]:
        if SCORES not in model.capabilities:
            return model.predict(inputs).tolist(), [None] * len(inputs)
        probabilities = model.predict_proba(inputs)
        return probabilities.argmax(axis=1).tolist(), rounded(probabilities.max(axis=1), 4)

    clean_label, clean_confidence = answers(x)
    adversarial_label, adversarial_confidence = answers(x_adv)
    return {
        "attack": name,
        "eps": eps,
        "norm": section["norm"],
        "classes": list(dataset.classes),
        "clean": np.round(x, 4).tolist(),
        "adversarial": np.round(x_adv, 4).tolist(),
        "true_label": y.tolist(),
        "clean_label": clean_label,
        "clean_confidence": clean_confidence,
        "adversarial_label": adversarial_label,
        "adversarial_confidence": adversarial_confidence,
    }


def _at(result: dict[str, Any], eps: float) -> float:
    return result["robust_accuracy"][result["eps"].index(eps)]


def _trusted(result: dict[str, Any]) -> bool:
    return not any(f["severity"] == "high" for f in result["findings"])


def summarize(records: list[dict[str, Any]], config: Any) -> list[dict[str, Any]]:
    """One row: the ensemble's robust accuracy at the headline eps, undefended and best-defended."""
    results = {r["result"]["variant"]: r["result"] for r in done(records, "evasion.robustness")}
    if "undefended" not in results:
        return []
    eps = config.section(SECTION)["headline_eps"]
    base = results["undefended"]
    defended = [r for v, r in results.items() if v != "undefended" and _trusted(r) and _at(r, eps) > _at(base, eps)]
    best = max(defended, key=lambda r: _at(r, eps), default=None)
    notes = [
        f"{r['label']}: robust accuracy not trusted, gradient masking suspected "
        f"({', '.join(f['name'] for f in r['findings'])})"
        for v, r in results.items()
        if v != "undefended" and not _trusted(r)
    ]
    attacks = ", ".join(technique(a)["label"] for a in base["attacks"])
    fooled = 1 - _at(base, eps)
    verdict = f"Changing each input feature by at most {eps:g} fools the model on {percent(fooled)} of test inputs."
    row = {
        "family": SECTION,
        "threat": "adversarial examples",
        "attack": f"worst case of {attacks}",
        "technique": technique("evasion")["id"],
        "metric": f"robust accuracy @ eps={eps:g}",
        "higher_is_better": True,
        "undefended": _at(base, eps),
        "best_defense": None,
        "mitigation": None,
        "defended": None,
        "cost": None,
        "notes": notes,
    }
    if best is not None:
        drop = 100 * (base["clean_accuracy"] - best["clean_accuracy"])
        row.update(
            best_defense=best["label"],
            mitigation=mitigation(best["variant"])["id"],
            defended=_at(best, eps),
            cost=f"clean accuracy {-drop:+.1f} pts",
        )
        verdict += (
            f" {best['label'][:1].upper() + best['label'][1:]} lowers that to {percent(1 - _at(best, eps))} "
            f"(clean accuracy {-drop:+.1f} points)."
        )
    row["verdict"] = verdict
    return [row]


def metrics(records: list[dict[str, Any]], config: Any) -> dict[str, float]:
    """``clean_accuracy`` and ``robust_accuracy@<eps>`` of the undefended model; per defense too."""
    out: dict[str, float] = {}
    for record in done(records, "evasion.robustness"):
        result = record["result"]
        suffix = "" if result["variant"] == "undefended" else f"[{result['variant']}]"
        out[f"clean_accuracy{suffix}"] = result["clean_accuracy"]
        for eps, value in zip(result["eps"], result["robust_accuracy"]):
            out[f"robust_accuracy@{eps:g}{suffix}"] = value
    return out


def make_figures(records: list[dict[str, Any]], config: Any) -> list[Figure]:
    """The adversarial-examples grid and the robust-accuracy curves with the masking findings."""
    out = []
    examples = done(records, "evasion.examples")
    if examples:
        result = examples[0]["result"]
        classes = result["classes"]
        flipped = sum(a != c for a, c in zip(result["adversarial_label"], result["clean_label"]))
        out.append(
            Figure(
                "adversarial-examples",
                "Adversarial examples",
                plots.figure_svg(
                    plots.adversarial_examples_figure(
                        result["clean"],
                        result["adversarial"],
                        clean_labels=result["clean_label"],
                        adversarial_labels=result["adversarial_label"],
                        clean_confidences=result["clean_confidence"],
                        adversarial_confidences=result["adversarial_confidence"],
                        classes=classes,
                        title=f"{result['attack']} at eps = {result['eps']:g}",
                    )
                ),
                f"Top: correctly classified test inputs; middle: the same inputs after {result['attack']} changed each "
                f"feature by at most {result['eps']:g} ({flipped} of {len(result['clean_label'])} now "
                "misclassified, red); "
                "bottom: the perturbation, amplified.",
            )
        )
    # eps = 0 is the accuracy on the attacked samples, the start of their curve.
    curves = {
        r["result"]["label"]: SimpleNamespace(
            **{**r["result"], "clean_accuracy": r["result"]["clean_accuracy_samples"]}
        )
        for r in done(records, "evasion.robustness")
    }
    if curves:
        notes = tuple(
            f"{label}: {finding['name']} ({finding['severity']}): {finding['evidence']}"
            for label, curve in curves.items()
            for finding in curve.findings
        )
        out.append(
            Figure(
                "robust-accuracy",
                "Robust accuracy against eps",
                plots.figure_svg(plots.robustness_figure(curves, title="robust accuracy under the attack ensemble")),
                "Share of test inputs still classified correctly when an attacker may change each feature by up to eps "
                "(worst case over the attack ensemble); eps = 0 is clean accuracy.",
                notes or ("No sign of gradient masking: the evaluation's attacks behaved as expected.",),
            )
        )
    return out


register_section(Section(SECTION, "Adversarial examples (evasion)", plan, summarize, make_figures, metrics, order=10))
