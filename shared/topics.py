"""Where stored events find their classes after a class has moved to another module.

eventsourcing stores each event with its class's topic (`module:Class.Event`). When a class moves,
`register_topic` lets old records resolve to it; a query that selects records *by topic* must
also ask for the old names (shared/eventstore.py: ServiceApplication.read_events).
"""

from __future__ import annotations

from eventsourcing.utils import get_topic, register_topic

# The current topic of a moved class -> the topics it was stored under before.
_FORMER_TOPICS: dict[str, list[str]] = {}


def register_former_topic(former_topic: str, moved: type) -> None:
    """`moved` (a class, with its nested event classes) was once at `former_topic`."""
    register_topic(former_topic, moved)
    _FORMER_TOPICS.setdefault(get_topic(moved), []).append(former_topic)


def stored_topics(event_class: type) -> list[str]:
    """Every topic records of `event_class` may be stored under: its own, then any former ones."""
    topic = get_topic(event_class)
    found = [topic]
    for current, former in _FORMER_TOPICS.items():
        if topic.startswith(f"{current}."):
            found += [f"{old}{topic[len(current):]}" for old in former]
    return found
