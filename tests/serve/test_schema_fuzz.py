"""Fuzz the gateway's OpenAPI schema with schemathesis (bounded examples): never a 5xx."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, settings

schema = schemathesis.pytest.from_fixture("gateway_schema")


@schemathesis.serializer("application/x-npy")
def _raw_bytes(ctx, value):
    # The schema declares the body as binary: send whatever bytes were generated, unparsed.
    return value if isinstance(value, bytes) else str(value).encode()


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_input_makes_the_gateway_answer_5xx(case, gateway):
    for headers in ({}, gateway.headers("fuzz")):
        response = case.call(headers=headers, timeout=30)
        assert response.status_code < 500, (response.status_code, response.text[:300])
        if response.status_code >= 400:
            assert response.json()["error"]
