"""Rates: parsing and the token bucket."""

from __future__ import annotations

import pytest

from bastion.exceptions import ValidationError
from bastion.serve.ratelimit import Rate, parse_rate, refill, wait_s


def test_rates_parse_amount_and_period():
    assert parse_rate("20/s") == Rate(20.0, 1.0)
    assert parse_rate("1000/min").per_second == pytest.approx(1000 / 60)
    assert str(parse_rate("5000/h")) == "5000/h"


@pytest.mark.parametrize("text", ["20", "0/s", "-1/s", "20/week", "fast"])
def test_malformed_rates_are_refused(text):
    with pytest.raises(ValidationError, match="`rate`"):
        parse_rate(text)


def test_the_bucket_refills_at_the_rate_up_to_its_burst():
    rate = parse_rate("10/s")
    assert refill(0.0, 100.0, 100.5, rate) == pytest.approx(5.0)
    assert refill(0.0, 100.0, 200.0, rate) == 10.0
    assert wait_s(2.0, 7, rate) == 1 and wait_s(0.0, 10, parse_rate("1/s")) == 10
