"""Decisions: embedded Rego engines, remote OPA routing, and the APIs that ask them."""
