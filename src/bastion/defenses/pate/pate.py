"""PATE: private aggregation of teacher ensembles.

Teachers are trained on disjoint shards of the private data; a noisy vote over their
predictions labels public data; a student learns from those labels and is the only model
deployed. Queries an attacker sends hit the student, which never saw the private data, and
the privacy cost of the labels it saw is accounted in (epsilon, delta).
"""

from __future__ import annotations

import logging
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bastion.backends import Backend, get_backend, spawn_seeds
from bastion.defenses.pate.aggregators import UNANSWERED, Aggregator
from bastion.defenses.pate.privacy import PrivacyAccountant
from bastion.defenses.pate.smooth_sensitivity import SmoothSensitivityWarning
from bastion.defenses.pate.student import (
    StudentReport,
    as_learner,
    fit_teacher,
    is_sklearn,
    predict_labels,
    train_student,
)
from bastion.exceptions import InputTypeError, NotFittedError, ValidationError
from bastion.limits import check_allocation
from bastion.mixins import FittedMixin, ParamsReprMixin, ResultMixin
from bastion.models.base import BaseModel
from bastion.validation import check_inputs, check_labels, check_scalar, check_seed

logger = logging.getLogger(__name__)


def partition(labels: np.ndarray, n_teachers: int, *, seed: int = 0) -> list[np.ndarray]:
    """Split sample indices into ``n_teachers`` disjoint, stratified, balanced shards.

    Indices are shuffled within each class and dealt round-robin across the shards, class
    after class, so every shard holds ``n // n_teachers`` or one more samples and, per class,
    the counts of two shards differ by at most one.

    Args:
        labels: ``(n,)`` int class labels.
        n_teachers: number of shards, at most ``n``.
        seed: seed of the shuffle; same seed, same shards.

    Returns:
        ``n_teachers`` sorted int64 index arrays whose union is ``range(n)``.

    Raises:
        ValidationError: ``n_teachers`` outside ``[1, n]``.
    """
    labels = check_labels(labels, "labels")
    n_teachers = check_scalar(n_teachers, "n_teachers", kind=int, low=1)
    if n_teachers > len(labels):
        raise ValidationError(
            f"`n_teachers` must be at most the number of private samples ({len(labels)}), got {n_teachers}; "
            "each teacher needs its own disjoint shard"
        )
    rng = np.random.default_rng(check_seed(seed))
    shuffled = rng.permutation(len(labels))
    # A stable sort by class keeps the shuffled order within each class.
    order = shuffled[np.argsort(labels[shuffled], kind="stable")]
    owner = np.empty(len(labels), dtype=np.int64)
    owner[order] = np.arange(len(labels)) % n_teachers
    by_owner = np.argsort(owner, kind="stable")
    bounds = np.cumsum(np.bincount(owner, minlength=n_teachers))[:-1]
    return [shard.astype(np.int64) for shard in np.split(by_owner, bounds)]


@dataclass(frozen=True)
class LabelingResult(ResultMixin):
    """The public queries the teachers answered and what the answers cost in privacy.

    The epsilon to publish is ``epsilon_smooth_sensitivity`` (Papernot et al. 2018, Sec. 4:
    only the smooth-sensitivity release of the data-dependent cost is differentially
    private); :attr:`epsilon_published` returns it, or the data-independent bound where it
    was not released. ``epsilon`` and ``epsilon_realized`` are kept for analysis only.

    Attributes:
        indices: ``(n_answered,)`` positions in ``x_public`` of the answered queries.
        labels: ``(n_answered,)`` the noisy labels released for them.
        n_queries: queries asked (the first ``n_queries`` rows of ``x_public``).
        n_answered: queries answered (Confident-GNMax declines some).
        delta: the delta of the (epsilon, delta) guarantee.
        epsilon: data-dependent epsilon (Papernot et al. 2018, Theorem 6) as the authors
            accumulate it: for Confident-GNMax, the threshold cost of every query plus
            ``Pr[answered]`` times the GNMax cost (``rdp_cumulative.py``), the same cost
            ``epsilon_smooth_sensitivity`` releases; for GNMax and LNMax, the cost of every
            answer. A function of the private votes itself, so not safe to publish as is.
        epsilon_realized: the data-dependent epsilon with Confident-GNMax's GNMax step charged
            in full on the queries actually answered (equal to ``epsilon`` for GNMax and
            LNMax); also unpublishable, reported to show how far the realised answers are from
            their expectation.
        epsilon_data_independent: epsilon of the same answers from the data-independent
            bound (safe to publish, usually much larger).
        epsilon_smooth_sensitivity: the data-dependent epsilon released with smooth
            sensitivity (Sec. 4.3, App. C: its expected value plus Gaussian noise scaled to the
            smooth sensitivity, including the cost of the release), safe to publish; ``None``
            where the aggregator has no such analysis (LNMax), where it was not asked for, or
            where it is unsound for the parameters (a ``SmoothSensitivityWarning``
            says so).
        rdp_order: the Rényi order that gave ``epsilon``.
        label_accuracy: accuracy of the released labels against ``y_public`` when given,
            else ``None``.
        aggregator: the aggregator, as text.
        accountant: the privacy accountant behind ``epsilon`` (expected cost).
        smooth_sensitivity: the full smooth-sensitivity analysis (order, beta, sensitivity,
            noise), or ``None``.
    """

    indices: np.ndarray
    labels: np.ndarray
    n_queries: int
    n_answered: int
    delta: float
    epsilon: float
    epsilon_realized: float
    epsilon_data_independent: float
    epsilon_smooth_sensitivity: float | None
    rdp_order: float
    label_accuracy: float | None
    aggregator: str
    accountant: Any = field(repr=False, compare=False, metadata={"to_dict": False})
    smooth_sensitivity: Any = field(default=None, repr=False, compare=False)

    @property
    def epsilon_published(self) -> float:
        """The epsilon safe to publish: the smooth-sensitivity release, else the data-independent bound."""
        if self.epsilon_smooth_sensitivity is not None:
            return self.epsilon_smooth_sensitivity
        return self.epsilon_data_independent

    def summary(self) -> str:
        """One sentence: labels released, the publishable epsilon, what it bounds, the verdict.

        The headline epsilon is the smooth-sensitivity one when computed, else the
        data-independent bound (both safe to publish). Rule of thumb: epsilon up to 1 is
        strong privacy, up to 10 moderate, above 10 weak.
        """
        if self.epsilon_smooth_sensitivity is not None:
            epsilon, kind = self.epsilon_smooth_sensitivity, "smooth sensitivity"
        else:
            epsilon, kind = self.epsilon_data_independent, "data-independent"
        if epsilon <= 1:
            verdict = "strong privacy"
        elif epsilon <= 10:
            verdict = "moderate privacy"
        else:
            verdict = "weak privacy"
        accuracy = "" if self.label_accuracy is None else f" ({self.label_accuracy:.0%} correct)"
        return (
            f"PATE released {self.n_answered} of {self.n_queries} labels{accuracy} at epsilon {epsilon:.2f} "
            f"({kind}, delta {self.delta:g}; epsilon bounds how much one private record can change the "
            f"released labels, at most a factor e^epsilon: under 1 is strong, above 10 weak): {verdict}"
        )


class PATE(FittedMixin, ParamsReprMixin):
    """Private Aggregation of Teacher Ensembles.

    Papernot, Abadi, Erlingsson, Goodfellow, Talwar 2017, "Semi-supervised Knowledge Transfer
    for Deep Learning from Private Training Data" (ICLR), Sec. 2; Papernot, Song, Mironov,
    Raghunathan, Talwar, Erlingsson 2018, "Scalable Private Learning with PATE" (ICLR),
    Sec. 3-4. Teachers are trained on disjoint shards of the private data (:meth:`fit`,
    in parallel through an execution backend); public queries are labelled by a noisy vote
    (:meth:`label`, with an aggregator from :mod:`bastion.defenses.pate.aggregators`) whose
    privacy cost is accounted with Rényi DP; a student learns from the answered queries and,
    optionally, from the rest of the public pool, by self-training or label spreading
    (:meth:`fit_student`). Teachers may use the unlabelled public data too
    (:class:`~bastion.defenses.pate.student.LabelSpreadingClassifier`): each private sample
    still reaches one teacher only.

    Args:
        teacher_factory: a scikit-learn classifier (cloned per teacher, ``random_state`` set
            from the teacher's seed), a :class:`~bastion.defenses.pate.student.TorchTrainer`,
            or a function ``build(seed=...) -> nn.Module`` (trained with the default schedule).
        n_teachers: number of teachers (the paper's MNIST setting: 250).
        aggregator: an :class:`~bastion.defenses.pate.aggregators.Aggregator` (``LNMax``,
            ``GNMax``, ``ConfidentGNMax``).
        backend: where teachers train: ``"local"`` (a process pool, the default),
            ``"serial"``, ``"ray"``, or a :class:`~bastion.backends.Backend`.
        seed: seeds the shards, every teacher, the aggregation noise and the student.
        progress: show progress bars.

    Example:
        >>> aggregator = ConfidentGNMax(threshold=35, sigma_threshold=15, sigma=5)
        >>> pate = PATE(teacher_factory=LogisticRegression(max_iter=500), n_teachers=50, aggregator=aggregator)
        >>> pate.fit(x_private, y_private)
        >>> student = pate.fit_student(LogisticRegression(max_iter=500), x_public, max_queries=300).model_
        >>> pate.labeling_.epsilon_published, student.predict(x_test)

    Raises:
        InputTypeError: a bad factory, aggregator or backend.
        ValidationError: ``n_teachers < 1`` or an unknown backend name.
    """

    def __init__(
        self,
        *,
        teacher_factory: Any,
        n_teachers: int,
        aggregator: Aggregator,
        backend: str | Backend = "local",
        seed: int = 0,
        progress: bool = True,
    ) -> None:
        self.teacher_factory = as_learner(teacher_factory, "teacher_factory")
        self.n_teachers = check_scalar(n_teachers, "n_teachers", kind=int, low=1)
        if not isinstance(aggregator, Aggregator):
            raise InputTypeError(
                f"`aggregator` must be an Aggregator (LNMax, GNMax, ConfidentGNMax), got {type(aggregator).__name__}"
            )
        self.aggregator = aggregator
        self.backend = get_backend(backend)
        self.seed = check_seed(seed)
        self.progress = bool(progress)
        seeds = spawn_seeds(self.seed, 5)
        self._shard_seed, self._teacher_seed, self._noise_seed, self._student_seed, self._release_seed = seeds

    def fit(self, x_private: np.ndarray, y_private: np.ndarray) -> PATE:
        """Partition the private data and train one teacher per shard; return ``self``.

        Sets ``shards_`` (disjoint index arrays), ``teachers_`` (fitted estimators or
        modules), ``n_classes_``, ``input_shape_`` and ``teacher_fit_seconds_``.

        Raises:
            ValidationError: bad data, more teachers than private samples, or a shard with a
                single class for a scikit-learn teacher.
        """
        x = check_inputs(x_private, "x_private")
        y = check_labels(y_private, "y_private", n_samples=len(x))
        # Checked before any teacher trains: one huge label sizes every vote count per query.
        n_classes = max(int(y.max()) + 1, 2)
        check_allocation(
            (n_classes,), 8, f"PATE: `y_private`'s largest label {n_classes - 1} (one vote count per class)"
        )
        shards = partition(y, self.n_teachers, seed=self._shard_seed)
        if is_sklearn(self.teacher_factory):
            lonely = [i for i, shard in enumerate(shards) if len(np.unique(y[shard])) < 2]
            if lonely:
                raise ValidationError(
                    f"`n_teachers` = {self.n_teachers} leaves {len(lonely)} shard(s) of {len(shards[lonely[0]])} "
                    "sample(s) with a single class, which a scikit-learn teacher cannot fit; use fewer teachers"
                )
        seeds = spawn_seeds(self._teacher_seed, self.n_teachers)
        jobs = [(self.teacher_factory, x[shard], y[shard], s) for shard, s in zip(shards, seeds)]
        start = time.perf_counter()
        teachers = self.backend.map(fit_teacher, jobs, progress=self.progress, description="PATE teachers")
        self.teacher_fit_seconds_ = time.perf_counter() - start
        logger.info("trained %d teachers in %.1f s on %r", self.n_teachers, self.teacher_fit_seconds_, self.backend)
        self.shards_ = shards
        self.teachers_ = teachers
        self.n_classes_ = n_classes
        self.input_shape_ = tuple(x.shape[1:])
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "teachers_"):
            raise NotFittedError("this PATE has no teachers yet; call fit(x_private, y_private) first")

    def _check_public(self, x: Any, name: str) -> np.ndarray:
        return check_inputs(x, name, sample_shape=self.input_shape_)

    def teacher_predictions(self, x: np.ndarray) -> np.ndarray:
        """Every teacher's label for every input: ``(n_teachers, n)`` int64."""
        self._check_fitted()
        x = self._check_public(x, "x")
        predictions = np.stack([predict_labels(teacher, x) for teacher in self.teachers_])
        if predictions.size and (predictions.min() < 0 or predictions.max() >= self.n_classes_):
            raise ValidationError(
                f"a teacher predicted class {int(predictions.max())}, but the private labels have "
                f"{self.n_classes_} classes (0..{self.n_classes_ - 1}); build teachers with that many outputs"
            )
        return predictions

    def votes(self, x: np.ndarray) -> np.ndarray:
        """Vote histograms ``(n, n_classes)`` int64: how many teachers predict each class."""
        predictions = self.teacher_predictions(x)
        n, k = predictions.shape[1], self.n_classes_
        # One bincount over flattened (sample, class) cells, no loop over samples.
        cells = (np.arange(n)[None, :] * k + predictions).ravel()
        return np.bincount(cells, minlength=n * k).reshape(n, k).astype(np.int64)

    def label(
        self,
        x_public: np.ndarray,
        *,
        max_queries: int | None = None,
        delta: float = 1e-5,
        y_public: np.ndarray | None = None,
        smooth_sensitivity: bool = True,
        orders: Any = None,
    ) -> LabelingResult:
        """Ask the teachers to label the first ``max_queries`` public samples.

        Each call is one release, accounted on its own: the noise is drawn from the PATE's
        seed, so repeating a call repeats its answers, but answers of different calls (other
        queries, another aggregator) compose and their epsilons add up.

        Args:
            x_public: public, unlabelled inputs ``(n, *input_shape)``.
            max_queries: how many of the first rows to ask about (``None``: all of them).
            delta: the delta of the reported (epsilon, delta) guarantee, in (0, 1).
            y_public: optional true labels of ``x_public``, only to report ``label_accuracy``.
            smooth_sensitivity: also release epsilon with smooth sensitivity (GNMax and
                Confident-GNMax; a loop over queries, about a millisecond each).
            orders: Rényi orders (all > 1) the accountant tracks; ``None``: the authors' grid
                (:data:`~bastion.defenses.pate.privacy.DEFAULT_ORDERS`).

        Returns:
            A :class:`LabelingResult`; also kept as ``labeling_``.

        Raises:
            NotFittedError: before :meth:`fit`.
            ValidationError: bad inputs, ``max_queries < 1``, ``delta`` outside (0, 1) or an
                order ``<= 1``.
        """
        self._check_fitted()
        x = self._check_public(x_public, "x_public")
        delta = check_scalar(delta, "delta", low=0, high=1, include_low=False, include_high=False)
        n_queries = len(x)
        if max_queries is not None:
            n_queries = min(check_scalar(max_queries, "max_queries", kind=int, low=1), len(x))
        accountant = PrivacyAccountant(orders=orders)
        realized = PrivacyAccountant(orders=orders)
        baseline = PrivacyAccountant(orders=orders)
        votes = self.votes(x[:n_queries])
        labels = self.aggregator.aggregate(votes, generator=np.random.default_rng(self._noise_seed))
        self.aggregator.account(accountant, votes, labels, expected=True)
        self.aggregator.account(realized, votes, labels)
        self.aggregator.account(baseline, votes, labels, data_independent=True)
        answered = np.flatnonzero(labels != UNANSWERED)
        accuracy = None
        if y_public is not None:
            truth = check_labels(y_public, "y_public", n_samples=len(x), n_classes=self.n_classes_)
            accuracy = float(np.mean(labels[answered] == truth[answered])) if len(answered) else None
        spent = accountant.spent(delta)
        analysis = self._smooth_sensitivity(votes, delta) if smooth_sensitivity else None
        self.labeling_ = LabelingResult(
            indices=answered,
            labels=labels[answered],
            n_queries=n_queries,
            n_answered=len(answered),
            delta=delta,
            epsilon=spent.epsilon,
            epsilon_realized=realized.epsilon(delta),
            epsilon_data_independent=baseline.epsilon(delta),
            epsilon_smooth_sensitivity=None if analysis is None else analysis.release(seed=self._release_seed),
            rdp_order=spent.order,
            label_accuracy=accuracy,
            aggregator=repr(self.aggregator),
            accountant=accountant,
            smooth_sensitivity=analysis,
        )
        return self.labeling_

    def _smooth_sensitivity(self, votes: np.ndarray, delta: float) -> Any:
        try:
            return self.aggregator.smooth_sensitivity(votes, delta=delta, num_teachers=self.n_teachers)
        except ValidationError as error:
            warnings.warn(
                f"epsilon not released with smooth sensitivity: {error}", SmoothSensitivityWarning, stacklevel=3
            )
            return None

    def fit_student(
        self,
        student_factory: Any,
        x_public: np.ndarray,
        *,
        labeling: LabelingResult | None = None,
        max_queries: int | None = None,
        delta: float = 1e-5,
        self_training_rounds: int = 0,
        confidence: float = 0.9,
        label_spreading: int = 0,
        clip: tuple[float, float] = (0.0, 1.0),
    ) -> PATE:
        """Train the student on the answered public queries; return ``self``.

        Args:
            student_factory: a scikit-learn classifier, a ``TorchTrainer`` or a function
                ``build(seed=...) -> nn.Module``.
            x_public: the public inputs; the first ``max_queries`` are the queries, the rest
                (and the declined queries) are the unlabelled pool of self-training.
            labeling: the result of an earlier :meth:`label` on the same ``x_public``;
                ``None`` runs :meth:`label` with ``max_queries`` and ``delta``.
            self_training_rounds: rounds of pseudo-labelling on the unlabelled pool (0: off).
                Papernot et al. 2017 train the student semi-supervised with a GAN; bastion
                substitutes confidence-thresholded self-training, which costs no privacy.
            confidence: the student's probability a pseudo-label needs to be kept, in (0, 1].
            label_spreading: neighbours ``k`` of label spreading (0: off). With ``k > 0`` the
                answered labels are spread over all of ``x_public`` along its kNN graph
                (Zhou et al. 2004; :func:`~bastion.defenses.pate.student.spread_labels`) and
                the student learns from every public sample: the semi-supervised use of the
                public pool, at no privacy cost. Excludes ``self_training_rounds``.
            clip: the valid input range of the returned model.

        Returns:
            ``self``; the student, a ``SklearnModel`` or ``TorchModel``, is ``model_``, with the
            training summary in ``student_report_``.

        Raises:
            NotFittedError: before :meth:`fit`.
            ValidationError: no answered query, bad arguments, or (scikit-learn students) a
                class with no answered query.
        """
        self._check_fitted()
        learner = as_learner(student_factory, "student_factory")
        x = self._check_public(x_public, "x_public")
        rounds = check_scalar(self_training_rounds, "self_training_rounds", kind=int, low=0)
        confidence = check_scalar(confidence, "confidence", low=0, high=1, include_low=False)
        spreading = check_scalar(label_spreading, "label_spreading", kind=int, low=0)
        if spreading and rounds:
            raise ValidationError(
                f"`label_spreading` ({spreading}) labels the whole public pool, leaving nothing to self-train on; "
                f"set self_training_rounds=0 (got {rounds}) or label_spreading=0"
            )
        if labeling is None:
            labeling = self.label(x, max_queries=max_queries, delta=delta)
        elif not isinstance(labeling, LabelingResult):
            raise InputTypeError(f"`labeling` must be a LabelingResult from label(), got {type(labeling).__name__}")
        if labeling.n_answered == 0:
            raise ValidationError(
                "the teachers answered none of the queries, so there is nothing to train the student on; "
                "ask more queries, lower the threshold or raise sigma_threshold"
            )
        if labeling.n_queries > len(x) or (len(labeling.indices) and labeling.indices.max() >= len(x)):
            raise ValidationError(
                f"`labeling` was made on {labeling.n_queries} queries but `x_public` has {len(x)} rows; "
                "pass the same x_public to label() and fit_student()"
            )
        pool = np.ones(len(x), dtype=bool)
        pool[labeling.indices] = False
        student, report = train_student(
            learner,
            x[labeling.indices],
            labeling.labels,
            x_unlabelled=x[pool],
            n_classes=self.n_classes_,
            input_shape=self.input_shape_,
            rounds=rounds,
            confidence=confidence,
            seed=self._student_seed,
            clip=clip,
            progress=self.progress,
            label_spreading=spreading,
        )
        self.model_: BaseModel = student
        self.student_report_: StudentReport = report
        return self


__all__ = ["PATE", "LabelingResult", "partition"]
