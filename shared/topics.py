"""Where stored events find their classes: after a class has moved to another module, and when an
event a base aggregate defines is recorded as the base's class.

eventsourcing stores each event with its class's topic (`module:Class.Event`). When a class moves,
`register_topic` lets old records resolve to it; a query that selects records *by topic* must
also ask for the old names (shared/eventstore.py: ServiceApplication.read_events).
"""

from __future__ import annotations

from eventsourcing.domain import Aggregate
from eventsourcing.utils import get_topic, register_topic

# The current topic of a moved class -> the topics it was stored under before.
_FORMER_TOPICS: dict[str, list[str]] = {}


def register_former_topic(former_topic: str, moved: type) -> None:
    """`moved` (a class, with its nested event classes) was once at `former_topic`."""
    register_topic(former_topic, moved)
    _FORMER_TOPICS.setdefault(get_topic(moved), []).append(former_topic)


def recorded_as(aggregate: type[Aggregate], event_class: type) -> list[type]:
    """The classes an event of `aggregate`'s `event_class` may be recorded as: an event defined on a
    base aggregate (PersonFollower's) is recorded as the base's class, while eventsourcing gives
    each subclass a copy of it under the same name."""
    name = event_class.__name__
    return [vars(cls)[name] for cls in aggregate.__mro__
            if issubclass(cls, Aggregate) and cls is not Aggregate and name in vars(cls)]


def stored_topics(event_class: type) -> list[str]:
    """Every topic records of `event_class` may be stored under: its own, then any former ones."""
    topic = get_topic(event_class)
    found = [topic]
    for current, former in _FORMER_TOPICS.items():
        if topic.startswith(f"{current}."):
            found += [f"{old}{topic[len(current):]}" for old in former]
    return found
