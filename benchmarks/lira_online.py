"""Online against offline LiRA and the loss attack on an overfit digits MLP.

Carlini et al. 2022 (Sec. IV.B) report online LiRA: every candidate record trains half of
the reference models, so each record gets in- and out-models. The 1,797 digits are shuffled
(seed 0) into 500 members (the target's training set), 500 non-members and a 797-record
attacker pool disjoint from both. Target: ``zoo.mlp`` (128 hidden), 300 full-batch Adam
epochs at lr 0.01, no weight decay. Offline LiRA trains its reference models on 500-record
subsets of the disjoint pool; online LiRA on random halves (500 records) of the 1,000
candidates, through the local backend; both use the target's schedule and the fixed (global)
variance. With 500 non-members the TPR at 0.1% FPR is the TPR at zero false positives.

Run: ``python -m benchmarks.lira_online`` (about 2 minutes on 2 cores). Writes the
``lira_online`` section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

import bastion
from bastion.attacks.inference import LiRA, LossThreshold, evaluate_membership, train_like
from bastion.backends import LocalBackend
from bastion.models import TorchModel, fit, zoo
from benchmarks.report import machine, write_section

COMMAND = "python -m benchmarks.lira_online"
N_MEMBERS = N_NONMEMBERS = 500
SCHEDULE = {"epochs": 300, "lr": 1e-2, "batch_size": N_MEMBERS, "weight_decay": 0.0}


def run(n_reference: int, workers: int) -> dict:
    data = bastion.load("digits", seed=0)
    x = np.concatenate([data.x_train, data.x_test])
    y = np.concatenate([data.y_train, data.y_test])
    order = np.random.default_rng(0).permutation(len(x))
    members, nonmembers = order[:N_MEMBERS], order[N_MEMBERS : N_MEMBERS + N_NONMEMBERS]
    pool, candidates = order[N_MEMBERS + N_NONMEMBERS :], order[: N_MEMBERS + N_NONMEMBERS]
    module = zoo.mlp(data.input_shape, data.n_classes, hidden=(128,), seed=0)
    fit(module, x[members], y[members], seed=0, progress=False, **SCHEDULE)
    target = TorchModel(module, input_shape=data.input_shape, n_classes=data.n_classes)
    train_fn = train_like(target, **SCHEDULE)
    backend = LocalBackend(workers)
    attacks = {
        "online LiRA": (
            LiRA(train_fn=train_fn, n_reference=n_reference, online=True, backend=backend, progress=False),
            candidates,
        ),
        "offline LiRA": (
            LiRA(train_fn=train_fn, n_reference=n_reference, reference_size=N_MEMBERS, progress=False),
            pool,
        ),
        "loss": (LossThreshold(), pool),
    }
    results = {}
    for name, (attack, fit_on) in attacks.items():
        started = time.perf_counter()
        attack.fit(target, x[fit_on], y[fit_on])
        result = evaluate_membership(target, attack, x[members], y[members], x[nonmembers], y[nonmembers])
        results[name] = (result, time.perf_counter() - started)
        print(f"{name:13s} {results[name][1]:6.1f}s auc {result.auc:.3f}", flush=True)
    return results


def markdown(results: dict, n_reference: int, workers: int) -> str:
    lines = [
        "## Membership inference: online vs offline LiRA",
        "",
        "What: how many training records online LiRA (Carlini et al. 2022, Sec. IV.B: reference models "
        "trained with and without each candidate) finds at low false-positive rates, against offline LiRA "
        "(reference models that never saw the candidates). Peer: bastion's offline LiRA and loss-threshold "
        f"attack on the same target. Data: {N_MEMBERS} digits members and {N_NONMEMBERS} non-members of an "
        "overfit `zoo.mlp` target (300 full-batch epochs, lr 0.01); "
        f"{n_reference} reference models per LiRA with the target's schedule and a fixed variance, online on "
        "random halves of the 1,000 candidates, offline on 500-record subsets of a disjoint 797-record pool. "
        f"With {N_NONMEMBERS} non-members, TPR at 0.1% FPR is the TPR at zero false positives. Seconds "
        "include training the reference models.",
        "",
        f"Command: `{COMMAND}`. Machine: {machine()}, {workers} worker processes.",
        "",
        "| attack | AUC | TPR @ 0.1% FPR | TPR @ 1% FPR | seconds (fit + score) |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for name, (r, seconds) in results.items():
        lines.append(f"| {name} | {r.auc:.3f} | {r.tpr_at_fpr_0_1pct:.1%} | {r.tpr_at_fpr_1pct:.1%} | {seconds:.1f} |")
    online, offline = results["online LiRA"][0], results["offline LiRA"][0]
    lines += [
        "",
        f"Online LiRA finds {online.tpr_at_fpr_1pct:.1%} of the members at 1% FPR against offline LiRA's "
        f"{offline.tpr_at_fpr_1pct:.1%} and the loss attack's {results['loss'][0].tpr_at_fpr_1pct:.1%}: the "
        "in-models tell it how much a record's confidence rises when the record is trained on.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-reference", type=int, default=16, help="reference models per LiRA")
    parser.add_argument("--workers", type=int, default=2, help="processes of the local backend (online LiRA)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    results = run(args.n_reference, args.workers)
    text = markdown(results, args.n_reference, args.workers)
    write_section("lira_online", text)
    print(text)


if __name__ == "__main__":
    main()
