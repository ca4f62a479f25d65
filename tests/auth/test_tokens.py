"""The token format: entropy, checksum, offline rejection of look-alikes."""

from hypothesis import given
from hypothesis import strategies as st

from gatehouse.auth import tokens


def test_generated_tokens_are_well_formed_and_distinct() -> None:
    """Every generated token passes the offline check; no two are equal."""
    made = {tokens.generate() for _ in range(200)}
    assert len(made) == 200
    for token in made:
        assert token.startswith("gth_")
        assert len(token) == tokens.TOKEN_LEN
        assert tokens.well_formed(token)


def test_display_prefix_reveals_little() -> None:
    """The display prefix is the scheme plus 8 characters."""
    token = tokens.generate()
    assert tokens.display_prefix(token) == token[:12]


@given(position=st.integers(min_value=4, max_value=tokens.TOKEN_LEN - 1), data=st.data())
def test_any_single_character_change_is_rejected(position: int, data: st.DataObject) -> None:
    """CRC-32 catches every one-character change of body or checksum."""
    token = tokens.generate()
    replacement = data.draw(st.sampled_from(tokens.ALPHABET).filter(lambda c: c != token[position]))
    forged = token[:position] + replacement + token[position + 1 :]
    assert not tokens.well_formed(forged)


def test_look_alikes_are_rejected() -> None:
    """Wrong prefix, length or alphabet fail without a database."""
    token = tokens.generate()
    assert not tokens.well_formed("ghp_" + token[4:])
    assert not tokens.well_formed(token + "a")
    assert not tokens.well_formed(token[:-1])
    assert not tokens.well_formed(token[:10] + "-" + token[11:])
    assert not tokens.well_formed("")
