"""``bastion defend pate``: train teachers on private data, label public data, train a student."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.table import Table
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression
from sklearn.svm import SVC

from bastion.backends import LocalBackend, SerialBackend
from bastion.cli.app import defend_app
from bastion.cli.common import ClipOption, console, load_data, reported_errors
from bastion.defenses.pate import AGGREGATORS, PATE, LabelSpreadingClassifier, TorchTrainer, make_aggregator
from bastion.defenses.pate.student import fit_learner, predict_labels
from bastion.exceptions import ValidationError
from bastion.models import io, zoo
from bastion.validation import check_choice, check_scalar

LEARNERS = ("svc", "logistic", "mlp")
TEACHERS = (*LEARNERS, "label-spreading")


def _learner(name: str, input_shape: tuple[int, ...], n_classes: int, *, probabilities: bool) -> Any:
    if name == "svc":
        # Self-training needs probabilities: Platt scaling of the SVM on internal folds.
        return CalibratedClassifierCV(SVC(C=10), ensemble=False) if probabilities else SVC(C=10)
    if name == "logistic":
        return LogisticRegression(max_iter=1000)
    return TorchTrainer(functools.partial(zoo.mlp, input_shape, n_classes, hidden=(64,)), epochs=30, lr=3e-3)


def _accuracy(fitted: Any, x: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(predict_labels(fitted, x) == y))


@defend_app.command(
    "pate",
    help=(
        "PATE: teachers on disjoint shards of the private data, a noisy vote labels public data, a "
        "student learns from it (Papernot et al. 2017, 2018).\n\n"
        "The training split is cut in two: the first --private samples are the private data of the "
        "teachers, the rest is public; the student asks about the first --max-queries public samples "
        "and is scored on the test split. Prints the teachers' and the student's accuracy, the "
        "non-private baseline (the student's model trained on the private data directly), the "
        "queries answered and epsilon at --delta: first the one to publish, released with smooth "
        "sensitivity, then the data-independent bound (also publishable, larger) and the "
        "data-dependent costs (the authors' expected cost, and charged on the realised answers), "
        "which are not safe to publish.\n\n"
        "Aggregator noise defaults scale with the teacher count n: sigma = n/10, threshold = 0.6 n, "
        "sigma-threshold = n/3, gamma = 10/n."
    ),
    epilog=(
        "Examples:\n\n"
        "  bastion defend pate --data digits --teachers 50 --aggregator confident-gnmax --max-queries 150\n\n"
        "  bastion defend pate --data digits --teachers 100 --aggregator gnmax --sigma 10 --max-queries 150\n\n"
        "  bastion defend pate --data digits --teachers 50 --aggregator lnmax --gamma 0.2 --out student/\n\n"
        "  bastion defend pate --data digits --private 800 --teachers 80 --teacher label-spreading "
        "--threshold 50 --sigma-threshold 30 --sigma 10 --max-queries 350 --label-spreading 7\n\n"
        "The paper's MNIST setting (250 teachers, --threshold 200 --sigma-threshold 150 --sigma 40) on your "
        "IDX files: see docs/benchmarks.md, section pate."
    ),
)
def pate(
    data: Annotated[
        str, typer.Option(help="Dataset: digits, breast_cancer, an .npz file or a folder of MNIST-style IDX files.")
    ] = "digits",
    teachers: Annotated[int, typer.Option(help="Number of teachers (disjoint shards of the private data).")] = 50,
    aggregator: Annotated[str, typer.Option(help=f"Noisy vote: {', '.join(AGGREGATORS)}.")] = "confident-gnmax",
    sigma: Annotated[
        float | None, typer.Option(help="Gaussian noise of the answer (GNMax, Confident-GNMax sigma2).")
    ] = None,
    threshold: Annotated[
        float | None, typer.Option(help="Confident-GNMax: votes the noisy maximum must reach (T).")
    ] = None,
    sigma_threshold: Annotated[
        float | None, typer.Option(help="Confident-GNMax: noise of the threshold check (sigma1).")
    ] = None,
    gamma: Annotated[float | None, typer.Option(help="LNMax: inverse scale of the Laplace noise.")] = None,
    max_queries: Annotated[int, typer.Option(help="Public samples the student asks the teachers about.")] = 150,
    private: Annotated[
        int | None, typer.Option(help="Training samples kept private for the teachers (default: 3/4 of the split).")
    ] = None,
    teacher: Annotated[
        str,
        typer.Option(
            help=f"Teacher model: {', '.join(TEACHERS)} (label spreading over the teacher's shard plus the "
            "unlabelled public data, 10 neighbours)."
        ),
    ] = "svc",
    student: Annotated[str, typer.Option(help=f"Student model: {', '.join(LEARNERS)}.")] = "svc",
    self_training_rounds: Annotated[
        int, typer.Option(help="Rounds of pseudo-labelling on the unlabelled public data (0: off).")
    ] = 0,
    label_spreading: Annotated[
        int,
        typer.Option(
            help="Spread the answered labels over all public data along its k-nearest-neighbour graph and "
            "train the student on every public sample (k neighbours; 0: off)."
        ),
    ] = 0,
    delta: Annotated[float, typer.Option(help="Delta of the (epsilon, delta) guarantee.")] = 1e-5,
    workers: Annotated[int, typer.Option(help="Processes that train the teachers (1: in this process).")] = 2,
    seed: Annotated[int, typer.Option(help="Seeds the split, shards, teachers, vote noise and student.")] = 0,
    out: Annotated[Path | None, typer.Option(help="Folder to save the student in (loadable with bastion).")] = None,
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
    clip: ClipOption = None,
) -> None:
    """Train a PATE student and print its accuracy and privacy cost."""
    with reported_errors():
        check_choice(teacher, "--teacher", TEACHERS)
        check_choice(student, "--student", LEARNERS)
        check_choice(aggregator, "--aggregator", AGGREGATORS)
        teachers = check_scalar(teachers, "--teachers", kind=int, low=1)
        workers = check_scalar(workers, "--workers", kind=int, low=1)
        dataset = load_data(data, seed=seed, clip=clip)
        n_private = len(dataset.x_train) * 3 // 4 if private is None else private
        n_private = check_scalar(n_private, "--private", kind=int, low=1, high=len(dataset.x_train) - 1)
        noise = make_aggregator(
            aggregator,
            gamma=10 / teachers if gamma is None else gamma,
            sigma=teachers / 10 if sigma is None else sigma,
            threshold=0.6 * teachers if threshold is None else threshold,
            sigma_threshold=teachers / 3 if sigma_threshold is None else sigma_threshold,
        )
        x_private, y_private = dataset.x_train[:n_private], dataset.y_train[:n_private]
        x_public, y_public = dataset.x_train[n_private:], dataset.y_train[n_private:]
        shape, k = dataset.input_shape, dataset.n_classes
        backend = SerialBackend() if workers == 1 else LocalBackend(workers)
        teacher_learner = (
            LabelSpreadingClassifier(x_public, 10)
            if teacher == "label-spreading"
            else _learner(teacher, shape, k, probabilities=False)
        )
        defense = PATE(
            teacher_factory=teacher_learner,
            n_teachers=teachers,
            aggregator=noise,
            backend=backend,
            seed=seed,
            progress=progress,
        )
        defense.fit(x_private, y_private)
        labeling = defense.label(x_public, max_queries=max_queries, delta=delta, y_public=y_public)
        if labeling.n_answered == 0:
            raise ValidationError(
                f"the teachers answered none of the {labeling.n_queries} queries; lower --threshold, raise "
                "--sigma-threshold or ask more --max-queries"
            )
        student_learner = _learner(student, shape, k, probabilities=self_training_rounds > 0)
        model = defense.fit_student(
            student_learner,
            x_public,
            labeling=labeling,
            self_training_rounds=self_training_rounds,
            label_spreading=label_spreading,
        ).model_
        teacher_accuracy = float(np.mean(defense.teacher_predictions(dataset.x_test) == dataset.y_test))
        plurality_accuracy = float(np.mean(defense.votes(dataset.x_test).argmax(axis=1) == dataset.y_test))
        student_accuracy = float(np.mean(model.predict(dataset.x_test) == dataset.y_test))
        baseline = fit_learner(_learner(student, shape, k, probabilities=False), x_private, y_private, seed)
        baseline_accuracy = _accuracy(baseline, dataset.x_test, dataset.y_test)
        folder = io.save(model, out, test_accuracy=student_accuracy) if out is not None else None

    table = Table(title=f"bastion defend pate: {teachers} {teacher} teachers on {dataset.name}")
    table.add_column("field")
    table.add_column("value", justify="right")
    table.add_row("private / public / test samples", f"{n_private} / {len(x_public)} / {len(dataset.x_test)}")
    table.add_row("aggregator", repr(noise))
    table.add_row("teacher accuracy (mean)", f"{teacher_accuracy:.2%}")
    table.add_row("teacher ensemble accuracy (no noise)", f"{plurality_accuracy:.2%}")
    table.add_row("queries answered / asked", f"{labeling.n_answered} / {labeling.n_queries}")
    table.add_row("accuracy of the answered labels", f"{labeling.label_accuracy:.2%}")
    table.add_row(f"student accuracy ({student})", f"{student_accuracy:.2%}")
    table.add_row(f"non-private baseline ({student} on the private data)", f"{baseline_accuracy:.2%}")
    released = labeling.epsilon_smooth_sensitivity
    table.add_row("epsilon (published, smooth sensitivity)", "n/a" if released is None else f"{released:.3f}")
    table.add_row("delta", f"{delta:g}")
    table.add_row("epsilon, data-independent (safe to publish)", f"{labeling.epsilon_data_independent:.3f}")
    table.add_row("epsilon, data-dependent, not safe to publish", f"{labeling.epsilon:.3f}")
    table.add_row("epsilon, realised answers, not safe to publish", f"{labeling.epsilon_realized:.3f}")
    table.add_row("teacher training time", f"{defense.teacher_fit_seconds_:.1f} s ({backend!r})")
    if folder is not None:
        table.add_row("student saved to", str(folder))
    console.print(table)
    console.print(labeling.summary(), highlight=False, markup=False)
