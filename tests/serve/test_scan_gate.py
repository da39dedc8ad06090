"""The gateway scans the model before loading it and refuses to start on a finding at or above high."""

from __future__ import annotations

import pickle
import shutil

import pytest
from tests.cli.conftest import invoke
from tests.scan.corpus import _System

from bastion.exceptions import UnsafeFileError
from bastion.serve.app import ServeSettings, build_app


@pytest.fixture()
def tampered_folder(model_folder, tmp_path):
    """The session's model folder plus a pickle that would run ``touch MARKER`` if loaded."""
    folder = tmp_path / "model"
    shutil.copytree(model_folder, folder)
    (folder / "extra.pkl").write_bytes(pickle.dumps(_System(tmp_path / "MARKER"), protocol=2))
    return folder


def test_build_app_refuses_a_model_folder_with_a_critical_finding(tampered_folder, tmp_path):
    with pytest.raises(UnsafeFileError, match="bastion scan refuses"):
        build_app(ServeSettings(model=str(tampered_folder), db=str(tmp_path / "serve.db")))
    assert not (tmp_path / "MARKER").exists()
    assert not (tmp_path / "serve.db").exists()


def test_bastion_serve_exits_2_before_listening_on_a_tampered_model(tampered_folder, tmp_path):
    result = invoke("serve", tampered_folder, "--db", tmp_path / "serve.db")
    assert result.exit_code == 2
    assert "critical" in result.output and "extra.pkl" in result.output
