"""Which records intake merged, read from the notes a service's per-person follower keeps of
intake's merge events: a survivor notes `DuplicateMergedIn`, a duplicate `MergedAway`, and both
note `MergeUndoneNoted` when a merge is undone. Plain Python, shared by careplan and notifications
so that both decide the same way."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from uuid import UUID

MERGED_INTO_NOTES = ("MergedAway", "MergeUndoneNoted")
DUPLICATES_NOTES = ("DuplicateMergedIn", "MergeUndoneNoted")


def merged_into(person_id: UUID, notes: Iterable[Any]) -> UUID | None:
    """The record this one was merged into and not undone (None: it stands for itself), from its
    `MERGED_INTO_NOTES` in order."""
    survivor: str | None = None
    for noted in notes:
        if type(noted).__name__ == "MergedAway":
            survivor = noted.survivor_id
        elif noted.duplicate_id == str(person_id):
            survivor = None
    return UUID(survivor) if survivor else None


def duplicates(notes: Iterable[Any]) -> list[UUID]:
    """The records merged into this one and not undone, in merge order, from its `DUPLICATES_NOTES`."""
    merged: list[str] = []
    for noted in notes:
        if type(noted).__name__ == "DuplicateMergedIn":
            merged.append(noted.duplicate_id)
        elif noted.duplicate_id in merged:
            merged.remove(noted.duplicate_id)
    return [UUID(duplicate) for duplicate in merged]
