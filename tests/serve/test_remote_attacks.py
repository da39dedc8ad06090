"""Black-box attacks through RemoteModel against a live gateway: audited, stopped, detected."""

from __future__ import annotations

import time
import uuid

import numpy as np
import pytest

from bastion.attacks.evasion import HopSkipJump, SquareAttack
from bastion.attacks.extraction import JacobianAugmentation, KnockoffNets
from bastion.exceptions import AccessDeniedError, BudgetExceededError, CapabilityError
from bastion.models import RemoteModel
from bastion.serve.app import ServeSettings
from bastion.serve.sqlite import SQLiteStore

from .conftest import thread_server


def _key(gateway, **kwargs) -> tuple[str, str]:
    name = f"r-{uuid.uuid4().hex[:8]}"
    return name, gateway.store.create_key(name, **kwargs)


def _jacobian(digits, seed: int = 0) -> JacobianAugmentation:
    seeds = digits.x_test[np.random.default_rng(seed).choice(len(digits.x_test), 20, replace=False)]
    return JacobianAugmentation(seeds, rounds=4, epochs=3)


def test_remote_model_takes_its_shape_classes_and_capabilities_from_the_server(gateway):
    with RemoteModel(gateway.url, gateway.keys["label"]) as remote:
        assert (remote.input_shape, remote.n_classes, remote.clip) == ((1, 8, 8), 10, (0.0, 1.0))
        assert remote.capabilities == frozenset({"labels"}) and remote.policy == "label"
        assert gateway.keys["label"] not in repr(remote)


def test_knockoff_through_remote_model_is_counted_in_the_audit_log_and_steals_as_in_process(
    gateway, digits, digits_mlp
):
    name, token = _key(gateway, quota=1000)
    with RemoteModel(gateway.url, token, batch_size=64) as remote:
        result = KnockoffNets(digits.x_train, epochs=5).extract(remote, budget=200, x_eval=digits.x_test[:50])
        assert result.queries_used == remote.queries == 200
    # The attack's 200 queries plus the fidelity check's scores and labels of 50 inputs.
    assert sum(row.n_inputs for row in gateway.store.audit(name)) == 200 + 2 * 50
    local = KnockoffNets(digits.x_train, epochs=5).extract(digits_mlp, budget=200, x_eval=digits.x_test[:50])
    assert result.fidelity == local.fidelity  # same seed, same answers: the same stolen model


def test_the_quota_stops_a_knockoff_thief(gateway, digits):
    name, token = _key(gateway, quota=150)
    with RemoteModel(gateway.url, token, batch_size=64) as remote, pytest.raises(BudgetExceededError, match="quota"):
        KnockoffNets(digits.x_train, epochs=2).extract(remote, budget=400, x_eval=digits.x_test[:20])
    spent = sum(row.n_inputs for row in gateway.store.audit(name))
    assert 150 - 64 < spent <= 150


def test_label_only_policy_makes_score_based_attacks_fail_clearly(gateway, digits):
    name, token = _key(gateway, policy="label")
    with RemoteModel(gateway.url, token) as remote:
        with pytest.raises(CapabilityError, match="'scores'"):
            KnockoffNets(digits.x_train).extract(remote, budget=100)
        with pytest.raises(CapabilityError, match="'scores'"):
            SquareAttack(0.1, max_queries=20).generate(remote, digits.x_test[:2], digits.y_test[:2])
    assert gateway.store.audit(name) == []


def test_decision_based_attacks_run_through_a_label_only_key(gateway, digits):
    _, token = _key(gateway, policy="label")
    with RemoteModel(gateway.url, token) as remote:
        x = digits.x_test[:2]
        x_adv = HopSkipJump(max_queries=60, max_iterations=2, n_initial_evals=10, init_trials=20).generate(
            remote, x, digits.y_test[:2]
        )
        assert x_adv.shape == x.shape and 0 < remote.queries <= 2 * 61


def test_square_attack_runs_unchanged_through_remote_model(gateway, digits, digits_mlp):
    name, token = _key(gateway)
    with RemoteModel(gateway.url, token) as remote:
        x, y = digits.x_test[:4], digits.y_test[:4]
        x_adv = SquareAttack(0.3, max_queries=40).generate(remote, x, y)
        assert np.abs(x_adv - x).max() <= 0.3 + 1e-6
        assert sum(row.n_inputs for row in gateway.store.audit(name)) == remote.queries > 0


def test_remote_model_waits_as_long_as_retry_after_says(gateway, digits, digits_mlp):
    _, token = _key(gateway, rate="2/s")
    with RemoteModel(gateway.url, token, batch_size=2) as remote:
        started = time.monotonic()
        labels = remote.predict(digits.x_test[:4])
        assert time.monotonic() - started >= 0.9
    np.testing.assert_array_equal(labels, digits_mlp.predict(digits.x_test[:4]))


def test_a_wrong_key_is_access_denied_without_echoing_it(gateway):
    wrong = "bst_0123456789ab_" + "x" * 43
    with pytest.raises(AccessDeniedError) as caught:
        RemoteModel(gateway.url, wrong)
    assert wrong not in str(caught.value)


def test_prada_flags_a_jacobian_augmentation_attacker_within_a_few_hundred_queries(gateway, digits):
    name, token = _key(gateway, policy="label")
    with RemoteModel(gateway.url, token) as remote:
        _jacobian(digits).extract(remote, budget=320, x_eval=digits.x_test[:20])
    alerts = [alert for alert in gateway.store.alerts() if alert[0] == name]
    assert len(alerts) == 1 and alerts[0][3] == "log"
    queries_at_alert = int(alerts[0][2].split(" after ")[1].split()[0])
    assert queries_at_alert <= 300
    assert any("prada" in row.alerts for row in gateway.store.audit(name))


def test_prada_raises_no_alert_for_a_benign_client_sending_test_images(gateway, digits):
    name, token = _key(gateway)
    x = digits.x_test[np.random.default_rng(3).permutation(len(digits.x_test))][:400]
    with RemoteModel(gateway.url, token, batch_size=20) as remote:
        remote.predict(x)
    assert [alert for alert in gateway.store.alerts() if alert[0] == name] == []
    assert all(row.alerts == "" for row in gateway.store.audit(name))


def test_on_alert_block_revokes_the_attackers_key(model_folder, tmp_path, digits):
    db = tmp_path / "serve.db"
    store = SQLiteStore(db)
    token = store.create_key("thief", policy="label")
    settings = ServeSettings(model=str(model_folder), db=str(db), gateway={"on_alert": "block"})
    with thread_server(settings) as url, RemoteModel(url, token) as remote:
        with pytest.raises(AccessDeniedError, match="blocked"):
            _jacobian(digits).extract(remote, budget=320)
        with pytest.raises(AccessDeniedError):
            remote.predict(digits.x_test[:1])
    (record,) = store.list_keys()
    assert record.revoked_reason.startswith("blocked: PRADA") and record.used < 320
