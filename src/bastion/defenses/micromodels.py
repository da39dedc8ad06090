"""Micro-models: sanitize an anomaly sensor's training data by letting slices of it vote.

Cretu, Stavrou, Locasto, Stolfo & Keromytis, "Casting out Demons: Sanitizing Training Data
for Anomaly Sensors", IEEE S&P 2008, Sec. 3. Attacks in a large training set are rare and
come in bursts, so most small slices of the set contain none of a given attack. The
training set is cut, in order, into slices ``md_1 .. md_K`` (by count or by time
granularity ``g``); one micro-model ``M_i`` is trained on each; every micro-model labels every
training instance ``P_j`` (``L_ij = 1`` when ``M_i`` finds it abnormal); the instance's
generalized label is the weighted share ``L_j = sum_i w_i L_ij / sum_i w_i`` (``w_i = 1``, or
the slice's size with weighted voting, Sec. 3.2), and the instance is removed when ``L_j``
exceeds the voting threshold ``V``. The sanitized model is trained on what remains; the
abnormal model on what was removed (what the paper's shadow-sensor architecture builds on).

The sensor is anything with ``fit`` and ``predict``: a content sensor
(:class:`~bastion.sensors.NGramSensor`, :class:`~bastion.sensors.PAYLSensor`) on a
:class:`~bastion.data.TrafficStream`, or, on a classification
:class:`~bastion.data.Dataset`, a sensor of labelled samples
(:class:`~bastion.sensors.LabelDisagreementSensor`, :class:`~bastion.sensors.ClassNoveltySensor`)
with ``fit(x, y)`` and ``predict(x, y)``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from bastion.attacks.poisoning.base import PoisonedDataset
from bastion.backends import get_backend
from bastion.data.dataset import Dataset
from bastion.data.traffic import TrafficStream
from bastion.defenses.sanitization.base import CleaningResult, keep_rows
from bastion.exceptions import InputTypeError, NotFittedError, ValidationError
from bastion.mixins import ParamsReprMixin
from bastion.sensors.base import Sensor, check_payloads
from bastion.validation import check_scalar, check_seed

logger = logging.getLogger(__name__)


def _fit_stream_slice(job: tuple[Callable[[], Any], list[bytes]]) -> Any:
    factory, payloads = job
    return factory().fit(payloads)


def _fit_dataset_slice(job: tuple[Callable[[], Any], np.ndarray, np.ndarray]) -> Any:
    factory, x, y = job
    return factory().fit(x, y)


def _vote_payloads(job: tuple[list[Any], list[bytes]]) -> np.ndarray:
    models, payloads = job
    if isinstance(models[0], Sensor):
        return type(models[0]).predict_many(models, payloads)
    return np.stack([np.asarray(model.predict(payloads), dtype=bool) for model in models])


def _vote_rows(job: tuple[list[Any], np.ndarray, np.ndarray]) -> np.ndarray:
    models, x, y = job
    return np.stack([np.asarray(model.predict(x, y), dtype=bool) for model in models])


class MicroModels(ParamsReprMixin):
    """Cretu et al. (2008) training-data sanitization by micro-model voting.

    Give exactly one of ``slice_size``, ``n_slices`` or ``slice_seconds`` (default: 10
    slices). By count, the data is cut into ``ceil(n / slice_size)`` (or ``n_slices``)
    consecutive slices of equal size (within one); by time, into windows of
    ``slice_seconds`` from the first request, windows without requests being skipped (a
    site is quiet at night). A classification dataset has no time order: its training rows
    are shuffled with ``seed`` before they are cut by count.

    Args:
        sensor_factory: builds one unfitted sensor when called with no arguments: a sensor
            class (``NGramSensor``) or a top-level function / ``functools.partial`` (it is
            sent to worker processes, so no lambda).
        slice_size: requests (rows) per micro-model, at least 1.
        n_slices: number of micro-models, at least 2.
        slice_seconds: time granularity of the slices (streams only), in (0, inf).
        vote_threshold: ``V`` in [0, 1]; an instance is removed when the (weighted) share of
            micro-models flagging it exceeds ``V``.
        weighted: weight each micro-model's vote by its slice's size (Cretu et al.'s
            weighted voting) instead of one vote each.
        backend: where the micro-models are fitted and vote: ``"local"`` (a process pool),
            ``"serial"``, ``"ray"`` or a Backend; the result does not depend on it.
        n_workers: processes of the local backend (``None``: every CPU).
        seed: shuffles the rows of a classification dataset.

    Attributes (after ``clean``):
        micro_models_: the fitted micro-models, in slice order.
        slices_: ``K`` arrays of instance indices, one per micro-model (its training slice).
        votes_: ``(K, n)`` bool, ``votes_[i, j]`` = micro-model i flags instance j.
        sanitized_model_: a sensor fitted on the kept instances.
        abnormal_model_: a sensor fitted on the removed instances (``None`` if none were).

    Raises:
        InputTypeError: ``sensor_factory`` is not callable.
        ValidationError: more than one slicing given, or a value outside the ranges above.
    """

    def __init__(
        self,
        sensor_factory: Callable[[], Any],
        *,
        slice_size: int | None = None,
        n_slices: int | None = None,
        slice_seconds: float | None = None,
        vote_threshold: float = 0.5,
        weighted: bool = False,
        backend: Any = "local",
        n_workers: int | None = None,
        seed: int = 0,
    ) -> None:
        if not callable(sensor_factory):
            raise InputTypeError(
                "`sensor_factory` must be a sensor class or a function returning an unfitted sensor, "
                f"got {type(sensor_factory).__name__}"
            )
        given = [name for name, value in (("slice_size", slice_size), ("n_slices", n_slices),
                                          ("slice_seconds", slice_seconds)) if value is not None]  # fmt: skip
        if len(given) > 1:
            raise ValidationError(f"give one of `slice_size`, `n_slices` or `slice_seconds`, got {', '.join(given)}")
        if not given:
            n_slices = 10
        self.sensor_factory = sensor_factory
        self.slice_size = None if slice_size is None else check_scalar(slice_size, "slice_size", kind=int, low=1)
        self.n_slices = None if n_slices is None else check_scalar(n_slices, "n_slices", kind=int, low=2)
        self.slice_seconds = (
            None if slice_seconds is None else check_scalar(slice_seconds, "slice_seconds", low=0, include_low=False)
        )
        self.vote_threshold = check_scalar(vote_threshold, "vote_threshold", low=0, high=1)
        if not isinstance(weighted, bool):
            raise InputTypeError(f"`weighted` must be a bool, got {weighted!r}")
        self.weighted = weighted
        self.backend = backend
        self.n_workers = None if n_workers is None else check_scalar(n_workers, "n_workers", kind=int, low=1)
        self.seed = check_seed(seed)
        get_backend(backend, n_workers=self.n_workers)  # refuse an unknown backend now, not in clean

    def _slices(self, n: int, timestamps: np.ndarray | None, order: np.ndarray) -> list[np.ndarray]:
        if self.slice_seconds is not None:
            if timestamps is None:
                raise ValidationError(
                    "`slice_seconds` slices by time, which needs a TrafficStream; a classification "
                    "dataset has no timestamps, use slice_size or n_slices"
                )
            window = np.floor((timestamps - timestamps.min()) / self.slice_seconds).astype(np.int64)
            groups = np.unique(window)
            slices = [np.flatnonzero(window == g) for g in groups]
            how = f"slice_seconds={self.slice_seconds:g} over {timestamps.max() - timestamps.min():.0f} s"
        else:
            count = self.n_slices if self.n_slices is not None else -(-n // self.slice_size)
            how = f"n_slices={self.n_slices}" if self.n_slices is not None else f"slice_size={self.slice_size}"
            if count > n:
                raise ValidationError(
                    f"{how} asks for {count} slices of {n} instances, so some would be empty; use at most {n} slices"
                )
            slices = np.array_split(order, count)
        if len(slices) < 2:
            raise ValidationError(
                f"{how} cuts the {n} instances into {len(slices)} slice; micro-models need at least 2 "
                "slices to vote (use a smaller slice)"
            )
        return slices

    def _chunked(self, n: int, workers: int) -> list[np.ndarray]:
        return np.array_split(np.arange(n), max(1, min(n, workers)))

    def clean(self, data: TrafficStream | Dataset, *, progress: bool = False) -> CleaningResult:
        """Fit the micro-models, let them vote on every training instance, remove the suspicious ones.

        Args:
            data: a :class:`~bastion.data.TrafficStream` (every request is a training
                instance) or a classification :class:`~bastion.data.Dataset` /
                :class:`~bastion.attacks.poisoning.PoisonedDataset` (its training rows).
            progress: progress bars for fitting and voting.

        Returns:
            A :class:`~bastion.defenses.sanitization.CleaningResult`: ``dataset`` is the
            cleaned stream (or dataset), ``scores`` the (weighted) share of micro-models that
            flagged each instance, ``poison_mask`` the stream's ``is_attack`` (or the
            dataset's ``poison_mask``) when known.

        Raises:
            InputTypeError: ``data`` is neither a TrafficStream nor a Dataset.
            ValidationError: the slicing leaves an empty slice or fewer than two.
        """
        start = time.perf_counter()
        backend = get_backend(self.backend, n_workers=self.n_workers)
        workers = int(getattr(backend, "n_workers", 1))
        if isinstance(data, TrafficStream):
            payloads = check_payloads(data.payloads, "data.payloads")
            n = len(payloads)
            slices = self._slices(n, data.timestamps, np.arange(n))
            fit_jobs = [(self.sensor_factory, [payloads[i] for i in rows]) for rows in slices]
            models = backend.map(_fit_stream_slice, fit_jobs, progress=progress, description="micro-models")
            chunks = self._chunked(n, workers)
            votes = backend.map(
                _vote_payloads,
                [(models, payloads[c[0] : c[-1] + 1]) for c in chunks],
                progress=progress,
                description="voting",
            )
        elif isinstance(data, Dataset):
            x, y = data.x_train, data.y_train
            n = len(x)
            order = np.random.default_rng(self.seed).permutation(n)
            slices = self._slices(n, None, order)
            fit_jobs = [(self.sensor_factory, x[rows], y[rows]) for rows in slices]
            models = backend.map(_fit_dataset_slice, fit_jobs, progress=progress, description="micro-models")
            chunks = self._chunked(n, workers)
            votes = backend.map(
                _vote_rows, [(models, x[c], y[c]) for c in chunks], progress=progress, description="voting"
            )
        else:
            raise InputTypeError(f"`data` must be a TrafficStream or a bastion Dataset, got {type(data).__name__}")
        flags = np.concatenate(votes, axis=1)
        weights = np.array([len(rows) for rows in slices], dtype=np.float64) if self.weighted else np.ones(len(slices))
        share = weights @ flags / weights.sum()
        removed = share > self.vote_threshold
        logger.debug("%d micro-models removed %d of %d instances", len(models), int(removed.sum()), n)

        self.micro_models_, self.slices_, self.votes_ = models, slices, flags
        if isinstance(data, TrafficStream):
            kept_payloads = [p for p, r in zip(payloads, removed) if not r]
            flagged = [p for p, r in zip(payloads, removed) if r]
            self.sanitized_model_ = self.sensor_factory().fit(kept_payloads) if kept_payloads else None
            self.abnormal_model_ = self.sensor_factory().fit(flagged) if flagged else None
            cleaned: Any = data.select(~removed)
            truth = None if data.is_attack is None else data.is_attack.copy()
        else:
            kept = ~removed
            self.sanitized_model_ = self.sensor_factory().fit(x[kept], y[kept]) if kept.any() else None
            self.abnormal_model_ = None
            cleaned = keep_rows(data, kept)
            truth = data.poison_mask.copy() if isinstance(data, PoisonedDataset) else None
        return CleaningResult(
            dataset=cleaned,
            removed_mask=removed,
            scores=share,
            defense=repr(self),
            poison_mask=truth,
            seconds=time.perf_counter() - start,
        )

    def recognise(self, payloads: Any) -> np.ndarray:
        """The shadow sensor's filter: ``(n,)`` bool, True where a payload looks like the removed ones.

        A payload is recognised when the abnormal model (fitted on the instances the vote
        removed) gives it a lower anomaly score than the sanitized model does (both are the
        same sensor, so their scores compare); for a sensor without ``score``, when the
        abnormal model does not flag it. These are new
        requests close to the attacks cast out of the training data, which Cretu et al.'s
        architecture hands to a heavily instrumented shadow sensor.

        Raises:
            NotFittedError: before ``clean`` on a stream, or when nothing was removed.
        """
        abnormal, sanitized = getattr(self, "abnormal_model_", None), getattr(self, "sanitized_model_", None)
        if abnormal is None or sanitized is None:
            raise NotFittedError(
                "no abnormal model: call clean(stream) on a TrafficStream first (and it must remove something)"
            )
        payloads = check_payloads(payloads)
        if hasattr(abnormal, "score") and hasattr(sanitized, "score"):
            return abnormal.score(payloads) < sanitized.score(payloads)
        return ~np.asarray(abnormal.predict(payloads), dtype=bool)
