"""`carecoord audit verify`: does the log as stored now still hash to every signed checkpoint, and
if not, which record is the first that changed?

First pass: stream the log once, hash each record as a leaf, and compare the root at every
checkpoint's size as the tree grows through it (O(log n) memory, whatever the log's length).
A log that matches every checkpoint is consistent with all of them: they are roots of one tree.

Only if a checkpoint fails, a second pass names the first record that changed. The root alone
cannot: it says only that something did. So each checkpoint kept the leaf hash of every record
it covered (`audit_leaves`); the second pass walks the log and those hashes side by side and
stops at the first leaf that differs. Those stored hashes are trusted only if they hash to the
signed root themselves; if someone rewrote them too, the report gives the range between the
last checkpoint that holds and the first that fails instead of a position.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from hashlib import sha256

from carecoord.audit.store import LEAF_FIXED, LEAF_LENGTH, LEAF_POSITION, AuditStore, StoredLeaf, StoredRecord
from shared.checkpoints import Checkpoint, CheckpointError, NoteVerifier, open_note
from shared.merkle import EMPTY_ROOT, LEAF_PREFIX, NODE_PREFIX, TreeBuilder

Report = Callable[[int, int], None]


@dataclass(frozen=True)
class Finding:
    """What is wrong, and the first place: `kind` is edited, deleted, inserted, reordered or
    truncated (the log cut back below a checkpoint), or changed (somewhere in a range of leaves,
    when the stored leaf hashes were rewritten too)."""

    kind: str
    leaf_index: int
    position: int | None
    checkpoint_size: int
    detail: str

    def sentence(self) -> str:
        where = f"position {self.position} (leaf {self.leaf_index})" if self.position is not None \
            else f"leaf {self.leaf_index}"
        return f"{self.kind} at {where}: {self.detail}"


@dataclass
class Verdict:
    log_size: int | None  # None: the first pass stopped at a failing checkpoint
    verified_sizes: list[int] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # checkpoints that could not be used

    @property
    def ok(self) -> bool:
        return not self.findings and not self.problems

    @property
    def uncovered(self) -> int:
        """Records after the largest checkpoint: not yet covered by any signature."""
        if self.log_size is None:
            return 0
        return self.log_size - max(self.verified_sizes, default=0)


def gather_checkpoints(store: AuditStore, verifier: NoteVerifier, origin: str,
                       notes: dict[str, str]) -> tuple[dict[int, tuple[bytes, str]], list[str]]:
    """Every checkpoint to verify against, by size (its root, where it came from): those stored
    beside the log and those given (`notes`: source name to note text). A checkpoint not signed by
    the key, or two that disagree about a size, is a problem in itself."""
    sources = [(f"stored checkpoint {stored.size}", stored.note) for stored in store.checkpoints()]
    sources += list(notes.items())
    by_size: dict[int, tuple[bytes, str]] = {}
    problems: list[str] = []
    for source, note in sources:
        try:
            checkpoint: Checkpoint = open_note(note, verifier, origin)
        except CheckpointError as error:
            problems.append(f"{source}: {error}")
            continue
        known = by_size.get(checkpoint.size)
        if known is not None and known[0] != checkpoint.root:
            problems.append(f"{source} and {known[1]} sign different roots for size {checkpoint.size}: a forked log")
            continue
        by_size.setdefault(checkpoint.size, (checkpoint.root, source))
    return by_size, problems


def verify_log(store: AuditStore, verifier: NoteVerifier, origin: str, notes: dict[str, str] | None = None,
               report: Report | None = None) -> Verdict:
    checkpoints, problems = gather_checkpoints(store, verifier, origin, notes or {})
    verdict = Verdict(log_size=None, problems=problems)
    failing = _first_pass(store, checkpoints, verdict, report)
    if failing is not None:
        verdict.findings.append(_locate(store, failing, checkpoints, verdict))
    return verdict


def _first_pass(store: AuditStore, checkpoints: dict[int, tuple[bytes, str]], verdict: Verdict,
                report: Report | None) -> int | None:
    """Hash the log once; the size of the first checkpoint whose root it does not give, if any."""
    sizes = sorted(checkpoints)
    if sizes and sizes[0] == 0:
        if checkpoints[0][0] != EMPTY_ROOT:
            return 0
        verdict.verified_sizes.append(sizes.pop(0))
    # The hot loop of a verification, inlined (this is where its time goes): each row becomes its
    # leaf (`record_leaf`), hashed (0x00 prefix) and pushed onto the compact range as
    # `TreeBuilder.append` does, merging one node per trailing 1 bit of the size.
    stack: list[bytes] = []
    size = 0
    next_check = sizes[0] if sizes else -1
    last = store.last_position() if report else 0
    fixed, length, position_bytes = LEAF_FIXED.pack, LEAF_LENGTH.pack, LEAF_POSITION.pack
    join, pop, push = b"".join, stack.pop, stack.append
    for page in store.pages(prefetch=True):
        for position, originator_id, version, topic, state in page:
            hashed = sha256(join((LEAF_PREFIX, fixed(originator_id, version, len(topic)), topic, length(len(state)),
                                  state, position_bytes(position)))).digest()
            n = size
            while n & 1:
                hashed = sha256(NODE_PREFIX + pop() + hashed).digest()
                n >>= 1
            push(hashed)
            size += 1
            if size == next_check:
                if TreeBuilder(size, stack).root() != checkpoints[next_check][0]:
                    return next_check
                verdict.verified_sizes.append(sizes.pop(0))
                next_check = sizes[0] if sizes else -1
        if report:
            report(position, last)
    if report:
        report(last, last)
    verdict.log_size = size
    return sizes[0] if sizes else None  # a checkpoint larger than the log: it was cut back


def _locate(store: AuditStore, failing: int, checkpoints: dict[int, tuple[bytes, str]], verdict: Verdict) -> Finding:
    """The first leaf where the log and the leaf hashes kept at checkpoint time part."""
    holding = max(verdict.verified_sizes, default=0)
    stored_tree = TreeBuilder()
    first: Finding | None = None
    records, leaves = store.records(), store.leaves(failing)
    for leaf in leaves:
        if leaf.index != stored_tree.size:
            break
        stored_tree.append(leaf.leaf_hash)
        if first is None:
            record = next(records, None)
            if record is None:
                first = Finding("truncated", leaf.index, leaf.position, failing,
                                f"the log ends before it; the checkpoint of size {failing} covered "
                                f"{failing - leaf.index} more records, from this position on")
            elif record.position != leaf.position or record.leaf_hash() != leaf.leaf_hash:
                first = _classify(store, leaf, record, failing)
    records.close()
    leaves.close()
    source = checkpoints[failing][1]
    if stored_tree.size == failing and stored_tree.root() == checkpoints[failing][0] and first is not None:
        return first
    # The kept leaf hashes do not hold either: only the checkpoints' roots are left to go by.
    if verdict.log_size is not None and verdict.log_size < failing:
        return Finding("truncated", verdict.log_size, None, failing,
                       f"the log has {verdict.log_size} records, {source} signed {failing}: it was cut back "
                       f"(the leaf hashes kept at checkpoint time were changed too, so leaves from {holding} on "
                       f"are not proven either)")
    return Finding("changed", holding, None, failing,
                   f"the log gives another root than {source}; it still matches the checkpoint of size {holding}, so "
                   f"the first changed record is among leaves {holding} to {failing - 1} (the leaf hashes kept at "
                   f"checkpoint time were changed too, so it cannot be named more closely)")


def _classify(store: AuditStore, leaf: StoredLeaf, record: StoredRecord, failing: int) -> Finding:
    """What happened at the first leaf that differs: the record kept at checkpoint time (`leaf`)
    against the one stored there now (`record`)."""
    was, now = (leaf.originator_id, leaf.version), record.record_id
    if record.position == leaf.position:
        if now == was:
            return Finding("edited", leaf.index, leaf.position, failing,
                           f"event {was[0]} version {was[1]} was changed after it was checkpointed")
        moved = store.leaf_of(*now)
        if moved is not None and moved.index != leaf.index:
            return Finding("reordered", leaf.index, leaf.position, failing,
                           f"event {now[0]} version {now[1]} (checkpointed at leaf {moved.index}, position "
                           f"{moved.position}) now stands where event {was[0]} version {was[1]} stood")
        return Finding("edited", leaf.index, leaf.position, failing,
                       f"event {was[0]} version {was[1]} was replaced by event {now[0]} version {now[1]}")
    if record.position > leaf.position:
        elsewhere = store.position_of(*was)
        if elsewhere is not None:
            return Finding("reordered", leaf.index, leaf.position, failing,
                           f"event {was[0]} version {was[1]} was moved from here to position {elsewhere}")
        return Finding("deleted", leaf.index, leaf.position, failing,
                       f"event {was[0]} version {was[1]} is no longer in the log")
    moved = store.leaf_of(*now)
    if moved is not None and moved.index != leaf.index:
        return Finding("reordered", leaf.index, record.position, failing,
                       f"event {now[0]} version {now[1]} (checkpointed at leaf {moved.index}, position "
                       f"{moved.position}) was moved here, before position {leaf.position}")
    return Finding("inserted", leaf.index, record.position, failing,
                   f"event {now[0]} version {now[1]} was not in the log when it was checkpointed")

