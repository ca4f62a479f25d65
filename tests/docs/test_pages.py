"""The README's and the quickstart's commands, run as written against a fresh server."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.docs.runner import Session

pytestmark = pytest.mark.xdist_group("cli")
ROOT = Path(__file__).resolve().parents[2]


def test_readme_and_quickstart_run_as_written(tmp_path: Path) -> None:
    """Every shell command of both pages runs (README first, then the quickstart, on one fresh
    server as a newcomer would), and its output has the shape the page shows."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEHOUSE_")}
    session = Session(tmp_path, {**env, "COLUMNS": "200", "TERM": "dumb"})
    try:
        for page in ("README.md", "docs/quickstart.md"):
            session.page(ROOT / page)
    finally:
        session.stop()
