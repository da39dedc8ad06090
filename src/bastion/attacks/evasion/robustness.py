"""Robust accuracy over an eps grid under an attack ensemble, with gradient-masking checks."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from bastion.attacks.evasion.base import check_eps, check_norm
from bastion.attacks.norms import sample_norms
from bastion.exceptions import InputTypeError, ValidationError
from bastion.mixins import ResultMixin
from bastion.models.agreement import TOLERANCE
from bastion.models.base import GRADIENTS, LABELS, SCORES, Model, require
from bastion.models.sanity import warn_if_low_accuracy
from bastion.validation import check_choice, check_labels, check_seed

HIGH = "high"
MEDIUM = "medium"

# Thresholds of the diagnostics, as fractions of the evaluated samples.
BLACK_BOX_MARGIN = 0.02
SINGLE_STEP_MARGIN = 0.02
STUCK_GAP = 0.10
STEPS_GAIN = 0.01
UNBOUNDED_ACCURACY = 0.05
SATURATED_FRACTION = 0.5
# Inputs asked twice to tell a randomised model, and how far apart its two answers may be
# (log-probabilities; the tolerance of bastion's own fast paths).
REPEAT_CHECK_SAMPLES = 64
REPEAT_TOLERANCE = TOLERANCE


@dataclass(frozen=True)
class RobustnessFinding(ResultMixin):
    """One sign of gradient masking (or another evaluation pitfall) found in a result.

    Attributes:
        name: a stable identifier: ``"black_box_beats_white_box"``,
            ``"unbounded_attack_fails"``, ``"single_step_beats_iterative"``,
            ``"more_steps_do_not_help"``, ``"softmax_saturation"`` or ``"randomised_model"``.
        severity: ``"high"`` (the evaluation's robust accuracy is likely an overestimate)
            or ``"medium"`` (a known cause of masked gradients is present).
        evidence: the measurements behind the finding, in one sentence.
    """

    name: str
    severity: str
    evidence: str


@dataclass(frozen=True)
class AttackRecord(ResultMixin):
    """What one attack of the ensemble did at one eps.

    Attributes:
        eps: the radius, in input units.
        attack: the ensemble member's name.
        white_box: whether it uses gradients.
        samples_attacked: samples still robust when it ran (earlier attacks had failed).
        samples_broken: those it turned adversarial inside the eps-ball.
        robust_accuracy_after: robust accuracy of the ensemble so far, in [0, 1].
        queries_used: inputs the model answered while it ran.
        seconds: its wall-clock time.
    """

    eps: float
    attack: str
    white_box: bool
    samples_attacked: int
    samples_broken: int
    robust_accuracy_after: float
    queries_used: int
    seconds: float


# eq=False: the per-sample masks are an array, which has no single truth value to compare.
@dataclass(frozen=True, eq=False)
class RobustnessResult(ResultMixin):
    """Robust accuracy against eps under the worst case of an attack ensemble.

    Attributes:
        norm: ``"inf"`` or ``"2"``.
        n_samples: evaluated samples.
        clean_accuracy: accuracy on the clean inputs, in [0, 1].
        eps: the grid, ascending, in input units.
        robust_accuracy: per eps, the fraction of samples classified correctly under every
            attack of the ensemble, in [0, 1].
        robust_per_sample: ``(len(eps), n_samples)`` bool, which samples are robust at each eps.
        records: one :class:`AttackRecord` per (eps, attack) run.
        findings: the gradient-masking diagnostics that fired (empty: none did, or
            diagnostics were off).
        measurements: the numbers the diagnostics looked at (accuracies in [0, 1]).
        seconds: wall-clock time of the whole evaluation.
    """

    norm: str
    n_samples: int
    clean_accuracy: float
    eps: tuple[float, ...]
    robust_accuracy: tuple[float, ...]
    robust_per_sample: np.ndarray
    records: tuple[AttackRecord, ...]
    findings: tuple[RobustnessFinding, ...]
    measurements: dict[str, float]
    seconds: float

    @property
    def gradient_masking(self) -> bool:
        """Whether any diagnostic fired: the robust accuracies may be overestimates."""
        return bool(self.findings)

    def summary(self) -> str:
        """One sentence: clean and robust accuracy at the largest eps, and the verdict.

        The verdict is "holds up" when the robust accuracy keeps at least half the clean
        accuracy, else "vulnerable"; a fired gradient-masking diagnostic is said.
        """
        eps, robust = self.eps[-1], self.robust_accuracy[-1]
        verdict = "holds up" if robust >= 0.5 * self.clean_accuracy else "vulnerable"
        if self.gradient_masking:
            verdict += " (gradient masking suspected: the robust accuracy may be overestimated)"
        return (
            f"Under the attack ensemble at eps {eps:g} (L{self.norm}), accuracy falls from "
            f"{self.clean_accuracy:.0%} to {robust:.0%} ({self.n_samples} samples): {verdict}"
        )

    def finding(self, name: str) -> RobustnessFinding | None:
        """The finding called ``name``, or ``None`` if it did not fire."""
        return next((f for f in self.findings if f.name == name), None)

    def robust_accuracy_at(self, eps: float) -> float:
        """Robust accuracy at one eps of the grid.

        Raises:
            ValidationError: ``eps`` is not in the grid.
        """
        for value, accuracy in zip(self.eps, self.robust_accuracy, strict=True):
            if math.isclose(value, eps, rel_tol=1e-9, abs_tol=1e-12):
                return accuracy
        raise ValidationError(f"`eps` must be one of the evaluated {list(self.eps)}, got {eps!r}")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of the fields (per-sample masks as lists of bools) and ``gradient_masking``."""
        return {**super().to_dict(), "gradient_masking": self.gradient_masking}


AttackFactory = Callable[[float], Any]


VERSIONS = ("standard", "fast", "blackbox", "custom")
# Square Attack's query budget per version: AutoAttack's 5,000, and a fifth of it for sweeps.
STANDARD_SQUARE_QUERIES = 5000
FAST_SQUARE_QUERIES = 1000
# HopSkipJump's label queries per sample in the "blackbox" ensemble.
BLACKBOX_HSJ_QUERIES = 1000


def default_attacks(
    n_classes: int,
    *,
    norm: str = "inf",
    seed: int = 0,
    version: str = "standard",
    scores: bool = True,
    skip_repeats: bool = True,
) -> dict[str, AttackFactory]:
    """The built-in ensembles: AutoAttack's ``"standard"`` one, the cheaper ``"fast"`` one, ``"blackbox"``.

    ``"standard"`` is standard AutoAttack (Croce & Hein, ICML 2020, Sec. 5, and the
    ``version='standard'`` of the authors' code): APGD-CE, APGD-T (targeted DLR against
    the 9 most likely other classes), FAB-T (Croce & Hein, ICML 2020, "Minimally distorted
    Adversarial Examples with a Fast Adaptive Boundary Attack", against the same 9 targets)
    and the score-based Square Attack (Andriushchenko et al., ECCV 2020) with 5,000 queries,
    each with 100 iterations and one restart; the APGD runs stop searching a sample at its
    first adversarial iterate (``early_stop``), which leaves the samples broken unchanged
    and saves the rest of their iterations. With fewer than 4 classes, where the targeted
    DLR loss is undefined, APGD-DLR (3 classes) or PGD on the logit margin (2 classes) takes
    APGD-T's place.

    ``"fast"`` is for sweeps: APGD-CE, untargeted APGD-DLR (PGD on the margin for two
    classes) and Square with 1,000 queries, about a seventh of the cost of ``"standard"`` on
    robust models and usually within a point or two of it.

    ``"blackbox"`` is for models without gradients: the score-based Square Attack with
    5,000 queries (only when ``scores`` is true) and the label-only HopSkipJump (Chen et al.,
    IEEE S&P 2020) with 1,000 queries per sample, whose unbounded output counts only inside
    the eps ball. Black-box attacks are weaker than white-box ones: its robust accuracy is an
    upper bound on the model's.

    Args:
        n_classes: classes of the task.
        norm: ``"inf"`` or ``"2"``.
        seed: seed of every attack.
        version: ``"standard"``, ``"fast"`` or ``"blackbox"``.
        scores: whether the model answers scores (else ``"blackbox"`` is HopSkipJump alone).
        skip_repeats: let Square reject a proposal it already rejected without asking the
            model again (:class:`~bastion.attacks.evasion.square.SquareAttack`); only for a
            model that answers the same input the same way.

    Returns:
        name -> factory taking eps and returning the attack.

    Raises:
        ValidationError: ``version`` is not ``"standard"``, ``"fast"`` or ``"blackbox"``.
    """
    from bastion.attacks.evasion import APGD, APGDT, FAB, PGD
    from bastion.attacks.evasion.hopskipjump import HopSkipJump
    from bastion.attacks.evasion.square import SquareAttack

    version = check_choice(version, "version", ("standard", "fast", "blackbox"))
    if version == "blackbox":
        ensemble: dict[str, AttackFactory] = {}
        if scores:
            ensemble["square"] = lambda eps: SquareAttack(
                eps, norm=norm, max_queries=STANDARD_SQUARE_QUERIES, skip_repeats=skip_repeats, seed=seed
            )
        ensemble["hopskipjump"] = lambda eps: HopSkipJump(max_queries=BLACKBOX_HSJ_QUERIES, norm=norm, seed=seed)
        return ensemble
    attacks: dict[str, AttackFactory] = {
        "apgd-ce": lambda eps: APGD(eps, norm=norm, loss="ce", early_stop=True, seed=seed)
    }
    if version == "standard" and n_classes >= 4:
        attacks["apgd-t"] = lambda eps: APGDT(eps, norm=norm, n_target_classes=9, seed=seed)
    elif n_classes >= 3:
        attacks["apgd-dlr"] = lambda eps: APGD(eps, norm=norm, loss="dlr", early_stop=True, seed=seed)
    else:
        attacks["pgd-margin"] = lambda eps: PGD(eps, steps=100, norm=norm, loss="margin", seed=seed)
    if version == "standard":
        attacks["fab-t"] = lambda eps: FAB(eps, norm=norm, targeted=True, n_target_classes=9, seed=seed)
    queries = STANDARD_SQUARE_QUERIES if version == "standard" else FAST_SQUARE_QUERIES
    attacks["square"] = lambda eps: SquareAttack(
        eps, norm=norm, max_queries=queries, skip_repeats=skip_repeats, seed=seed
    )
    return attacks


def robustness(
    model: Model,
    x: np.ndarray,
    y: np.ndarray,
    *,
    eps_grid: Sequence[float],
    norm: str = "inf",
    version: str | None = None,
    attacks: Mapping[str, AttackFactory] | None = None,
    diagnostics: bool = True,
    large_eps: float | None = None,
    seed: int = 0,
    progress: bool = False,
) -> RobustnessResult:
    """Robust accuracy at each eps under the per-sample worst case of an attack ensemble.

    As in AutoAttack (Croce & Hein, ICML 2020, Sec. 5), a sample counts as robust at an
    eps only if the model classifies it correctly and every attack failed on it; each
    attack runs only on the samples the previous ones could not break (white-box attacks
    first, then black-box ones). Because the balls are nested, a sample broken at one eps
    is broken at every larger eps, so robust accuracy never rises with eps. An attack's
    output counts only where it lies inside the ``norm`` ball of radius eps, so unbounded
    attacks (Carlini & Wagner) may join the ensemble.

    With ``diagnostics=True`` it also runs the checks for gradient masking of Athalye,
    Carlini & Wagner, "Obfuscated Gradients Give a False Sense of Security", ICML 2018,
    Sec. 3.1, and Carlini et al., "On Evaluating Adversarial Robustness", 2019, Sec. 5,
    and reports those that fire as :class:`RobustnessFinding`:

    - ``black_box_beats_white_box``: black-box attacks broke samples that every white-box
      attack missed (more than 2% of the samples at some eps);
    - ``unbounded_attack_fails``: at ``large_eps`` (default: half the input range per
      feature, from where every input can be moved to the same mid-range input) more
      than 5% of the samples stay robust;
    - ``single_step_beats_iterative``: FGSM beats 10- and 100-step PGD on cross-entropy by
      more than 2 points at the largest eps;
    - ``more_steps_do_not_help``: 100 PGD steps are no better than 10 although both stay
      more than 10 points above the ensemble's worst case: the cross-entropy gradient
      carries no signal;
    - ``softmax_saturation``: over half of the correctly classified inputs have a softmax
      equal to 1.0 in float32, so the cross-entropy gradient vanishes (the signature of
      defensive distillation, Carlini & Wagner 2017, Sec. VIII);
    - ``randomised_model``: the model answered the same inputs differently twice, so its
      gradients are stochastic (Athalye et al. 2018, Sec. 3.3 and 4.2): attacks without
      Expectation over Transformation overestimate its robustness.

    The built-in ensembles ask the model twice about the first inputs, whatever
    ``diagnostics`` says: Square skips repeated proposals (``skip_repeats``) only when both
    answers agree.

    Args:
        model: a bastion Model; the default ensemble needs gradients and scores.
        x: inputs ``(n, *model.input_shape)`` inside ``model.clip``.
        y: true labels ``(n,)``.
        eps_grid: radii to evaluate, each ``>= 0``, in input units.
        norm: ``"inf"`` or ``"2"``.
        version: the ensemble (see :func:`default_attacks`): ``"standard"`` (AutoAttack's
            APGD-CE, APGD-T, FAB-T and Square with 5,000 queries; the default),
            ``"fast"`` (APGD-CE, APGD-DLR and Square with 1,000 queries, for sweeps),
            ``"blackbox"`` (Square and HopSkipJump, for models without gradients) or
            ``"custom"`` (the ``attacks`` given; the default when ``attacks`` is given).
        attacks: name -> factory ``eps -> attack`` (anything with ``generate``), for
            ``version="custom"``.
        diagnostics: run the gradient-masking checks (they cost one FGSM, 110 PGD steps
            and one ensemble run at ``large_eps`` on the samples still robust).
        large_eps: the radius of the unbounded-attack check (see above).
        seed: seed of the default attacks and the diagnostics' attacks.
        progress: show a progress bar over the (eps, attack) runs.

    Returns:
        A :class:`RobustnessResult`.

    Raises:
        ValidationError: empty or negative ``eps_grid``, bad shapes or labels, an unknown
            ``version``, ``"custom"`` without ``attacks`` or ``attacks`` with a built-in
            version.
        InputTypeError: ``attacks`` is not a mapping of names to callables.
        CapabilityError: the model lacks what the ensemble needs.
    """
    started = time.perf_counter()
    norm = check_norm(norm)
    seed = check_seed(seed)
    grid = _check_grid(eps_grid)
    x = model.check_x(x)
    y = check_labels(y, "y", n_samples=len(x), n_classes=model.n_classes)
    version = _check_version(version, attacks)
    if version == "blackbox":
        require(model, LABELS, "robustness(version='blackbox')")
    elif version != "custom":
        require(model, GRADIENTS, f"robustness(version={version!r})")
        require(model, SCORES, f"robustness(version={version!r})")
    robust = model.predict(x) == y
    randomised = _answers_differ(model, x) if version != "custom" or diagnostics else False
    if version != "custom":
        attacks = default_attacks(
            model.n_classes,
            norm=norm,
            seed=seed,
            version=version,
            scores=SCORES in model.capabilities,
            skip_repeats=not randomised,
        )
    ensemble = _check_attacks(attacks, grid[-1])
    white_box_gradients = GRADIENTS in model.capabilities
    if large_eps is None:
        low, high = model.clip
        large_eps = 0.5 * (high - low) * (1.0 if norm == "inf" else math.sqrt(np.prod(model.input_shape)))
    large_eps = check_eps(large_eps, "large_eps")

    clean_accuracy = float(robust.mean())
    warn_if_low_accuracy(clean_accuracy, model.n_classes, len(x))
    masks, records = [], []
    bar = tqdm(total=len(grid) * len(ensemble), desc="robustness", disable=not progress, leave=False)
    for eps in grid:
        robust = _cascade(model, x, y, robust, eps, norm, ensemble, records, bar)
        masks.append(robust.copy())
    bar.close()
    robust_accuracy = tuple(float(mask.mean()) for mask in masks)

    findings: list[RobustnessFinding] = []
    measurements: dict[str, float] = {}
    if diagnostics:
        if randomised:
            findings.append(
                RobustnessFinding(
                    "randomised_model",
                    MEDIUM,
                    "asked twice about the same inputs, the model answered differently: its gradients are "
                    "stochastic, and attacks without Expectation over Transformation overestimate its robustness",
                )
            )
        findings += _black_box_check(records, len(x))
        if large_eps > grid[-1]:
            large = _cascade(model, x, y, masks[-1], large_eps, norm, ensemble, [], None)
        else:
            large = masks[-1]
        measurements["large_eps"] = large_eps
        measurements["large_eps_robust_accuracy"] = float(large.mean())
        if large.mean() > UNBOUNDED_ACCURACY:
            findings.append(
                RobustnessFinding(
                    "unbounded_attack_fails",
                    HIGH,
                    f"at eps={large_eps:g} ({norm}), where every input can reach the same mid-range input, "
                    f"{large.mean():.1%} of the samples still resist the ensemble (expected ~0%)",
                )
            )
        if white_box_gradients and grid[-1] > 0:
            findings += _gradient_checks(model, x, y, grid[-1], norm, robust_accuracy[-1], seed, measurements)
    return RobustnessResult(
        norm=norm,
        n_samples=len(x),
        clean_accuracy=clean_accuracy,
        eps=tuple(grid),
        robust_accuracy=robust_accuracy,
        robust_per_sample=np.stack(masks),
        records=tuple(records),
        findings=tuple(findings),
        measurements=measurements,
        seconds=time.perf_counter() - started,
    )


def _answers_differ(model: Model, x: np.ndarray) -> bool:
    """Whether the model answers the first inputs differently when asked about them twice.

    Scores are compared as log-probabilities, so a change in a class given 1e-9 counts. Run
    after a first pass over the inputs, so that both answers come from the same code path.
    """
    sample = x[:REPEAT_CHECK_SAMPLES]
    if SCORES in model.capabilities:
        answers = [np.log(np.maximum(model.predict_proba(sample).astype(np.float64), 1e-30)) for _ in range(2)]
    else:
        answers = [model.predict(sample).astype(np.float64) for _ in range(2)]
    return not np.allclose(*answers, rtol=REPEAT_TOLERANCE, atol=REPEAT_TOLERANCE)


def _check_version(version: Any, attacks: Any) -> str:
    if version is None:
        return "standard" if attacks is None else "custom"
    version = check_choice(version, "version", VERSIONS)
    if version == "custom" and attacks is None:
        raise ValidationError("`attacks` must be given with version='custom', got None")
    if version != "custom" and attacks is not None:
        raise ValidationError(
            f"`attacks` must be None with version={version!r} (its ensemble is built in); "
            "pass version='custom' to run your own"
        )
    return version


def _check_grid(eps_grid: Any) -> list[float]:
    if isinstance(eps_grid, (str, bytes)) or not isinstance(eps_grid, Sequence | np.ndarray):
        raise InputTypeError(f"`eps_grid` must be a sequence of floats, got {type(eps_grid).__name__}")
    grid = sorted({check_eps(eps, "eps_grid") for eps in eps_grid})
    if not grid:
        raise ValidationError("`eps_grid` must hold at least one eps, got an empty sequence")
    return grid


def _check_attacks(attacks: Any, probe_eps: float) -> list[tuple[str, AttackFactory, bool]]:
    """``(name, factory, white_box)`` with the white-box attacks first (AutoAttack's order)."""
    if not isinstance(attacks, Mapping) or not attacks:
        raise InputTypeError(
            "`attacks` must be a non-empty mapping of names to factories eps -> attack, "
            f"e.g. {{'pgd': lambda eps: PGD(eps)}}, got {type(attacks).__name__}"
        )
    ensemble = []
    for name, factory in attacks.items():
        if not isinstance(name, str) or not callable(factory):
            raise InputTypeError(
                f"`attacks` must map names (str) to callables eps -> attack, got {name!r}: {factory!r}"
            )
        probe = factory(probe_eps)
        if not hasattr(probe, "generate"):
            raise InputTypeError(
                f"`attacks[{name!r}]` must return an evasion attack with generate(), got {type(probe).__name__}"
            )
        ensemble.append((name, factory, getattr(probe, "requires", GRADIENTS) == GRADIENTS))
    return sorted(ensemble, key=lambda member: not member[2])


def _cascade(model, x, y, robust, eps, norm, ensemble, records, bar) -> np.ndarray:
    """Run the ensemble at one eps on the samples still robust; return the new robust mask."""
    robust = robust.copy()
    for name, factory, white_box in ensemble:
        index = np.flatnonzero(robust)
        broken = 0
        queries_before, attack_started = model.queries, time.perf_counter()
        if index.size and eps > 0:
            x_adv = factory(eps).generate(model, x[index], y[index])
            queries_used = model.queries - queries_before
            inside = sample_norms(x_adv - x[index], norm) <= eps * (1 + 1e-5) + 1e-6
            fooled = (model.predict(x_adv) != y[index]) & inside
            robust[index[fooled]] = False
            broken = int(fooled.sum())
        else:
            queries_used = 0
        records.append(
            AttackRecord(
                eps=float(eps),
                attack=name,
                white_box=white_box,
                samples_attacked=int(index.size),
                samples_broken=broken,
                robust_accuracy_after=float(robust.mean()),
                queries_used=int(queries_used),
                seconds=time.perf_counter() - attack_started,
            )
        )
        if bar is not None:
            bar.update(1)
    return robust


def _black_box_check(records: list[AttackRecord], n_samples: int) -> list[RobustnessFinding]:
    worst = None
    for eps in sorted({r.eps for r in records}):
        at_eps = [r for r in records if r.eps == eps]
        if not any(r.white_box for r in at_eps):
            continue
        black = sum(r.samples_broken for r in at_eps if not r.white_box)
        if black > BLACK_BOX_MARGIN * n_samples and (worst is None or black > worst[1]):
            worst = (eps, black, [r.attack for r in at_eps if not r.white_box])
    if worst is None:
        return []
    eps, black, names = worst
    return [
        RobustnessFinding(
            "black_box_beats_white_box",
            HIGH,
            f"at eps={eps:g} the black-box {', '.join(names)} broke {black} of {n_samples} samples "
            f"({black / n_samples:.1%}) that every white-box attack had missed",
        )
    ]


def _gradient_checks(model, x, y, eps, norm, worst_case, seed, measurements) -> list[RobustnessFinding]:
    """FGSM vs PGD, 10 vs 100 PGD steps, and softmax saturation, at the largest eps."""
    import torch

    from bastion.attacks.evasion import FGSM, PGD

    def accuracy(attack) -> float:
        return float((model.predict(attack.generate(model, x, y)) == y).mean())

    fgsm = accuracy(FGSM(eps, norm=norm))
    pgd_10 = accuracy(PGD(eps, steps=10, norm=norm, seed=seed))
    pgd_100 = accuracy(PGD(eps, steps=100, norm=norm, seed=seed))
    measurements.update(
        {
            "diagnostic_eps": eps,
            "fgsm_robust_accuracy": fgsm,
            "pgd_10_robust_accuracy": pgd_10,
            "pgd_100_robust_accuracy": pgd_100,
        }
    )
    findings = []
    if fgsm < min(pgd_10, pgd_100) - SINGLE_STEP_MARGIN:
        findings.append(
            RobustnessFinding(
                "single_step_beats_iterative",
                HIGH,
                f"at eps={eps:g} FGSM leaves {fgsm:.1%} robust accuracy, below PGD's {min(pgd_10, pgd_100):.1%}: "
                "iterative steps follow a misleading gradient",
            )
        )
    if pgd_100 > pgd_10 - STEPS_GAIN and pgd_100 > worst_case + STUCK_GAP:
        findings.append(
            RobustnessFinding(
                "more_steps_do_not_help",
                HIGH,
                f"at eps={eps:g} PGD on cross-entropy leaves {pgd_100:.1%} robust accuracy with 100 steps and "
                f"{pgd_10:.1%} with 10, while the ensemble reaches {worst_case:.1%}: the cross-entropy "
                "gradient carries no signal",
            )
        )
    correct = model.predict(x) == y
    if correct.any():
        logits = torch.as_tensor(model.logits(x[correct]))
        probabilities = torch.softmax(logits, dim=1)
        saturated = float((probabilities.amax(dim=1) == 1.0).float().mean())
        top = logits.topk(2, dim=1).values
        gap = float((top[:, 0] - top[:, 1]).median())
        measurements.update({"saturated_fraction": saturated, "median_logit_gap": gap})
        if saturated > SATURATED_FRACTION:
            findings.append(
                RobustnessFinding(
                    "softmax_saturation",
                    MEDIUM,
                    f"{saturated:.1%} of the correctly classified inputs have a softmax of exactly 1.0 in float32 "
                    f"(median gap between the two largest logits {gap:.1f}): cross-entropy gradients vanish, "
                    "so attacks on them fail; judge the model by margin or DLR attacks",
                )
            )
    return findings


__all__ = [
    "AttackRecord",
    "RobustnessFinding",
    "RobustnessResult",
    "default_attacks",
    "robustness",
]
