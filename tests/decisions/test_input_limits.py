"""Input limits: the container-only walk refuses exactly what a walk of every value refuses."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gatehouse.decisions.inputs import check_size
from gatehouse.kit.problems import Problem

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=3),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=2), inner, max_size=4)
    ),
    max_leaves=40,
)


def every_value(value: Any, max_depth: int, max_nodes: int) -> str | None:
    """The reference: visit every value with its depth; which limit is broken, if any."""
    nodes, deepest = 0, 0
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        nodes, deepest = nodes + 1, max(deepest, depth)
        if type(item) is dict:
            stack.extend((v, depth + 1) for v in item.values())
        elif type(item) is list:
            stack.extend((v, depth + 1) for v in item)
    if nodes > max_nodes:
        return "values"
    return "levels" if deepest > max_depth else None


@settings(max_examples=400, deadline=None)
@given(JSON, st.integers(1, 6), st.integers(1, 40))
def test_same_verdict_as_visiting_every_value(value: Any, max_depth: int, max_nodes: int) -> None:
    """Accepted exactly when the reference accepts; refused for a limit that is broken."""
    expected = every_value(value, max_depth, max_nodes)
    try:
        check_size(value, max_depth, max_nodes)
    except Problem as problem:
        assert expected is not None
        said = str(problem.detail)
        broken = {"values" if "values" in said else "levels"}
        nodes_broken = every_value(value, 10**6, max_nodes) == "values"
        depth_broken = every_value(value, max_depth, 10**6) == "levels"
        assert broken <= {k for k, b in (("values", nodes_broken), ("levels", depth_broken)) if b}
    else:
        assert expected is None


@pytest.mark.parametrize(
    ("value", "depth", "nodes", "refused"),
    [
        (5, 1, 1, False),
        ({}, 1, 1, False),
        ({"a": 1}, 1, 5, True),  # the 1 sits at depth 2
        ({"a": 1}, 2, 2, False),
        ({"a": [1, 2]}, 3, 3, True),  # four values
        ([[[[]]]], 4, 10, False),
        ([[[[1]]]], 4, 10, True),
    ],
)
def test_edges(value: Any, depth: int, nodes: int, refused: bool) -> None:
    """Depth counts the value itself as 1; an empty container adds no level below it."""
    if refused:
        with pytest.raises(Problem):
            check_size(value, depth, nodes)
    else:
        check_size(value, depth, nodes)
