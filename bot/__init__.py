"""The conversation core: settings, messages, store, lifecycle, inbox, router, replies, outbox.

It imports nothing from `channels/`, `handoff/` or `gateway/` (tests/test_architecture.py);
what those need to hear it publishes on `bot.events.Events`.
"""
