"""A loopback TCP proxy whose link can be cut: "the database goes away" for one gateway only.

Why a proxy rather than stopping PostgreSQL: the machine's server is shared (other tests and
other people's work use it at the same time), so a fault test may not stop it. The gateway under
test reaches PostgreSQL through this proxy instead. `cut()` aborts every connection through it
and turns new ones away (accepted, then closed at once), which is what the gateway sees when
its database dies: pooled connections break on their next use and new ones fail. `restore()`
lets connections through again on the same port, as a database that is back. PostgreSQL itself
sees only clients disconnecting, and rolls back whatever they had open.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

_CHUNK = 64 * 1024


class TcpProxy:
    """Forwards connections on a free loopback port to `target_host:target_port`."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target_host = target_host
        self.target_port = target_port
        self.port = 0
        self.refused = 0  # connections turned away while cut
        self._server: asyncio.Server | None = None
        self._open = True
        self._links: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def cut(self) -> None:
        """Break every open connection and refuse new ones until `restore()`.

        On return every connection through the proxy is closed at both ends.
        """
        self._open = False
        links = list(self._links)
        for link in links:
            link.cancel()
        await asyncio.gather(*links, return_exceptions=True)

    def restore(self) -> None:
        """Let connections through again (the ones cut stay broken, as after a restart)."""
        self._open = True

    async def close(self) -> None:
        await self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self._open:
            self.refused += 1
            writer.transport.abort()
            return
        task = asyncio.current_task()
        assert task is not None
        self._links.add(task)
        upstream: asyncio.StreamWriter | None = None
        try:
            upstream_reader, upstream = await asyncio.open_connection(
                self.target_host, self.target_port
            )
            await _pipe_both_ways(reader, writer, upstream_reader, upstream)
        except (asyncio.CancelledError, OSError):
            pass  # cut, or either side went away: both ends are closed below
        finally:
            self._links.discard(task)
            writer.transport.abort()
            if upstream is not None:
                upstream.transport.abort()


async def _pipe_both_ways(
    client_reader: asyncio.StreamReader,
    client_writer: asyncio.StreamWriter,
    server_reader: asyncio.StreamReader,
    server_writer: asyncio.StreamWriter,
) -> None:
    """Copy bytes both ways until either side closes (then the caller closes the other)."""
    copies = [
        asyncio.create_task(_copy(client_reader, server_writer)),
        asyncio.create_task(_copy(server_reader, client_writer)),
    ]
    try:
        await asyncio.wait(copies, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for copy in copies:
            copy.cancel()
        await asyncio.gather(*copies, return_exceptions=True)


async def _copy(source: asyncio.StreamReader, target: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError):
        while data := await source.read(_CHUNK):
            target.write(data)
            await target.drain()


@asynccontextmanager
async def running_tcp_proxy(target_host: str, target_port: int) -> AsyncIterator[TcpProxy]:
    """A started proxy to `target_host:target_port`, closed (every link cut) afterwards."""
    proxy = TcpProxy(target_host, target_port)
    await proxy.start()
    try:
        yield proxy
    finally:
        await proxy.close()
