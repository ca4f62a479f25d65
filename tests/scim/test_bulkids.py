"""bulkId references: found at any depth, replaced, ordered by dependency, cycles found."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gatehouse.kit.problems import Problem
from gatehouse.scim.bulkids import in_cycles, order, reference, references, resolve

Graph = list[set[int]]


def graphs() -> st.SearchStrategy[Graph]:
    """Random dependency graphs of up to 12 operations (self-references included)."""
    return st.integers(min_value=0, max_value=12).flatmap(
        lambda n: st.lists(
            st.sets(st.integers(min_value=0, max_value=max(n - 1, 0)), max_size=3)
            if n
            else st.just(set()),
            min_size=n,
            max_size=n,
        )
    )


def reaches(needs: Graph, start: int, goal: int) -> bool:
    """Whether `start` reaches `goal` by one or more edges (a plain search, for checking)."""
    seen: set[int] = set()
    frontier = list(needs[start])
    while frontier:
        node = frontier.pop()
        if node == goal:
            return True
        if node not in seen:
            seen.add(node)
            frontier.extend(needs[node])
    return False


@given(graphs())
def test_cycles_are_exactly_the_operations_that_reach_themselves(needs: Graph) -> None:
    """Tarjan's answer equals the brute-force one."""
    assert in_cycles(needs) == {op for op in range(len(needs)) if reaches(needs, op, op)}


@given(graphs())
def test_order_runs_everything_once_after_what_it_needs(needs: Graph) -> None:
    """Each operation once; dependencies first unless on a cycle; otherwise request order."""
    circular = in_cycles(needs)
    done = order(needs, circular)
    assert sorted(done) == list(range(len(needs)))
    position = {op: i for i, op in enumerate(done)}
    for op, wanted in enumerate(needs):
        if op not in circular:
            assert all(position[other] < position[op] for other in wanted)
    if not any(needs):
        assert done == list(range(len(needs)))


def test_forward_reference_waits_and_the_rest_keeps_request_order() -> None:
    """0 needs 2: the order is 1, 2, 0, 3 (the earliest ready operation always goes first)."""
    needs: Graph = [{2}, set(), set(), set()]
    assert order(needs, in_cycles(needs)) == [1, 2, 0, 3]


def test_references_and_resolution() -> None:
    """Exact `bulkId:<id>` strings at any depth are references; others are left alone."""
    data = {
        "members": [{"value": "bulkId:u1"}, {"value": "x bulkId:u2"}],
        "manager": {"value": "bulkId:u3"},
        "n": 3,
        "empty": "bulkId:",
    }
    assert references(data) == {"u1", "u3"}
    assert reference("bulkId:a:b") == "a:b"
    assert resolve(data, {"u1": "id-1", "u3": "id-3"}) == {
        "members": [{"value": "id-1"}, {"value": "x bulkId:u2"}],
        "manager": {"value": "id-3"},
        "n": 3,
        "empty": "bulkId:",
    }


def test_too_deep_is_refused() -> None:
    """Nesting deeper than any resource is a 400, not a recursion error."""
    deep: object = "bulkId:x"
    for _ in range(40):
        deep = {"a": deep}
    with pytest.raises(Problem) as refused:
        references(deep)
    assert refused.value.extra["scim_type"] == "invalidSyntax"
