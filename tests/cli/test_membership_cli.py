"""``bastion attack membership``."""

from __future__ import annotations

import json

import pytest
from sklearn.svm import SVC
from typer.testing import CliRunner

from bastion.cli import app
from bastion.models import SklearnModel, TorchModel, fit, io, zoo

runner = CliRunner()


@pytest.fixture(scope="module")
def saved_mlp(digits, tmp_path_factory):
    module = fit(
        zoo.mlp(digits.input_shape, digits.n_classes, hidden=(32,), seed=0),
        digits.x_train,
        digits.y_train,
        epochs=5,
        seed=0,
        progress=False,
    )
    model = TorchModel(module, input_shape=digits.input_shape, n_classes=digits.n_classes)
    return io.save(model, tmp_path_factory.mktemp("membership") / "mlp")


def test_loss_attack_prints_the_metrics_table(saved_mlp):
    result = runner.invoke(app, ["attack", "membership", "--model", str(saved_mlp), "--data", "digits"])
    assert result.exit_code == 0, result.output
    for field in ("ROC AUC", "TPR at 0.1% FPR", "TPR at 1% FPR", "balanced accuracy", "1347 (digits training split)"):
        assert field in result.output


def test_lira_writes_json_and_a_roc_plot(saved_mlp, tmp_path):
    plot, record = tmp_path / "roc.png", tmp_path / "leak.json"
    arguments = ["attack", "membership", "--model", str(saved_mlp), "--method", "lira", "--n-shadow", "2"]
    arguments += ["--epochs", "2", "--no-progress", "--plot", str(plot), "--json", str(record)]
    result = runner.invoke(app, arguments)
    assert result.exit_code == 0, result.output
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    written = json.loads(record.read_text())
    # Half of the 450 test records went to the attacker's pool.
    assert (written["method"], written["n_members"], written["n_nonmembers"]) == ("lira", 1347, 225)
    assert 0 <= written["auc"] <= 1


def test_label_only_model_fails_with_one_line_naming_scores(breast_cancer, tmp_path):
    model = SklearnModel(SVC().fit(breast_cancer.x_train, breast_cancer.y_train))
    folder = io.save(model, tmp_path / "svc")
    result = runner.invoke(app, ["attack", "membership", "--model", str(folder), "--data", "breast_cancer"])
    assert result.exit_code == 2
    assert "'scores'" in result.output


def test_unknown_method_is_refused(saved_mlp):
    result = runner.invoke(app, ["attack", "membership", "--model", str(saved_mlp), "--method", "oracle"])
    assert result.exit_code == 2
    assert "`--method` must be one of 'loss', 'confidence', 'shadow', 'lira'" in result.output


def test_low_fpr_figures_warn_when_few_false_positives_are_allowed(saved_mlp):
    result = runner.invoke(app, ["attack", "membership", "--model", str(saved_mlp), "--data", "digits"])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "TPR at 0.1% FPR rests on 450 non-members, 0.5 false positives allowed" in text
    assert "non-members):" in text
