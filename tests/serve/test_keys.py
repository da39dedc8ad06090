"""API keys: 256-bit random tokens, stored as salted HMACs only, never in logs or errors."""

from __future__ import annotations

import logging
import sqlite3

import httpx

from bastion.serve import keys
from bastion.serve.sqlite import SQLiteStore


def test_keys_are_random_256_bit_tokens_with_a_public_id():
    key_id, token = keys.generate_key()
    other_id, other = keys.generate_key()
    assert token != other and key_id != other_id
    parsed_id, secret = keys.split_key(token)
    assert parsed_id == key_id and len(secret) >= 43  # 32 bytes in URL-safe base64


def test_malformed_tokens_do_not_parse():
    for token in ("", "bst_", "bst_XYZ", "abc_0123456789ab_secret", "bst_0123456789abXsecret"):
        assert keys.split_key(token) is None


def test_the_store_keeps_only_a_salted_hmac(tmp_path):
    db = tmp_path / "serve.db"
    token = SQLiteStore(db).create_key("alice")
    secret = keys.split_key(token)[1]
    with open(db, "rb") as handle:
        raw = handle.read()
    assert token.encode() not in raw and secret.encode() not in raw
    salt, digest = sqlite3.connect(db).execute("SELECT salt, digest FROM keys").fetchone()
    assert keys.matches(secret, salt, digest) and not keys.matches(secret + "x", salt, digest)


def test_the_same_secret_gets_different_digests_under_different_salts():
    assert keys.digest("s", keys.new_salt()) != keys.digest("s", keys.new_salt())


def test_redact_masks_keys_but_keeps_their_public_id():
    _, token = keys.generate_key()
    masked = keys.redact(f"GET /v1/model?api_key={token} failed")
    assert token not in masked and token[:16] in masked and "<redacted>" in masked


def test_keys_never_reach_the_gateway_log(gateway, digits):
    records: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record):
            records.append(self.format(record))

    handler = Collect()
    loggers = [logging.getLogger(name) for name in ("bastion.serve", "uvicorn.error", "uvicorn.access")]
    gateway_log = logging.getLogger("bastion.serve")
    level = gateway_log.level
    gateway_log.setLevel(logging.INFO)  # what bastion serve's log_to_stderr sets
    for logger in loggers:
        logger.addHandler(handler)
    try:
        token = gateway.keys["full"]
        forged = token[:-3] + "zzz"
        httpx.get(f"{gateway.url}/v1/model?api_key={token}")
        httpx.get(f"{gateway.url}/v1/model", headers={"Authorization": f"Bearer {forged}"})
        httpx.post(f"{gateway.url}/v1/predict", json={"inputs": token}, headers=gateway.headers("full"))
        response = httpx.post(f"{gateway.url}/v1/predict", json={token: 1}, headers=gateway.headers("full"))
    finally:
        gateway_log.setLevel(level)
        for logger in loggers:
            logger.removeHandler(handler)
    assert records  # the requests were logged ...
    assert not any(token in line or forged in line for line in records)  # ... without the keys
    assert token not in response.text
