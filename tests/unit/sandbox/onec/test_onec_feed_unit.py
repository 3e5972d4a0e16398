"""The exchange-plan feed in isolation: stamping, acknowledgement, re-registration."""

from __future__ import annotations

from sandbox.onec.feed import ExchangeFeed


def test_ack_drops_only_rows_stamped_up_to_it() -> None:
    feed = ExchangeFeed()
    feed.register("Person", "p1")
    first = feed.select(0, 10)
    assert first.message_no == 1 and [i.ref for i in first.items] == ["p1"]
    feed.register("Person", "p2")
    second = feed.select(0, 10)  # not acknowledged: p1 comes again (stamp 1), p2 stamped 2
    assert [(i.ref, i.message_no) for i in second.items] == [("p1", 1), ("p2", 2)]
    third = feed.select(1, 10)
    assert [i.ref for i in third.items] == ["p2"]
    assert feed.select(third.message_no, 10).items == []


def test_reregistration_clears_the_stamp() -> None:
    feed = ExchangeFeed()
    feed.register("Employee", "e1")
    sent = feed.select(0, 10)
    feed.register("Employee", "e1")  # changed again after sending
    after = feed.select(sent.message_no, 10)
    assert [i.ref for i in after.items] == ["e1"]


def test_limit_and_has_more() -> None:
    feed = ExchangeFeed()
    for n in range(5):
        feed.register("Position", f"r{n}")
    batch = feed.select(0, 2)
    assert [i.ref for i in batch.items] == ["r0", "r1"] and batch.has_more
    batch = feed.select(batch.message_no, 2)
    assert [i.ref for i in batch.items] == ["r2", "r3"] and batch.has_more
    batch = feed.select(batch.message_no, 2)
    assert [i.ref for i in batch.items] == ["r4"] and not batch.has_more


def test_ack_out_of_range() -> None:
    feed = ExchangeFeed()
    assert feed.select(5, 10).error == "ACK_OUT_OF_RANGE"
    assert feed.sent_no == 0
