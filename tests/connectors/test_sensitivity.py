"""Suggested sensitivity levels from field names."""

from __future__ import annotations

import pytest

from gatehouse.connectors.protocol import Sensitivity
from gatehouse.connectors.sensitivity import suggest


@pytest.mark.parametrize(
    ("name", "level"),
    [
        ("password_hash", Sensitivity.restricted),
        ("ssn", Sensitivity.restricted),
        ("annual_salary", Sensitivity.restricted),
        ("date_of_birth", Sensitivity.restricted),
        ("api_key", Sensitivity.restricted),
        ("email", Sensitivity.confidential),
        ("mobile_phone", Sensitivity.confidential),
        ("manager_id", Sensitivity.confidential),
        ("id", Sensitivity.public),
        ("display_name", Sensitivity.public),
        ("department", Sensitivity.internal),
        ("cost_center", Sensitivity.internal),
    ],
)
def test_suggestions(name: str, level: Sensitivity) -> None:
    assert suggest(name) is level
