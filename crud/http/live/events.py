"""What a watcher receives: numbered events, their SSE and WebSocket encodings, and the
bounded replay ring a reconnecting client resumes from (``Last-Event-ID``)."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

__all__ = ["HEARTBEAT", "Event", "Ring", "parse_event_id"]

# A comment line: proxies and the client see traffic, EventSource ignores it.
HEARTBEAT = b": heartbeat\n\n"


@dataclass(frozen=True)
class Event:
    """One event of a cohort; ``data`` is compact JSON (one line)."""

    epoch: str  # the cohort's incarnation: an id from another one cannot be resumed
    seq: int
    name: str  # snapshot, added, changed, removed, refetch
    data: bytes

    @property
    def id(self) -> str:
        return f"{self.epoch}-{self.seq}"

    def sse(self) -> bytes:
        return b"id: %s\nevent: %s\ndata: %s\n\n" % (self.id.encode(), self.name.encode(),
                                                      self.data)

    def frame(self) -> bytes:
        """The WebSocket text frame: the same three parts as one JSON object."""
        return b'{"id":"%s","event":"%s","data":%s}' % (self.id.encode(), self.name.encode(),
                                                        self.data)


def parse_event_id(raw: str | None) -> tuple[str, int] | None:
    """``(epoch, seq)`` of a ``Last-Event-ID``; None when absent or not one of ours."""
    if not raw:
        return None
    epoch, _, seq = raw.strip().rpartition("-")
    return (epoch, int(seq)) if epoch and seq.isdigit() else None


class Ring:
    """The latest ``size`` change events of a cohort, for resuming after a reconnect."""

    def __init__(self, size: int) -> None:
        self.events: deque[Event] = deque(maxlen=size)

    def since(self, seq: int, current: int) -> list[Event] | None:
        """The events after ``seq``; None when the ring no longer reaches back that far."""
        if seq == current:
            return []
        if seq > current or not self.events or self.events[0].seq > seq + 1:
            return None
        return [event for event in self.events if event.seq > seq]

    def add(self, event: Event) -> None:
        self.events.append(event)
