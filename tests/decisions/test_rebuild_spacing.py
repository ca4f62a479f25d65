"""Engine rebuilds are spaced so a stream of changes cannot hold the event loop."""

from gatehouse.decisions.embedded.engines import pause


def test_after_a_quiet_spell_only_the_debounce() -> None:
    """A change long after the last rebuild waits the debounce alone."""
    assert pause(0.05, 1.0, last_seconds=1.5, since_last=60.0) == 0.05


def test_back_to_back_changes_wait_as_long_as_the_rebuild_took() -> None:
    """Right after a 1.5 s rebuild, the next waits out the rest of 1.5 s times the spacing."""
    assert pause(0.05, 1.0, last_seconds=1.5, since_last=0.5) == 1.0
    assert pause(0.05, 2.0, last_seconds=1.5, since_last=0.0) == 3.0


def test_spacing_zero_rebuilds_as_fast_as_changes_come() -> None:
    """Spacing 0 keeps the old behaviour: the debounce only."""
    assert pause(0.05, 0.0, last_seconds=1.5, since_last=0.0) == 0.05
