"""The composition root: builds the core, the channels and the human queue, and wires them.

The only package that imports everything (`bot/`, `channels/`, `handoff/`); nothing imports it
back. `app` is the ASGI app factory, `services` the per-process wiring, `cli` the `caricom`
command, `health` the liveness and readiness routes.
"""
