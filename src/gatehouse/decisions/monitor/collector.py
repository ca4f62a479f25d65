"""Decision counts as Prometheus metrics, read when scraped (nothing is done per decision)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from gatehouse.decisions.monitor.stats import DecisionStats

# Prometheus name (without `_total`), help, and the `Counts` field it reads.
COUNTERS = (
    ("gatehouse_decisions", "Decisions asked, by tenant.", "total_evaluations"),
    ("gatehouse_decision_cache_hits", "Decisions answered from the cache.", "cache_hits"),
    ("gatehouse_decision_cache_misses", "Cacheable decisions not in the cache.", "cache_misses"),
    (
        "gatehouse_decision_failures",
        "Decisions that failed or that no remote OPA answered.",
        "server_failures",
    ),
    ("gatehouse_decision_fallbacks", "Decisions answered by a fallback.", "fallbacks"),
    ("gatehouse_decision_violations", "Decisions that denied.", "policy_violations"),
)


class DecisionCollector(Collector):
    """Yields every tenant's decision counts and raised alerts."""

    def __init__(
        self, stats: DecisionStats, raised: Callable[[], Mapping[str, Mapping[str, object]]]
    ) -> None:
        self.stats, self.raised = stats, raised

    def collect(self) -> Iterator[Metric]:
        """The metrics as of now."""
        tenants = list(self.stats.tenants.items())
        for name, help_, field in COUNTERS:
            family = CounterMetricFamily(name, help_, labels=["tenant"])
            for tenant, counts in tenants:
                family.add_metric([tenant], getattr(counts, field))
            yield family
        seconds = CounterMetricFamily(
            "gatehouse_decision_response_seconds",
            "Seconds spent answering decisions (divide by gatehouse_decisions_total).",
            labels=["tenant"],
        )
        for tenant, counts in tenants:
            seconds.add_metric([tenant], counts.response_ms / 1000)
        yield seconds
        alerts = GaugeMetricFamily(
            "gatehouse_alert_raised", "1 while an alert is raised.", labels=["tenant", "alert"]
        )
        for tenant, names in self.raised().items():
            for alert in names:
                alerts.add_metric([tenant, alert], 1)
        yield alerts
