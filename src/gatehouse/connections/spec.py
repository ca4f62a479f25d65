"""A connection's configuration against its connector's spec: defaults, validation, secrets."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from gatehouse.connectors.protocol import Connector
from gatehouse.connectors.registry import UnknownConnector, connector_type
from gatehouse.kit.problems import Problem

SET, NOT_SET = "set", "not set"


@dataclass(frozen=True)
class Spec:
    """A connector type's spec, and which of its fields are secrets or name the endpoint."""

    name: str
    title: str
    schema: dict[str, Any]
    secrets: frozenset[str]
    endpoint: frozenset[str]  # changing one requires sending the secrets again

    @property
    def properties(self) -> dict[str, Any]:
        """The top-level properties."""
        return dict(self.schema.get("properties") or {})

    def defaults(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """`config` with each absent top-level property given its default."""
        filled = dict(config)
        for name, prop in self.properties.items():
            if name not in filled and "default" in prop and name not in self.secrets:
                filled[name] = prop["default"]
        return filled

    def split(self, config: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any], set[str]]:
        """Public fields, secret values given, and secrets explicitly cleared (null)."""
        public = {k: v for k, v in config.items() if k not in self.secrets}
        given = {k: v for k, v in config.items() if k in self.secrets and v is not None}
        cleared = {k for k, v in config.items() if k in self.secrets and v is None}
        return public, given, cleared

    def shown(self, stored: Mapping[str, str]) -> dict[str, str]:
        """Each secret field as set or not set: the only thing ever said about its value."""
        return {name: SET if name in stored else NOT_SET for name in sorted(self.secrets)}

    def validate(
        self, public: Mapping[str, Any], given: Mapping[str, Any], kept: set[str]
    ) -> list[dict[str, str]]:
        """Every way the configuration misses the spec; messages never quote a secret."""
        errors: list[dict[str, str]] = []
        public_schema = dict(self.schema)
        public_schema["properties"] = {
            k: v for k, v in self.properties.items() if k not in self.secrets
        }
        public_schema["required"] = [
            r for r in self.schema.get("required", ()) if r not in self.secrets
        ]
        for error in Draft202012Validator(public_schema).iter_errors(dict(public)):
            where = ".".join(["config", *(str(p) for p in error.absolute_path)])
            errors.append({"field": where, "message": error.message, "type": str(error.validator)})
        for name, value in given.items():
            for error in Draft202012Validator(self.properties[name]).iter_errors(value):
                errors.append(
                    {
                        "field": f"config.{name}",
                        "message": f"the secret does not satisfy `{error.validator}` "
                        f"({error.validator}: {error.validator_value})",
                        "type": str(error.validator),
                    }
                )
        for name in self.schema.get("required", ()):
            if name in self.secrets and name not in given and name not in kept:
                errors.append(
                    {"field": f"config.{name}", "message": "is required", "type": "required"}
                )
        return sorted(errors, key=lambda e: e["field"])


def spec_of(type_name: str) -> Spec:
    """The spec of an installed connector type, or 422 naming the installed ones."""
    try:
        kind: type[Connector] = connector_type(type_name)
    except UnknownConnector as exc:
        raise Problem(422, f"{exc}. GET /pip/connectors lists them.") from None
    return describe(type_name, kind)


def describe(type_name: str, kind: type[Connector]) -> Spec:
    """The Spec of a connector class (a broken spec is the connector's bug: 500 with a log)."""
    schema = kind.spec()
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        raise RuntimeError(f"connector {type_name!r} has an invalid spec: {exc.message}") from exc
    props: dict[str, Any] = schema.get("properties") or {}
    return Spec(
        name=type_name,
        title=str(getattr(kind, "title", type_name)),
        schema=schema,
        secrets=frozenset(k for k, v in props.items() if v.get("x-secret")),
        endpoint=frozenset(k for k, v in props.items() if v.get("x-endpoint")),
    )


def invalid(spec: Spec, errors: list[dict[str, str]]) -> Problem:
    """The 422 for a configuration that does not match its spec."""
    return Problem(
        422,
        f"The configuration does not match the {spec.name} connector's spec; see errors "
        f"(GET /pip/connectors shows the spec).",
        errors=errors,
    )
