"""The Library's pages: Older and Newer both ways, and which results a page shows."""

from __future__ import annotations

from image2ad.web.library import PAGE_SIZE, TRAIL_MAX, Pages


def test_paging_older_then_newer_comes_back_to_the_first_page() -> None:
    first = Pages.at(None, None)
    assert first.index == 0 and first.count_text(PAGE_SIZE, 60) == f"1\u2013{PAGE_SIZE} of 60"
    cursor, trail = first.older("c1")
    second = Pages.at(cursor, ",".join(trail))
    assert (second.cursor, second.trail, second.index) == ("c1", [], 1)
    cursor, trail = second.older("c2")
    third = Pages.at(cursor, ",".join(trail))
    assert (third.cursor, third.trail, third.index) == ("c2", ["c1"], 2)
    assert third.count_text(12, 60) == "49\u201360 of 60"
    assert third.newer() == ("c1", [])
    assert second.newer() == (None, [])


def test_a_single_page_says_how_many_and_an_empty_one_says_none() -> None:
    assert Pages.at(None, None).count_text(1, 1) == "1 result"
    assert Pages.at(None, None).count_text(7, 7) == "7 results"
    assert Pages.at(None, None).count_text(0, 0) == "No results"


def test_a_trail_without_a_cursor_or_too_long_is_cut() -> None:
    assert Pages.at(None, "a,b").trail == []
    long = ",".join(f"c{n}" for n in range(TRAIL_MAX + 5))
    assert len(Pages.at("x", long).trail) == TRAIL_MAX
