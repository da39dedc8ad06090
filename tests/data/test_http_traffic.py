from __future__ import annotations

import numpy as np
import pytest

from bastion.data import http_traffic
from bastion.exceptions import InputTypeError, ValidationError


def test_attack_share_and_families_are_as_asked():
    stream = http_traffic(2000, attack_rate=0.02, attack_kinds=("sqli", "xss"), seed=3)
    assert stream.is_attack.sum() == 40
    assert set(stream.kind[stream.is_attack]) <= {"sqli", "xss"}
    assert np.array_equal(stream.is_attack, stream.kind != "normal")


def test_requests_are_in_time_order_from_start():
    stream = http_traffic(500, start="2026-03-01T12:00:00+00:00", seed=0)
    assert np.all(np.diff(stream.timestamps) >= 0)
    assert stream.timestamps[0] >= 1772366400.0
    assert stream.lines[0].split("[")[1].startswith("01/Mar/2026:12:")


def test_attacks_come_in_campaigns():
    stream = http_traffic(5000, attack_rate=0.02, campaign_size=20, seed=0)
    times = stream.timestamps[stream.is_attack]
    # 100 attacks in about 5 bursts: most attacks follow another within a minute.
    assert np.mean(np.diff(times) < 60) > 0.8


def test_same_seed_same_stream_and_other_seed_no_byte_copies():
    a, b = http_traffic(1000, attack_rate=0.05, seed=0), http_traffic(1000, attack_rate=0.05, seed=0)
    c = http_traffic(1000, attack_rate=0.05, seed=1)
    assert list(a.lines) == list(b.lines)
    assert not set(a.payloads[a.is_attack]) & set(c.payloads[c.is_attack])


def test_attack_payloads_are_varied():
    stream = http_traffic(4000, attack_rate=0.05, seed=0)
    attacks = stream.payloads[stream.is_attack]
    assert len(set(attacks)) == len(attacks)


def test_payload_is_request_line_and_logged_headers():
    stream = http_traffic(50, attack_rate=0.0, seed=0)
    payload = stream.payloads[0].decode()
    assert payload.split("\r\n")[0].endswith(" HTTP/1.1")
    assert "User-Agent: " in payload


def test_attack_rate_of_one_is_refused():
    with pytest.raises(ValidationError, match="attack_rate"):
        http_traffic(100, attack_rate=1.0)


def test_unknown_family_is_refused():
    with pytest.raises(ValidationError, match="attack_kinds"):
        http_traffic(100, attack_kinds=("sqli", "ddos"))


def test_family_as_a_bare_string_is_refused():
    with pytest.raises(InputTypeError, match="attack_kinds"):
        http_traffic(100, attack_kinds="sqli")


def test_malformed_start_is_refused():
    with pytest.raises(ValidationError, match="start"):
        http_traffic(100, start="yesterday")
