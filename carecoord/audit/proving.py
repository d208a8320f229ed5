"""`carecoord audit prove`: inclusion proofs (RFC 9162 2.1.3) of a person's or an event's stored
records against a signed checkpoint, as a JSON document an outsider checks with the checkpoint's
verifier key and nothing of ours (`check_proofs` is what they would do)."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from carecoord.audit.store import AuditStore, StoredRecord, parse_leaf
from shared.checkpoints import Checkpoint, NoteVerifier, open_note
from shared.merkle import (consistency_ranges, inclusion_ranges, leaf_hash, range_hashes, verify_consistency,
                           verify_inclusion)


class NothingToProve(LookupError):
    pass


@dataclass(frozen=True)
class Target:
    """PERSON (an aggregate id: all its events), EVENT (`<id>:<version>`) or a position (`#<n>`)."""

    originator_id: UUID | None = None
    version: int | None = None
    position: int | None = None

    @classmethod
    def parse(cls, text: str) -> Target:
        if text.startswith("#"):
            return cls(position=int(text[1:]))
        aggregate, _, version = text.partition(":")
        return cls(originator_id=UUID(aggregate), version=int(version) if version else None)


def _records(store: AuditStore, target: Target) -> list[StoredRecord]:
    if target.position is not None:
        record = store.record_at(target.position)
        return [record] if record else []
    assert target.originator_id is not None
    return store.records_of(target.originator_id, target.version)


def prove(store: AuditStore, target: Target, verifier: NoteVerifier, origin: str,
          note: str | None = None) -> dict[str, Any]:
    """Proofs for the target's records against `note` (default: the latest stored checkpoint)."""
    if note is None:
        latest = store.latest_checkpoint() if store.has_audit_tables() else None
        if latest is None:
            raise NothingToProve("no checkpoint yet: run `carecoord audit checkpoint` first")
        note = latest.note
    checkpoint = open_note(note, verifier, origin)
    records = _records(store, target)
    if not records:
        raise NothingToProve("no such record in the log")
    indexed = []
    for record in records:
        leaf = store.leaf_at_position(record.position)
        if leaf is None or leaf.index >= checkpoint.size:
            raise NothingToProve(f"the record at position {record.position} is after the checkpoint of size "
                                 f"{checkpoint.size}: make a checkpoint first")
        indexed.append((leaf.index, record))
    ranges = [inclusion_ranges(index, checkpoint.size) for index, _ in indexed]
    flat = [r for proof in ranges for r in proof]
    hashes = iter(range_hashes(store.leaf_hashes(checkpoint.size), flat))
    proofs = []
    for (index, record), proof_ranges in zip(indexed, ranges):
        path = [next(hashes) for _ in proof_ranges]
        proofs.append({
            "leaf_index": index, "position": record.position, "originator_id": str(record.record_id[0]),
            "originator_version": record.version, "topic": record.topic.decode(),
            "leaf": base64.b64encode(record.leaf()).decode(),
            "inclusion_path": [base64.b64encode(h).decode() for h in path],
        })
    return {"tree_size": checkpoint.size, "root": base64.b64encode(checkpoint.root).decode(),
            "checkpoint": note, "proofs": proofs}


def people_proven(store: AuditStore, document: dict[str, Any]) -> list[UUID]:
    """Whose records a proof document shows (each is a read of that person's record, to be
    recorded before it is printed); NothingToProve if the store cannot say (no person index)."""
    people = store.people_at([proof["position"] for proof in document["proofs"]])
    if people is None:
        raise NothingToProve("the store has no person index, so whose records these are cannot be recorded: start "
                             "the service once with this version")
    return people


def prove_consistency(store: AuditStore, old_note: str, verifier: NoteVerifier, origin: str,
                      new_note: str | None = None) -> dict[str, Any]:
    """A consistency proof (RFC 9162 2.1.4) that the tree of `new_note` (default: the latest stored
    checkpoint) extends the tree of `old_note`: whoever kept the old checkpoint checks a new one
    without reading the log."""
    if new_note is None:
        latest = store.latest_checkpoint() if store.has_audit_tables() else None
        if latest is None:
            raise NothingToProve("no checkpoint yet: run `carecoord audit checkpoint` first")
        new_note = latest.note
    old, new = open_note(old_note, verifier, origin), open_note(new_note, verifier, origin)
    if old.size > new.size:
        raise NothingToProve(f"the old checkpoint ({old.size}) is larger than the new one ({new.size})")
    path = [] if old.size in (0, new.size) else range_hashes(store.leaf_hashes(new.size),
                                                             consistency_ranges(old.size, new.size))
    return {"old_checkpoint": old_note, "checkpoint": new_note,
            "consistency_path": [base64.b64encode(h).decode() for h in path]}


def check_proofs(document: str | dict[str, Any], verifier: NoteVerifier) -> list[str]:
    """What an outsider does with `prove`'s output: open the checkpoint with the log's verifier key,
    hash each leaf as RFC 9162 says and follow its path to the signed root. The problems found."""
    data = json.loads(document) if isinstance(document, str) else document
    checkpoint: Checkpoint = open_note(data["checkpoint"], verifier)
    problems = []
    if "consistency_path" in data:
        old = open_note(data["old_checkpoint"], verifier, checkpoint.origin)
        path = [base64.b64decode(h) for h in data["consistency_path"]]
        if not verify_consistency(old.size, checkpoint.size, old.root, checkpoint.root, path):
            problems.append(f"the tree of size {checkpoint.size} does not extend the tree of size {old.size}")
        return problems
    for proof in data["proofs"]:
        leaf = base64.b64decode(proof["leaf"])
        fields = parse_leaf(leaf)
        claimed = {key: proof[key] for key in fields}
        if fields != claimed:
            problems.append(f"leaf {proof['leaf_index']}: its bytes say {fields}, the proof says {claimed}")
            continue
        path = [base64.b64decode(h) for h in proof["inclusion_path"]]
        if not verify_inclusion(leaf_hash(leaf), proof["leaf_index"], checkpoint.size, path, checkpoint.root):
            problems.append(f"leaf {proof['leaf_index']} (position {proof['position']}) is not in the tree of "
                            f"size {checkpoint.size} the checkpoint signs")
    return problems
