"""Making a signed checkpoint of a service's log: the records since the last checkpoint become
leaves (their hashes kept in `audit_leaves`), the tree grows from the compact range the last
checkpoint kept, and the new size and root are signed. One transaction: all of it or nothing."""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID

from carecoord.audit.store import FIRST, AuditStore, StoredCheckpoint, StoredLeaf
from shared.checkpoints import Checkpoint, NoteSigner, open_note
from shared.merkle import TreeBuilder

Report = Callable[[int, int], None]  # (position reached, last position)


class CheckpointRefused(RuntimeError):
    pass


def make_checkpoint(store: AuditStore, signer: NoteSigner, origin: str,
                    report: Report | None = None) -> tuple[StoredCheckpoint, bool]:
    """The checkpoint of the log as it is now, and whether it is new (a log that has not grown
    since the last checkpoint gets no second one of the same size)."""
    store.ensure_tables()
    with store.conn.transaction():
        store.lock_for_checkpoint()
        latest = store.latest_checkpoint()
        builder = TreeBuilder()
        after = FIRST
        if latest is not None:
            # The compact range is not signed: it must give the signed root before we build on it.
            signed = open_note(latest.note, signer.verifier(), origin)
            builder = TreeBuilder(latest.size, latest.compact_range)
            if signed.size != latest.size or builder.root() != signed.root:
                raise CheckpointRefused(f"the stored checkpoint of size {latest.size} does not match its signed root")
            after = latest.last_position
        last = store.last_position()
        page: list[StoredLeaf] = []
        position = after
        for record in store.records(after):
            hashed = record.leaf_hash()
            page.append(StoredLeaf(builder.size, record.position, UUID(bytes=record.originator_id), record.version,
                                   hashed))
            builder.append(hashed)
            position = record.position
            if len(page) == 5000:
                # Between two fetches of the server-side cursor, the same connection copies.
                store.add_leaves(page)
                page = []
                if report:
                    report(position, last)
        if page:
            store.add_leaves(page)
        if report:
            report(position, max(last, position))
        if latest is not None and builder.size == latest.size:
            return latest, False
        note = signer.sign(Checkpoint(origin, builder.size, builder.root()))
        checkpoint = StoredCheckpoint(builder.size, position, note, builder.compact_range)
        store.add_checkpoint(checkpoint)
        return checkpoint, True
