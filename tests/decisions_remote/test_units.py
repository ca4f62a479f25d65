"""The breaker's states on a fake clock, the balancer's order, and remote path building."""

from __future__ import annotations

from gatehouse.decisions.remote.breaker import BreakerState, CircuitBreaker
from gatehouse.decisions.remote.engine import RemoteEngine
from gatehouse.decisions.remote.spec import BreakerSpec, EndpointSpec, HealthCheckSpec, RemoteSpec
from tests.decisions_remote.conftest import Clock


def test_breaker_cycle() -> None:
    """closed -> open after N failures -> half-open after the timeout -> M trials -> closed."""
    clock = Clock()
    breaker = CircuitBreaker(BreakerSpec(3, 10.0, 2), clock)
    for _ in range(2):
        breaker.record(breaker.admit(), ok=False)  # type: ignore[arg-type]
    assert breaker.current() is BreakerState.closed
    breaker.record(breaker.admit(), ok=False)  # type: ignore[arg-type]
    assert breaker.current() is BreakerState.open and breaker.admit() is None
    clock.now += 10
    assert breaker.current() is BreakerState.half_open
    first, second = breaker.admit(), breaker.admit()
    assert first and second and first.trial and breaker.admit() is None
    breaker.record(first, ok=True)
    assert breaker.current() is BreakerState.closed and breaker.failures == 0
    breaker.record(second, ok=True)
    assert breaker.admit() is not None


def test_failed_trial_reopens_and_stale_trials_free_nothing() -> None:
    """A failed trial reopens; a trial of an earlier opening does not free a newer slot."""
    clock = Clock()
    breaker = CircuitBreaker(BreakerSpec(1, 5.0, 1), clock)
    breaker.record(breaker.admit(), ok=False)  # type: ignore[arg-type]
    clock.now += 5
    stale = breaker.admit()
    assert stale is not None
    assert breaker.admit() is None  # one trial at a time
    breaker.release(stale)  # caller gave up
    fresh_fail = breaker.admit()
    assert fresh_fail is not None
    breaker.record(fresh_fail, ok=False)
    assert breaker.state is BreakerState.open
    clock.now += 5
    trial = breaker.admit()
    assert trial is not None
    breaker.release(stale)  # from an earlier opening: no effect
    assert breaker.admit() is None


async def test_remote_path_is_confined() -> None:
    """The package prefixes the path; dot segments and query characters are encoded."""
    spec = RemoteSpec(
        endpoints=(EndpointSpec("http://opa.example"),),
        policy_package="acme.authz",
        health_check=HealthCheckSpec(enabled=False),
    )
    engine = RemoteEngine(spec, [])
    try:
        assert engine.remote_path("allow") == "acme/authz/allow"
        assert engine.remote_path("/rules/allow/") == "acme/authz/rules/allow"
        assert engine.remote_path("../../v1/policies") == "acme/authz/v1/policies"
        assert engine.remote_path("a?b#c") == "acme/authz/a%3Fb%23c"
    finally:
        await engine.close()


def test_last_resort_is_one_call_and_keeps_the_pause() -> None:
    """An open breaker admits one last-resort call at a time; its failure keeps the opening."""
    clock = Clock()
    breaker = CircuitBreaker(BreakerSpec(1, 10.0, 2), clock)
    assert breaker.admit_last_resort() is None  # closed: ordinary calls, no last resort
    breaker.record(breaker.admit(), ok=False)  # type: ignore[arg-type]
    opened = breaker.opened_at
    slot = breaker.admit_last_resort()
    assert slot is not None and slot.last_resort and breaker.admit_last_resort() is None
    clock.now += 5
    breaker.record(slot, ok=False)
    assert breaker.current() is BreakerState.open and breaker.opened_at == opened
    again = breaker.admit_last_resort()
    assert again is not None
    breaker.record(again, ok=True)
    assert breaker.current() is BreakerState.closed and breaker.failures == 0


def test_recovered_half_opens_only_an_open_breaker() -> None:
    """A passing health check half-opens an open breaker and leaves a closed one alone."""
    breaker = CircuitBreaker(BreakerSpec(1, 3600.0, 1), Clock())
    breaker.recovered()
    assert breaker.current() is BreakerState.closed
    breaker.record(breaker.admit(), ok=False)  # type: ignore[arg-type]
    breaker.recovered()
    assert breaker.current() is BreakerState.half_open
    trial = breaker.admit()
    assert trial is not None and trial.trial and breaker.admit() is None
