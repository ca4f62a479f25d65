"""Prometheus metrics for HTTP traffic and rate limiting."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram


class Metrics:
    """The application's metrics, in a registry of its own (one per app)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "gatehouse_http_requests",
            "HTTP requests by method, route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "gatehouse_http_request_duration_seconds",
            "HTTP request latency by method and route template.",
            ["method", "route"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )
        self._children: dict[tuple[str, str, str], tuple[Any, Any]] = {}
        self.rate_limited = Counter(
            "gatehouse_rate_limit_refusals",
            "Requests refused with 429, by budget (tenant or token).",
            ["budget"],
            registry=self.registry,
        )

        self.decisions_logged = Counter(
            "gatehouse_decision_log_written",
            "Decisions of Gatehouse's own engines written to the decision log.",
            registry=self.registry,
        )
        self.decision_log_dropped = Counter(
            "gatehouse_decision_log_dropped",
            "Decisions not written to the decision log, by reason (queue_full, write_failed).",
            ["reason"],
            registry=self.registry,
        )

    def observe_request(self, method: str, route: str, status: str, seconds: float) -> None:
        """Count one request and its latency (label children cached: labels() is not free)."""
        key = (method, route, status)
        children = self._children.get(key)
        if children is None:
            children = (
                self.requests.labels(method, route, status),
                self.latency.labels(method, route),
            )
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)
