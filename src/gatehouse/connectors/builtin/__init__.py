"""Connectors that ship with Gatehouse, registered through the same entry points as plug-ins."""
