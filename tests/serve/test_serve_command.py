"""`bastion serve` starts with one command on a model saved by `bastion train`."""

from __future__ import annotations

import httpx
import pytest
from typer.testing import CliRunner

from bastion.cli import app

from .conftest import start_server


@pytest.fixture()
def trained_folder(tmp_path):
    """An MLP trained on digits for 2 epochs by `bastion train`."""
    folder = tmp_path / "model"
    arguments = ["train", "--data", "digits", "--arch", "mlp", "--epochs", "2", "--no-progress", "--out", str(folder)]
    result = CliRunner().invoke(app, arguments)
    assert result.exit_code == 0, result.output
    return folder


def test_serve_answers_for_a_model_saved_by_bastion_train(tmp_path, trained_folder, digits):
    db = tmp_path / "serve.db"
    created = CliRunner().invoke(app, ["keys", "create", "--name", "alice", "--db", str(db)])
    token = created.output.strip().splitlines()[-1]
    server = start_server(trained_folder, db, tmp_path / "server.log")
    try:
        response = httpx.post(
            f"{server.url}/v1/predict",
            json={"inputs": digits.x_test[:2].tolist()},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status_code == 200 and len(response.json()["labels"]) == 2
    finally:
        server.stop()
    assert server.stopped_gracefully()
