"""Normalizers: each feature, and properties over arbitrary input (idempotent, only Invalid)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gatehouse.connectors.transform import Invalid
from gatehouse.connectors.transform import normalize as n
from gatehouse.connectors.transform.dates import to_date, to_datetime


def test_text_steps_trim_case_and_map_over_lists() -> None:
    assert n.trim("  Ada  ") == "Ada"
    assert n.lower("ADA") == "ada"
    assert n.upper("ada") == "ADA"
    assert n.trim([" a ", None, " b"]) == ["a", None, "b"]
    assert n.trim(None) is None
    assert n.upper(12) == "12"
    with pytest.raises(Invalid, match="expected text, got an object"):
        n.trim({"a": 1})


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("Ada@Example.COM", "ada@example.com"),
        ("  ada.lovelace+tag@sub.example.co.uk ", "ada.lovelace+tag@sub.example.co.uk"),
        ("jörg@bücher.example", "jörg@xn--bcher-kva.example"),
        ("x@XN--BCHER-KVA.example", "x@xn--bcher-kva.example"),
        ("", None),
    ],
)
def test_email_normal_forms(raw: str, normal: str | None) -> None:
    assert n.email(raw) == normal


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("not-an-address", "no local part"),
        ("@example.com", "no local part"),
        ("a b@example.com", "local part"),
        ("a..b@example.com", "local part"),
        ("ada@localhost", "domain"),
        ("ada@-bad-.com", "domain"),
        ("ada@exa_mple.com", "domain"),
        ("ada@\u2028.com", "international"),
    ],
)
def test_email_rejects_with_a_reason(raw: str, reason: str) -> None:
    with pytest.raises(Invalid, match=reason):
        n.email(raw)


def test_phone_to_e164_with_a_default_region() -> None:
    gb = n.phone("GB")
    assert gb("020 7946 0958") == "+442079460958"
    assert gb("+1 (650) 253-0000") == "+16502530000"
    assert n.phone(None)("+44 20 7946 0958") == "+442079460958"
    with pytest.raises(Invalid, match="country code"):
        n.phone(None)("020 7946 0958")
    with pytest.raises(Invalid, match="not a phone number"):
        gb("call me")
    with pytest.raises(Invalid, match="not a valid phone number"):
        gb("+44 20 1234")
    assert gb("  ") is None


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("yes", True),
        ("Y", True),
        ("1", True),
        (" TRUE ", True),
        ("on", True),
        ("False", False),
        ("n", False),
        ("0", False),
        ("off", False),
        (True, True),
        (0, False),
        (1, True),
    ],
)
def test_booleans(raw: Any, value: bool) -> None:
    assert n.boolean(raw) is value


def test_boolean_rejects_other_words_and_numbers() -> None:
    for raw in ("maybe", "2", 2, ""):
        with pytest.raises(Invalid, match="yes/no"):
            n.boolean(raw)


def test_integers() -> None:
    assert n.integer(" 42 ") == 42
    assert n.integer("-7") == -7
    assert n.integer("1_000") == 1000
    assert n.integer("12.0") == 12
    assert n.integer(3.0) == 3
    for raw, reason in (("1.5", "not an integer"), (1.5, "fraction"), (True, "boolean")):
        with pytest.raises(Invalid, match=reason):
            n.integer(raw)


def test_split_join_default_and_null_if_empty() -> None:
    assert n.split(";", keep_empty=False)("a; b;;c ") == ["a", "b", "c"]
    assert n.split(";", keep_empty=True)("a;;b") == ["a", "", "b"]
    assert n.split(",", keep_empty=False)(["x"]) == ["x"]
    assert n.join(" | ")(["a", None, 2]) == "a | 2"
    assert n.join(",")("already") == "already"
    assert n.default("n/a")(None) == "n/a"
    assert n.default("n/a")("") == "n/a"
    assert n.default("n/a")("x") == "x"
    assert n.null_if_empty("  ") is None
    assert n.null_if_empty([]) is None
    assert n.null_if_empty("x") == "x"
    assert n.null_if_empty(0) == 0


def test_dates_with_formats_and_zones() -> None:
    day = to_date(["%d/%m/%Y"], None)
    assert day("31/01/2020") == "2020-01-31"
    assert day("2020-01-31") == "2020-01-31"  # ISO always reads
    assert day("1/2/2020") == "2020-02-01"
    with pytest.raises(Invalid, match="expected format"):
        day("31/02/2020")
    assert to_date(["%d.%m.%y"], None)("05.06.70") == "1970-06-05"
    assert to_date(["%b %d, %Y"], None)("Mar 05, 2021") == "2021-03-05"  # strptime fallback
    tokyo = to_date([], "Asia/Tokyo")
    assert tokyo("2024-01-01T20:00:00+00:00") == "2024-01-02"


def test_datetimes_move_to_utc() -> None:
    london = to_datetime(["%Y-%m-%d %H:%M:%S"], "Europe/London")
    assert london("2024-07-01 09:30:00") == "2024-07-01T08:30:00Z"  # summer time
    assert london("2024-01-01 09:30:00") == "2024-01-01T09:30:00Z"
    assert london("2024-07-01T09:30:00+02:00") == "2024-07-01T07:30:00Z"  # its own zone wins
    assert london("2024-7-1 09:30:00") == "2024-07-01T08:30:00Z"  # strptime reads unpadded parts
    with pytest.raises(Invalid, match=r"expected format \(%Y-%m-%d %H:%M:%S or ISO 8601\)"):
        london("01/07/2024 09:30")
    utc = to_datetime(["unix", "unix_ms"], None)
    assert utc("0") == "1970-01-01T00:00:00Z"
    assert utc("2024-01-01") == "2024-01-01T00:00:00Z"
    assert to_datetime(["%Y%m%d%H%M%S.%f"], None)("20200131101112.5") == (
        "2020-01-31T10:11:12.500000Z"
    )
    with pytest.raises(Invalid, match="out of range"):
        to_datetime([], "Asia/Tokyo")("0001-01-01T00:00:00")
    with pytest.raises(Invalid, match="expected a date"):
        utc({"a": 1})


TEXT = st.text(max_size=60) | st.from_regex(r"[A-Za-z0-9.+ -]{1,12}@[a-zA-Z0-9.-]{1,20}")
STEPS = {
    "trim": n.trim,
    "lower": n.lower,
    "upper": n.upper,
    "email": n.email,
    "boolean": n.boolean,
    "integer": n.integer,
    "phone": n.phone("GB"),
    "date": to_date(["%d/%m/%Y"], "Europe/Berlin"),
    "datetime": to_datetime(["%d/%m/%Y %H:%M"], "America/New_York"),
    "split": n.split(",", keep_empty=False),
    "null_if_empty": n.null_if_empty,
}


@pytest.mark.parametrize("name", sorted(STEPS))
@settings(max_examples=300, deadline=None)
@given(raw=TEXT)
def test_normalizers_never_raise_but_invalid_and_are_idempotent(name: str, raw: str) -> None:
    step = STEPS[name]
    try:
        once = step(raw)
    except Invalid as exc:
        reason = str(exc)
    else:
        assert step(once) == once
        return
    assert reason  # a failure always says why


@pytest.mark.parametrize("name", sorted(STEPS))
@settings(max_examples=100, deadline=None)
@given(
    raw=st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
        max_leaves=6,
    )
)
def test_normalizers_report_any_json_value(name: str, raw: Any) -> None:
    reason = "normalized"
    try:
        STEPS[name](raw)
    except Invalid as exc:
        reason = str(exc)
    assert reason


@settings(max_examples=200, deadline=None)
@given(
    st.datetimes(timezones=st.just(None)).map(lambda d: d.strftime("%d/%m/%Y %H:%M")),
)
def test_datetime_round_trips_through_its_own_output(raw: str) -> None:
    step = STEPS["datetime"]
    try:
        once = step(raw)
    except Invalid:
        return
    assert once.endswith("Z")
    assert step(once) == once
