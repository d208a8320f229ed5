"""Several services' histories of one person as one stream: in time order, an effect never before
its cause. Plain Python over iterators, holding one line per service (never the whole history).

Each service's lines come in position order, which is the order that service committed them (its
positions are assigned under a table lock): within a service, a cause always comes first. Across
services, a line caused by another service's event names it (`caused_by`: source and position).
The merge takes the earliest line by time among the services' next lines, except one whose cause
may still come: its source is being merged and has not yet passed the cause's position. That
service's next line is not taken until the cause is listed or passed over (left out by a filter),
and the service waiting keeps its own order meanwhile. Clocks of services on different hosts may
disagree by a little; causation, not the clock, decides then.

No deadlock: if two services' next lines each waited for a later line of the other, each cause
would have been committed after its own effect.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from operator import itemgetter
from typing import Any

Line = dict[str, Any]


@dataclass
class _Stream:
    rank: int
    lines: Iterator[tuple[datetime, Line]]
    head: tuple[datetime, Line] | None = field(default=None)

    def advance(self) -> None:
        self.head = next(self.lines, None)


def merge_histories(streams: Mapping[str, Iterator[tuple[datetime, Line]]]) -> Iterator[Line]:
    """One stream of lines from each service's (time, line) stream, by time, causes first."""
    if len(streams) == 1:  # nothing to merge: the service's own order (`--service` alone), no generator
        return map(itemgetter(1), next(iter(streams.values())))
    return _merged(streams)


def _merged(streams: Mapping[str, Iterator[tuple[datetime, Line]]]) -> Iterator[Line]:
    merged = {service: _Stream(rank, lines) for rank, (service, lines) in enumerate(streams.items())}
    for stream in merged.values():
        stream.advance()

    def waits(stream: _Stream) -> bool:
        assert stream.head is not None
        cause = stream.head[1].get("caused_by")
        if not cause or cause["position"] <= 0:
            return False
        source = merged.get(cause["source"])
        if source is None or source is stream or source.head is None:
            return False
        return source.head[1]["position"] <= cause["position"]

    while True:
        live = [stream for stream in merged.values() if stream.head is not None]
        if not live:
            return
        ready = [stream for stream in live if not waits(stream)] or live  # (never empty: see above)
        chosen = min(ready, key=lambda s: (s.head[0], s.rank, s.head[1]["position"]))  # type: ignore[index]
        assert chosen.head is not None
        yield chosen.head[1]
        chosen.advance()
