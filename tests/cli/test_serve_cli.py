"""`bastion keys` and `bastion serve`: keys printed once, listed without secrets; serve refuses bad models."""

from __future__ import annotations

from bastion.serve.sqlite import SQLiteStore

from .conftest import invoke


def test_keys_create_prints_the_key_once_and_list_never_shows_it(tmp_path):
    db = tmp_path / "serve.db"
    created = invoke("keys", "create", "--name", "alice", "--quota", "100", "--rate", "20/s", "--policy", "round:2",
                     "--db", db)  # fmt: skip
    assert created.exit_code == 0, created.output
    token = created.output.strip().splitlines()[-1]
    assert token.startswith("bst_") and len(token) > 50
    listed = invoke("keys", "list", "--db", db, "--json", tmp_path / "keys.json")
    assert listed.exit_code == 0 and "alice" in listed.output and "round:2" in listed.output
    assert token not in listed.output and token not in (tmp_path / "keys.json").read_text()
    assert SQLiteStore(db).list_keys()[0].quota == 100


def test_keys_revoke_marks_the_key_revoked(tmp_path):
    db = tmp_path / "serve.db"
    invoke("keys", "create", "--name", "bob", "--db", db)
    assert invoke("keys", "revoke", "bob", "--db", db).exit_code == 0
    assert SQLiteStore(db).list_keys()[0].revoked_at is not None
    assert "revoked" in invoke("keys", "list", "--db", db).output


def test_keys_create_refuses_a_bad_policy_in_one_line(tmp_path):
    result = invoke("keys", "create", "--name", "carol", "--policy", "everything", "--db", tmp_path / "s.db")
    assert result.exit_code == 2 and "--policy must be one of" in result.output and "Traceback" not in result.output


def test_serve_refuses_a_pickle_before_listening(tmp_path):
    model = tmp_path / "model.pkl"
    model.write_bytes(b"\x80\x04K\x01.")
    result = invoke("serve", model, "--db", tmp_path / "s.db")
    assert result.exit_code == 2 and "refuses pickle files" in result.output


def test_serve_refuses_a_bad_alert_action(tmp_path, trained_folder):
    result = invoke("serve", trained_folder, "--on-alert", "explode", "--db", tmp_path / "s.db")
    assert result.exit_code == 2 and "`--on-alert` must be one of" in result.output


def test_serve_runs_bastion_scan_first_and_refuses_high_findings(tmp_path):
    model = tmp_path / "model.onnx"
    model.write_bytes(b"cos\nsystem\n(S'echo owned'\ntR.")  # a protocol-0 pickle that would run a command
    result = invoke("serve", model, "--db", tmp_path / "s.db")
    assert result.exit_code == 2 and "bastion scan refuses to load it" in result.output
    assert not (tmp_path / "s.db").exists()
