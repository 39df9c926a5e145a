"""Helpers for fault tests: a PostgreSQL that refuses connections, and the web app served in process."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from core.settings import Settings
from webapp.app import create_asgi


def _error_response(sqlstate: str, message: str) -> bytes:
    fields = b"SFATAL\x00VFATAL\x00C" + sqlstate.encode() + b"\x00M" + message.encode() + b"\x00\x00"
    return b"E" + struct.pack("!I", len(fields) + 4) + fields


@asynccontextmanager
async def refusing_postgres(
    sqlstate: str = "57P03", message: str = "the database system is not accepting connections"
) -> AsyncIterator[str]:
    """A server that speaks just enough of PostgreSQL's protocol to refuse every connection the way a
    starting, stopping or recovering server does (asyncpg raises CannotConnectNowError for 57P03).
    Yields its DSN."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                length = struct.unpack("!I", await reader.readexactly(4))[0]
                body = await reader.readexactly(length - 4)
                if body[:4] == struct.pack("!I", 80877103):  # SSLRequest: "not here", then startup
                    writer.write(b"N")
                    await writer.drain()
                    continue
                writer.write(_error_response(sqlstate, message))
                await writer.drain()
                return
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        finally:
            writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/perpvol"
    finally:
        server.close()
        await server.wait_closed()


@asynccontextmanager
async def served(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The ASGI app exactly as `perpvol web` serves it (public fast path included), started."""
    wrapped = create_asgi(settings)
    async with wrapped.app.test_app():  # type: ignore[attr-defined]
        transport = httpx.ASGITransport(app=wrapped, client=("198.51.100.4", 4000))
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
            yield client


class TcpProxy:
    """A loopback TCP proxy in front of a real server, which a test can take down (every connection cut,
    new ones refused at once) and bring back: Redis stopping and starting, without touching Redis."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.up = True
        # Frozen: connections stay open and nothing passes (like SIGSTOP on the server).
        self._thawed = asyncio.Event()
        self._thawed.set()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    def down(self) -> None:
        self.up = False
        for writer in list(self._writers):
            writer.close()
        self._writers.clear()

    def restore(self) -> None:
        self.up = True
        self._thawed.set()

    def freeze(self) -> None:
        self._thawed.clear()

    async def close(self) -> None:
        self.down()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.up:
            writer.close()
            return
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self._writers.update((writer, upstream_writer))
        await asyncio.gather(
            self._pipe(reader, upstream_writer), self._pipe(upstream_reader, writer), return_exceptions=True
        )

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                await self._thawed.wait()
                writer.write(data)
                await writer.drain()
        finally:
            writer.close()
            self._writers.discard(writer)
