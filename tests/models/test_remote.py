"""RemoteModel checks what a server says about its model: a real tiny HTTP server answers garbage."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bastion.exceptions import BastionError, RemoteError
from bastion.models import RemoteModel

GOOD = {
    "input_shape": [1, 8, 8],
    "n_classes": 10,
    "classes": list(range(10)),
    "clip": [0.0, 1.0],
    "dtype": "float32",
    "policy": "probs",
    "capabilities": ["labels", "scores"],
    "remaining_quota": 100,
    "rate": None,
    "max_batch": 64,
    "max_body_bytes": 8388608,
}


@pytest.fixture()
def garbage_server():
    """A loopback HTTP server whose ``GET /v1/model`` answers the body set in ``answer["body"]``."""
    answer = {"body": json.dumps(GOOD).encode()}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer["body"])))
            self.end_headers()
            self.wfile.write(answer["body"])

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", answer
    server.shutdown()
    server.server_close()


def test_a_well_formed_description_gives_a_model(garbage_server):
    url, _ = garbage_server
    with RemoteModel(url, "bst_000000000000_secret", retries=0) as model:
        assert model.input_shape == (1, 8, 8) and model.n_classes == 10 and model.clip == (0.0, 1.0)
        assert model.batch_size == 64 and model.remaining_quota == 100


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("input_shape", [1, -8, 8]),
        ("input_shape", "1x8x8"),
        ("input_shape", []),
        ("n_classes", 1),
        ("n_classes", "10"),
        ("n_classes", True),
        ("clip", [1.0, 0.0]),
        ("clip", [0.0]),
        ("clip", [0.0, "inf"]),
        ("policy", 3),
        ("capabilities", ["gradients"]),
        ("capabilities", "labels"),
        ("remaining_quota", -5),
        ("max_batch", 0),
    ],
)
def test_a_garbage_field_is_a_remote_error_naming_it(garbage_server, field, value):
    url, answer = garbage_server
    answer["body"] = json.dumps({**GOOD, field: value}).encode()
    with pytest.raises(RemoteError, match=f"invalid `{field}`"):
        RemoteModel(url, "bst_000000000000_secret", retries=0)


def test_a_missing_field_is_named(garbage_server):
    url, answer = garbage_server
    answer["body"] = json.dumps({k: v for k, v in GOOD.items() if k != "n_classes"}).encode()
    with pytest.raises(RemoteError, match="without `n_classes`"):
        RemoteModel(url, "bst_000000000000_secret", retries=0)


@pytest.mark.parametrize("body", [b"<html>not json</html>", b"[1, 2, 3]", b'"a string"'])
def test_a_body_that_is_not_a_json_object_is_a_remote_error(garbage_server, body):
    url, answer = garbage_server
    answer["body"] = body
    with pytest.raises(BastionError, match="/v1/model"):
        RemoteModel(url, "bst_000000000000_secret", retries=0)
