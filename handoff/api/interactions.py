"""`/api/interactions`: phone calls and emails a rep records (handoff/interactions.py)."""

from __future__ import annotations

from fastapi import APIRouter, status

from handoff.contacts import interaction_public
from handoff.deps import CurrentRep, SessionDep
from handoff.interactions import CATALOGUE_TOPICS, log_interaction
from handoff.packet import RepNames
from handoff.schemas import InteractionCreate, InteractionPublic

router = APIRouter(prefix="/api/interactions", tags=["contacts"])


@router.post("", status_code=status.HTTP_201_CREATED)
async def log(body: InteractionCreate, rep: CurrentRep, session: SessionDep) -> InteractionPublic:
    """Record a phone call or an email: the customer (`contact_id` from a search, or a phone,
    email or name: an unknown phone or email is a new customer), direction, when, the nature of
    the inquiry (a catalogue topic from `GET /api/interactions/topics`, or free text), the
    actions taken and any follow-up (due date and owner's username)."""
    interaction = await log_interaction(session=session, rep=rep, record=body)
    names = await RepNames.load(session, {interaction.rep_id, interaction.follow_up_owner_id})
    return interaction_public(interaction, names)


@router.get("/topics")
async def topics(rep: CurrentRep) -> list[str]:
    """The catalogue's topics, the usual natures of an inquiry."""
    return list(CATALOGUE_TOPICS)
