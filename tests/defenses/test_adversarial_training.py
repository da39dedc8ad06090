"""AdversarialTraining: PGD, FGSM-RS and TRADES, the overfitting check, and bad hyperparameters."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.nn import functional

from bastion.attacks import APGD, PGD, SquareAttack, evaluate, robustness
from bastion.attacks.evasion.base import objective_gradient
from bastion.attacks.evasion.pgd import ascent
from bastion.defenses import AdversarialTraining, CatastrophicOverfittingWarning, EpochRecord, adversarial_training
from bastion.defenses.adversarial_training import cyclic_factor
from bastion.exceptions import InputTypeError, ValidationError
from bastion.models import TorchModel, zoo

# The default ensemble with smaller budgets, to keep the tests fast.
SMALL_ENSEMBLE = {
    "apgd-ce": lambda eps: APGD(eps, steps=20, loss="ce"),
    "apgd-dlr": lambda eps: APGD(eps, steps=20, loss="dlr"),
    "square": lambda eps: SquareAttack(eps, max_queries=100),
}


def mlp(dataset):
    return zoo.mlp(dataset.input_shape, dataset.n_classes, hidden=(16,), seed=0)


def test_pgd_training_raises_ensemble_robust_accuracy_above_the_undefended_model(digits, digits_mlp, pgd_trainer):
    x, y = digits.x_test[:100], digits.y_test[:100]
    undefended = robustness(digits_mlp, x, y, eps_grid=[0.2], attacks=SMALL_ENSEMBLE, diagnostics=False)
    defended = robustness(pgd_trainer.model_, x, y, eps_grid=[0.2], attacks=SMALL_ENSEMBLE, diagnostics=False)
    assert undefended.robust_accuracy[0] < 0.1
    assert defended.robust_accuracy[0] > undefended.robust_accuracy[0] + 0.15


def test_pgd_trained_model_is_not_flagged_for_gradient_masking(digits, pgd_trainer):
    result = robustness(
        pgd_trainer.model_, digits.x_test[:100], digits.y_test[:100], eps_grid=[0.2], attacks=SMALL_ENSEMBLE
    )
    assert not result.gradient_masking, result.findings


def test_pgd_training_keeps_most_clean_accuracy(digits, pgd_trainer):
    assert (pgd_trainer.model_.predict(digits.x_test) == digits.y_test).mean() > 0.8


def test_history_has_one_record_per_epoch_with_finite_losses(pgd_trainer):
    assert [r.epoch for r in pgd_trainer.history_] == list(range(1, 9))
    assert all(isinstance(r, EpochRecord) for r in pgd_trainer.history_)
    first, last = pgd_trainer.history_[0], pgd_trainer.history_[-1]
    assert last.adversarial_loss < first.adversarial_loss
    assert all(r.adversarial_loss >= r.clean_loss for r in pgd_trainer.history_)
    assert 0 <= last.monitor_robust_accuracy <= 1
    assert set(last.to_dict()) == {
        "epoch",
        "clean_loss",
        "adversarial_loss",
        "objective",
        "monitor_robust_accuracy",
        "seconds",
    }


def test_fit_returns_a_fresh_torch_model_in_eval_mode(pgd_trainer):
    model = pgd_trainer.model_
    assert isinstance(model, TorchModel)
    assert not model.module.training
    assert pgd_trainer.seconds_ > 0
    assert pgd_trainer.catastrophic_overfitting_ is False


def test_training_attacks_every_minibatch_with_bastion_pgd(small_digits, monkeypatch):
    calls = []
    original = adversarial_training.ascent

    def counting(objective, x, **kwargs):
        calls.append((kwargs["steps"], kwargs["eps"], len(x)))
        return original(objective, x, **kwargs)

    monkeypatch.setattr(adversarial_training, "ascent", counting)
    AdversarialTraining(method="pgd", eps=0.1, steps=2, epochs=1, batch_size=64, monitor_size=0, progress=False).fit(
        lambda: mlp(small_digits), small_digits
    )
    assert calls == [(2, 0.1, 64)] * 4


def test_training_ascent_steps_along_the_sign_of_the_cross_entropy_gradient(digits, digits_mlp):
    x = torch.as_tensor(digits.x_test[:32])
    y = torch.as_tensor(digits.y_test[:32])

    def training_objective(x_adv):
        return functional.cross_entropy(digits_mlp.module(x_adv), y, reduction="none")

    stepped = ascent(
        training_objective,
        x,
        eps=1.0,
        alpha=0.01,
        steps=1,
        norm="inf",
        clip=(-10.0, 10.0),
        generator=torch.Generator().manual_seed(0),
        random_start=False,
    )
    _, direct, _ = objective_gradient(digits_mlp, x, y, None, "ce")
    assert torch.equal((stepped - x).sign(), direct.sign())


def test_fgsm_rs_trains_with_one_step_of_one_and_a_quarter_eps(small_digits):
    trainer = AdversarialTraining(method="fgsm_rs", eps=0.1, epochs=3, lr=1e-2, batch_size=32, progress=False)
    assert (trainer.steps, trainer.alpha) == (1, pytest.approx(0.125))
    model = trainer.fit(lambda: mlp(small_digits), small_digits).model_
    assert trainer.history_[-1].adversarial_loss < trainer.history_[0].adversarial_loss
    assert (model.predict(small_digits.x_train) == small_digits.y_train).mean() > 0.2


def test_trades_reports_clean_and_adversarial_losses_and_its_objective(small_digits):
    trainer = AdversarialTraining(method="trades", eps=0.2, steps=3, beta=6.0, epochs=2, progress=False)
    trainer.fit(lambda: mlp(small_digits), small_digits)
    record = trainer.history_[-1]
    # TRADES minimises CE(clean) + beta * KL >= CE(clean).
    assert record.objective >= record.clean_loss
    assert np.isfinite([record.clean_loss, record.adversarial_loss, record.objective]).all()


def test_catastrophic_overfitting_warns_restores_the_best_epoch_and_stops(small_digits, monkeypatch):
    accuracies = iter([0.5, 0.6, 0.2, 0.9])
    monkeypatch.setattr(AdversarialTraining, "_monitor", lambda self, *args: next(accuracies))
    trainer = AdversarialTraining(method="fgsm_rs", eps=0.2, epochs=4, progress=False)
    with pytest.warns(CatastrophicOverfittingWarning, match="epoch 3"):
        model = trainer.fit(lambda: mlp(small_digits), small_digits).model_
    assert trainer.catastrophic_overfitting_
    assert trainer.best_epoch_ == 2
    assert len(trainer.history_) == 3

    accuracies = iter([0.5, 0.6])
    two_epochs = (
        AdversarialTraining(method="fgsm_rs", eps=0.2, epochs=2, progress=False)
        .fit(lambda: mlp(small_digits), small_digits)
        .model_
    )
    for restored, reference in zip(model.module.parameters(), two_epochs.module.parameters(), strict=True):
        assert torch.equal(restored, reference)


def test_same_seed_gives_the_same_weights(small_digits):
    def train(seed):
        trainer = AdversarialTraining(method="pgd", eps=0.1, steps=2, epochs=1, progress=False, seed=seed)
        return trainer.fit(lambda: mlp(small_digits), small_digits).model_.module.state_dict()

    first, second, other = train(0), train(0), train(1)
    assert all(torch.equal(first[k], second[k]) for k in first)
    assert not all(torch.equal(first[k], other[k]) for k in first)


def test_trained_model_stays_within_the_eps_threat_model_of_its_attacks(small_digits):
    model = (
        AdversarialTraining(method="pgd", eps=0.1, steps=2, epochs=1, progress=False)
        .fit(lambda: mlp(small_digits), small_digits)
        .model_
    )
    result = evaluate(model, PGD(0.1, steps=5), small_digits.x_test, small_digits.y_test)
    assert result.perturbation_linf_max <= 0.1 + 1e-6


def test_cyclic_schedule_peaks_at_two_fifths_and_ends_at_zero(small_digits, monkeypatch):
    assert [round(cyclic_factor(step, 10), 4) for step in range(10)] == [
        0.25,
        0.5,
        0.75,
        1.0,
        0.8333,
        0.6667,
        0.5,
        0.3333,
        0.1667,
        0.0,
    ]
    rates = []
    original = torch.optim.Adam.step

    def recording(self, *args, **kwargs):
        rates.append(self.param_groups[0]["lr"])
        return original(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.Adam, "step", recording)
    AdversarialTraining(
        method="fgsm_rs",
        eps=0.1,
        epochs=5,
        lr=5e-3,
        lr_schedule="cyclic",
        batch_size=128,
        monitor_size=0,
        progress=False,
    ).fit(lambda: mlp(small_digits), small_digits)
    assert rates == pytest.approx([5e-3 * cyclic_factor(step, 10) for step in range(10)])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"method": "free", "eps": 0.1}, "`method` must be one of 'pgd', 'fgsm_rs', 'trades', got 'free'"),
        ({"eps": -0.1}, r"`eps` must be a float in \[0, inf\), got -0.1"),
        ({"method": "fgsm_rs", "eps": 0.1, "steps": 3}, "`steps` must be 1 for method='fgsm_rs'"),
        ({"eps": 0.1, "epochs": 0}, "`epochs` must be an int in"),
        ({"eps": 0.1, "beta": -1.0}, "`beta` must be a float in"),
        ({"eps": 0.1, "overfit_drop": 0.0}, "`overfit_drop` must be a float in"),
        ({"eps": 0.1, "lr_schedule": "cosine"}, "`lr_schedule` must be one of 'constant', 'cyclic', got 'cosine'"),
    ],
)
def test_bad_hyperparameters_raise_a_clear_error(kwargs, message):
    with pytest.raises(ValidationError, match=message):
        AdversarialTraining(**kwargs)


def test_fit_rejects_what_is_not_a_module_or_a_dataset(small_digits):
    trainer = AdversarialTraining(eps=0.1, progress=False)
    with pytest.raises(InputTypeError, match=r"`module_factory` must return a torch\.nn\.Module"):
        trainer.fit(lambda: "small_cnn", small_digits)
    with pytest.raises(InputTypeError, match="`dataset` must be a bastion Dataset"):
        trainer.fit(lambda: mlp(small_digits), (small_digits.x_train, small_digits.y_train))
