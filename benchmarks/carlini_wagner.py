"""Carlini & Wagner L2 beside torchattacks and ART on the undefended and distilled digits CNNs.

Two ``zoo.small_cnn`` models (seed 0): undefended (15 epochs, as in the evasion benchmark) and
defensively distilled at T = 20 (as in the defenses benchmark), the first ``--n`` test
digits, one thread. Per model:

- bastion's ``CarliniWagnerL2()`` at its defaults (the paper's evaluation settings);
- torchattacks' ``CW`` (one run at a fixed c, no binary search) at c = 0.1, 1 and 10 with the
  same number of Adam steps as one bastion binary-search step; the best of them is the one
  with the smallest mean L2 among those that succeed on every image, else the most
  successful;
- ART's ``CarliniL2Method`` with the paper's binary search (10 steps, initial c 0.01) and
  ``--art-steps`` iterations, on the first ``--art-n`` images (its line search makes it slow);
- at equal iteration counts: bastion with one binary-search step of ``EQUAL_STEPS`` Adam steps
  at c = 1 without early abort against torchattacks at the same c and steps, for the time
  ratio.

Foolbox is not installed in this environment, so it is not compared.

Success: the fraction of correctly classified images turned adversarial. Mean L2 over the
successes, in [0, 1] pixel units. Times are CPU seconds of this process.

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
EQUAL_STEPS = 200

log = logging.getLogger("benchmarks.carlini_wagner")


def models(data: bastion.Dataset) -> dict[str, TorchModel]:
    def small_cnn() -> nn.Module:
        return zoo.small_cnn(data.input_shape, data.n_classes, seed=0)

    module = fit(small_cnn(), data.x_train, data.y_train, epochs=15, seed=0, progress=False)
    undefended = TorchModel(module, input_shape=data.input_shape, n_classes=data.n_classes)
    distilled = DefensiveDistillation(temperature=20.0, epochs=15, progress=False).fit(small_cnn, data)
    return {"undefended": undefended, "distilled (T=20)": distilled}


def measure(model: TorchModel, x: np.ndarray, y: np.ndarray, run) -> dict[str, float]:
    torch.manual_seed(0)
    started = time.process_time()
    x_adv = np.asarray(run(x, y), dtype=np.float32)
    seconds = time.process_time() - started
    correct = model.predict(x) == y
    fooled = (model.predict(x_adv) != y) & correct
    l2 = np.linalg.norm((x_adv - x).reshape(len(x), -1), axis=1)
    return {
        "success": float(fooled.sum() / max(correct.sum(), 1)),
        "mean_l2": float(l2[fooled].mean()) if fooled.any() else float("nan"),
        "cpu_seconds": seconds,
        "n": len(x),
    }


def contenders(model: TorchModel, art_steps: int) -> dict[str, tuple[object, bool]]:
    """Name -> (run(x, y) -> x_adv, runs on the ART subset)."""
    import torchattacks
    from art.attacks.evasion import CarliniL2Method
    from art.estimators.classification import PyTorchClassifier

    module = model.module
    defaults = CarliniWagnerL2()
    found: dict[str, tuple[object, bool]] = {
        "bastion, defaults": (lambda x, y: defaults.generate(model, x, y), False),
    }
    for c in TORCHATTACKS_C:
        attack = torchattacks.CW(module, c=c, kappa=0, steps=defaults.steps, lr=defaults.lr)
        found[f"torchattacks, c={c:g}, {defaults.steps} steps"] = (
            lambda x, y, a=attack: a(torch.as_tensor(x), torch.as_tensor(y)).detach().numpy(),
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
    found[f"ART, 10 x {art_steps} steps"] = (lambda x, y: art.generate(x=x, y=y), True)
    equal_ours = CarliniWagnerL2(c=1.0, steps=EQUAL_STEPS, binary_search_steps=1, abort_early=False)
    equal_theirs = torchattacks.CW(module, c=1.0, kappa=0, steps=EQUAL_STEPS, lr=0.01)
    found[f"bastion, c=1, 1 x {EQUAL_STEPS} steps (equal iterations)"] = (
        lambda x, y: equal_ours.generate(model, x, y),
        False,
    )
    found[f"torchattacks, c=1, {EQUAL_STEPS} steps (equal iterations)"] = (
        lambda x, y: equal_theirs(torch.as_tensor(x), torch.as_tensor(y)).detach().numpy(),
        False,
    )
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
    return render(results, n, art_n)


def render(results, n: int, art_n: int) -> str:
    lines = [
        "## Carlini & Wagner L2: bastion vs torchattacks vs ART",
        "",
        f"Digits `small_cnn` undefended (15 epochs) and distilled at T = 20, the first {n} test digits "
        f"(ART: the first {art_n}, its time scaled to {n}), pixels in [0, 1], one thread. Success: "
        "correctly classified images turned adversarial. Mean L2 over the successes. CPU seconds of "
        "this process (the machine was shared). Foolbox is not installed here, so it is not compared.",
        "",
        f"Machine: {machine()}. Command: `{COMMAND} --n {n} --art-n {art_n}`.",
        "",
        "| model | attack | success (%) | mean L2 | CPU time (s) |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    for (name, label), r in results.items():
        seconds = r["cpu_seconds"] * n / r["n"]
        lines.append(f"| {name} | {label} | {100 * r['success']:.1f} | {r['mean_l2']:.3f} | {seconds:.1f} |")
    lines += ["", "### Goals", ""]
    for name in dict.fromkeys(key[0] for key in results):
        ours = results[(name, "bastion, defaults")]
        peers = {label: r for (model, label), r in results.items() if model == name and "equal" not in label}
        peers.pop("bastion, defaults")
        complete = [r["mean_l2"] for r in peers.values() if r["success"] >= 1.0]
        smallest = min(complete) if complete else min(r["mean_l2"] for r in peers.values())
        art = next(r for label, r in peers.items() if label.startswith("ART"))
        art_seconds = art["cpu_seconds"] * n / art["n"]
        equal = [r for (model, label), r in results.items() if model == name and "equal" in label]
        ratio = equal[0]["cpu_seconds"] / equal[1]["cpu_seconds"]
        lines += [
            f"- {name}: success {100 * ours['success']:.1f}% "
            f"({'met' if ours['success'] >= 1.0 else '**not met**'} 100%); mean L2 {ours['mean_l2']:.3f} vs the "
            f"smallest peer's {smallest:.3f} ({'met' if ours['mean_l2'] <= smallest else '**not met**'}); "
            f"{ratio:.2f}x torchattacks' time at equal iterations "
            f"({'met' if ratio <= 1.2 else '**not met**'} <= 1.2x); "
            f"ART {art_seconds / ours['cpu_seconds']:.1f}x slower than bastion's defaults "
            f"({'met' if art_seconds >= 10 * ours['cpu_seconds'] else '**not met**'} >= 10x).",
        ]
    return "\n".join(lines)


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
