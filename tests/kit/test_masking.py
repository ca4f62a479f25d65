"""Masking of secrets in structured values and free text."""

import pytest

from gatehouse.kit.masking import mask, mask_text, mask_url


def test_secret_keys_and_token_text_are_masked() -> None:
    """Secret-named keys and token-looking values never pass through."""
    masked = mask({"password": "hunter2", "nested": {"api_key": "k", "note": "gth_" + "a" * 50}})
    assert masked == {"password": "***", "nested": {"api_key": "***", "note": "gth_***"}}


def test_plain_values_pass() -> None:
    """Ordinary values, empty secrets and lists are kept."""
    assert mask({"name": "ci", "token": "", "items": [1, "x"]}) == {
        "name": "ci",
        "token": "",
        "items": [1, "x"],
    }
    assert mask_text("Bearer gth_" + "Z" * 49) == "Bearer gth_***"


def test_counts_and_ids_named_after_tokens_stay_visible() -> None:
    """`tokens_revoked` and `token_id` are not secrets; `access_token` is."""
    assert mask({"tokens_revoked": 3, "token_id": "t1", "access_token": "x"}) == {
        "tokens_revoked": 3,
        "token_id": "t1",
        "access_token": "***",
    }


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://app:pw@db/gh", "postgresql://app:***@db/gh"),
        (
            "postgresql://db/gh?password=pw&sslmode=require",
            "postgresql://db/gh?password=***&sslmode=require",
        ),
        (
            "postgresql://u@db/gh?sslpassword=pw&PassFile=/x",
            "postgresql://u@db/gh?sslpassword=***&PassFile=***",
        ),
        ("redis://:pw@cache:6379/0", "redis://:***@cache:6379/0"),
        ("redis://cache/0?auth_token=t#frag", "redis://cache/0?auth_token=***#frag"),
        ("sqlite+aiosqlite:////var/gh.db", "sqlite+aiosqlite:////var/gh.db"),
        ("mysql://db/x?charset=utf8mb4&password=", "mysql://db/x?charset=utf8mb4&password="),
    ],
)
def test_urls_are_masked(url: str, shown: str) -> None:
    """Userinfo passwords and secret-named query parameters; everything else as given."""
    assert mask_url(url) == shown
