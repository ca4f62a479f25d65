"""A stream's `transform` mapping as the sync engine's per-record transform."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gatehouse.connectors.transform import Output, Pipeline, Rejected, compile_mapping
from gatehouse.sync import plan


def stream_transform(spec: Mapping[str, Any] | Pipeline) -> plan.Transform:
    """Compile a mapping (raising MappingError) and adapt its results to the engine's types."""
    pipeline = spec if isinstance(spec, Pipeline) else compile_mapping(spec)
    apply = pipeline.apply

    def transform(record: dict[str, Any]) -> plan.Transformed | plan.Rejected | None:
        result = apply(record)
        if type(result) is Output:
            return plan.Transformed(result.kind, result.external_id or _pair(result), result.data)
        if type(result) is Rejected:
            return plan.Rejected(
                result.external_id or "(no id)", result.reason, tuple(result.errors)
            )
        return None

    return transform


def _pair(output: Output) -> str:
    """A membership's reference when the mapping gives it no id of its own."""
    return f"{output.data.get('group')} > {output.data.get('member')}"
