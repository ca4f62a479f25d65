"""Suggested sensitivity of a field from its name: a starting point the mapping can override."""

from __future__ import annotations

import re

from gatehouse.connectors.protocol import Sensitivity

_RULES: tuple[tuple[Sensitivity, re.Pattern[str]], ...] = (
    (
        Sensitivity.restricted,
        re.compile(
            r"pass(word|wd)?|secret|token|api_?key|private_?key|credential|hash|salt|"
            r"ssn|social_?security|national_?id|passport|tax_?id|tin\b|nino|"
            r"salary|compensation|wage|bonus|bank|iban|account_?number|card_?number|cvv|"
            r"birth|dob\b|medical|health|diagnos",
            re.IGNORECASE,
        ),
    ),
    (
        Sensitivity.confidential,
        re.compile(
            r"e_?mail|mail\b|phone|mobile|address|street|postal|zip|home|personal|"
            r"gender|ethnic|religio|marital|manager|performance|rating|termination",
            re.IGNORECASE,
        ),
    ),
    (
        Sensitivity.public,
        re.compile(r"^(id|uuid|guid|name|title|display_?name|description|created|updated)", re.I),
    ),
)


def suggest(name: str) -> Sensitivity:
    """The suggested level for a field called `name` (internal when nothing matches)."""
    for level, pattern in _RULES:
        if pattern.search(name):
            return level
    return Sensitivity.internal
