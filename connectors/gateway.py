"""The Rasa-side half of the gateway's link to the assistant.

The gateway owns channels, the log and the human queue; it asks Rasa for one turn at a time.
Rasa's REST channel returns only the bot's messages, but the gateway must also log the predicted
intent and its confidence, and hand the slots over to a person on handoff. Asking `/model/parse`
as well would run NLU twice a turn, and reading the tracker back would cost another tracker-store
round trip, so this channel runs the turn itself and returns everything in one answer:

    POST /webhooks/gateway/webhook  {"sender": "...", "message": "...", "metadata": {...}}
    200 {"messages": [...], "intent": {"name": ..., "confidence": ...}, "entities": [...],
         "slots": {...}}
    GET  /webhooks/gateway/         200 when the model is loaded, 503 while loading

The turn is the same as `Agent.handle_message` + `MessageProcessor.handle_message` of
rasa==3.6.21 (the version pinned in requirements/rasa.lock); they are inlined only to keep the
tracker at hand afterwards.
"""

from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from rasa.shared.core.events import SlotSet
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

# Slots Rasa manages itself; they mean nothing to a representative.
_INTERNAL_SLOTS = {"session_started_metadata", "requested_slot"}
# The slot answers pick their language by; the gateway decides the language (metadata).
LANGUAGE_SLOT = "language"


class GatewayInput(InputChannel):
    """Input channel for the gateway: one JSON request per customer turn."""

    @classmethod
    def name(cls) -> Text:
        return "gateway"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        gateway_webhook = Blueprint("gateway_webhook", __name__)

        @gateway_webhook.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            ready = _agent(request) is not None
            return response.json(
                {"status": "ready" if ready else "loading"}, status=200 if ready else 503
            )

        @gateway_webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            body = request.json
            if not isinstance(body, dict):
                return response.json({"error": "expected a JSON object"}, status=400)
            sender, text = body.get("sender"), body.get("message")
            metadata = body.get("metadata") or {}
            if not isinstance(sender, str) or not sender or not isinstance(text, str):
                return response.json(
                    {"error": "'sender' (non-empty string) and 'message' (string) are required"},
                    status=400,
                )
            agent = _agent(request)
            if agent is None:
                return response.json({"error": "model not loaded"}, status=503)
            return response.json(await _run_turn(agent, sender, text, metadata, self.name()))

        return gateway_webhook


def _agent(request: Request) -> Optional[Any]:
    agent = getattr(request.app.ctx, "agent", None)
    return agent if agent is not None and agent.is_ready() else None


async def _run_turn(
    agent: Any, sender: Text, text: Text, metadata: Dict[Text, Any], channel: Text
) -> Dict[Text, Any]:
    output = CollectingOutputChannel()
    message = UserMessage(text, output, sender, input_channel=channel, metadata=metadata)
    async with agent.lock_store.lock(sender):
        processor = agent.processor
        tracker = await processor.log_message(message, should_save_tracker=False)
        _set_language(tracker, agent.domain, metadata.get("language"))
        tracker = await processor.run_action_extract_slots(output, tracker)
        await processor._run_prediction_loop(output, tracker)
        await processor.run_anonymization_pipeline(tracker)
        await processor.save_tracker(tracker)

    parse = tracker.latest_message.parse_data if tracker.latest_message else {}
    intent = parse.get("intent") or {}
    return {
        "messages": [{k: v for k, v in m.items() if k != "recipient_id"} for m in output.messages],
        "intent": {"name": intent.get("name"), "confidence": intent.get("confidence")},
        "entities": [
            {"entity": e.get("entity"), "value": e.get("value")} for e in parse.get("entities", [])
        ],
        "slots": {
            name: value
            for name, value in tracker.current_slot_values().items()
            if value is not None and name not in _INTERNAL_SLOTS
        },
    }


def _set_language(tracker: Any, domain: Any, language: Any) -> None:
    """Sets the language slot to the gateway's choice, if the assistant knows that language."""
    slot = next((s for s in domain.slots if s.name == LANGUAGE_SLOT), None)
    if slot is None or not isinstance(language, str):
        return
    known = [str(v).lower() for v in getattr(slot, "values", [])]
    # Anything else (a language the assistant has no answers in) keeps the slot as it was,
    # so the answers stay in the language they were in.
    if language.lower() in known and tracker.get_slot(LANGUAGE_SLOT) != language.lower():
        tracker.update(SlotSet(LANGUAGE_SLOT, language.lower()))
