"""Store-and-forward: a bounded on-disk queue of batches the database could not take.

A segment is one batch: the binary COPY bytes of its points (``storage.telemetry.encode_copy``)
and its quarantine records. Segments are written to a temporary name, fsynced and renamed, so
a crash leaves either a whole segment or none; they are replayed oldest first, and a segment is
deleted only after its transaction committed. A crash between that commit and the deletion
replays the segment once more, and the telemetry key (migration 0006) makes that a no-op.

One process owns a spool directory (an exclusive ``flock``): two collectors sharing one would
replay each other's segments twice.
"""

from __future__ import annotations

import base64
import fcntl
import json
import logging
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from collectors.errors import CollectorConfigError
from storage.quarantine import Rejected

__all__ = ["Spool", "Segment", "SpoolFull"]

log = logging.getLogger(__name__)

_MAGIC = b"RWSPOOL1"


class SpoolFull(Exception):
    """The spool has no room for this batch: keep it in memory and apply backpressure."""


@dataclass(frozen=True, slots=True)
class Segment:
    path: Path
    rows: int
    data: bytes
    rejects: list[Rejected]


def _reject_to_json(r: Rejected) -> dict[str, object]:
    return {"source": r.source, "origin": r.origin, "reason": r.reason, "detail": r.detail,
            "payload": None if r.payload is None else base64.b64encode(r.payload).decode(),
            "received_at": None if r.received_at is None else r.received_at.isoformat()}


def _reject_from_json(d: dict[str, object]) -> Rejected:
    p, at = d.get("payload"), d.get("received_at")
    return Rejected(source=str(d["source"]), origin=d.get("origin"),  # type: ignore[arg-type]
                    reason=str(d["reason"]), detail=d.get("detail"),  # type: ignore[arg-type]
                    payload=None if p is None else base64.b64decode(str(p)),
                    received_at=None if at is None else datetime.fromisoformat(str(at)))


class Spool:
    def __init__(self, *, directory: Path, max_bytes: int) -> None:
        self.directory = Path(directory)
        self.max_bytes = max_bytes
        self.directory.mkdir(parents=True, exist_ok=True)
        self._lock_fd = os.open(self.directory / ".lock", os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._lock_fd)
            raise CollectorConfigError(
                f"spool {self.directory} is in use by another collector process; "
                "give each process its own --spool-dir") from None
        for tmp in self.directory.glob("*.tmp"):
            tmp.unlink()  # a crash while writing: that batch was never acknowledged
        self._paths = sorted(self.directory.glob("*.seg"))
        self.bytes = sum(p.stat().st_size for p in self._paths)
        self._next = int(self._paths[-1].stem) + 1 if self._paths else 0
        if self._paths:
            log.warning("spool %s holds %d segments (%d bytes) from an earlier run; replaying",
                        self.directory, len(self._paths), self.bytes)

    def __len__(self) -> int:
        return len(self._paths)

    def append(self, *, data: bytes, rows: int, rejects: list[Rejected]) -> None:
        meta = json.dumps({"rows": rows, "rejects": [_reject_to_json(r) for r in rejects]}).encode()
        size = len(_MAGIC) + 8 + len(meta) + len(data)
        if self._paths and self.bytes + size > self.max_bytes:
            raise SpoolFull(f"spool {self.directory} full ({self.bytes} of {self.max_bytes} bytes)")
        path = self.directory / f"{self._next:016d}.seg"
        tmp = path.with_suffix(".tmp")
        with open(tmp, "wb") as f:
            f.write(_MAGIC + len(meta).to_bytes(8, "big") + meta)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        dir_fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)  # the rename itself must survive a power cut before we ack
        finally:
            os.close(dir_fd)
        self._next += 1
        self._paths.append(path)
        self.bytes += size

    def oldest(self) -> Segment | None:
        """The next segment to replay; an unreadable one is moved aside (``.bad``) and logged."""
        while self._paths:
            path = self._paths[0]
            try:
                raw = path.read_bytes()
                if raw[:len(_MAGIC)] != _MAGIC:
                    raise ValueError("not a spool segment")
                n = int.from_bytes(raw[len(_MAGIC):len(_MAGIC) + 8], "big")
                start = len(_MAGIC) + 8
                meta = json.loads(raw[start:start + n])
                return Segment(path=path, rows=int(meta["rows"]), data=raw[start + n:],
                               rejects=[_reject_from_json(d) for d in meta["rejects"]])
            except (OSError, ValueError, KeyError, TypeError) as exc:
                log.error("spool segment %s unreadable (%s); moved aside as .bad", path, exc)
                size = path.stat().st_size if path.exists() else 0
                if path.exists():
                    path.rename(path.with_suffix(".bad"))
                self._paths.pop(0)
                self.bytes -= size
        return None

    def remove(self, segment: Segment) -> None:
        size = segment.path.stat().st_size
        segment.path.unlink()
        self._paths.remove(segment.path)
        self.bytes -= size

    def quarantine_bad(self, segment: Segment) -> None:
        """Move an unreadable or refused segment aside (kept for inspection, never replayed)."""
        size = segment.path.stat().st_size
        segment.path.rename(segment.path.with_suffix(".bad"))
        self._paths.remove(segment.path)
        self.bytes -= size

    def close(self) -> None:
        if self._lock_fd >= 0:
            os.close(self._lock_fd)
            self._lock_fd = -1
