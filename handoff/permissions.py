"""Who may do what to a conversation: roles, tiers and ownership."""

from __future__ import annotations

from bot.store.models import Conversation, Rep, Role
from handoff.errors import Conflict, NotAllowed


def rep_actor(rep: Rep) -> str:
    """How a rep is named in audit events."""
    return f"rep:{rep.id}"


def require_role(rep: Rep, role: Role) -> None:
    if not rep.role.covers(role):
        raise NotAllowed(f"This needs the {role} role.")


def require_tier(rep: Rep, tier: int) -> None:
    """Tier 2 (escalated conversations) is the supervisors' queue."""
    if tier not in (1, 2):
        raise NotAllowed("There are two tiers: 1 (reps) and 2 (supervisors).")
    if tier == 2:
        require_role(rep, Role.SUPERVISOR)


def require_owner(conversation: Conversation, rep: Rep) -> None:
    """Only the rep who owns a conversation answers, escalates, releases or resolves it."""
    if conversation.assigned_rep_id == rep.id:
        return
    if conversation.assigned_rep_id is None:
        raise Conflict("Claim this conversation first.")
    raise NotAllowed("Another rep owns this conversation.")


def require_not_others(conversation: Conversation, rep: Rep) -> None:
    """Notes: the owner, anyone while nobody owns it, and supervisors always."""
    if conversation.assigned_rep_id in (None, rep.id) or rep.role.covers(Role.SUPERVISOR):
        return
    raise NotAllowed("Another rep owns this conversation.")
