"""What every export shares: plain values and reading a table in keyset pages.

Each page is read in its own short session, so memory stays flat however many rows there are
and no transaction stays open while a slow client reads the stream.
"""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

PAGE_SIZE = 1000

Record = dict[str, Any]
# Reads the page of records whose key is above `after` (oldest first), at most `size` of them.
PageReader = Callable[[AsyncSession, int, int], Awaitable[list[Record]]]


def plain_value(value: Any) -> Any:
    """A stored value as JSON and CSV write it: dates in ISO 8601, enums by their value."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    return value


async def keyset_records(
    session_factory: async_sessionmaker[AsyncSession],
    read_page: PageReader,
    key: str,
    page_size: int = PAGE_SIZE,
) -> AsyncIterator[Record]:
    """Every record `read_page` gives, page after page by the increasing `key` of each."""
    after = 0
    while True:
        async with session_factory() as session:
            page = await read_page(session, after, page_size)
        if not page:
            return
        for record in page:
            yield record
        after = page[-1][key]
