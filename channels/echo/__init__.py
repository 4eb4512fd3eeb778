"""Echo: a toy vendor that posts `{"id", "from", "text"}` to the gateway and takes the replies
at `ECHO_API_BASE_URL/messages`. Written to show what adding a channel touches."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx
from fastapi import APIRouter, HTTPException, Request

from bot.inbox import Inbox
from bot.messages import Channel, InboundMessage, Reply
from bot.sending import ChannelSender, OutboundJob, Outcome, RetryLater, Sent
from bot.settings import Settings
from channels.contract import BackgroundLoop, ChannelDeps


def from_settings(settings: Settings, deps: ChannelDeps) -> EchoChannel | None:
    if not settings.ECHO_ENABLED:
        return None
    return EchoChannel(api_base_url=settings.ECHO_API_BASE_URL, inbox=deps.inbox)


class EchoSender:
    channel = Channel.ECHO

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    def render(self, reply: Reply) -> list[dict[str, Any]]:
        return [{"text": reply.text}]

    async def send(self, job: OutboundJob) -> Outcome:
        try:
            response = await self._client.post("/messages", json={"to": job.address, **job.body})
        except httpx.HTTPError as error:
            return RetryLater(error=type(error).__name__, in_doubt=True)
        if response.status_code >= 300:
            return RetryLater(error=f"HTTP {response.status_code}")
        return Sent(provider_message_id=response.json().get("id"))


class EchoChannel:
    name = "echo"

    def __init__(self, *, api_base_url: str, inbox: Inbox) -> None:
        self._client = httpx.AsyncClient(base_url=api_base_url, timeout=10)
        self._sender = EchoSender(self._client)
        self._inbox = inbox

    def senders(self) -> Sequence[ChannelSender]:
        return (self._sender,)

    def routes(self) -> APIRouter:
        api = APIRouter(prefix="/channels/echo")

        @api.post("/webhook", include_in_schema=False)
        async def webhook(request: Request) -> dict[str, str]:
            body = await request.json()
            if not isinstance(body, dict) or not isinstance(body.get("text"), str):
                raise HTTPException(400, 'expected {"id", "from", "text"}')
            inbound = InboundMessage(
                channel=Channel.ECHO,
                address=str(body.get("from")),
                text=body["text"],
                external_id=str(body.get("id")),
            )
            return {"status": str(await self._inbox.take(inbound))}

        return api

    def loops(self) -> Sequence[BackgroundLoop]:
        return ()

    async def close(self) -> None:
        await self._client.aclose()
