"""Supervisor alerts: raised once per (kind, subject) in the store, sent by webhook and email."""
