"""Feedback from the OPA fleet: status reports, decision logs and their search."""
