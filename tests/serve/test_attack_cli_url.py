"""`bastion attack ... --url --api-key-env`: the CLI attacks a live gateway through RemoteModel."""

from __future__ import annotations

import json
import uuid

from typer.testing import CliRunner

from bastion.cli import app


def _run(*args, env=None):
    return CliRunner().invoke(app, [str(a) for a in args], env=env)


def test_attack_extract_steals_through_a_live_gateway(gateway, tmp_path):
    name = f"cli-{uuid.uuid4().hex[:6]}"
    token = gateway.store.create_key(name, quota=2000)
    result = _run(
        "attack", "extract", "--url", gateway.url, "--api-key-env", "THE_KEY", "--method", "knockoff",
        "--budget", "150", "--epochs", "2", "--no-shifts", "--json", tmp_path / "r.json",
        env={"THE_KEY": token},
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "r.json").read_text())["queries_used"] == 150
    assert token not in result.output
    assert sum(row.n_inputs for row in gateway.store.audit(name)) >= 150


def test_attack_evasion_with_square_through_a_live_gateway(gateway):
    token = gateway.store.create_key(f"cli-{uuid.uuid4().hex[:6]}")
    result = _run(
        "attack", "evasion", "--url", gateway.url, "--attack", "square", "--eps", "0.2", "--max-queries", "20",
        "--n-samples", "3", env={"BASTION_API_KEY": token},
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "robust accuracy" in result.output


def test_gradient_attacks_refuse_a_gateway_naming_the_capability(gateway):
    result = _run(
        "attack", "evasion", "--url", gateway.url, "--attack", "pgd", "--eps", "0.1", "--n-samples", "2",
        env={"BASTION_API_KEY": gateway.keys["full"]},
    )  # fmt: skip
    assert result.exit_code == 2 and "'gradients'" in result.output


def test_url_without_the_key_variable_says_which_variable(gateway):
    result = _run("attack", "evasion", "--url", gateway.url, "--attack", "square", "--eps", "0.1", env={"NOPE": ""})
    assert result.exit_code == 2 and "BASTION_API_KEY" in result.output


def test_model_and_url_together_are_refused(gateway, model_folder):
    result = _run(
        "attack", "evasion", "--model", model_folder, "--url", gateway.url, "--attack", "square", "--eps", "0.1"
    )
    assert result.exit_code == 2 and "exactly one target" in result.output
