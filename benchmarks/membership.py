"""Membership inference on an overfit and a regularised digits MLP: four attacks side by side.

Carlini et al.'s (2022) evaluation scaled down to the embedded digits: for each of
``--seeds`` splits, the 1,797 digits are shuffled into 150 members (the target's training
set), 450 non-members and a 1,197-record attacker pool. Two targets share the members and the
architecture (``zoo.mlp``, 128 hidden units):

- overfit: 300 full-batch Adam epochs at lr 0.01, no weight decay;
- regularised: stopped early at 20 epochs, with weight decay 0.01 (an L2 penalty in Adam);
  about the same test accuracy.

Shadow models (Shokri et al.) and LiRA's reference models are trained on 150-record subsets
of the pool with the target's own schedule (``train_like``). Scores of all seeds are pooled
before the metrics (as Carlini et al. pool many targets), so each row is measured on
``150 x seeds`` members and ``450 x seeds`` non-members; the TPR at 0.1% FPR needs at least
1,000 non-members to mean anything and is otherwise the TPR at zero false positives.

Run: ``python -m benchmarks.membership`` (about 2 minutes on one core). Writes the
``membership`` section of docs/benchmarks.md and the ROC plots docs/membership_roc_*.png.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import art
import numpy as np
import torch

import bastion
from bastion.attacks.inference import (
    ConfidenceThreshold,
    LiRA,
    LossThreshold,
    MembershipResult,
    ShadowModels,
    membership_metrics,
    train_like,
)
from bastion.models import TorchModel, fit, zoo
from bastion.plots import plot_roc
from benchmarks.report import DOC, machine, write_section

COMMAND = "python -m benchmarks.membership"
N_MEMBERS, N_NONMEMBERS = 150, 450
SCHEDULES = {
    "overfit": {"epochs": 300, "lr": 1e-2, "batch_size": N_MEMBERS, "weight_decay": 0.0},
    "regularised": {"epochs": 20, "lr": 1e-2, "batch_size": N_MEMBERS, "weight_decay": 1e-2},
}
ATTACKS = ("loss", "confidence", "shadow", "lira")
# The peer row: ART's label-only baseline (member iff classified correctly; Yeom et al.'s
# gap-only adversary), whose AUC is its balanced accuracy.
PEER = "art_rule_label_only"
ROWS = (*ATTACKS, PEER)


def make_attacks(target: TorchModel, schedule: dict, seed: int, n_shadow: int, n_reference: int) -> dict:
    train_fn = train_like(target, **schedule)
    return {
        "loss": LossThreshold(),
        "confidence": ConfidenceThreshold(),
        "shadow": ShadowModels(train_fn=train_fn, n_shadow=n_shadow, shadow_size=N_MEMBERS, seed=seed, progress=False),
        "lira": LiRA(train_fn=train_fn, n_reference=n_reference, reference_size=N_MEMBERS, seed=seed, progress=False),
    }


def art_rule_based(target: TorchModel):
    """ART's MembershipInferenceBlackBoxRuleBased on the same torch module."""
    from art.attacks.inference.membership_inference import MembershipInferenceBlackBoxRuleBased
    from art.estimators.classification import PyTorchClassifier

    classifier = PyTorchClassifier(
        target.module,
        loss=torch.nn.CrossEntropyLoss(),
        input_shape=target.input_shape,
        nb_classes=target.n_classes,
        clip_values=target.clip,
    )
    return MembershipInferenceBlackBoxRuleBased(classifier)


def run(seeds: int, n_shadow: int, n_reference: int) -> tuple[dict, dict]:
    data = bastion.load("digits", seed=0)
    x_all = np.concatenate([data.x_train, data.x_test])
    y_all = np.concatenate([data.y_train, data.y_test])
    scores = {(name, attack): ([], []) for name in SCHEDULES for attack in ROWS}
    accuracy = {name: ([], []) for name in SCHEDULES}
    seconds = {(name, attack): 0.0 for name in SCHEDULES for attack in ROWS}
    for seed in range(seeds):
        order = np.random.default_rng(seed).permutation(len(x_all))
        members = order[:N_MEMBERS]
        nonmembers = order[N_MEMBERS : N_MEMBERS + N_NONMEMBERS]
        pool = order[N_MEMBERS + N_NONMEMBERS :]
        for name, schedule in SCHEDULES.items():
            module = zoo.mlp(data.input_shape, data.n_classes, hidden=(128,), seed=seed)
            fit(module, x_all[members], y_all[members], seed=seed, progress=False, **schedule)
            target = TorchModel(module, input_shape=data.input_shape, n_classes=data.n_classes)
            accuracy[name][0].append(float((target.predict(x_all[members]) == y_all[members]).mean()))
            accuracy[name][1].append(float((target.predict(x_all[nonmembers]) == y_all[nonmembers]).mean()))
            for attack_name, attack in make_attacks(target, schedule, seed, n_shadow, n_reference).items():
                started = time.perf_counter()
                attack.fit(target, x_all[pool], y_all[pool])
                scores[name, attack_name][0].append(attack.score(target, x_all[members], y_all[members]))
                scores[name, attack_name][1].append(attack.score(target, x_all[nonmembers], y_all[nonmembers]))
                seconds[name, attack_name] += time.perf_counter() - started
                print(f"seed {seed} {name:11s} {attack_name:10s} {time.perf_counter() - started:6.1f}s", flush=True)
            started = time.perf_counter()
            peer = art_rule_based(target)
            scores[name, PEER][0].append(peer.infer(x_all[members], y_all[members]).astype(np.float64))
            scores[name, PEER][1].append(peer.infer(x_all[nonmembers], y_all[nonmembers]).astype(np.float64))
            seconds[name, PEER] += time.perf_counter() - started
    results = {
        key: membership_metrics(np.concatenate(inside), np.concatenate(outside), attack=key[1], seconds=seconds[key])
        for key, (inside, outside) in scores.items()
    }
    # Yeom et al.'s generalisation error: mean test loss minus mean training loss (the loss
    # attack scores are minus the losses).
    loss_gap = {
        name: float(np.mean(np.concatenate(scores[name, "loss"][0])) - np.mean(np.concatenate(scores[name, "loss"][1])))
        for name in SCHEDULES
    }
    summary = {name: (float(np.mean(a)), float(np.mean(b)), loss_gap[name]) for name, (a, b) in accuracy.items()}
    return results, summary


def markdown(results: dict, accuracy: dict, seeds: int, n_shadow: int, n_reference: int) -> str:
    lines = [
        "## Membership inference: overfit vs regularised digits MLP",
        "",
        "What: how well four membership-inference attacks (loss and confidence thresholds, shadow models, "
        "offline LiRA) tell the training records of a digits MLP from unseen ones, on an overfit and a "
        f"regularised model. Peer: ART {art.__version__}'s `MembershipInferenceBlackBoxRuleBased` (label-only: "
        "member iff classified correctly; one threshold, so its AUC equals its balanced accuracy). Data: "
        f"{seeds} random splits of the 1,797 digits into {N_MEMBERS} members, {N_NONMEMBERS} non-members and a "
        f"{1797 - N_MEMBERS - N_NONMEMBERS:,}-record attacker pool, scores pooled over the splits "
        f"({N_MEMBERS * seeds:,} members, {N_NONMEMBERS * seeds:,} non-members). Targets: `zoo.mlp` (128 hidden) "
        "trained on the members, overfit = 300 full-batch epochs at lr 0.01, regularised = 20 epochs with "
        f"weight decay 0.01. Shadow models ({n_shadow} per split) and LiRA reference models ({n_reference} per "
        f"split) train on {N_MEMBERS}-record subsets of the pool with the target's schedule. Balanced accuracy "
        "is at the best threshold in hindsight; the loss gap is the mean cross-entropy on non-members minus "
        "that on members (nats).",
        "",
        f"Command: `{COMMAND}`. Machine: {machine()}.",
        "",
        "| target | train acc | test acc | loss gap (nats) | attack | AUC | TPR @ 0.1% FPR | TPR @ 1% FPR |"
        " balanced acc | seconds (fit + score) |",
        "| --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name in SCHEDULES:
        train_accuracy, test_accuracy, loss_gap = accuracy[name]
        for attack in ROWS:
            r: MembershipResult = results[name, attack]
            lines.append(
                f"| {name} | {train_accuracy:.1%} | {test_accuracy:.1%} | {loss_gap:.3f} | "
                f"{attack} | {r.auc:.3f} | {r.tpr_at_fpr_0_1pct:.1%} | {r.tpr_at_fpr_1pct:.1%} | "
                f"{r.balanced_accuracy:.1%} | {r.seconds:.1f} |"
            )
    overfit_lira, overfit_loss = results["overfit", "lira"], results["overfit", "loss"]
    peer = results["overfit", PEER]
    lower = [a for a in ATTACKS if results["regularised", a].auc < results["overfit", a].auc]
    effect = (
        "regularisation lowers every attack's AUC"
        if len(lower) == len(ATTACKS)
        else f"regularisation lowers the AUC of {', '.join(lower) or 'no attack'}"
    )
    lines += [
        "",
        f"On the overfit model LiRA finds {overfit_lira.tpr_at_fpr_1pct:.1%} of the members at 1% FPR against the "
        f"loss threshold's {overfit_loss.tpr_at_fpr_1pct:.1%} and the label-only peer's "
        f"{peer.tpr_at_fpr_1pct:.1%}; {effect}.",
        "",
        "ROC curves (log-log, as Carlini et al. plot them; the legend names curves that coincide):",
        "",
        "![overfit](membership_roc_overfit.png) ![regularised](membership_roc_regularised.png)",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3, help="splits (targets) to pool")
    parser.add_argument("--n-shadow", type=int, default=8, help="shadow models per split")
    parser.add_argument("--n-reference", type=int, default=16, help="LiRA reference models per split")
    args = parser.parse_args()
    torch.set_num_threads(1)
    results, accuracy = run(args.seeds, args.n_shadow, args.n_reference)
    for name in SCHEDULES:
        plot_roc(
            {attack: results[name, attack] for attack in ATTACKS},
            Path(DOC).parent / f"membership_roc_{name}.png",
            title=f"Membership inference, {name} digits MLP",
        )
    text = markdown(results, accuracy, args.seeds, args.n_shadow, args.n_reference)
    write_section("membership", text)
    print(text)


if __name__ == "__main__":
    main()
