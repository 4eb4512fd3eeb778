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
    GET  /webhooks/gateway/trackers/<sender>     what Rasa's tracker store holds (an export)
    DELETE /webhooks/gateway/trackers/<sender>   erase it (retention, a customer's request)

When `RASA_CHANNEL_TOKEN` is set (the gateway reads the same variable), every route but the
health check needs `Authorization: Bearer <token>`: otherwise anyone who reaches the port could
write into a customer's tracker and read their slots. The token is read from the environment,
not from credentials.yml, so it is never written to a file in the repository.

The turn is the same as `Agent.handle_message` + `MessageProcessor.handle_message` of
rasa==3.6.21 (the version pinned in requirements/rasa.lock); they are inlined only to keep the
tracker at hand afterwards.
"""

import functools
import hmac
import os
from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from rasa.core.tracker_store import InMemoryTrackerStore, RedisTrackerStore, SQLTrackerStore
from rasa.shared.core.events import SlotSet
from rasa.shared.core.trackers import EventVerbosity
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from connectors import action_results, event_types, tracker_sqlite

action_results.install()
event_types.install()
tracker_sqlite.install()

# Slots Rasa manages itself; they mean nothing to a representative.
_INTERNAL_SLOTS = {"session_started_metadata", "requested_slot"}
# The form that asks for a one-time code, its slot, and the metadata key the code comes in
# (actions/lookup_form.py).
LOOKUP_FORM = "lookup_form"
CODE_SLOT = "verification_code"
CODE_METADATA_KEY = "one_time_code"
# The slot answers pick their language by; the gateway decides the language (metadata).
LANGUAGE_SLOT = "language"
TOKEN_VARIABLE = "RASA_CHANNEL_TOKEN"  # noqa: S105 (the name of a variable, not a secret)

# A route's work once the caller is let in: the request, the loaded agent, the route's params.
_AgentHandler = Callable[..., Awaitable[HTTPResponse]]


class GatewayInput(InputChannel):
    """Input channel for the gateway: one JSON request per customer turn."""

    @classmethod
    def name(cls) -> Text:
        return "gateway"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        gateway_webhook = Blueprint("gateway_webhook", __name__)
        token = os.environ.get(TOKEN_VARIABLE, "")

        def guarded(handler: _AgentHandler) -> Callable[..., Awaitable[HTTPResponse]]:
            """Runs `handler` with the loaded agent for a caller holding the token: 401 without
            it (when one is set), 503 while the model is still loading."""

            @functools.wraps(handler)
            async def checked(request: Request, **params: Any) -> HTTPResponse:
                if token and not hmac.compare_digest(
                    request.headers.get("Authorization", "").encode(),
                    f"Bearer {token}".encode(),
                ):
                    return response.json({"error": "a valid bearer token is required"}, status=401)
                agent = _agent(request)
                if agent is None:
                    return response.json({"error": "model not loaded"}, status=503)
                return await handler(request, agent, **params)

            return checked

        @gateway_webhook.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            ready = _agent(request) is not None
            return response.json(
                {"status": "ready" if ready else "loading"}, status=200 if ready else 503
            )

        @gateway_webhook.route("/webhook", methods=["POST"])
        @guarded
        async def receive(request: Request, agent: Any) -> HTTPResponse:
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
            return response.json(await _run_turn(agent, sender, text, metadata, self.name()))

        @gateway_webhook.route("/trackers/<sender>", methods=["GET"])
        @guarded
        async def read_tracker(request: Request, agent: Any, sender: Text) -> HTTPResponse:
            tracker = await agent.tracker_store.retrieve_full_tracker(sender)
            events = tracker.current_state(EventVerbosity.ALL)["events"] if tracker else []
            return response.json({"sender": sender, "events": events})

        @gateway_webhook.route("/trackers/<sender>", methods=["DELETE"])
        @guarded
        async def erase_tracker(request: Request, agent: Any, sender: Text) -> HTTPResponse:
            try:
                erased = _erase(agent.tracker_store, sender)
            except NotImplementedError as error:
                return response.json({"error": str(error)}, status=501)
            return response.json({"sender": sender, "erased": erased})

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
        # Before this turn the assistant was waiting for an answer to its own question.
        answering = tracker.active_loop_name == LOOKUP_FORM
        _set_language(tracker, agent.domain, metadata.get("language"))
        tracker = await processor.run_action_extract_slots(output, tracker)
        await processor._run_prediction_loop(output, tracker)
        _forget_one_time_code(tracker)
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
        # The message answered the assistant's question (a number, a contact, a code): no new
        # request, whatever the topic classifier made of it.
        "answering": answering,
        # The assistant asked a question of its own (a form): no "did this help?" under it.
        "asking": tracker.active_loop_name == LOOKUP_FORM,
        # The gateway masks the next message's code in its log and passes it in the metadata.
        "expects_one_time_code": tracker.active_loop_name == LOOKUP_FORM
        and tracker.get_slot("requested_slot") == CODE_SLOT,
    }


def _forget_one_time_code(tracker: Any) -> None:
    """Drop the one-time code from the stored message's metadata once the turn has read it:
    it was checked (or refused) in this turn, and the tracker store keeps events for good."""
    latest = tracker.latest_message
    if latest is None:
        return
    # The message keeps its metadata twice: on itself and in its parse data.
    for metadata in (latest.metadata, (latest.parse_data or {}).get("metadata")):
        if isinstance(metadata, dict):
            metadata.pop(CODE_METADATA_KEY, None)


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


def _erase(store: Any, sender: Text) -> int:
    """Delete everything `store` holds for `sender`; how many records went.

    Rasa 3.6's tracker stores have no delete: each kind is reached below its wrappers
    (AwaitableTrackerStore, FailSafeTrackerStore) and erased in its own terms.
    """
    while hasattr(store, "_tracker_store"):
        store = store._tracker_store
    if isinstance(store, SQLTrackerStore):
        with store.session_scope() as session:
            erased = (
                session.query(store.SQLEvent)
                .filter(store.SQLEvent.sender_id == sender)
                .delete(synchronize_session=False)
            )
            session.commit()
            return int(erased)
    if isinstance(store, InMemoryTrackerStore):
        return 1 if store.store.pop(sender, None) is not None else 0
    if isinstance(store, RedisTrackerStore):
        return int(store.red.delete(store.key_prefix + sender))
    raise NotImplementedError(f"erasing from a {type(store).__name__} is not supported")
