"""Drive a paho-mqtt client from the asyncio event loop (no paho network thread).

paho's socket callbacks register the socket with the loop's reader/writer; a small task
runs ``loop_misc`` for keep-alives. ``pause_reading`` / ``resume_reading`` give TCP
backpressure: while paused the broker holds messages instead of us buffering them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from typing import Any

import paho.mqtt.client as mqtt

__all__ = ["AsyncioMqttLoop"]

log = logging.getLogger(__name__)


class AsyncioMqttLoop:
    def __init__(self, client: mqtt.Client, loop: asyncio.AbstractEventLoop) -> None:
        self._client = client
        self._loop = loop
        self._sock: Any = None
        self._paused = False
        self._misc: asyncio.Task[None] | None = None
        # Messages delivered so far (the owner calls ``delivered()`` from on_message).
        self._delivered = 0
        self._writing = False
        client.on_socket_open = self._on_open
        client.on_socket_close = self._on_close
        client.on_socket_register_write = self._on_register_write
        client.on_socket_unregister_write = self._on_unregister_write

    def _in_loop(self, fn: Any, *args: Any) -> None:
        # connect() runs in a worker thread (it blocks on the TCP handshake), and paho calls
        # the socket callbacks from there; the loop's reader/writer registry is not thread-safe.
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            fn(*args)
        else:
            self._loop.call_soon_threadsafe(fn, *args)

    def _on_open(self, client: mqtt.Client, userdata: Any, sock: Any) -> None:
        self._in_loop(self._open, client, sock)

    def _open(self, client: mqtt.Client, sock: Any) -> None:
        self._sock = sock
        self._loop.add_reader(sock, self._read)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
        self._misc = self._loop.create_task(self._misc_loop())

    def _on_close(self, client: mqtt.Client, userdata: Any, sock: Any) -> None:
        self._in_loop(self._close, sock)

    def _close(self, sock: Any) -> None:
        self._loop.remove_reader(sock)
        self._loop.remove_writer(sock)
        self._writing = False
        self._sock = None
        if self._misc is not None:
            self._misc.cancel()
            self._misc = None

    def _on_register_write(self, client: mqtt.Client, userdata: Any, sock: Any) -> None:
        # paho asks for every queued packet (one per acknowledgement): register once.
        if not self._writing:
            self._writing = True
            self._in_loop(self._loop.add_writer, sock, client.loop_write)

    def _on_unregister_write(self, client: mqtt.Client, userdata: Any, sock: Any) -> None:
        self._writing = False
        self._in_loop(self._loop.remove_writer, sock)

    def pause_reading(self) -> None:
        if self._sock is not None and not self._paused:
            self._loop.remove_reader(self._sock)
            self._paused = True

    def resume_reading(self) -> None:
        if self._sock is not None and self._paused:
            self._loop.add_reader(self._sock, self._read)
        self._paused = False

    def delivered(self) -> None:
        self._delivered += 1

    @property
    def delivered_count(self) -> int:
        return self._delivered

    def _read(self) -> None:
        # paho reads one packet per loop_read() whatever max_packets says (it recomputes it
        # from its QoS 2 queues). Under load many messages wait in the socket buffer: read
        # them in one go instead of one event-loop iteration each, and stop at the first
        # call that delivered nothing (no data left, or a control packet).
        for _ in range(64):
            before = self._delivered
            if self._client.loop_read() != mqtt.MQTT_ERR_SUCCESS:
                return
            if self._delivered == before or self._paused or self._sock is None:
                return

    async def _misc_loop(self) -> None:
        while self._client.loop_misc() == mqtt.MQTT_ERR_SUCCESS:
            await asyncio.sleep(1.0)

    async def close(self) -> None:
        if self._misc is not None:
            self._misc.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._misc
