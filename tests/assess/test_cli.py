"""`bastion assess --model PATH --data NAME --config FILE`: the user's own model, a config file, clear errors."""

from __future__ import annotations

import json

from bastion.models import io

from .conftest import invoke

SMALL_TOML = """
samples = 20
[evasion]
eps = [0.1]
headline_eps = 0.1
attacks = ["fgsm", "pgd"]
defenses = []
steps = 5
examples = 2
[duplication]
enabled = false
[poisoning]
enabled = false
[gateway]
enabled = false
"""


def test_a_saved_model_is_assessed_with_a_config_file(tmp_path):
    model = tmp_path / "model"
    trained = invoke("train", "--data", "digits", "--arch", "mlp", "--epochs", "3", "--no-progress", "--out", model)
    assert trained.exit_code == 0, trained.output
    config = tmp_path / "assess.toml"
    config.write_text(SMALL_TOML)
    out = tmp_path / "report"
    args = ["--model", model, "--data", "digits", "--config", config, "--no-cache", "--backend", "serial"]
    result = invoke("assess", *args, "--out", out, "--no-progress")
    assert result.exit_code == 0, result.output
    results = json.loads((out / "results.json").read_text())
    assert results["model"]["source"] == str(model)
    assert results["model"]["sha256"] == io.read_spec(model)["sha256"]
    assert [c["id"] for c in results["cells"]] == ["evasion/examples", "evasion/undefended", "model_file/scan"]
    assert "verdict: Changing each input feature by at most 0.1 fools the model" in result.output


def test_a_bad_config_key_is_one_line_and_exit_code_2(tmp_path):
    config = tmp_path / "assess.toml"
    config.write_text("[evasion]\natacks = ['pgd']\n")
    result = invoke("assess", "--config", config, "--out", tmp_path / "out")
    assert result.exit_code == 2
    assert "error: unknown key `evasion.atacks`" in result.output and "allowed keys in [evasion]" in result.output


def test_an_address_without_the_ray_backend_is_refused(tmp_path):
    result = invoke("assess", "--address", "auto", "--out", tmp_path / "out")
    assert result.exit_code == 2
    assert "`--address` joins a Ray cluster, so it needs `--backend ray`" in result.output


def test_data_without_a_model_is_refused(tmp_path):
    result = invoke("assess", "--data", "breast_cancer", "--out", tmp_path / "out")
    assert result.exit_code == 2
    assert "`--data` needs `--model`" in result.output


def test_clip_without_a_model_is_refused_rather_than_ignored(tmp_path):
    result = invoke("assess", "--clip", "0,255", "--out", tmp_path / "out")
    assert result.exit_code == 2
    assert "`--clip` rescales your own `--data`" in result.output
