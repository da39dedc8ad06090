"""Adversarial training: PGD (Madry et al.), FGSM with random start (Wong et al.) and TRADES."""

from __future__ import annotations

import copy
import math
import time
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.nn import functional
from tqdm.auto import tqdm

from bastion.attacks.evasion import PGD
from bastion.attacks.evasion.base import check_eps, check_norm
from bastion.attacks.evasion.pgd import ascent
from bastion.attacks.norms import constrain
from bastion.defenses.base import ModuleFactory, build_module, check_dataset, check_module_factory
from bastion.exceptions import ValidationError
from bastion.mixins import FittedMixin, ParamsReprMixin, ResultMixin
from bastion.models import TorchModel
from bastion.models.base import check_clip
from bastion.models.training import check_loss
from bastion.validation import check_choice, check_inputs, check_labels, check_scalar, check_seed

METHODS = ("pgd", "fgsm_rs", "trades")
SCHEDULES = ("constant", "cyclic")
DEFAULT_STEPS = {"pgd": 7, "fgsm_rs": 1, "trades": 10}


class CatastrophicOverfittingWarning(UserWarning):
    """FGSM-style training lost its robustness to PGD in the middle of training."""


@dataclass(frozen=True)
class EpochRecord(ResultMixin):
    """What one epoch of adversarial training did.

    Attributes:
        epoch: 1-based epoch number.
        clean_loss: mean cross-entropy on the clean training minibatches.
        adversarial_loss: mean cross-entropy on the adversarial examples trained on.
        objective: mean of the minimised objective (the adversarial cross-entropy for
            ``"pgd"`` and ``"fgsm_rs"``; clean cross-entropy plus ``beta`` times the KL term
            for ``"trades"``).
        monitor_robust_accuracy: accuracy under PGD on the fixed monitoring minibatch after
            the epoch, in [0, 1] (``nan`` when monitoring is off).
        seconds: wall-clock time of the epoch, monitoring included.
    """

    epoch: int
    clean_loss: float
    adversarial_loss: float
    objective: float
    monitor_robust_accuracy: float
    seconds: float


class AdversarialTraining(FittedMixin, ParamsReprMixin):
    """Train a classifier on adversarial examples crafted against itself, minibatch by minibatch.

    Three methods, each crafting its examples with PGD's projected ascent
    (:func:`bastion.attacks.evasion.pgd.ascent`) on its training objective:

    - ``"pgd"``: Madry, Makelov, Schmidt, Tsipras & Vladu, "Towards Deep Learning Models
      Resistant to Adversarial Attacks", ICLR 2018, Sec. 3, Eq. (2.1): minimise the
      cross-entropy at the last iterate of ``steps`` PGD steps (random start, step
      ``alpha = 2.5 * eps / steps``) that ascend the same cross-entropy.
    - ``"fgsm_rs"``: Wong, Rice & Kolter, "Fast is Better than Free: Revisiting Adversarial
      Training", ICLR 2020, Algorithm 3: one signed-gradient step of ``alpha = 1.25 * eps``
      from a uniform random point of the ball, then projection (PGD with one step). The
      paper's catastrophic overfitting (Sec. 5.3, robustness to PGD collapsing within an
      epoch) is watched as the authors' code does: PGD accuracy on a fixed minibatch of
      training data after every epoch; a drop of more than ``overfit_drop`` below the best
      so far sets ``catastrophic_overfitting_``, warns, and (``early_stop=True``) restores
      the best epoch's weights and stops.
    - ``"trades"``: Zhang, Yu, Jiao, Xing, El Ghaoui & Jordan, "Theoretically Principled
      Trade-off between Robustness and Accuracy", ICML 2019, Sec. 4, Eq. (5) and
      Algorithm 1: minimise ``CE(f(x), y) + beta * KL(f(x) || f(x'))`` where ``x'``
      ascends the KL term for ``steps`` PGD steps. The ascent starts at a uniform point of
      the ball (bastion's PGD start) instead of the paper's ``x + 0.001 N(0, I)``: the KL
      term has zero gradient at ``x`` itself, and any start off ``x`` gets around that.

    Adversarial examples are crafted with the module in eval mode and the update is taken
    in train mode (as in the TRADES authors' code), so batch-norm statistics only see the
    inputs trained on. The optimiser is Adam, as in :func:`bastion.models.fit`.

    Args:
        method: ``"pgd"``, ``"fgsm_rs"`` or ``"trades"``.
        eps: radius of the threat model's ball, in input units (e.g. 0.2 on [0, 1] pixels).
        steps: attack steps per minibatch; default 7 for ``"pgd"``, 10 for ``"trades"``,
            and necessarily 1 for ``"fgsm_rs"``.
        alpha: attack step size; default ``2.5 * eps / steps`` (``1.25 * eps`` for
            ``"fgsm_rs"``).
        norm: ``"inf"`` or ``"2"``.
        epochs, lr, batch_size, weight_decay: the Adam optimisation schedule.
        lr_schedule: ``"constant"`` (``lr`` throughout) or ``"cyclic"``: the learning rate
            rises linearly from 0 to ``lr`` over the first 2/5 of the minibatch steps and
            falls back to 0 by the last, the cyclic schedule of Wong et al. (Sec. 5.1; 2/5
            and Adam with ``lr = 5e-3`` in their MNIST code).
        beta: TRADES's robustness weight (1/lambda in the paper; 6 is its CIFAR-10 value).
        clip: the valid input range of the data and of the returned model.
        monitor_size: size of the fixed training minibatch whose PGD accuracy is checked
            after each epoch (0 turns monitoring and the overfitting check off).
        monitor_steps: PGD steps of that check (5 in Wong et al.'s code).
        overfit_drop: accuracy drop, in [0, 1], that counts as catastrophic overfitting
            (0.2 in Wong et al.'s code).
        early_stop: on catastrophic overfitting, restore the best epoch and stop.
        progress: show a progress bar with the epoch, clean and adversarial losses.
        seed: seeds shuffling, random starts, the monitoring batch and dropout.

    Attributes:
        model_: the hardened :class:`~bastion.models.TorchModel`.
        history_: one :class:`EpochRecord` per epoch trained.
        catastrophic_overfitting_: whether the monitoring check fired.
        best_epoch_: the epoch with the highest monitored robust accuracy.
        seconds_: wall-clock training time, monitoring included.

    Raises:
        ValidationError: unknown method, ``eps < 0``, ``steps != 1`` with ``"fgsm_rs"``, or
            another hyperparameter out of range (at construction).

    Example:
        >>> trainer = AdversarialTraining(method="pgd", eps=0.2, epochs=30)
        >>> robust = trainer.fit(lambda: zoo.small_cnn((1, 8, 8), 10), bastion.load("digits")).model_
    """

    def __init__(
        self,
        *,
        method: str = "pgd",
        eps: float,
        steps: int | None = None,
        alpha: float | None = None,
        norm: str = "inf",
        epochs: int = 10,
        lr: float = 1e-3,
        lr_schedule: str = "constant",
        batch_size: int = 64,
        weight_decay: float = 0.0,
        beta: float = 6.0,
        clip: tuple[float, float] = (0.0, 1.0),
        monitor_size: int = 128,
        monitor_steps: int = 5,
        overfit_drop: float = 0.2,
        early_stop: bool = True,
        progress: bool = True,
        seed: int = 0,
    ) -> None:
        self.method = check_choice(method, "method", METHODS)
        self.eps = check_eps(eps)
        if steps is None:
            steps = DEFAULT_STEPS[self.method]
        self.steps = check_scalar(steps, "steps", kind=int, low=1)
        if self.method == "fgsm_rs" and self.steps != 1:
            raise ValidationError(f"`steps` must be 1 for method='fgsm_rs' (a single FGSM step), got {steps!r}")
        default_alpha = 1.25 * self.eps if self.method == "fgsm_rs" else 2.5 * self.eps / self.steps
        self.alpha = default_alpha if alpha is None else check_scalar(alpha, "alpha", low=0, include_low=False)
        self.norm = check_norm(norm)
        self.epochs = check_scalar(epochs, "epochs", kind=int, low=1)
        self.lr = check_scalar(lr, "lr", low=0, include_low=False)
        self.lr_schedule = check_choice(lr_schedule, "lr_schedule", SCHEDULES)
        self.batch_size = check_scalar(batch_size, "batch_size", kind=int, low=1)
        self.weight_decay = check_scalar(weight_decay, "weight_decay", low=0)
        self.beta = check_scalar(beta, "beta", low=0)
        self.clip = check_clip(clip)
        self.monitor_size = check_scalar(monitor_size, "monitor_size", kind=int, low=0)
        self.monitor_steps = check_scalar(monitor_steps, "monitor_steps", kind=int, low=1)
        self.overfit_drop = check_scalar(overfit_drop, "overfit_drop", low=0, high=1, include_low=False)
        self.early_stop = bool(early_stop)
        self.progress = bool(progress)
        self.seed = check_seed(seed)

    def fit(self, module_factory: ModuleFactory, dataset: Any) -> AdversarialTraining:
        """Adversarially train a module built by ``module_factory`` on ``dataset``'s training split.

        Args:
            module_factory: called once without arguments, it returns the torch module to
                train, mapping ``(n, *dataset.input_shape)`` to logits, e.g.
                ``lambda: zoo.small_cnn((1, 8, 8), 10)``.
            dataset: a :class:`bastion.Dataset` whose inputs lie in ``clip``.

        Returns:
            ``self``; the hardened model, a :class:`~bastion.models.TorchModel` in eval
            mode, is ``model_``.

        Raises:
            InputTypeError: ``module_factory`` is not a callable returning a torch module,
                or ``dataset`` not a Dataset.
            ValidationError: the module does not fit the dataset, or the training inputs
                fall outside ``clip``.
        """
        check_module_factory(module_factory)
        check_dataset(dataset)
        x = check_inputs(dataset.x_train, "dataset.x_train", sample_shape=dataset.input_shape, value_range=self.clip)
        y = check_labels(dataset.y_train, "dataset.y_train", n_samples=len(x), n_classes=dataset.n_classes)
        module = build_module(module_factory, "model", dataset)
        model = TorchModel(module, input_shape=dataset.input_shape, n_classes=dataset.n_classes, clip=self.clip)
        device = model.device
        inputs = torch.as_tensor(x, device=device)
        labels = torch.as_tensor(y, device=device)

        generator = torch.Generator().manual_seed(self.seed)
        monitor_index = torch.randperm(len(x), generator=generator)[: self.monitor_size].to(device)
        monitor = PGD(self.eps, steps=self.monitor_steps, norm=self.norm, seed=self.seed)
        optimizer = torch.optim.Adam(module.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        scheduler = self._scheduler(optimizer, self.epochs * -(-len(x) // self.batch_size))

        self.history_: list[EpochRecord] = []
        self.catastrophic_overfitting_ = False
        self.best_epoch_ = 0
        best_accuracy = -math.inf
        best_state = None
        started = time.perf_counter()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            bar = tqdm(
                range(1, self.epochs + 1), desc=f"adversarial training ({self.method})", disable=not self.progress
            )
            for epoch in bar:
                epoch_started = time.perf_counter()
                sums = self._epoch(module, optimizer, scheduler, inputs, labels, generator)
                accuracy = self._monitor(model, monitor, inputs[monitor_index], labels[monitor_index], generator)
                record = EpochRecord(
                    epoch=epoch, **sums, monitor_robust_accuracy=accuracy, seconds=time.perf_counter() - epoch_started
                )
                self.history_.append(record)
                bar.set_postfix(
                    clean_loss=f"{record.clean_loss:.3f}",
                    adv_loss=f"{record.adversarial_loss:.3f}",
                    pgd_acc=f"{accuracy:.2f}",
                )
                if math.isnan(accuracy):
                    continue
                if accuracy > best_accuracy:
                    best_accuracy, self.best_epoch_ = accuracy, epoch
                    if self.early_stop:
                        best_state = copy.deepcopy(module.state_dict())
                elif accuracy < best_accuracy - self.overfit_drop:
                    self.catastrophic_overfitting_ = True
                    warnings.warn(
                        f"catastrophic overfitting at epoch {epoch}: PGD accuracy on the monitoring batch fell "
                        f"from {best_accuracy:.2f} (epoch {self.best_epoch_}) to {accuracy:.2f}"
                        + ("; restoring the best epoch and stopping" if self.early_stop else ""),
                        CatastrophicOverfittingWarning,
                        stacklevel=2,
                    )
                    if self.early_stop:
                        module.load_state_dict(best_state)
                        break
        module.eval()
        self.seconds_ = time.perf_counter() - started
        self.model_ = TorchModel(module, input_shape=dataset.input_shape, n_classes=dataset.n_classes, clip=self.clip)
        return self

    def _scheduler(self, optimizer: torch.optim.Optimizer, total_steps: int) -> torch.optim.lr_scheduler.LambdaLR:
        """Per-minibatch learning-rate factor: 1, or the triangle 0 -> 1 -> 0 (``"cyclic"``)."""
        if self.lr_schedule == "constant":
            return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: cyclic_factor(step, total_steps))

    def _epoch(self, module, optimizer, scheduler, inputs, labels, generator) -> dict[str, float]:
        """One pass over the training data; returns the epoch's mean losses."""
        order = torch.randperm(len(inputs), generator=generator).to(inputs.device)
        totals = np.zeros(3)
        for start in range(0, len(inputs), self.batch_size):
            index = order[start : start + self.batch_size]
            x, y = inputs[index], labels[index]
            module.eval()
            if self.method == "trades":
                with torch.no_grad():
                    clean_probabilities = torch.softmax(module(x), dim=1)

                def objective(x_adv, p=clean_probabilities):
                    return _kl(p, module(x_adv))

            else:
                with torch.no_grad():
                    clean_loss = functional.cross_entropy(module(x), y)

                def objective(x_adv, y=y):
                    return functional.cross_entropy(module(x_adv), y, reduction="none")

            # The last iterate of the ascent on the training objective, as the papers train on.
            x_adv = ascent(
                objective,
                x,
                eps=self.eps,
                alpha=self.alpha,
                steps=self.steps,
                norm=self.norm,
                clip=self.clip,
                generator=generator,
            )
            x_adv = constrain(x, x_adv, self.norm, self.eps, self.clip)
            module.train()
            adversarial_logits = module(x_adv)
            adversarial_loss = functional.cross_entropy(adversarial_logits, y)
            if self.method == "trades":
                clean_logits = module(x)
                clean_loss = functional.cross_entropy(clean_logits, y)
                loss = clean_loss + self.beta * _kl(torch.softmax(clean_logits, dim=1), adversarial_logits).mean()
            else:
                loss = adversarial_loss
            check_loss(loss.item(), lr=self.lr, who=f"adversarial training ({self.method})")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            totals += len(x) * np.array([clean_loss.item(), adversarial_loss.item(), loss.item()])
        module.eval()
        clean, adversarial, objective_value = totals / len(inputs)
        return {"clean_loss": float(clean), "adversarial_loss": float(adversarial), "objective": float(objective_value)}

    def _monitor(self, model, monitor, x, y, generator) -> float:
        """PGD accuracy on the fixed monitoring minibatch (``nan`` when monitoring is off)."""
        if len(x) == 0:
            return math.nan
        x_adv = monitor.perturb(model, x, y, generator)
        with torch.no_grad():
            return float((model.logits_tensor(x_adv).argmax(dim=1) == y).float().mean())


def cyclic_factor(step: int, total_steps: int, *, peak: float = 0.4) -> float:
    """The cyclic learning-rate factor of minibatch ``step`` (0-based) out of ``total_steps``.

    Linear from 0 to 1 over the first ``peak`` of training, then linear back to 0, taken at
    the end of the step as in Wong et al.'s code (so the first step's rate is not zero).
    """
    position = (step + 1) / total_steps
    return position / peak if position <= peak else max(0.0, (1 - position) / (1 - peak))


def _kl(reference: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """Per-sample ``KL(reference || softmax(logits))``, ``(n,)``, reference a distribution."""
    log_reference = torch.log(reference.clamp_min(1e-12))
    return (reference * (log_reference - torch.log_softmax(logits, dim=1))).sum(dim=1)
