"""Live lists: any list URL watched as a stream of changes (docs/live.md).

``events`` (the wire format and replay ring), ``diff`` (a page's rows by key and the
changes between two pages), ``cohort`` (one shared query and its watchers), ``hub`` (the
process's cohorts, pollers and caps) and ``watch`` (one resource's SSE and WebSocket
streams).
"""

from crud.http.live.hub import Hub, LiveLimits, LiveStats, TokenSource
from crud.http.live.watch import Watch, wants_events

__all__ = ["Hub", "LiveLimits", "LiveStats", "TokenSource", "Watch", "wants_events"]
