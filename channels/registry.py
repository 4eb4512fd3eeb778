"""The channels this gateway serves: one line each, built from the settings in this order."""

from __future__ import annotations

from bot.settings import Settings
from channels import telegram, twilio, webchat
from channels.contract import ChannelAdapter, ChannelDeps, ChannelFactory

CHANNELS: tuple[ChannelFactory, ...] = (
    webchat.from_settings,
    twilio.from_settings,
    telegram.from_settings,
)


def build_channels(settings: Settings, deps: ChannelDeps) -> list[ChannelAdapter]:
    """Every channel the settings switch on."""
    return [channel for make in CHANNELS if (channel := make(settings, deps)) is not None]
