"""PATE end to end: disjoint stratified shards, determinism, labelling, accounting, student."""

from __future__ import annotations

import functools
import json
import sys

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.svm import SVC

import bastion.defenses
from bastion.backends import LocalBackend
from bastion.defenses.pate import (
    PATE,
    ConfidentGNMax,
    GNMax,
    LabelingResult,
    LabelSpreadingClassifier,
    LNMax,
    TorchTrainer,
    partition,
)
from bastion.exceptions import BackendUnavailableError, InputTypeError, NotFittedError, ValidationError
from bastion.models import SklearnModel, TorchModel, zoo


def small_teacher() -> SVC:
    """The teacher of the ``fitted_pate`` fixture: an RBF SVM, about a millisecond per shard."""
    return SVC(C=10)


def accuracy(model, x, y) -> float:
    return float(np.mean(model.predict(x) == y))


# --------------------------------------------------------------------------- shards


def test_partition_gives_disjoint_shards_covering_every_sample():
    labels = np.random.default_rng(0).integers(0, 10, size=503)
    shards = partition(labels, 7, seed=0)
    joined = np.concatenate(shards)
    assert len(joined) == len(labels)
    np.testing.assert_array_equal(np.sort(joined), np.arange(len(labels)))


def test_partition_is_stratified_and_balanced():
    labels = np.random.default_rng(1).integers(0, 10, size=997)
    shards = partition(labels, 13, seed=0)
    sizes = [len(s) for s in shards]
    per_class = np.stack([np.bincount(labels[s], minlength=10) for s in shards])
    assert max(sizes) - min(sizes) <= 1
    assert np.all(per_class.max(axis=0) - per_class.min(axis=0) <= 1)


def test_partition_is_reproducible_and_depends_on_the_seed():
    labels = np.repeat(np.arange(5), 40)
    first = partition(labels, 8, seed=3)
    assert all(np.array_equal(a, b) for a, b in zip(first, partition(labels, 8, seed=3)))
    assert not all(np.array_equal(a, b) for a, b in zip(first, partition(labels, 8, seed=4)))


def test_more_teachers_than_private_samples_raises_a_clear_error(split):
    pate = PATE(teacher_factory=small_teacher(), n_teachers=11, aggregator=GNMax(1), backend="serial", progress=False)
    with pytest.raises(ValidationError, match="`n_teachers` must be at most the number of private samples"):
        pate.fit(split.x_private[:10], split.y_private[:10])


def test_a_single_class_shard_for_a_sklearn_teacher_raises_a_clear_error(split):
    pate = PATE(teacher_factory=small_teacher(), n_teachers=20, aggregator=GNMax(1), backend="serial", progress=False)
    with pytest.raises(ValidationError, match="single class"):
        pate.fit(split.x_private[:20], split.y_private[:20])


def test_torch_teachers_with_more_outputs_than_classes_are_refused(split):
    trainer = TorchTrainer(functools.partial(zoo.mlp, (1, 8, 8), 12, hidden=()), epochs=1)
    pate = PATE(teacher_factory=trainer, n_teachers=2, aggregator=GNMax(1), backend="serial", progress=False)
    # Labels 0..2 only: teachers with 12 outputs may predict classes the votes cannot count.
    keep = split.y_private < 3
    pate.fit(split.x_private[keep], split.y_private[keep])
    pate.teachers_[0][-1].bias.data[11] = 1e6
    with pytest.raises(ValidationError, match="build teachers with that many outputs"):
        pate.votes(split.x_public)


def test_fit_trains_one_teacher_per_disjoint_shard(fitted_pate, split):
    assert len(fitted_pate.teachers_) == len(fitted_pate.shards_) == 10
    assert len(np.concatenate(fitted_pate.shards_)) == len(np.unique(np.concatenate(fitted_pate.shards_)))
    assert fitted_pate.n_classes_ == 10 and fitted_pate.input_shape_ == split.x_private.shape[1:]


# --------------------------------------------------------------------------- votes and labels


def test_votes_count_every_teacher_once_per_query(fitted_pate, split):
    votes = fitted_pate.votes(split.x_public[:50])
    assert votes.shape == (50, 10) and votes.dtype == np.int64
    np.testing.assert_array_equal(votes.sum(axis=1), 10)


def test_the_plurality_vote_beats_the_average_teacher(fitted_pate, split):
    predictions = fitted_pate.teacher_predictions(split.x_test)
    plurality = fitted_pate.votes(split.x_test).argmax(axis=1)
    assert np.mean(plurality == split.y_test) > np.mean(predictions == split.y_test) > 0.5


def test_label_respects_max_queries(fitted_pate, split):
    result = fitted_pate.label(split.x_public, max_queries=40)
    assert isinstance(result, LabelingResult) and fitted_pate.labeling_ is result
    assert result.n_queries == 40 and result.n_answered == 40
    assert result.indices.max() < 40 and len(result.labels) == 40


def test_label_accuracy_is_reported_against_given_labels(fitted_pate, split):
    result = fitted_pate.label(split.x_public, max_queries=100, y_public=split.y_public)
    expected = np.mean(result.labels == split.y_public[result.indices])
    assert result.label_accuracy == pytest.approx(expected) and result.label_accuracy > 0.8


def test_same_seed_gives_the_same_labels(split):
    results = [
        PATE(
            teacher_factory=small_teacher(),
            n_teachers=10,
            aggregator=GNMax(3),
            backend="serial",
            seed=4,
            progress=False,
        )
        .fit(split.x_private, split.y_private)
        .label(split.x_public, max_queries=200)
        for _ in range(2)
    ]
    np.testing.assert_array_equal(results[0].labels, results[1].labels)
    assert results[0].epsilon == results[1].epsilon


def test_local_backend_gives_the_same_teachers_and_labels_as_serial(fitted_pate, split):
    local = PATE(
        teacher_factory=small_teacher(),
        n_teachers=10,
        aggregator=GNMax(2.0),
        backend=LocalBackend(n_workers=2),
        seed=0,
        progress=False,
    )
    local.fit(split.x_private, split.y_private)
    np.testing.assert_array_equal(local.votes(split.x_public), fitted_pate.votes(split.x_public))
    np.testing.assert_array_equal(
        local.label(split.x_public, max_queries=100).labels, fitted_pate.label(split.x_public, max_queries=100).labels
    )


def test_confident_gnmax_labels_only_the_queries_it_answers(split):
    pate = PATE(
        teacher_factory=small_teacher(),
        n_teachers=10,
        aggregator=ConfidentGNMax(threshold=9, sigma_threshold=1.0, sigma=1.0),
        backend="serial",
        progress=False,
    )
    pate.fit(split.x_private, split.y_private)
    result = pate.label(split.x_public, max_queries=300, smooth_sensitivity=False)
    assert 0 < result.n_answered < result.n_queries == 300
    confident = pate.votes(split.x_public[:300]).max(axis=1) >= 9
    # With sigma_threshold = 1, the answered queries are mostly those with at least 9 of 10 votes.
    assert np.mean(confident[result.indices]) > 0.9


# --------------------------------------------------------------------------- accounting


def test_epsilon_grows_with_the_number_of_queries(fitted_pate, split):
    epsilons = [fitted_pate.label(split.x_public, max_queries=q).epsilon for q in (20, 100, 400)]
    assert 0 < epsilons[0] < epsilons[1] < epsilons[2]


def test_epsilon_falls_as_sigma_grows(fitted_pate, split):
    votes = fitted_pate.votes(split.x_public[:200])
    epsilons = []
    for sigma in (1.0, 4.0, 16.0):
        pate = PATE(
            teacher_factory=small_teacher(), n_teachers=10, aggregator=GNMax(sigma), backend="serial", progress=False
        )
        pate.teachers_, pate.shards_ = fitted_pate.teachers_, fitted_pate.shards_
        pate.n_classes_, pate.input_shape_ = fitted_pate.n_classes_, fitted_pate.input_shape_
        epsilons.append(pate.label(split.x_public, max_queries=200, smooth_sensitivity=False).epsilon)
    assert len(votes) == 200 and epsilons[0] > epsilons[1] > epsilons[2]


def test_data_dependent_epsilon_is_at_most_the_data_independent_one(fitted_pate, split):
    result = fitted_pate.label(split.x_public, max_queries=200)
    assert 0 < result.epsilon <= result.epsilon_data_independent


def test_published_epsilon_is_the_smooth_sensitivity_release(fitted_pate, split):
    result = fitted_pate.label(split.x_public, max_queries=200)
    assert result.epsilon_smooth_sensitivity is not None
    assert result.epsilon_published == result.epsilon_smooth_sensitivity != result.epsilon


def test_published_epsilon_falls_back_to_the_data_independent_bound(fitted_pate, split):
    result = fitted_pate.label(split.x_public, max_queries=200, smooth_sensitivity=False)
    assert result.epsilon_published == result.epsilon_data_independent


def test_lnmax_labelling_is_accounted_without_smooth_sensitivity(split):
    pate = PATE(teacher_factory=small_teacher(), n_teachers=10, aggregator=LNMax(0.5), backend="serial", progress=False)
    result = pate.fit(split.x_private, split.y_private).label(split.x_public, max_queries=50)
    assert result.n_answered == 50 and 0 < result.epsilon <= result.epsilon_data_independent
    assert result.epsilon_smooth_sensitivity is None


def test_gnmax_epsilon_is_released_with_smooth_sensitivity(fitted_pate, split):
    result = fitted_pate.label(split.x_public, max_queries=100)
    analysis = result.smooth_sensitivity
    assert analysis.smooth_sensitivity > 0 and analysis.epsilon_expected > analysis.epsilon
    assert result.epsilon_smooth_sensitivity == analysis.release(seed=fitted_pate._release_seed)
    assert fitted_pate.label(split.x_public, max_queries=100, smooth_sensitivity=False).smooth_sensitivity is None


def confident_pate(fitted_pate) -> PATE:
    """The fixture's teachers behind Confident-GNMax(T=7, sigma1=3, sigma2=6)."""
    pate = PATE(
        teacher_factory=small_teacher(),
        n_teachers=10,
        aggregator=ConfidentGNMax(threshold=7, sigma_threshold=3, sigma=6),
        backend="serial",
        progress=False,
    )
    pate.teachers_, pate.shards_ = fitted_pate.teachers_, fitted_pate.shards_
    pate.n_classes_, pate.input_shape_ = fitted_pate.n_classes_, fitted_pate.input_shape_
    return pate


def test_confident_gnmax_epsilon_is_the_expected_cost_that_smooth_sensitivity_releases(fitted_pate, split):
    result = confident_pate(fitted_pate).label(split.x_public, max_queries=200)
    analysis = result.smooth_sensitivity
    assert result.rdp_order == analysis.order
    assert result.epsilon == pytest.approx(analysis.epsilon, rel=1e-9)


def test_confident_gnmax_reports_the_realized_answers_epsilon_separately(fitted_pate, split):
    result = confident_pate(fitted_pate).label(split.x_public, max_queries=200, smooth_sensitivity=False)
    assert 0 < result.n_answered < result.n_queries
    assert result.epsilon_realized > 0 and result.epsilon_realized != pytest.approx(result.epsilon, rel=1e-6)


def test_gnmax_realized_and_expected_epsilons_agree(fitted_pate, split):
    result = fitted_pate.label(split.x_public, max_queries=100, smooth_sensitivity=False)
    assert result.epsilon_realized == result.epsilon


def test_an_unsound_smooth_sensitivity_analysis_warns_and_releases_nothing(split):
    pate = PATE(teacher_factory=small_teacher(), n_teachers=10, aggregator=GNMax(1.0), backend="serial", progress=False)
    pate.fit(split.x_private, split.y_private)
    with pytest.warns(RuntimeWarning, match="conditions C5-C6"):
        result = pate.label(split.x_public, max_queries=50)
    assert result.epsilon_smooth_sensitivity is None and result.epsilon > 0


def test_label_refuses_delta_outside_the_unit_interval(fitted_pate, split):
    for delta in (0.0, 1.0, -1e-5):
        with pytest.raises(ValidationError, match="`delta`"):
            fitted_pate.label(split.x_public, delta=delta)


def test_label_refuses_true_labels_outside_the_private_classes(fitted_pate, split):
    with pytest.raises(ValidationError, match=r"`y_public` must hold labels in 0..9 for a 10-class model, got 19"):
        fitted_pate.label(split.x_public[:10], y_public=split.y_public[:10] + 10, smooth_sensitivity=False)


@pytest.mark.parametrize("orders", [[1.0, 2.0], [0.5]])
def test_label_refuses_renyi_orders_of_at_most_one(fitted_pate, split, orders):
    with pytest.raises(ValidationError, match="`orders`"):
        fitted_pate.label(split.x_public, max_queries=10, orders=orders)


def test_label_tracks_the_given_renyi_orders(fitted_pate, split):
    result = fitted_pate.label(split.x_public, max_queries=50, orders=[2.0, 8.0, 32.0], smooth_sensitivity=False)
    assert result.rdp_order in (2.0, 8.0, 32.0)
    np.testing.assert_array_equal(result.accountant.orders, [2.0, 8.0, 32.0])


def test_labeling_result_serialises_to_json(fitted_pate, split):
    result = fitted_pate.label(split.x_public, max_queries=30)
    data = json.loads(json.dumps(result.to_dict()))
    assert data["n_queries"] == 30 and "accountant" not in data and len(data["labels"]) == 30


# --------------------------------------------------------------------------- student


def test_sklearn_student_learns_from_the_answered_queries(fitted_pate, split):
    student = fitted_pate.fit_student(LogisticRegression(max_iter=500), split.x_public, max_queries=300).model_
    assert isinstance(student, SklearnModel) and accuracy(student, split.x_test, split.y_test) > 0.8
    assert fitted_pate.student_report_.n_labelled == 300


def test_torch_student_learns_from_the_answered_queries(fitted_pate, split):
    torch.manual_seed(0)
    trainer = TorchTrainer(functools.partial(zoo.mlp, (1, 8, 8), 10, hidden=(32,)), epochs=30, lr=3e-3)
    labeling = fitted_pate.label(split.x_public, max_queries=300)
    student = fitted_pate.fit_student(trainer, split.x_public, labeling=labeling).model_
    assert isinstance(student, TorchModel) and accuracy(student, split.x_test, split.y_test) > 0.7


def test_self_training_adds_confident_pseudo_labels(fitted_pate, split):
    labeling = fitted_pate.label(split.x_public, max_queries=150)
    student = fitted_pate.fit_student(
        LogisticRegression(max_iter=500), split.x_public, labeling=labeling, self_training_rounds=2, confidence=0.8
    ).model_
    report = fitted_pate.student_report_
    assert report.n_labelled == 150 and 0 < report.n_pseudo_labelled <= len(split.x_public) - 150
    assert accuracy(student, split.x_test, split.y_test) > 0.8


def test_label_spreading_student_learns_from_every_public_sample(fitted_pate, split):
    labeling = fitted_pate.label(split.x_public, max_queries=100, smooth_sensitivity=False)
    plain = accuracy(
        fitted_pate.fit_student(SVC(C=10), split.x_public, labeling=labeling).model_, split.x_test, split.y_test
    )
    spread = fitted_pate.fit_student(SVC(C=10), split.x_public, labeling=labeling, label_spreading=7).model_
    report = fitted_pate.student_report_
    assert report.n_labelled == 100 and report.n_spread_labelled == len(split.x_public) - 100
    assert accuracy(spread, split.x_test, split.y_test) > plain + 0.03


def test_label_spreading_and_self_training_together_are_refused(fitted_pate, split):
    with pytest.raises(ValidationError, match="`label_spreading`"):
        fitted_pate.fit_student(SVC(), split.x_public, max_queries=100, label_spreading=7, self_training_rounds=1)


def test_label_spreading_teachers_beat_svm_teachers_on_tiny_shards(split):
    x_private, y_private = split.x_private[:300], split.y_private[:300]
    mean_accuracy = {}
    for name, teacher in (("svc", SVC(C=10)), ("spreading", LabelSpreadingClassifier(split.x_public, 10))):
        pate = PATE(teacher_factory=teacher, n_teachers=30, aggregator=GNMax(1), backend="serial", progress=False).fit(
            x_private, y_private
        )
        mean_accuracy[name] = float(np.mean(pate.teacher_predictions(split.x_test) == split.y_test))
    assert mean_accuracy["spreading"] > mean_accuracy["svc"] + 0.05


def test_torch_teachers_vote_better_than_chance(split):
    trainer = TorchTrainer(functools.partial(zoo.mlp, (1, 8, 8), 10, hidden=(32,)), epochs=20, lr=3e-3)
    pate = PATE(teacher_factory=trainer, n_teachers=4, aggregator=GNMax(1), backend="serial", progress=False)
    pate.fit(split.x_private[:400], split.y_private[:400])
    assert all(isinstance(t, torch.nn.Module) for t in pate.teachers_)
    assert np.mean(pate.votes(split.x_test).argmax(axis=1) == split.y_test) > 0.7


@pytest.mark.filterwarnings("ignore:epsilon not released with smooth sensitivity")
def test_sklearn_student_with_an_unlabelled_class_raises_a_clear_error(fitted_pate, split):
    with pytest.raises(ValidationError, match="cover every class"):
        fitted_pate.fit_student(LogisticRegression(), split.x_public, max_queries=3)


def test_student_with_no_answered_query_raises_a_clear_error(split):
    pate = PATE(
        teacher_factory=small_teacher(),
        n_teachers=10,
        aggregator=ConfidentGNMax(threshold=1000, sigma_threshold=1, sigma=1),
        backend="serial",
        progress=False,
    )
    pate.fit(split.x_private, split.y_private)
    with pytest.raises(ValidationError, match="answered none"):
        pate.fit_student(LogisticRegression(), split.x_public, max_queries=50)


def test_labeling_of_other_public_data_is_refused(fitted_pate, split):
    labeling = fitted_pate.label(split.x_public, max_queries=300)
    with pytest.raises(ValidationError, match="same x_public"):
        fitted_pate.fit_student(LogisticRegression(), split.x_public[:100], labeling=labeling)


# --------------------------------------------------------------------------- bad input


def test_using_pate_before_fit_raises_not_fitted(split):
    pate = PATE(teacher_factory=small_teacher(), n_teachers=5, aggregator=GNMax(1), backend="serial")
    with pytest.raises(NotFittedError, match=r"call fit\(x_private, y_private\)"):
        pate.label(split.x_public)


def test_an_aggregator_of_the_wrong_type_is_refused():
    with pytest.raises(InputTypeError, match="`aggregator` must be an Aggregator"):
        PATE(teacher_factory=small_teacher(), n_teachers=5, aggregator="gnmax")


def test_a_built_module_as_teacher_factory_is_refused():
    with pytest.raises(InputTypeError, match="fresh module"):
        PATE(teacher_factory=zoo.mlp((4,), 2), n_teachers=5, aggregator=GNMax(1))


def test_an_unknown_backend_is_refused():
    with pytest.raises(ValidationError, match="`backend` must be one of"):
        PATE(teacher_factory=small_teacher(), n_teachers=5, aggregator=GNMax(1), backend="gpu")


def test_the_ray_backend_without_ray_installed_is_refused_clearly(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(BackendUnavailableError, match="pip install ray"):
        PATE(teacher_factory=small_teacher(), n_teachers=5, aggregator=GNMax(1), backend="ray")


def test_zero_teachers_are_refused():
    with pytest.raises(ValidationError, match="`n_teachers`"):
        PATE(teacher_factory=small_teacher(), n_teachers=0, aggregator=GNMax(1))


def test_queries_of_the_wrong_shape_are_refused(fitted_pate, split):
    with pytest.raises(ValidationError, match="`x_public` must have shape"):
        fitted_pate.label(split.x_public.reshape(len(split.x_public), -1))


def test_pate_is_exported_from_bastion_defenses():
    assert bastion.defenses.PATE is PATE
