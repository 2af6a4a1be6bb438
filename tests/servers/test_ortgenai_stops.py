"""Stop sequences end the reply exactly where they start, even when split across tokens."""

from __future__ import annotations

from slm_deploy.servers.ortgenai.stops import StopMatcher


def feed_all(matcher: StopMatcher, deltas: list[str]) -> str:
    emitted = ""
    for delta in deltas:
        emitted += matcher.feed(delta)
        if matcher.stopped:
            return emitted
    return emitted + matcher.flush()


def test_without_stops_text_passes_through_unchanged():
    assert feed_all(StopMatcher(()), ["a", "b", "c"]) == "abc"


def test_stop_inside_one_delta_cuts_there():
    matcher = StopMatcher(("END",))
    assert feed_all(matcher, ["hello END world"]) == "hello "
    assert matcher.stopped


def test_stop_split_across_deltas_is_never_emitted():
    matcher = StopMatcher(("###",))
    emitted = [matcher.feed(delta) for delta in ["one #", "#", "# two"]]
    assert emitted == ["one ", "", ""]
    assert matcher.stopped


def test_held_back_prefix_is_released_when_it_does_not_complete():
    matcher = StopMatcher(("###",))
    assert matcher.feed("a #") == "a "
    assert matcher.feed("#b") == "##b"
    assert not matcher.stopped


def test_held_back_prefix_is_flushed_at_the_end():
    matcher = StopMatcher(("STOP",))
    assert feed_all(matcher, ["abc", "ST"]) == "abcST"
    assert not matcher.stopped


def test_earliest_of_several_stops_wins():
    assert feed_all(StopMatcher(("zz", "b")), ["aazzb"]) == "aa"
    assert feed_all(StopMatcher(("zz", "b")), ["abzz"]) == "a"


def test_nothing_is_emitted_after_a_stop():
    matcher = StopMatcher(("x",))
    assert matcher.feed("ax") == "a"
    assert matcher.feed("more") == ""
    assert matcher.flush() == ""
