"""Normalizers: functions from a value to its normal form that raise Invalid, never anything else.

Each is idempotent (normalizing a normal form changes nothing). None passes through every one
but `default`; text normalizers map over lists, so `emails: [...]` lower-cases each address.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, time
from decimal import Decimal
from functools import lru_cache
from typing import Any
from uuid import UUID

import idna
import phonenumbers

from gatehouse.connectors.transform.errors import Invalid

Step = Callable[[Any], Any]

TRUE_WORDS = frozenset({"true", "t", "yes", "y", "1", "on"})
FALSE_WORDS = frozenset({"false", "f", "no", "n", "0", "off"})
_ATEXT = r"[a-z0-9!#$%&'*+/=?^_`{|}~\u0080-\U0010ffff-]+"
_LOCAL = re.compile(rf"{_ATEXT}(?:\.{_ATEXT})*")
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_DOMAIN = re.compile(rf"(?:{_LABEL}\.)+(?:[a-z][a-z0-9-]{{0,61}}[a-z0-9]|xn--[a-z0-9-]+)")
_PLAIN_ADDRESS = re.compile(
    r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]"
)
_INTEGER = re.compile(r"[+-]?\d+(?:\.0*)?")


def text(value: Any) -> str:
    """A scalar as text (database values too: decimals, UUIDs, dates); objects and lists are not."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
    if isinstance(value, Decimal):
        return str(value.quantize(1)) if value == value.to_integral_value() else str(value)
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, date | time):
        return value.isoformat()
    raise Invalid(f"expected text, got {kind_of(value)}")


def is_scalar(value: Any) -> bool:
    """Whether `text` reads the value."""
    return isinstance(value, str | int | float | Decimal | UUID | date | time)


def kind_of(value: Any) -> str:
    """How a value's type is named in messages (JSON words, not Python's)."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, bytes | bytearray):
        return "binary data"
    return type(value).__name__


def per_item(func: Callable[[Any], Any], on_text: Callable[[str], Any] | None = None) -> Step:
    """Apply `func` to a value, to each item of a list, and pass None through.

    `on_text`, when given, handles plain text directly: the common case, with one call less.
    """

    def step(value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, list):
            return [None if item is None else func(item) for item in value]
        return func(value)

    if on_text is None:
        return step

    def text_first(value: Any) -> Any:
        if type(value) is str:
            return on_text(value)
        return step(value)

    return text_first


def _trim(value: Any) -> str:
    return text(value).strip()


def _lower(value: Any) -> str:
    return text(value).lower()


def _upper(value: Any) -> str:
    return text(value).upper()


trim = per_item(_trim, str.strip)
lower = per_item(_lower, str.lower)
upper = per_item(_upper, str.upper)


def _email(value: Any) -> str | None:
    address = (value if type(value) is str else text(value)).strip().lower()
    # The usual case, a plain ASCII address, in one regular-expression match.
    if _PLAIN_ADDRESS.fullmatch(address):
        sign = address.index("@")
        if sign <= 64 and len(address) - sign <= 254:
            return address
    if not address:
        return None
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain:
        raise Invalid("not an e-mail address (no local part, '@' and domain)")
    local = local.lower()
    if len(local) > 64 or not _LOCAL.fullmatch(local):
        raise Invalid("the part before '@' is not a valid e-mail local part")
    return f"{local}@{_domain(domain)}"


@lru_cache(maxsize=4096)  # a source's addresses share a few domains; IDNA costs ~30 µs
def _domain(domain: str) -> str:
    if not domain.isascii():
        try:
            domain = idna.encode(domain, uts46=True).decode("ascii")
        except UnicodeError as exc:
            raise Invalid(f"the e-mail domain is not a valid international name: {exc}") from None
    domain = domain.lower().rstrip(".")
    if len(domain) > 253 or not _DOMAIN.fullmatch(domain):
        raise Invalid("the part after '@' is not a valid domain name")
    return domain


_emails = per_item(_email)


def email(value: Any) -> Any:
    """E-mail addresses lower-cased with an IDNA (punycode) domain; raises Invalid if malformed."""
    return _email(value) if type(value) is str else _emails(value)


_PHONE_ERRORS = {
    phonenumbers.NumberParseException.INVALID_COUNTRY_CODE: (
        "no valid country code: write it as +<country code>..., or give the step a `region`"
    ),
    phonenumbers.NumberParseException.NOT_A_NUMBER: "not a phone number",
    phonenumbers.NumberParseException.TOO_SHORT_AFTER_IDD: "too short to be a phone number",
    phonenumbers.NumberParseException.TOO_SHORT_NSN: "too short to be a phone number",
    phonenumbers.NumberParseException.TOO_LONG: "too long to be a phone number",
}


def phone(region: str | None) -> Step:
    """Phone numbers to E.164 (`+441234567890`); numbers without `+` are read in `region`."""
    e164 = phonenumbers.PhoneNumberFormat.E164

    def normalize(value: Any) -> str | None:
        raw = text(value).strip()
        if not raw:
            return None
        try:
            number = phonenumbers.parse(raw, region)
        except phonenumbers.NumberParseException as exc:
            raise Invalid(_PHONE_ERRORS.get(exc.error_type, "not a phone number")) from None
        if not phonenumbers.is_valid_number(number):
            raise Invalid("not a valid phone number for its country")
        return str(phonenumbers.format_number(number, e164))

    return per_item(normalize)


_WORDS = {**dict.fromkeys(TRUE_WORDS, True), **dict.fromkeys(FALSE_WORDS, False)}


def _boolean_text(word: str) -> bool:
    found = _WORDS.get(word) if word in _WORDS else _WORDS.get(word.strip().lower())
    if found is None:
        raise Invalid("not a yes/no value (use true/false, yes/no, y/n, 1/0 or on/off)")
    return found


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    return _boolean_text(text(value))


_booleans = per_item(_boolean)


def boolean(value: Any) -> Any:
    """Yes/no words, 1/0 and booleans as booleans."""
    if type(value) is str:
        found = _WORDS.get(value)
        return found if found is not None else _boolean_text(value)
    return _booleans(value)


def _integer(value: Any) -> int:
    if isinstance(value, bool):
        raise Invalid("expected an integer, got a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if value.is_integer():
            return int(value)
        raise Invalid("expected an integer, got a fraction")
    raw = text(value).strip().replace("_", "")
    if not _INTEGER.fullmatch(raw) or len(raw) > 40:
        raise Invalid("not an integer")
    return int(raw.split(".", 1)[0])


integer = per_item(_integer, _integer)


def split(separator: str, *, keep_empty: bool) -> Step:
    """Text into a trimmed list at `separator`; a list stays a list."""

    def normalize(value: Any) -> list[Any] | None:
        if value is None:
            return None
        items = value if isinstance(value, list) else text(value).split(separator)
        parts = [item.strip() if isinstance(item, str) else item for item in items]
        return parts if keep_empty else [p for p in parts if p not in ("", None)]

    return normalize


def join(separator: str) -> Step:
    """A list into text joined by `separator`; text stays text."""

    def normalize(value: Any) -> str | None:
        if value is None or isinstance(value, str):
            return value
        if isinstance(value, list):
            return separator.join(text(item) for item in value if item is not None)
        return text(value)

    return normalize


def null_if_empty(value: Any) -> Any:
    """Empty or blank text, an empty list or object become None."""
    if isinstance(value, str):
        return value if value.strip() else None
    if isinstance(value, list | dict) and not value:
        return None
    return value


def default(fallback: Any) -> Step:
    """`fallback` in place of None or empty text."""

    def normalize(value: Any) -> Any:
        return fallback if value is None or value == "" else value

    return normalize


def chain(steps: list[Step]) -> Step | None:
    """One function applying `steps` in order (None for none); text steps are fused."""
    if not steps:
        return None
    fused = _fuse(steps)
    if fused is not None:
        return fused
    if len(steps) == 1:
        return steps[0]
    if len(steps) == 2:
        first, second = steps
        return lambda value: second(first(value))

    def run(value: Any) -> Any:
        for step in steps:
            value = step(value)
        return value

    return run


# Steps that map text to text with one str method, and text columns' length limits: a chain
# of them runs on text as C calls in one Python frame (the per-record cost that matters).
TEXT_METHODS: dict[Step, Callable[[str], str]] = {
    trim: str.strip,
    lower: str.lower,
    upper: str.upper,
}
TEXT_LIMITS: dict[Step, int] = {}


def _fuse(steps: list[Step]) -> Step | None:
    limit = TEXT_LIMITS.get(steps[-1])
    methods = [TEXT_METHODS.get(step) for step in (steps[:-1] if limit is not None else steps)]
    if not methods or None in methods or len(methods) > 2:
        return None
    slow = chain_plain(steps)
    first = methods[0]
    second = methods[1] if len(methods) == 2 else str
    most = limit if limit is not None else 1 << 62

    def fused(value: Any) -> Any:
        if type(value) is str:
            value = second(first(value))  # type: ignore[misc]
            if len(value) <= most:
                return value
        return slow(value)

    return fused


def chain_plain(steps: list[Step]) -> Step:
    """Apply `steps` in order, unfused."""

    def run(value: Any) -> Any:
        for step in steps:
            value = step(value)
        return value

    return run
