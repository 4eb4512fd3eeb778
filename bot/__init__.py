"""The gateway: settings, conversation router, Rasa client, store and CLI.

Core modules (`settings`, `domain`, `store`, `lifecycle`, `rasa_client`, `outbox`, `text`) import
nothing from `channels/` or `handoff/`; `router`, `app` and `cli` wire those packages in.
"""
