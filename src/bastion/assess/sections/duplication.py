"""Model duplication: extraction through the prediction API, membership inference, PATE.

The attacker of every cell holds one half of the test split (seeded by the run's seed):
unlabeled inputs to query the model with (extraction) or records from the training
distribution known not to be members (LiRA's reference pool). The other half is never shown
to the attacker: extraction fidelity is measured on it, and it supplies the non-members of
the membership attacks. Members are training records.

Cells: ``duplication/extraction_<policy>`` (Knockoff Nets at every budget, against the model
behind one output policy), ``duplication/equation_solving`` (linear models only),
``duplication/membership_<attack>`` and ``duplication/pate_sigma_<s>`` (one point of PATE's
accuracy-against-epsilon curve, with the membership attack re-run on its student).
"""

from __future__ import annotations

import warnings
from types import SimpleNamespace
from typing import Any

import numpy as np

from bastion import plots
from bastion.assess.atlas import mitigation, technique
from bastion.assess.registry import Cell, CellUnavailableError, Figure, Section, cell_function, register_section
from bastion.assess.sections.common import accuracy, done, percent, retrain_schedule, rounded, subset

SECTION = "duplication"
POLICY_LABELS = {"probabilities": "probabilities", "rounded": "rounded confidences", "labels": "labels only"}


def attacker_split(dataset: Any, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the test split: the attacker's half and the held-out half."""
    order = np.random.default_rng([seed, 7]).permutation(len(dataset.x_test))
    half = len(order) // 2
    return np.sort(order[:half]), np.sort(order[half:])


def plan(config: Any, profile: Any) -> list[Cell]:
    """Extraction per output policy, equation solving, membership attacks, the PATE sweep."""
    section = config.section(SECTION)
    if not section["enabled"]:
        return []
    cells = []
    for policy in section["policies"]:
        skip = None
        if policy != "labels" and not profile.scores:
            skip = f"the {POLICY_LABELS[policy]} policy needs a model that answers probabilities"
        cells.append(
            Cell(
                f"{SECTION}/extraction_{policy}",
                SECTION,
                "duplication.extraction",
                f"extraction, {POLICY_LABELS[policy]}",
                {"policy": policy},
                cost=2,
                skip=skip,
            )
        )
    linear = (
        None if profile.linear and profile.scores else "the model is not a linear scikit-learn model with probabilities"
    )
    cells.append(
        Cell(
            f"{SECTION}/equation_solving",
            SECTION,
            "duplication.equation_solving",
            "equation-solving extraction",
            cost=0.5,
            skip=linear,
        )
    )
    for attack in section["membership"]:
        skip = None if profile.scores else "membership attacks read the model's probabilities"
        if attack == "lira" and skip is None and not profile.trainable:
            skip = (
                "LiRA trains reference models like the target, which needs a torch zoo or scikit-learn model "
                f"(got {profile.kind})"
            )
        cells.append(
            Cell(
                f"{SECTION}/membership_{attack}",
                SECTION,
                "duplication.membership",
                f"membership, {technique(attack)['label']}",
                {"attack": attack},
                cost=3 if attack == "lira" else 0.5,
                skip=skip,
            )
        )
    for sigma in section["pate_sigmas"]:
        cells.append(
            Cell(
                f"{SECTION}/pate_sigma_{sigma:g}",
                SECTION,
                "duplication.pate",
                f"PATE, sigma {sigma:g}",
                {"sigma": sigma},
                seed_key=f"{SECTION}/pate",
                cost=1.5,
            )
        )
    return cells


@cell_function("duplication.extraction")
def extraction_cell(context: Any) -> dict[str, Any]:
    """Knockoff Nets at every budget against the model behind one output policy."""
    from bastion.attacks.extraction import KnockoffNets, pixel_shifts
    from bastion.models import LabelOnly, RoundedScores

    section, model, dataset = context.section(), context.model, context.dataset
    policy = context.params["policy"]
    attacker, held_out = attacker_split(dataset, context.config.seed)
    pool = dataset.x_test[attacker]
    if pool.ndim == 4:
        pool = pixel_shifts(pool)
    points = []
    for budget in section["budgets"]:
        if budget > len(pool):
            raise CellUnavailableError(f"the attacker's pool holds {len(pool)} inputs, fewer than the budget {budget}")
        if policy == "rounded":
            target = RoundedScores(model, section["rounding_decimals"])
        elif policy == "labels":
            target = LabelOnly(model)
        else:
            target = model
        attack = KnockoffNets(
            pool,
            output="labels" if policy == "labels" else "probabilities",
            epochs=section["substitute_epochs"],
            seed=context.seed,
        )
        result = attack.extract(target, budget=budget, x_eval=dataset.x_test[held_out], y_eval=dataset.y_test[held_out])
        points.append(
            {"budget": budget, "queries": result.queries_used, "fidelity": result.fidelity, "accuracy": result.accuracy}
        )
    return {"policy": policy, "label": POLICY_LABELS[policy], "points": points, "n_eval": len(held_out)}


@cell_function("duplication.equation_solving")
def equation_solving_cell(context: Any) -> dict[str, Any]:
    """Tramèr et al.'s equation solving: exact recovery of a logistic regression from d + 1 queries."""
    from bastion.attacks.extraction import EquationSolving

    model, dataset = context.model, context.dataset
    attack = EquationSolving(seed=context.seed)
    budget = attack.minimum_budget(model)
    _, held_out = attacker_split(dataset, context.config.seed)
    result = attack.extract(model, budget=budget, x_eval=dataset.x_test[held_out], y_eval=dataset.y_test[held_out])
    return {
        "budget": budget,
        "queries": result.queries_used,
        "fidelity": result.fidelity,
        "confidence_error_max": result.confidence_error_max,
    }


def _membership(attack: Any, model: Any, members: tuple, nonmembers: tuple) -> Any:
    from bastion.attacks.inference import evaluate_membership

    return evaluate_membership(model, attack, *members, *nonmembers)


def _roc(result: Any) -> dict[str, Any]:
    return {
        "auc": result.auc,
        "tpr_at_1pct_fpr": result.tpr_at_fpr_1pct,
        "tpr_at_0_1pct_fpr": result.tpr_at_fpr_0_1pct,
        "balanced_accuracy": result.balanced_accuracy,
        "fpr": rounded(result.roc_fpr),
        "tpr": rounded(result.roc_tpr),
        "n_members": result.n_members,
        "n_nonmembers": result.n_nonmembers,
    }


def _roc_view(roc: dict[str, Any]) -> SimpleNamespace:
    """A stored ROC with the fields of a MembershipResult, for :func:`bastion.plots.roc_figure`."""
    return SimpleNamespace(
        roc_fpr=roc["fpr"],
        roc_tpr=roc["tpr"],
        auc=roc["auc"],
        tpr_at_fpr_1pct=roc["tpr_at_1pct_fpr"],
        n_nonmembers=roc["n_nonmembers"],
    )


@cell_function("duplication.membership")
def membership_cell(context: Any) -> dict[str, Any]:
    """Loss threshold or LiRA: training records (members) against held-out test records."""
    from bastion.attacks.inference import LiRA, LossThreshold, train_like

    section, model, dataset = context.section(), context.model, context.dataset
    attacker, held_out = attacker_split(dataset, context.config.seed)
    members = subset(len(dataset.x_train), len(held_out), context.seed)
    if context.params["attack"] == "lira":
        attack = LiRA(
            train_fn=train_like(model, **retrain_schedule(context.config)),
            n_reference=section["n_reference"],
            seed=context.seed,
            progress=False,
        )
        attack.fit(model, dataset.x_test[attacker], dataset.y_test[attacker])
    else:
        attack = LossThreshold()
    result = _membership(
        attack,
        model,
        (dataset.x_train[members], dataset.y_train[members]),
        (dataset.x_test[held_out], dataset.y_test[held_out]),
    )
    return {"attack": context.params["attack"], "label": technique(context.params["attack"])["label"], **_roc(result)}


@cell_function("duplication.pate")
def pate_cell(context: Any) -> dict[str, Any]:
    """PATE with GNMax at one sigma: student accuracy, epsilon, and the loss attack on the student."""
    from sklearn.linear_model import LogisticRegression

    from bastion.attacks.inference import LossThreshold
    from bastion.defenses import PATE
    from bastion.defenses.pate import GNMax, SmoothSensitivityWarning

    section, dataset = context.section(), context.dataset
    n_private = len(dataset.x_train) * 3 // 4
    x_private, y_private = dataset.x_train[:n_private], dataset.y_train[:n_private]
    x_public = dataset.x_train[n_private:]
    learner = LogisticRegression(max_iter=300)
    defense = PATE(
        teacher_factory=learner,
        n_teachers=section["pate_teachers"],
        aggregator=GNMax(sigma=context.params["sigma"]),
        backend="serial",
        seed=context.seed,
        progress=False,
    )
    defense.fit(x_private, y_private)
    with warnings.catch_warnings():
        # Where the smooth-sensitivity release is unsound, epsilon_published falls back to the
        # data-independent bound and the result says which one it is.
        warnings.simplefilter("ignore", SmoothSensitivityWarning)
        labeling = defense.label(
            x_public,
            max_queries=min(section["pate_queries"], len(x_public)),
            y_public=dataset.y_train[n_private:],
            smooth_sensitivity=True,
        )
    student = defense.fit_student(learner, x_public, labeling=labeling, label_spreading=7).model_
    _, held_out = attacker_split(dataset, context.config.seed)
    members = subset(n_private, len(held_out), context.seed)
    leak = _membership(
        LossThreshold(),
        student,
        (x_private[members], y_private[members]),
        (dataset.x_test[held_out], dataset.y_test[held_out]),
    )
    return {
        "sigma": context.params["sigma"],
        "teachers": section["pate_teachers"],
        "queries_answered": labeling.n_answered,
        "label_accuracy": labeling.label_accuracy,
        "epsilon_published": labeling.epsilon_published,
        "epsilon_published_from": (
            "data-independent bound" if labeling.epsilon_smooth_sensitivity is None else "smooth sensitivity"
        ),
        "epsilon_data_dependent": labeling.epsilon,
        "epsilon_data_independent": labeling.epsilon_data_independent,
        "delta": labeling.delta,
        "accuracy": accuracy(student, dataset.x_test, dataset.y_test),
        "model_accuracy": accuracy(context.model, dataset.x_test, dataset.y_test),
        "membership": _roc(leak),
    }


def _extraction_results(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["result"]["policy"]: r["result"] for r in done(records, "duplication.extraction")}


def summarize(records: list[dict[str, Any]], config: Any) -> list[dict[str, Any]]:
    """Extraction: fidelity at the largest budget (best policy = lowest); membership: TPR at 1% FPR."""
    rows = []
    extraction = _extraction_results(records)
    if "probabilities" in extraction:
        base = extraction["probabilities"]["points"][-1]
        others = {
            p: r["points"][-1]
            for p, r in extraction.items()
            if p != "probabilities" and r["points"][-1]["fidelity"] < base["fidelity"]
        }
        best = min(others, key=lambda p: others[p]["fidelity"], default=None)
        row = {
            "family": SECTION,
            "threat": "model theft through the prediction API",
            "attack": technique("knockoff")["label"],
            "technique": technique("knockoff")["id"],
            "metric": f"extraction fidelity @ {base['budget']} queries",
            "higher_is_better": False,
            "undefended": base["fidelity"],
            "best_defense": None if best is None else POLICY_LABELS[best],
            "mitigation": None if best is None else mitigation(best)["id"],
            "defended": None if best is None else others[best]["fidelity"],
            "cost": None
            if best is None
            else ("callers lose the confidences" if best == "labels" else "callers get coarser confidences"),
            "notes": [],
            "verdict": (
                f"With {base['budget']} queries an attacker builds a copy that agrees with the model on "
                f"{percent(base['fidelity'])} of inputs."
            ),
        }
        if best is not None:
            row["verdict"] += f" Answering {POLICY_LABELS[best]} brings that to {percent(others[best]['fidelity'])}."
        rows.append(row)
    leaks = {r["result"]["attack"]: r["result"] for r in done(records, "duplication.membership")}
    if leaks:
        worst = max(leaks.values(), key=lambda r: r["tpr_at_1pct_fpr"])
        pate = [
            r["result"]
            for r in done(records, "duplication.pate")
            if r["result"]["membership"]["tpr_at_1pct_fpr"] < worst["tpr_at_1pct_fpr"]
        ]
        best = min(pate, key=lambda r: r["membership"]["tpr_at_1pct_fpr"], default=None)
        row = {
            "family": SECTION,
            "threat": "training-data leakage (membership)",
            "attack": worst["label"],
            "technique": technique(worst["attack"])["id"],
            "metric": "true-positive rate @ 1% false positives",
            "higher_is_better": False,
            "undefended": worst["tpr_at_1pct_fpr"],
            "best_defense": None,
            "mitigation": None,
            "defended": None,
            "cost": None,
            "notes": [mitigation("pate")["note"]] if best is not None else [],
            "verdict": (
                f"An attacker who accepts 1% false alarms recognises {percent(worst['tpr_at_1pct_fpr'])} of the "
                f"training records (AUC {worst['auc']:.2f})."
            ),
        }
        if best is not None:
            row.update(
                best_defense=f"PATE student (epsilon {best['epsilon_published']:.2g})",
                mitigation=mitigation("pate")["id"],
                defended=best["membership"]["tpr_at_1pct_fpr"],
                cost=f"test accuracy {percent(best['accuracy'])}",
            )
            row["verdict"] += (
                f" A PATE student with a published epsilon of {best['epsilon_published']:.2g} leaks "
                f"{percent(best['membership']['tpr_at_1pct_fpr'])} at {percent(best['accuracy'])} accuracy."
            )
        rows.append(row)
    return rows


def metrics(records: list[dict[str, Any]], config: Any) -> dict[str, float]:
    """``extraction_fidelity@<budget>`` (probabilities; per policy in brackets), ``membership_*``, ``pate_*``."""
    out: dict[str, float] = {}
    for policy, result in _extraction_results(records).items():
        suffix = "" if policy == "probabilities" else f"[{policy}]"
        for point in result["points"]:
            out[f"extraction_fidelity@{point['budget']}{suffix}"] = point["fidelity"]
    for record in done(records, "duplication.equation_solving"):
        out["extraction_fidelity[equation_solving]"] = record["result"]["fidelity"]
    for record in done(records, "duplication.membership"):
        result = record["result"]
        out[f"membership_auc[{result['attack']}]"] = result["auc"]
        out[f"membership_tpr@0.01[{result['attack']}]"] = result["tpr_at_1pct_fpr"]
    for record in done(records, "duplication.pate"):
        result = record["result"]
        out[f"pate_student_accuracy[sigma={result['sigma']:g}]"] = result["accuracy"]
        out[f"pate_epsilon[sigma={result['sigma']:g}]"] = result["epsilon_published"]
    return out


def make_figures(records: list[dict[str, Any]], config: Any) -> list[Figure]:
    """Fidelity against queries per policy, the membership ROC curves, PATE accuracy against epsilon."""
    out = []
    extraction = _extraction_results(records)
    if extraction:
        curves = {
            r["label"]: ([p["queries"] for p in r["points"]], [p["fidelity"] for p in r["points"]])
            for r in extraction.values()
        }
        out.append(
            Figure(
                "extraction-fidelity",
                "Model extraction against the output policy",
                plots.figure_svg(plots.fidelity_figure(curves)),
                "Knockoff Nets (Orekondy et al. 2019): share of held-out inputs on which a copy trained on the model's "
                "answers agrees with it, against the queries the attacker spent, for each output policy of the API.",
            )
        )
    roc = {r["result"]["label"]: r["result"] for r in done(records, "duplication.membership")}
    pate = sorted((r["result"] for r in done(records, "duplication.pate")), key=lambda r: r["epsilon_published"])
    for result in pate[:1]:
        roc[f"loss threshold on the PATE student (sigma {result['sigma']:g})"] = result["membership"]
    if roc:
        out.append(
            Figure(
                "membership-roc",
                "Membership inference",
                plots.figure_svg(plots.roc_figure({label: _roc_view(curve) for label, curve in roc.items()})),
                "ROC curves on log-log axes: the left edge shows how many training records an attacker identifies "
                "while making almost no false accusations (Carlini et al. 2022).",
            )
        )
    if pate:
        baseline = pate[0]["model_accuracy"]
        out.append(
            Figure(
                "pate-epsilon",
                "PATE: accuracy against privacy",
                plots.figure_svg(
                    plots.privacy_figure(
                        [r["epsilon_published"] for r in pate],
                        [r["accuracy"] for r in pate],
                        baseline=baseline,
                        epsilon_label="published epsilon",
                    )
                ),
                "Accuracy of PATE students (Papernot et al. 2018, GNMax aggregation) against the published epsilon "
                "of the answers they learned from (delta = 1e-5): the smooth-sensitivity release (Sec. 4.3), or the "
                "data-independent bound where that release is unsound; smaller epsilon, stronger privacy.",
                tuple(
                    f"sigma {r['sigma']:g}: published epsilon {r['epsilon_published']:.3g} "
                    f"({r['epsilon_published_from']}); data-dependent epsilon {r['epsilon_data_dependent']:.3g} "
                    "(a function of the private votes, not for publication)"
                    for r in pate
                ),
            )
        )
    return out


register_section(
    Section(
        SECTION,
        "Model duplication (extraction, membership inference)",
        plan,
        summarize,
        make_figures,
        metrics,
        order=20,
    )
)
