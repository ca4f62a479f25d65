"""Connectors: the systems where facts live, behind one four-operation protocol."""
