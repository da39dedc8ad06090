"""A model scoring far below what it should on the data given: the sign of a scaling mismatch."""

from __future__ import annotations

import warnings

from bastion.validation import check_scalar

# Accuracy "far below" a recorded one: this many points under it.
RECORDED_MARGIN = 0.25
# Fewer samples than this make an accuracy too noisy to judge.
MIN_SAMPLES = 10


class ScalingMismatchWarning(UserWarning):
    """A model's clean accuracy on the data given is far below what it should be.

    The usual cause is data on another scale than the model was trained on: another value
    range (raw features against a model trained on [0, 1]), another channel axis
    (channel-last images against a channel-first model) or other feature scaling.
    """


def expected_accuracy_floor(n_classes: int) -> float:
    """The clean accuracy below which a trained model is suspect: about ``max(2 x chance, 50%)``.

    With few classes twice chance is out of reach, so the floor is capped at halfway
    between chance and 100% (75% for two classes, 67% for three, 50% for ten).
    """
    n_classes = check_scalar(n_classes, "n_classes", kind=int, low=2)
    chance = 1.0 / n_classes
    return min(max(2.0 * chance, 0.5), (1.0 + chance) / 2.0)


def low_accuracy_message(
    accuracy: float, n_classes: int, n_samples: int, *, recorded: float | None = None
) -> str | None:
    """What is wrong when ``accuracy`` is far below expectation, else ``None``.

    Args:
        accuracy: clean accuracy on the data given, in [0, 1].
        n_classes: classes of the task.
        n_samples: samples ``accuracy`` rests on; under 10 nothing is said.
        recorded: an accuracy recorded when the model was trained, if known; falling more
            than 25 points under it is flagged too.
    """
    accuracy = check_scalar(accuracy, "accuracy", low=0, high=1)
    if n_samples < MIN_SAMPLES:
        return None
    floor = expected_accuracy_floor(n_classes)
    if recorded is not None and accuracy < check_scalar(recorded, "recorded", low=0, high=1) - RECORDED_MARGIN:
        against = f"far below its recorded accuracy {recorded:.0%}"
    elif accuracy < floor:
        against = f"below {floor:.0%} ({n_classes} classes, chance {1 / n_classes:.0%})"
    else:
        return None
    return (
        f"the model scores {accuracy:.0%} clean accuracy on these {n_samples} samples, {against}: "
        "the usual sign of a scaling mismatch (data range / channel axis / feature scaling)"
    )


def warn_if_low_accuracy(
    accuracy: float, n_classes: int, n_samples: int, *, recorded: float | None = None, stacklevel: int = 3
) -> None:
    """Emit a :class:`ScalingMismatchWarning` when :func:`low_accuracy_message` has something to say."""
    message = low_accuracy_message(accuracy, n_classes, n_samples, recorded=recorded)
    if message is not None:
        warnings.warn(message, ScalingMismatchWarning, stacklevel=stacklevel)
