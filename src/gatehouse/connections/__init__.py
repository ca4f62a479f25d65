"""Connections: configured, tested and mapped sources, with their credentials sealed."""
