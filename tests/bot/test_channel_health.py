"""The outbox's view of failing vendors: recovery, and probes while a channel stays down."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.channel_health import ChannelHealth
from bot.messages import Channel


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def test_a_channel_recovers_on_its_first_success_after_failing() -> None:
    health = ChannelHealth(clock=Clock())
    assert health.observe(succeeded=[Channel.SMS], failed=[]) == set()  # never failed
    assert health.observe(succeeded=[], failed=[Channel.SMS, Channel.TELEGRAM]) == set()
    assert health.failing == {Channel.SMS, Channel.TELEGRAM}
    assert health.observe(succeeded=[Channel.SMS], failed=[]) == {Channel.SMS}
    assert health.failing == {Channel.TELEGRAM}


def test_a_channel_that_failed_again_in_the_same_batch_has_not_recovered() -> None:
    health = ChannelHealth(clock=Clock())
    health.observe(succeeded=[], failed=[Channel.SMS])
    assert health.observe(succeeded=[Channel.SMS], failed=[Channel.SMS]) == set()
    assert health.failing == {Channel.SMS}


def test_a_failing_channel_is_probed_once_every_interval() -> None:
    clock = Clock()
    health = ChannelHealth(probe_every=timedelta(seconds=10), clock=clock)
    health.observe(succeeded=[], failed=[Channel.WHATSAPP])
    assert health.probes_due() == []
    clock.now += timedelta(seconds=10)
    assert health.probes_due() == [Channel.WHATSAPP]
    assert health.probes_due() == []  # counted as tried
    clock.now += timedelta(seconds=9)
    assert health.probes_due() == []
    health.observe(succeeded=[Channel.WHATSAPP], failed=[])
    clock.now += timedelta(minutes=5)
    assert health.probes_due() == []  # recovered: nothing to probe
