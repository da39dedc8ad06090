"""The gateway over HTTP: authentication, limits, error bodies, endpoints (a real uvicorn)."""

from __future__ import annotations

import io
import uuid

import httpx
import numpy as np
import pytest


def _npy(array) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    return buffer.getvalue()


def _predict(gateway, key, inputs, **kwargs):
    headers = {} if key is None else gateway.headers(key)
    return httpx.post(f"{gateway.url}/v1/predict", json={"inputs": inputs}, headers=headers, timeout=30, **kwargs)


def _new_key(gateway, **kwargs) -> tuple[str, dict[str, str]]:
    name = f"k-{uuid.uuid4().hex[:8]}"
    token = gateway.store.create_key(name, **kwargs)
    return name, {"Authorization": f"Bearer {token}"}


def test_predict_answers_labels_and_scores_matching_the_model(gateway, digits, digits_mlp):
    x = digits.x_test[:4]
    response = _predict(gateway, "full", x.tolist())
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["labels"] == digits_mlp.predict(x).tolist()
    np.testing.assert_allclose(body["scores"], digits_mlp.predict_proba(x), atol=1e-6)
    assert body["policy"] == "probs" and isinstance(body["audit_id"], int)


def test_predict_accepts_npy_bodies(gateway, digits, digits_mlp):
    x = digits.x_test[:3]
    response = httpx.post(
        f"{gateway.url}/v1/predict",
        content=_npy(x),
        headers={**gateway.headers("full"), "Content-Type": "application/x-npy"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["labels"] == digits_mlp.predict(x).tolist()


def test_npy_with_objects_is_refused_without_unpickling(gateway):
    body = _npy(np.array([{"evil": 1}], dtype=object))
    response = httpx.post(
        f"{gateway.url}/v1/predict",
        content=body,
        headers={**gateway.headers("full"), "Content-Type": "application/x-npy"},
    )
    assert response.status_code == 422
    assert response.json()["error"] == "invalid_npy"


def test_rounded_policy_rounds_the_scores(gateway, digits):
    scores = np.asarray(_predict(gateway, "rounded", digits.x_test[:3].tolist()).json()["scores"])
    np.testing.assert_allclose(scores, np.round(scores, 2))


def test_label_policy_answers_labels_only(gateway, digits):
    body = _predict(gateway, "label", digits.x_test[:3].tolist()).json()
    assert "scores" not in body and len(body["labels"]) == 3


def test_missing_key_is_401_with_a_json_body(gateway, digits):
    response = _predict(gateway, None, digits.x_test[:1].tolist())
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["error"] == "unauthorized"


@pytest.mark.parametrize("header", ["Bearer bst_0123456789ab_wrongwrongwrongwrong", "Bearer nonsense", "Basic abc"])
def test_wrong_key_is_401(gateway, digits, header):
    response = httpx.post(
        f"{gateway.url}/v1/predict", json={"inputs": digits.x_test[:1].tolist()}, headers={"Authorization": header}
    )
    assert response.status_code == 401


def test_right_id_with_a_wrong_secret_is_401(gateway, digits):
    token = gateway.keys["full"]
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    response = httpx.post(
        f"{gateway.url}/v1/predict",
        json={"inputs": digits.x_test[:1].tolist()},
        headers={"Authorization": f"Bearer {forged}"},
    )
    assert response.status_code == 401


def test_revoked_key_is_403(gateway, digits):
    name, headers = _new_key(gateway)
    assert httpx.get(f"{gateway.url}/v1/model", headers=headers).status_code == 200
    gateway.store.revoke_key(name)
    response = httpx.post(f"{gateway.url}/v1/predict", json={"inputs": digits.x_test[:1].tolist()}, headers=headers)
    assert response.status_code == 403 and response.json()["error"] == "revoked"


def test_over_quota_is_429_with_retry_after_and_never_overspent(gateway, digits):
    name, headers = _new_key(gateway, quota=5)
    url = f"{gateway.url}/v1/predict"
    assert httpx.post(url, json={"inputs": digits.x_test[:3].tolist()}, headers=headers).status_code == 200
    refused = httpx.post(url, json={"inputs": digits.x_test[:3].tolist()}, headers=headers)
    assert refused.status_code == 429 and "retry-after" in refused.headers
    assert refused.json()["error"] == "quota_exhausted"
    assert httpx.post(url, json={"inputs": digits.x_test[:2].tolist()}, headers=headers).status_code == 200
    assert sum(row.n_inputs for row in gateway.store.audit(name)) == 5


def test_over_rate_is_429_with_retry_after(gateway, digits):
    _, headers = _new_key(gateway, rate="4/min")
    url = f"{gateway.url}/v1/predict"
    assert httpx.post(url, json={"inputs": digits.x_test[:4].tolist()}, headers=headers).status_code == 200
    refused = httpx.post(url, json={"inputs": digits.x_test[:1].tolist()}, headers=headers)
    assert refused.status_code == 429 and refused.json()["error"] == "rate_limited"
    assert 1 <= int(refused.headers["retry-after"]) <= 15


def test_key_in_the_url_is_refused_and_not_echoed(gateway, digits):
    token = gateway.keys["full"]
    response = httpx.get(f"{gateway.url}/v1/model?api_key={token}")
    assert response.status_code == 400 and response.json()["error"] == "key_in_url"
    assert token not in response.text
    assert httpx.get(f"{gateway.url}/v1/model?q={token}").status_code == 400


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        ({"inputs": [[[[0.5] * 8] * 8]], "extra": 1}, 422, "unknown_field"),
        ({"data": []}, 422, "unknown_field"),
        ({}, 422, "missing_field"),
        ({"inputs": [[1, 2, 3]]}, 422, "invalid_inputs"),
        ({"inputs": [[[[2.0] * 8] * 8]]}, 422, "invalid_inputs"),
        ({"inputs": [[[["a"] * 8] * 8]]}, 422, "invalid_inputs"),
        ({"inputs": [[[[True] * 8] * 8]]}, 422, "invalid_inputs"),
        ({"inputs": [[1], [1, 2]]}, 422, "invalid_inputs"),
        ({"inputs": []}, 422, "invalid_inputs"),
        ({"inputs": "x"}, 422, "invalid_inputs"),
        ([1, 2], 422, "invalid_body"),
    ],
)
def test_bad_bodies_are_4xx_json_saying_what_is_wrong(gateway, body, status, error):
    response = httpx.post(f"{gateway.url}/v1/predict", json=body, headers=gateway.headers("full"))
    assert response.status_code == status, response.text
    assert response.json()["error"] == error and response.json()["detail"]


def test_nan_and_deep_nesting_are_422(gateway):
    headers = {**gateway.headers("full"), "Content-Type": "application/json"}
    url = f"{gateway.url}/v1/predict"
    nan = '{"inputs": [[[' + ",".join(["[" + ",".join(["NaN"] * 8) + "]"] * 8) + "]]]}"
    assert httpx.post(url, content=nan, headers=headers).status_code == 422
    deep = '{"inputs": ' + "[" * 100000 + "]" * 100000 + "}"
    assert httpx.post(url, content=deep, headers=headers).status_code == 422
    assert httpx.post(url, content=b"{not json", headers=headers).status_code == 422


def test_too_large_body_and_batch_are_413(gateway, digits):
    headers = {**gateway.headers("full"), "Content-Type": "application/x-npy"}
    url = f"{gateway.url}/v1/predict"
    assert httpx.post(url, content=b"\0" * (9 * 1024 * 1024), headers=headers).status_code == 413
    batch = np.repeat(digits.x_test[:1], 1025, axis=0)
    response = httpx.post(url, content=_npy(batch), headers=headers)
    assert response.status_code == 413 and response.json()["error"] == "batch_too_large"


def test_other_content_types_are_415(gateway):
    headers = {**gateway.headers("full"), "Content-Type": "text/plain"}
    assert httpx.post(f"{gateway.url}/v1/predict", content=b"1,2", headers=headers).status_code == 415


def test_model_metadata_describes_the_key(gateway):
    body = httpx.get(f"{gateway.url}/v1/model", headers=gateway.headers("label")).json()
    assert body["input_shape"] == [1, 8, 8] and body["n_classes"] == 10 and body["clip"] == [0.0, 1.0]
    assert body["policy"] == "label" and body["capabilities"] == ["labels"] and body["remaining_quota"] is None


def test_metrics_export_requests_latency_rejections_and_quotas(gateway, digits):
    _, headers = _new_key(gateway, quota=50)
    httpx.post(f"{gateway.url}/v1/predict", json={"inputs": digits.x_test[:2].tolist()}, headers=headers)
    httpx.get(f"{gateway.url}/v1/model")
    text = httpx.get(f"{gateway.url}/metrics").text
    for metric in (
        "bastion_requests_total",
        "bastion_request_latency_seconds_bucket",
        'bastion_rejections_total{reason="no_key"}',
        "bastion_quota_remaining_inputs",
    ):
        assert metric in text
    assert any(line.endswith(" 48.0") for line in text.splitlines() if line.startswith("bastion_quota_remaining"))


def test_openapi_documents_the_endpoints(gateway):
    schema = httpx.get(f"{gateway.url}/openapi.json").json()
    assert {"/v1/predict", "/v1/model", "/healthz", "/metrics"} <= set(schema["paths"])
    assert "application/x-npy" in schema["paths"]["/v1/predict"]["post"]["requestBody"]["content"]
    assert httpx.get(f"{gateway.url}/docs").status_code == 200


def test_unknown_paths_are_json_404(gateway):
    response = httpx.get(f"{gateway.url}/v2/whatever")
    assert response.status_code == 404 and response.json()["error"] == "not_found"
