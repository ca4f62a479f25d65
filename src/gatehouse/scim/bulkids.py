"""bulkId references in a /Bulk request (RFC 7644 §3.7.2): found, ordered and replaced.

A string value `bulkId:<id>` anywhere in an operation's `data`, or as the id in its `path`,
names the resource the POST with that bulkId creates. Operations run in request order, except
that an operation waits for the POSTs it refers to (which may come later in the request).
Operations that refer to each other in a cycle cannot be ordered: they fail instead.
"""

from __future__ import annotations

import heapq
from collections.abc import Collection, Iterator, Mapping, Sequence
from typing import Any

from gatehouse.kit.problems import Problem

PREFIX = "bulkId:"
MAX_DEPTH = 32  # a SCIM resource nests a handful of levels; resolving recurses this deep


def reference(value: Any) -> str | None:
    """The bulkId a value refers to, when it is a reference."""
    if isinstance(value, str) and value.startswith(PREFIX) and len(value) > len(PREFIX):
        return value[len(PREFIX) :]
    return None


def _strings(value: Any) -> Iterator[str]:
    """Every string in a JSON value; 400 when it nests deeper than any SCIM resource does."""
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise Problem(
                400, f"data nests deeper than {MAX_DEPTH} levels.", scim_type="invalidSyntax"
            )
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)


def references(value: Any) -> set[str]:
    """The bulkIds a JSON value refers to (values are checked for depth on the way)."""
    return {ref for text in _strings(value) if (ref := reference(text)) is not None}


def resolve(value: Any, ids: Mapping[str, str]) -> Any:
    """A copy of a JSON value with each reference replaced by the id it names (all known)."""
    ref = reference(value)
    if ref is not None:
        return ids[ref]
    if isinstance(value, dict):
        return {key: resolve(item, ids) for key, item in value.items()}
    if isinstance(value, list):
        return [resolve(item, ids) for item in value]
    return value


def in_cycles(needs: Sequence[Collection[int]]) -> set[int]:
    """The operations on a reference cycle (Tarjan's strongly connected components)."""
    index: dict[int, int] = {}
    low: dict[int, int] = {}
    stack: list[int] = []
    on_stack: set[int] = set()
    found: set[int] = set()
    for root in range(len(needs)):
        if root in index:
            continue
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        work = [(root, iter(needs[root]))]
        while work:
            node, edges = work[-1]
            for nxt in edges:
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(needs[nxt])))
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.add(member)
                        if member == node:
                            break
                    if len(component) > 1 or node in needs[node]:
                        found |= component
    return found


def order(needs: Sequence[Collection[int]], circular: Collection[int]) -> list[int]:
    """Every operation once: request order, each after the operations it needs.

    Operations on a cycle need nothing (they fail at their turn); those needing them wait.
    """
    waiting = [0] * len(needs)
    dependents: list[list[int]] = [[] for _ in needs]
    for op, wanted in enumerate(needs):
        if op in circular:
            continue
        for other in set(wanted):
            dependents[other].append(op)
            waiting[op] += 1
    ready = [op for op, count in enumerate(waiting) if count == 0]
    heapq.heapify(ready)
    done: list[int] = []
    while ready:
        op = heapq.heappop(ready)
        done.append(op)
        for dependent in dependents[op]:
            waiting[dependent] -= 1
            if waiting[dependent] == 0:
                heapq.heappush(ready, dependent)
    return done
