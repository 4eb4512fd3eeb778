"""What the human queue's services refuse, each with the HTTP status the API answers with."""

from __future__ import annotations


class HandoffError(Exception):
    """A request the queue refuses; the message is safe to show to the rep."""

    status_code = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(HandoffError):
    status_code = 404


class NotAllowed(HandoffError):
    """The rep is signed in but may not do this (role, or someone else's conversation)."""

    status_code = 403


class Conflict(HandoffError):
    """The conversation is not in a state that allows this (claimed by someone else, resolved)."""

    status_code = 409


class Invalid(HandoffError):
    """The input is wrong (empty reply, missing wrap-up field)."""

    status_code = 422


class NotAuthenticated(HandoffError):
    """No valid session or token, or a wrong username or password."""

    status_code = 401


class TooManyAttempts(HandoffError):
    """Too many failed logins: try again after `retry_after` seconds."""

    status_code = 429

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"Too many failed logins. Try again in {retry_after} seconds.")
        self.retry_after = retry_after


class ChannelUnavailable(HandoffError):
    """The customer's channel has no sender configured on this gateway."""

    status_code = 503
