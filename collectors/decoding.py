"""What a pluggable MQTT payload format gives the collector (Sparkplug B, JSON gateways).

The MQTT collector keeps the connection, acknowledgements, writer and quarantine; a decoder
only turns one message into samples, refusals, commands to publish and robots that went
offline or came back. Payload v1 (collectors.payload) is the built-in format and needs none.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from collectors.errors import RejectedInput
from collectors.payload import Sample

__all__ = ["Decoded", "MessageDecoder", "dropped_values"]


@dataclass(slots=True, kw_only=True)
class Decoded:
    samples: list[Sample] = field(default_factory=list)
    # Refusals of the whole message or of some of its values (the rest is in ``samples``).
    rejects: list[RejectedInput] = field(default_factory=list)
    # (topic, payload) to publish at QoS 0, e.g. a Sparkplug rebirth request.
    commands: list[tuple[str, bytes]] = field(default_factory=list)
    # (robot code, reason): the source says the robot is gone (Sparkplug NDEATH/DDEATH).
    offline: list[tuple[str, str]] = field(default_factory=list)
    # Robot codes that are back (a birth).
    online: list[str] = field(default_factory=list)


class MessageDecoder(Protocol):
    @property
    def name(self) -> str:
        """Short name for logs, metrics and the quarantine's ``source``."""
        ...

    @property
    def topic(self) -> str:
        """The topic filter to subscribe to."""
        ...

    # Whether several collector processes may split the subscription (a shared
    # subscription): not when decoding needs what earlier messages said (Sparkplug aliases).
    @property
    def shareable(self) -> bool:
        ...

    def decode(self, topic: str, raw: bytes, *, now: float) -> Decoded:
        """Never raises for bad input: it is reported in ``Decoded.rejects``."""
        ...


def dropped_values(dropped: list[tuple[str, str]], *, context: str = "") -> RejectedInput:
    """One quarantine record for the (name, reason) values refused from one message or
    record: its reason the first in order, its detail the first 20 of them."""
    reasons = sorted({r for _, r in dropped})
    return RejectedInput(reasons[0], context + ", ".join(f"{n}: {r}" for n, r in dropped[:20]))
