"""The human queue: handoff, assignment, the SLA clock, the rep API and console."""
