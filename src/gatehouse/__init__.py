"""Gatehouse: the facts authorization runs on."""

__version__ = "0.1.0"
