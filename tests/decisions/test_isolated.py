"""Evaluation in child processes: a looping policy is stopped at the limit, the server serves."""

import asyncio
import time

import pytest

from gatehouse.decisions.embedded.engines import EmbeddedEngines
from gatehouse.decisions.embedded.isolated import ProcessWorker
from gatehouse.decisions.types import EvaluationError
from tests.decisions.conftest import Api

LOOPS = """package loops

import rego.v1

# Nine million comparisons: several seconds of regorus, which holds the GIL throughout.
n := count([1 | some a in numbers.range(1, 3000); some b in numbers.range(1, 3000); a == b])
"""


async def test_a_looping_policy_is_stopped_and_the_loop_keeps_running(api: Api) -> None:
    """Past the limit the child is killed and `eval_cancel_error` answers at once; meanwhile the
    event loop runs, and the next decision (a new child) is right."""
    svc = api.h.svc
    assert (await api.put_policy("loops.rego", LOOPS)).status_code == 200
    engines = EmbeddedEngines(svc.db, svc.distribution, processes=1, time_limit_ms=300)
    try:
        alice = api.org.users["alice"]
        ask = {"action": "read", "subject": {"id": alice, "groups": ["engineering"]}}
        assert (await engines.evaluate("acme", "authz/allow", ask)).result is True
        worker = engines.workers[0]
        assert isinstance(worker, ProcessWorker)
        first = worker.child
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        ticker = asyncio.create_task(tick())
        started = time.monotonic()
        with pytest.raises(EvaluationError) as caught:
            await engines.evaluate("acme", "loops/n", {})
        took = time.monotonic() - started
        ticker.cancel()
        assert caught.value.code == "eval_cancel_error"
        assert "stopped" in caught.value.message
        assert took < 5, took  # not the policy's own several seconds
        assert ticks >= 10  # the loop ran while the child evaluated
        assert worker.restarts == 1 and first is not None and not first.is_alive()
        assert (await engines.evaluate("acme", "authz/allow", ask)).result is True
        assert worker.child is not first
    finally:
        await engines.stop()


async def test_processes_answer_as_threads_do(api: Api) -> None:
    """Results, undefined paths, errors and policy changes are the same from child processes."""
    svc = api.h.svc
    engines = EmbeddedEngines(svc.db, svc.distribution, processes=2, time_limit_ms=10_000)
    try:
        subject = {"id": api.org.users["alice"], "groups": ["engineering"]}
        for _ in range(4):  # both children
            found = await engines.evaluate(
                "acme", "authz/allow", {"action": "read", "subject": subject}
            )
            assert found.result is True
        assert (await engines.evaluate("acme", "authz", {})).result["allow"] is False
        assert not (await engines.evaluate("acme", "nowhere", {})).defined
        titles = (await engines.evaluate("acme", "authz/titles", {})).result
        assert isinstance(titles, list)  # a set, as OPA writes it
        assert (
            await api.put_policy("flag.rego", "package flag\n\nvalue := 7\n")
        ).status_code == 200
        await engines.changed("acme")
        assert (await engines.evaluate("acme", "flag/value", {})).result == 7
        with pytest.raises(EvaluationError) as caught:
            await engines.evaluate("acme", "authz/allow", {"n": 2**70})
        assert caught.value.status == 400
    finally:
        await engines.stop()
