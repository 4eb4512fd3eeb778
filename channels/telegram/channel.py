"""The Telegram channel's parts, built once per process: the Bot, the sender, the intake."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from channels.telegram.client import TelegramClient
from channels.telegram.intake import Background, CustomerMessages, TelegramIntake
from channels.telegram.outbound import TelegramSender


class TelegramChannel:
    """Both halves of the Telegram channel, sharing one python-telegram-bot `Bot`."""

    def __init__(
        self,
        *,
        token: str,
        api_base_url: str,
        session_factory: async_sessionmaker[AsyncSession],
        promise_hours: int,
    ) -> None:
        self.client = TelegramClient(token=token, api_base_url=api_base_url)
        self.sender = TelegramSender(self.client)
        self._session_factory = session_factory
        self._promise_hours = promise_hours
        self._intake: TelegramIntake | None = None

    def attach(self, *, router: CustomerMessages, background: Background) -> None:
        """Connect the inbound half to the conversation router (built after the sender)."""
        self._intake = TelegramIntake(
            client=self.client,
            session_factory=self._session_factory,
            router=router,
            background=background,
            promise_hours=self._promise_hours,
        )

    @property
    def intake(self) -> TelegramIntake:
        assert self._intake is not None, "attach() the router before serving"
        return self._intake

    async def close(self) -> None:
        await self.client.close()
