"""Policy data distribution: the per-tenant data document and OPA bundles."""
