"""Routing decisions per tenant: embedded, or remote OPA with failover and fallbacks."""
