"""The base of every aggregate about one person that records what people did: its events say whose
they are (`person_id`) and who caused them (`provenance`), attached here once.

Plain Python on eventsourcing's domain model. A command method takes the caller's `provenance`
and is marked `@command`; every event it triggers records that provenance and the aggregate's
person. Event methods (`@event`) name only what is particular to their event, and stored events
are unchanged: these two attributes were always stored on each event, passed by hand.

    class CareTeam(PersonAggregate):
        @event("Formed")
        def __init__(self, person_id: UUID, provenance: Provenance) -> None: ...

        @command
        def remove_member(self, member_id: str, provenance: Provenance) -> None:
            self._member_left(member_id)          # records person_id and provenance

        @event("MemberLeft")
        def _member_left(self, member_id: str) -> None: ...

An event triggered outside a command (no provenance to record) is a programming error, and says so.
Aggregates built from other services' events (shared/followers.py) carry an `UpstreamRef` instead.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar
from uuid import UUID

from eventsourcing.domain import Aggregate

from shared.domain import Provenance

F = TypeVar("F", bound=Callable[..., Any])


class NotInACommand(RuntimeError):
    """A person event was triggered outside a `@command` method: nobody to attribute it to."""


class PersonAggregate(Aggregate):
    """An aggregate about one person whose events record who caused them (see the module's doc)."""

    class Event(Aggregate.Event):
        """Every event of a person aggregate: whose it is and who caused it."""

        person_id: UUID
        provenance: Provenance

    if TYPE_CHECKING:  # annotated for mypy only: at run time eventsourcing would make the aggregate a dataclass
        # Set by subclasses whose creation names the person (`__init__(self, person_id, ...)`);
        # the person's own record (intake's Person) is the person's id instead.
        person_id: UUID

    @classmethod
    def _create(cls, event_class: Any, *, id: UUID | None = None, **kwargs: Any) -> Any:  # noqa: A002
        if "person_id" not in kwargs:  # the person's own record: its id is the person's id
            kwargs["person_id"] = id = id if id is not None else cls.create_id(**kwargs)
        return super()._create(event_class, id=id, **kwargs)

    @contextmanager
    def acting(self, provenance: Provenance) -> Iterator[None]:
        """Events triggered within record `provenance` (a command on another aggregate uses it)."""
        before = self.__dict__.get("_acting")
        self._acting = provenance
        try:
            yield
        finally:
            if before is None:
                del self._acting  # nothing transient stays on the aggregate (it is cached and compared)
            else:
                self._acting = before

    def trigger_event(self, event_class: Any, **kwargs: Any) -> None:
        try:
            provenance = self.__dict__["_acting"]
        except KeyError:
            raise NotInACommand(f"{type(self).__name__}.{event_class.__name__} was triggered outside a "
                                "@command method (or `acting`): its provenance is unknown") from None
        super().trigger_event(event_class, person_id=self.person_id, provenance=provenance, **kwargs)


def command(method: F) -> F:
    """Mark a command method of a PersonAggregate: the events it triggers record the `provenance`
    argument it was called with."""
    parameters = list(inspect.signature(method).parameters)
    if "provenance" not in parameters:
        raise TypeError(f"@command {method.__qualname__} takes no provenance to record")
    position = parameters.index("provenance")  # counting self, as args does below

    @functools.wraps(method)
    def run(self: PersonAggregate, *args: Any, **kwargs: Any) -> Any:
        provenance = kwargs["provenance"] if "provenance" in kwargs else args[position - 1]
        with self.acting(provenance):
            return method(self, *args, **kwargs)

    return run  # type: ignore[return-value]
