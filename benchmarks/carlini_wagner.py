"""Carlini & Wagner L2 beside torchattacks, ART and Foolbox on the undefended and distilled digits CNNs.

Two ``zoo.small_cnn`` models (seed 0): undefended (15 epochs, as in the evasion benchmark) and
defensively distilled at T = 20 (as in the defenses benchmark), the first ``--n`` test
digits, one thread. Per model:

- bastion's ``CarliniWagnerL2()`` at its defaults (the paper's evaluation settings: 10
  binary-search steps from c = 0.01, the last at the upper bound, 1,000 Adam steps, early
  abort; one such optimisation from each of two starts of the edge pixels);
- Foolbox's ``L2CarliniWagnerAttack`` with the same settings (its defaults are 9 steps from
  c = 0.001 and 10,000 Adam steps; 10 from 0.01 reach the same c range);
- torchattacks' ``CW`` (one run at a fixed c, no binary search) at c = 0.1, 1 and 10 with
  1,000 Adam steps; its best is the smallest mean L2 among the settings that succeed on every
  image;
- ART's ``CarliniL2Method`` with the paper's binary search (10 steps from c = 0.01) and
  ``--art-steps`` iterations (its line search makes every iteration several passes), on the
  first ``--art-n`` images, beside bastion with the same 10 x ``--art-steps`` from one start on
  the same images (the same optimisation budget);
- at equal iterations: bastion with one binary-search step of 1,000 Adam steps at c = 1
  from one start without early abort, against torchattacks' c = 1 run above; the forward passes of each run
  are counted, and the ratio is of CPU time per pass.

Success: the fraction of correctly classified images turned adversarial. Mean L2 over the
successes, in [0, 1] pixel units. Times are CPU seconds of this process. The target status
goes to the log, not to the document.

Run: ``python -m benchmarks.carlini_wagner``. Writes the ``carlini-wagner`` section of
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import logging
import time
import warnings

import numpy as np
import torch
from torch import nn

import bastion
from bastion.attacks.evasion import CarliniWagnerL2
from bastion.defenses import DefensiveDistillation
from bastion.models import TorchModel, fit, zoo
from benchmarks.report import machine, write_section

COMMAND = "python -m benchmarks.carlini_wagner"
TORCHATTACKS_C = (0.1, 1.0, 10.0)
STEPS = 1000
OURS = "bastion, defaults (10 x 1,000)"
EQUAL = "bastion, c=1, 1 x 1,000, one start, no early abort"
EQUAL_PEER = "torchattacks, c=1, 1,000 steps"

log = logging.getLogger("benchmarks.carlini_wagner")


def models(data: bastion.Dataset) -> dict[str, TorchModel]:
    def small_cnn() -> nn.Module:
        return zoo.small_cnn(data.input_shape, data.n_classes, seed=0)

    module = fit(small_cnn(), data.x_train, data.y_train, epochs=15, seed=0, progress=False)
    undefended = TorchModel(module, input_shape=data.input_shape, n_classes=data.n_classes)
    distilled = DefensiveDistillation(temperature=20.0, epochs=15, progress=False).fit(small_cnn, data).model_
    return {"undefended": undefended, "distilled (T=20)": distilled}


def measure(model: TorchModel, x: np.ndarray, y: np.ndarray, run) -> dict[str, float]:
    passes = [0]
    # The last layer runs once per forward pass whoever drives the network (ART calls the
    # layers one by one, past the top module's hooks).
    last = list(model.module.modules())[-1]
    hook = last.register_forward_hook(lambda *_: passes.__setitem__(0, passes[0] + 1))
    torch.manual_seed(0)
    started = time.process_time()
    try:
        x_adv = np.asarray(run(x, y), dtype=np.float32)
    finally:
        seconds = time.process_time() - started
        hook.remove()
    correct = model.predict(x) == y
    fooled = (model.predict(x_adv) != y) & correct
    l2 = np.linalg.norm((x_adv - x).reshape(len(x), -1), axis=1)
    return {
        "success": float(fooled.sum() / max(correct.sum(), 1)),
        "mean_l2": float(l2[fooled].mean()) if fooled.any() else float("nan"),
        "cpu_seconds": seconds,
        "passes": passes[0],
        "n": len(x),
        "l2": np.where(fooled, l2, np.nan),
    }


def common_means(ours: dict, theirs: dict) -> tuple[float, float, int]:
    """Mean L2 of each attack over the images both turned adversarial (among the first of them).

    Means over different sets of successes are not comparable: an attack that gives up on the
    hardest image drops its largest perturbation from its mean.
    """
    k = min(ours["n"], theirs["n"])
    both = ~np.isnan(ours["l2"][:k]) & ~np.isnan(theirs["l2"][:k])
    if not both.any():
        return float("nan"), float("nan"), 0
    return float(ours["l2"][:k][both].mean()), float(theirs["l2"][:k][both].mean()), int(both.sum())


def contenders(model: TorchModel, art_steps: int) -> dict[str, tuple[object, bool]]:
    """Name -> (run(x, y) -> x_adv, runs on the ART subset)."""
    import foolbox
    import torchattacks
    from art.attacks.evasion import CarliniL2Method
    from art.estimators.classification import PyTorchClassifier

    module = model.module.eval()
    defaults = CarliniWagnerL2()
    found: dict[str, tuple[object, bool]] = {OURS: (lambda x, y: defaults.generate(model, x, y), False)}
    fool = foolbox.attacks.L2CarliniWagnerAttack(binary_search_steps=10, steps=STEPS, initial_const=0.01)
    fool_model = foolbox.PyTorchModel(module, bounds=model.clip)
    found["Foolbox, 10 x 1,000 from c=0.01"] = (
        lambda x, y: fool.run(fool_model, torch.as_tensor(x), foolbox.criteria.Misclassification(torch.as_tensor(y))),
        False,
    )
    for c in TORCHATTACKS_C:
        attack = torchattacks.CW(module, c=c, kappa=0, steps=STEPS, lr=0.01)
        found[f"torchattacks, c={c:g}, 1,000 steps"] = (
            lambda x, y, a=attack: a(torch.as_tensor(x), torch.as_tensor(y)).detach(),
            False,
        )
    classifier = PyTorchClassifier(
        model=module,
        loss=nn.CrossEntropyLoss(),
        input_shape=model.input_shape,
        nb_classes=model.n_classes,
        clip_values=model.clip,
    )
    art = CarliniL2Method(
        classifier,
        confidence=0.0,
        learning_rate=0.01,
        binary_search_steps=10,
        max_iter=art_steps,
        initial_const=0.01,
        batch_size=64,
        verbose=False,
    )
    found[f"ART, 10 x {art_steps} from c=0.01"] = (lambda x, y: art.generate(x=x, y=y), True)
    same = CarliniWagnerL2(steps=art_steps, edge_starts=(1e-3,))
    found[f"bastion, 10 x {art_steps}, one start (ART's settings)"] = (lambda x, y: same.generate(model, x, y), True)
    equal = CarliniWagnerL2(c=1.0, steps=STEPS, binary_search_steps=1, abort_early=False, edge_starts=(1e-3,))
    found[EQUAL] = (lambda x, y: equal.generate(model, x, y), False)
    return found


def run(n: int, art_n: int, art_steps: int) -> str:
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    logging.getLogger("art").setLevel(logging.ERROR)
    data = bastion.load("digits", seed=0)
    x, y = data.x_test[:n], data.y_test[:n]
    results = {}
    for name, model in models(data).items():
        for label, (attack, subset) in contenders(model, art_steps).items():
            k = art_n if subset else n
            results[(name, label)] = measure(model, x[:k], y[:k], attack)
            log.info("%s / %s: %s", name, label, results[(name, label)])
    log_targets(results, art_steps)
    return render(results, n, art_n)


def log_targets(results, art_steps: int) -> None:
    """The targets' status, for the log only."""
    for name in dict.fromkeys(key[0] for key in results):
        ours = results[(name, OURS)]
        peers = {
            label: common_means(ours, r)
            for (model, label), r in results.items()
            if model == name and not label.startswith("bastion")
        }
        worst = max(peers.items(), key=lambda item: item[1][0] - item[1][1])
        equal, peer = results[(name, EQUAL)], results[(name, EQUAL_PEER)]
        per_pass = (equal["cpu_seconds"] / equal["passes"]) / (peer["cpu_seconds"] / peer["passes"])
        art = results[(name, f"ART, 10 x {art_steps} from c=0.01")]
        same = results[(name, f"bastion, 10 x {art_steps}, one start (ART's settings)")]
        log.info(
            "%s: success %.1f%% (target 100%%); mean L2 over common successes, closest call: %.4f vs %s %.4f "
            "(%s); "
            "%.2fx torchattacks' time per pass at equal iterations (target <= 1.2x); "
            "ART %.1fx bastion's time at its settings, %.1fx bastion's defaults (target >= 10x)",
            name,
            100 * ours["success"],
            worst[1][0],
            worst[0],
            worst[1][1],
            "met" if all(mine <= theirs for mine, theirs, _ in peers.values()) else "not met",
            per_pass,
            art["cpu_seconds"] / same["cpu_seconds"],
            (art["cpu_seconds"] / art["n"]) / (ours["cpu_seconds"] / ours["n"]),
        )


def render(results, n: int, art_n: int) -> str:
    lines = [
        "## Carlini & Wagner L2: bastion vs torchattacks, ART and Foolbox",
        "",
        f"Digits `small_cnn` undefended (15 epochs) and defensively distilled at T = 20, the first {n} test "
        f"digits (ART, and bastion at ART's settings, on the first {art_n}), pixels in [0, 1]. bastion and "
        "Foolbox run the paper's evaluation settings (10 binary-search steps from c = 0.01, the last at the "
        "upper bound, 1,000 Adam steps at lr 0.01, early abort), bastion from two starts of the edge pixels "
        "(0.1% and 1e-6 of the range inside it) unless the row says one start; torchattacks has no binary "
        "search, so it runs "
        "1,000 steps at each of three fixed c; ART runs the paper's binary search with 100 iterations, its "
        "line search making each one several passes. Success: correctly classified images turned "
        "adversarial. Mean L2 over the successes, and over the images both bastion's defaults and the row's "
        "attack turned (means over different successes are not comparable). CPU seconds of this process per "
        "image, on a machine shared with other jobs; passes: forward passes of the network over the batch.",
        "",
        f"Machine: {machine()}. Command: `{COMMAND} --n {n} --art-n {art_n}`.",
        "",
        "| model | attack | images | success (%) | mean L2 | mean L2 where both succeed: bastion defaults / "
        "this (images) | CPU ms / image | forward passes |",
        "| --- | --- | ---: | ---: | ---: | --- | ---: | ---: |",
    ]
    for (name, label), r in results.items():
        if label == OURS:
            common = "—"
        else:
            mine, theirs, count = common_means(results[(name, OURS)], r)
            common = f"{mine:.4f} / {theirs:.4f} ({count})"
        lines.append(
            f"| {name} | {label} | {r['n']} | {100 * r['success']:.1f} | {r['mean_l2']:.4f} | {common} | "
            f"{1000 * r['cpu_seconds'] / r['n']:.0f} | {r['passes']} |"
        )
    lines += ["", interpretation(results)]
    return "\n".join(lines)


def interpretation(results) -> str:
    names = list(dict.fromkeys(key[0] for key in results))
    success = min(results[(name, OURS)]["success"] for name in names)
    ratios, art_ratios, l2 = [], [], []
    for name in names:
        equal, peer = results[(name, EQUAL)], results[(name, EQUAL_PEER)]
        ratios.append((equal["cpu_seconds"] / equal["passes"]) / (peer["cpu_seconds"] / peer["passes"]))
        art = next(r for (model, label), r in results.items() if model == name and label.startswith("ART"))
        same = next(r for (model, label), r in results.items() if model == name and "ART's settings" in label)
        art_ratios.append(art["cpu_seconds"] / same["cpu_seconds"])
        fool = next(r for (model, label), r in results.items() if model == name and label.startswith("Foolbox"))
        mine, theirs, count = common_means(results[(name, OURS)], fool)
        l2.append(
            f"{mine:.4f} vs Foolbox's {theirs:.4f} on the {count} digits both turned, Foolbox succeeding on "
            f"{100 * fool['success']:.0f}% ({name})"
        )
    return (
        f"At its defaults bastion turns {100 * success:.0f}% of the correctly classified digits of both models "
        f"adversarial with a mean L2 of {', '.join(l2)}; at equal iterations it takes "
        f"{min(ratios):.2f}-{max(ratios):.2f}x torchattacks' time per pass, and ART takes "
        f"{min(art_ratios):.0f}-{max(art_ratios):.0f}x bastion's time at ART's settings."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100, help="test digits attacked")
    parser.add_argument("--art-n", type=int, default=20, help="test digits ART's slow C&W runs on")
    parser.add_argument("--art-steps", type=int, default=100, help="ART iterations per binary-search step")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    markdown = run(args.n, args.art_n, args.art_steps)
    print(markdown)
    write_section("carlini-wagner", markdown)


if __name__ == "__main__":
    main()
