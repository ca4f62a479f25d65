"""The transformation pipeline: a declarative mapping per stream, compiled once into closures."""

from gatehouse.connectors.transform.compiler import compile_mapping
from gatehouse.connectors.transform.errors import (
    Invalid,
    MappingError,
    SpecProblem,
    TransformFailed,
)
from gatehouse.connectors.transform.pipeline import (
    FILTERED,
    Filtered,
    Output,
    Pipeline,
    Rejected,
    Result,
    TransformedBatch,
)
from gatehouse.connectors.transform.spec import TransformSpec

__all__ = [
    "FILTERED",
    "Filtered",
    "Invalid",
    "MappingError",
    "Output",
    "Pipeline",
    "Rejected",
    "Result",
    "SpecProblem",
    "TransformFailed",
    "TransformSpec",
    "TransformedBatch",
    "compile_mapping",
]
