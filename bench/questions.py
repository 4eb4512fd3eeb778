"""Customer questions for the load test: the assistant's own catalogue, as customers word them.

Taken from the NLU examples in data/nlu/*.yml, keeping only what the assistant answers itself:
a question that hands the conversation to a person would silence the bot for the rest of that
conversation, and the load test measures bot turns. What survives is then asked of the real
assistant once (`screen`), and only questions it classifies as labelled, with confidence, and
answers, are used: the turns measured are the turns customers get answered.
"""

from __future__ import annotations

import asyncio
import random
import re
from dataclasses import dataclass
from pathlib import Path

import httpx
import yaml  # type: ignore[import-untyped]

from bot.assistant_model import PROJECT_ROOT
from bot.buttons import chosen_option
from channels.twilio.consent import keyword_of

NLU_DIR = PROJECT_ROOT / "data" / "nlu"
# Handed to a person (actions/handoff.py), or meaningful only as an answer to a question.
NOT_SELF_SERVICE = frozenset(
    {
        "contact_human_agent",
        "complaint",
        "account_compromised",
        "payment_dispute",
        "out_of_scope",  # twice running offers a person
        "affirm",
        "deny",
    }
)
_ANNOTATION = re.compile(r"\[([^\]]+)\](?:\([^)]*\)|\{[^}]*\})")
MIN_CONFIDENCE = 0.6


@dataclass(frozen=True)
class Question:
    intent: str
    text: str


def catalogue(nlu_dir: Path = NLU_DIR) -> list[Question]:
    """Every self-service example in the training data, entity annotations removed."""
    found: list[Question] = []
    for path in sorted(nlu_dir.glob("*.yml")):
        for block in yaml.safe_load(path.read_text()).get("nlu") or []:
            intent = block.get("intent")
            if not intent or intent in NOT_SELF_SERVICE:
                continue
            for line in str(block.get("examples", "")).splitlines():
                text = _ANNOTATION.sub(r"\1", line.strip().removeprefix("- ")).strip()
                # A bare keyword (STOP, HELP …) or option number never reaches the assistant.
                if text and keyword_of(text) is None and chosen_option(text) is None:
                    found.append(Question(intent, text))
    return found


async def screen(
    rasa_url: str, candidates: list[Question], *, concurrency: int = 6
) -> list[Question]:
    """The candidates the assistant classifies as labelled and answers (and warm it up).

    Each is asked in a conversation of its own, straight at the Rasa server's gateway channel,
    so no earlier turn colours the prediction.
    """
    kept: list[Question] = []
    gate = asyncio.Semaphore(concurrency)

    async def ask(client: httpx.AsyncClient, index: int, question: Question) -> None:
        async with gate:
            response = await client.post(
                "/webhooks/gateway/webhook",
                json={"sender": f"loadtest-screen-{index}", "message": question.text},
            )
        response.raise_for_status()
        body = response.json()
        intent = body.get("intent") or {}
        messages = body.get("messages") or []
        handoff = any("handoff" in (m.get("custom") or {}) for m in messages)
        if (
            intent.get("name") == question.intent
            and float(intent.get("confidence") or 0) >= MIN_CONFIDENCE
            and any(m.get("text") for m in messages)
            and not handoff
        ):
            kept.append(question)

    async with httpx.AsyncClient(base_url=rasa_url, timeout=60) as client:
        await asyncio.gather(*(ask(client, i, q) for i, q in enumerate(candidates)))
    return kept


def sample(questions: list[Question], count: int, *, seed: int) -> list[Question]:
    """`count` questions spread over the intents (each intent as evenly as its examples allow)."""
    by_intent: dict[str, list[Question]] = {}
    for question in questions:
        by_intent.setdefault(question.intent, []).append(question)
    rng = random.Random(seed)
    for examples in by_intent.values():
        rng.shuffle(examples)
    picked: list[Question] = []
    while len(picked) < count and any(by_intent.values()):
        for examples in by_intent.values():
            if examples and len(picked) < count:
                picked.append(examples.pop())
    rng.shuffle(picked)
    return picked
