"""Idle back-off: loops wait their period while work turns up and back off to a cap when none."""

from gatehouse.kit.pacing import Pacer


def test_backs_off_to_the_cap_and_returns_on_work() -> None:
    """Idle polls double the wait up to the cap; a poll that finds work goes back at once."""
    pacer = Pacer(0.5, 5.0)
    assert [pacer.after(False) for _ in range(6)] == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0]
    assert pacer.after(True) == 0.5
    assert pacer.after(False) == 0.5
    assert pacer.after(False) == 1.0


def test_cap_is_ten_periods_at_most_and_never_below_the_period() -> None:
    """A fast loop (tests, tight settings) backs off to ten periods; 0 turns back-off off."""
    assert Pacer(0.05, 5.0).cap == 0.5
    assert Pacer(1.0, 5.0).cap == 5.0
    assert Pacer(2.0, 0.0).cap == 2.0
    off = Pacer(2.0, 0.0)
    assert {off.after(False) for _ in range(5)} == {2.0}


def test_reset_polls_at_the_period_again() -> None:
    """A loop woken by its own process's write polls at its period again."""
    pacer = Pacer(1.0, 5.0)
    for _ in range(5):
        pacer.after(False)
    pacer.reset()
    assert pacer.after(False) == 1.0
