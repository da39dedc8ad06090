"""The gateway's Prometheus metrics (``GET /metrics``), on a registry of its own.

Counters and the latency histogram are per server process; the quota left per key and the
alert totals are read from the store at scrape time, so they are exact whichever worker
answers the scrape.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class _StoreCollector:
    def __init__(self, store: Any) -> None:
        self.store = store

    def collect(self):
        quota = GaugeMetricFamily("bastion_quota_remaining_inputs", "Inputs left in each key's quota", labels=["key"])
        alerts = CounterMetricFamily("bastion_extraction_alerts", "Extraction alerts raised per key", labels=["key"])
        try:
            for record in self.store.list_keys():
                if record.remaining is not None and record.revoked_at is None:
                    quota.add_metric([record.name], record.remaining)
            counts: dict[str, int] = {}
            for key_name, *_ in self.store.alerts():
                counts[key_name] = counts.get(key_name, 0) + 1
            for key_name, count in sorted(counts.items()):
                alerts.add_metric([key_name], count)
        except Exception:  # an unreadable store must not break the scrape of the other metrics
            return
        yield quota
        yield alerts


class GatewayMetrics:
    """Requests, latency, rejections by reason, alerts and quotas of one gateway."""

    def __init__(self, store: Any) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "bastion_requests",
            "Requests answered, by endpoint and status",
            ["endpoint", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "bastion_request_latency_seconds",
            "Time to answer a prediction request",
            buckets=LATENCY_BUCKETS_S,
            registry=self.registry,
        )
        self.rejections = Counter(
            "bastion_rejections", "Requests refused, by reason", ["reason"], registry=self.registry
        )
        self.in_flight = Gauge(
            "bastion_predictions_in_flight", "Prediction requests being answered now", registry=self.registry
        )
        self.inputs = Counter("bastion_inputs_answered", "Inputs answered, by key", ["key"], registry=self.registry)
        self.registry.register(_StoreCollector(store))

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry)
