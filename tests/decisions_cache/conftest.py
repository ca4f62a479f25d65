"""Decision cache fixtures: acme with the `authz` policy, and a spy on the decision log."""

from __future__ import annotations

import pytest

from gatehouse.decisions.log import Made
from tests.decisions.conftest import Api, api, org

__all__ = ["Api", "api", "logged", "org"]


class Clock:
    """A clock tests move by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def logged(api: Api) -> list[Made]:
    """Every decision the app records (instead of queuing them for the writer)."""
    seen: list[Made] = []
    api.h.svc.decision_log.record = seen.append  # type: ignore[method-assign]
    return seen
