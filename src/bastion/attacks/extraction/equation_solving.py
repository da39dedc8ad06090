"""Equation-solving extraction of logistic models, and its optimisation variant for MLPs."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import linalg, sparse
from sklearn.linear_model import LogisticRegression

from bastion.attacks.extraction.base import ExtractionAttack, QueryBudget, uniform_inputs
from bastion.exceptions import ValidationError
from bastion.limits import check_allocation
from bastion.models.base import LABELS, SCORES, Model, require
from bastion.models.sklearn import SklearnModel
from bastion.models.torch import TorchModel
from bastion.models.training import fit
from bastion.models.zoo import mlp
from bastion.validation import check_choice, check_scalar, check_seed

ARCHITECTURES = ("logistic", "mlp")


def _n_features(model: Model) -> int:
    return int(np.prod(model.input_shape))


def design_points(model: Model, n: int, rng: np.random.Generator) -> np.ndarray:
    """The ``n`` inputs equation solving queries, ``(n, *model.input_shape)`` float32.

    The first ``d + 1`` form an orthogonal design around the centre of the input box: the
    columns of ``[1, x - centre]`` are orthogonal, so the linear system of the answers is
    well conditioned (condition number about ``1 / h`` for a spread ``h``) and ``d + 1``
    answers determine a logistic model to float precision. Random points would not: their
    square system has condition numbers in the thousands. Any further points are uniform in
    the box and make the solution least-squares.
    """
    d = _n_features(model)
    low, high = model.clip
    size = min(n, d + 1)
    # QR of [1, noise]: Q's first column is constant, the others are orthogonal to it.
    basis = rng.standard_normal((d + 1, d + 1))
    basis[:, 0] = 1.0
    orthogonal, _ = np.linalg.qr(basis)
    directions = orthogonal[:size, 1:]
    spread = 0.5 * (high - low) / np.abs(directions).max()
    points = (0.5 * (low + high) + spread * directions).clip(low, high)
    points = points.reshape(size, *model.input_shape).astype(np.float32)
    if n > d + 1:
        points = np.concatenate([points, uniform_inputs(model, n - d - 1, rng)])
    return points


def rounding_step(scores: np.ndarray, max_decimals: int = 6) -> float | None:
    """The step ``10^-k`` the answers were rounded to, or ``None`` if they look unrounded.

    Every answer of an API that rounds to ``k`` decimals is ``10^-k`` times an integer, stored
    in float32 (or wider): the smallest such ``k <= max_decimals`` is the API's rounding.
    """
    stored = np.asarray(scores, dtype=np.float32)
    for decimals in range(max_decimals + 1):
        if np.array_equal(np.round(stored.astype(np.float64), decimals).astype(np.float32), stored):
            return 10.0**-decimals
    return None


def solve_log_ratios(x: np.ndarray, scores: np.ndarray, *, step: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Solve for a softmax-linear model from its confidences on ``x`` (float64).

    Softmax regression satisfies ``log p_j(x) - log p_r(x) = (w_j - w_r) . x + (b_j - b_r)``:
    each answer gives ``k - 1`` linear equations in the ``(k - 1)(d + 1)`` unknowns
    ``(w_j - w_0, b_j - b_0)``. The reference class of each answer is its top class, and an
    equation is dropped when its confidence is 0 (rounded away or underflowed): it carries no
    value. The least-squares solution is exact when the answers are.

    With answers rounded to ``step``, the error of ``log p`` is about ``step / p``: each
    equation is weighted by the inverse of its error, ``1 / sqrt((step / p_j)^2 + (step /
    p_r)^2)`` (weighted least squares), so the many small, coarsely rounded confidences do not
    drown the informative ones.

    Args:
        x: queried inputs, ``(n, d)``.
        scores: the answers, ``(n, k)``.
        step: the rounding step of the answers (``None``: unrounded, equal weights).

    Returns:
        ``(coef (k, d), intercept (k,))`` with class 0's row at zero.
    """
    x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
    scores = np.asarray(scores, dtype=np.float64)
    n, d = x.shape
    k = scores.shape[1]
    design = np.hstack([x, np.ones((n, 1))])
    reference = scores.argmax(axis=1)
    with np.errstate(divide="ignore"):
        log_scores = np.log(scores)
    rows, classes = np.nonzero((scores > 0) & (np.arange(k) != reference[:, None]))
    if len(rows) == 0:
        raise ValidationError(
            "equation solving needs confidences strictly between 0 and 1, but every answer was "
            "0 or 1 (rounded or saturated): the scores carry no equation to solve"
        )
    refs = reference[rows]
    weights = (
        np.ones(len(rows))
        if step is None
        else 1.0 / np.sqrt((step / scores[rows, classes]) ** 2 + (step / scores[rows, refs]) ** 2)
    )
    # Unknown block c - 1 holds class c's offsets from class 0 (class 0 is pinned at zero).
    # Each equation touches at most two blocks: a sparse system, solved through its normal
    # equations (the design is well conditioned, so squaring its condition number is harmless).
    entries, columns, row_ids = [], [], []
    for blocks, sign in ((classes, 1.0), (refs, -1.0)):
        keep = blocks > 0
        entries.append((sign * weights[keep, None] * design[rows[keep]]).ravel())
        columns.append(((blocks[keep, None] - 1) * (d + 1) + np.arange(d + 1)).ravel())
        row_ids.append(np.repeat(np.flatnonzero(keep), d + 1))
    system = sparse.csr_matrix(
        (np.concatenate(entries), (np.concatenate(row_ids), np.concatenate(columns))),
        shape=(len(rows), (k - 1) * (d + 1)),
    )
    values = weights * (log_scores[rows, classes] - log_scores[rows, refs])
    gram = (system.T @ system).toarray()
    solution, *_ = linalg.lstsq(gram, system.T @ values, lapack_driver="gelsy")
    solution = solution.reshape(k - 1, d + 1)
    coef = np.vstack([np.zeros((1, d)), solution[:, :d]])
    intercept = np.concatenate([[0.0], solution[:, d]])
    return coef, intercept


def logistic_model(coef: np.ndarray, intercept: np.ndarray, template: Any) -> SklearnModel:
    """A scikit-learn LogisticRegression holding ``(coef, intercept)``, as a bastion Model.

    Two classes are stored the way scikit-learn stores binary models (one row: class 1
    against class 0), so the stolen model answers in float64 like the target.
    """
    k, d = coef.shape
    estimator = LogisticRegression()
    estimator.classes_ = np.arange(k)
    estimator.n_features_in_ = d
    estimator.n_iter_ = np.zeros(1, dtype=np.int32)
    if k == 2:
        estimator.coef_ = coef[1:] - coef[:1]
        estimator.intercept_ = intercept[1:] - intercept[:1]
    else:
        estimator.coef_ = coef
        estimator.intercept_ = intercept
    return SklearnModel(estimator, input_shape=template.input_shape, clip=template.clip)


class EquationSolving(ExtractionAttack):
    """Extract a logistic model exactly, or fit an MLP, from the target's confidences.

    Tramèr, Zhang, Juels, Reiter & Ristenpart, "Stealing Machine Learning Models via
    Prediction APIs", USENIX Security 2016, Sec. 4.1:

    - ``architecture="logistic"`` (Sec. 4.1.1 binary LR, Sec. 4.1.2 multiclass LR): every answer gives
      the log-ratios of the confidences, linear in the model's ``(w, b)``; ``d + 1`` answers
      on a well-conditioned design recover a binary or multinomial logistic regression up to
      float precision (the paper counts ``k (d + 1)`` unknowns; log-ratios need only ``d + 1``
      queries because softmax is invariant to a common shift). Every query of the budget is
      used: more than ``d + 1`` make the least-squares solution robust to rounded answers
      (the rounding countermeasure of Sec. 6), whose rounding step is read from the answers
      and whose equations are weighted by their precision.
    - ``architecture="mlp"`` (Sec. 4.1.2, multilayer perceptrons, whose equations the paper
      solves by optimisation): query ``budget`` inputs uniform in the input box
      and fit an MLP of the given hidden widths to the confidences (cross-entropy to the soft
      labels). Tramèr et al. report 98.68% agreement at as many queries as unknowns, 99.89%
      at twice as many.

    The stolen model is a scikit-learn LogisticRegression (a :class:`SklearnModel`) for
    ``"logistic"``, a :class:`TorchModel` of ``zoo.mlp`` for ``"mlp"``. The target must
    return confidences: a label-only model is refused with a CapabilityError.

    Args:
        architecture: ``"logistic"`` or ``"mlp"``.
        hidden: hidden widths of the MLP (``"mlp"`` only; the paper assumes the attacker
            knows the architecture).
        epochs, lr, batch_size: optimisation of the MLP fit (``"mlp"`` only).
        progress: show a progress bar while fitting.
        seed: seeds every random choice; same seed, same stolen model.

    Example:
        >>> result = EquationSolving().extract(model, budget=31)
        >>> result.fidelity, result.confidence_error_max
    """

    requires = SCORES

    def __init__(
        self,
        *,
        architecture: str = "logistic",
        hidden: Sequence[int] = (20,),
        epochs: int = 200,
        lr: float = 3e-3,
        batch_size: int = 128,
        progress: bool = False,
        seed: int = 0,
    ) -> None:
        self.architecture = check_choice(architecture, "architecture", ARCHITECTURES)
        self.hidden = tuple(check_scalar(h, "hidden", kind=int, low=1) for h in hidden)
        self.epochs = check_scalar(epochs, "epochs", kind=int, low=1)
        self.lr = check_scalar(lr, "lr", low=0, include_low=False)
        self.batch_size = check_scalar(batch_size, "batch_size", kind=int, low=1)
        self.progress = bool(progress)
        self.seed = check_seed(seed)

    def minimum_budget(self, model: Model) -> int:
        """``d + 1``: fewer answers cannot determine a linear model of ``d`` features."""
        require(model, LABELS, "EquationSolving.minimum_budget")
        return _n_features(model) + 1

    def _minimum_reason(self, model: Model) -> str:
        return "d + 1 queries determine a logistic model of d features"

    def unknowns(self, model: Model) -> int:
        """The number of parameters the attack solves for against ``model``."""
        d, k = _n_features(model), model.n_classes
        if self.architecture == "logistic":
            return (d + 1) * (1 if k == 2 else k)
        widths = (d, *self.hidden, k)
        return sum((a + 1) * b for a, b in itertools.pairwise(widths))

    def _check_memory(self, target: Any, budget: int) -> None:
        """Refuse a budget whose buffers would not fit ``bastion.limits``, before any query.

        The queries are ``budget x d``; the logistic solve adds the ``(d + 1)^2`` design, the
        sparse system of ``budget (k - 1)`` equations of ``2 (d + 1)`` entries each, and its
        dense normal matrix of side ``(k - 1)(d + 1)`` (float64).
        """
        d, k = _n_features(target), target.n_classes
        what = f"EquationSolving with `budget`={budget} against {d} features and {k} classes"
        check_allocation((budget, d), 8, f"{what}: the queries")
        if self.architecture == "logistic":
            check_allocation((d + 1, d + 1), 8, f"{what}: the design")
            check_allocation((budget, k - 1, 2 * (d + 1)), 16, f"{what}: the linear system")
            check_allocation(((k - 1) * (d + 1),) * 2, 8, f"{what}: the normal equations")

    def _steal(self, target: QueryBudget, budget: int, seed: int) -> Any:
        self._check_memory(target, budget)
        rng = np.random.default_rng(seed)
        if self.architecture == "logistic":
            x = design_points(target, budget, rng)
            scores = target.predict_proba(x)
            coef, intercept = solve_log_ratios(x, scores, step=rounding_step(scores))
            return logistic_model(coef, intercept, target)
        x = uniform_inputs(target, budget, rng)
        scores = target.predict_proba(x).astype(np.float64)
        # Rounded answers may not sum to 1; the soft labels must.
        scores = np.clip(scores, 0, None)
        scores /= np.maximum(scores.sum(axis=1, keepdims=True), 1e-12)
        module = mlp(target.input_shape, target.n_classes, hidden=self.hidden, seed=seed)
        fit(
            module,
            x,
            scores.astype(np.float32),
            epochs=self.epochs,
            lr=self.lr,
            batch_size=self.batch_size,
            seed=seed,
            progress=self.progress,
            description="equation solving (mlp)",
        )
        return TorchModel(module, input_shape=target.input_shape, n_classes=target.n_classes, clip=target.clip)
