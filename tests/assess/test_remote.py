"""`bastion assess --url`: a live gateway assessed black-box through RemoteModel."""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest

from .conftest import invoke

uvicorn = pytest.importorskip("uvicorn", reason="the serve extra is not installed")

TINY_TOML = """
samples = 10
[evasion]
eps = [0.1]
headline_eps = 0.1
attacks = ["fgsm", "square"]
defenses = []
queries = 10
diagnostics = false
examples = 2
[duplication]
enabled = false
[poisoning]
enabled = false
"""


@pytest.fixture()
def live_gateway(digits_mlp, tmp_path):
    """A real uvicorn gateway (in a thread) serving the digits MLP; yields its URL and a key."""
    from bastion.models import io
    from bastion.serve.app import ServeSettings, build_app
    from bastion.serve.sqlite import SQLiteStore

    folder = io.save(digits_mlp, tmp_path / "model")
    key = SQLiteStore(tmp_path / "serve.db").create_key("assess", policy="probs")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app = build_app(ServeSettings(model=str(folder), db=str(tmp_path / "serve.db")))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.1)
    try:
        yield url, key
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def test_a_live_api_is_assessed_black_box(live_gateway, tmp_path, monkeypatch):
    url, key = live_gateway
    monkeypatch.setenv("ASSESS_KEY", key)
    config = tmp_path / "assess.toml"
    config.write_text(TINY_TOML)
    out = tmp_path / "report"
    args = ["--url", url, "--api-key-env", "ASSESS_KEY", "--data", "digits", "--config", config, "--no-cache"]
    result = invoke("assess", *args, "--out", out, "--no-progress")
    assert result.exit_code == 0, result.output
    results = json.loads((out / "results.json").read_text())
    undefended = next(c for c in results["cells"] if c["id"] == "evasion/undefended")
    assert results["model"]["source"] == url and "gradients" not in results["model"]["capabilities"]
    assert undefended["result"]["attacks"] == ["square"]
    assert undefended["result"]["attacks_skipped"] == {"fgsm": "needs gradients"}


def test_url_without_the_key_in_the_environment_is_refused(tmp_path, monkeypatch):
    monkeypatch.delenv("BASTION_API_KEY", raising=False)
    result = invoke("assess", "--url", "http://127.0.0.1:9", "--out", tmp_path / "out")
    assert result.exit_code == 2
    assert "needs the API key in the environment variable BASTION_API_KEY" in result.output
