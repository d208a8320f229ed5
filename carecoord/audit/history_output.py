"""A person's history written out line by line, as a table, JSON lines or CSV: nothing is kept
after a line is written, so a history of any length is written in constant memory."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import Any, TextIO

from shared.state_json import encode

FORMATS = ("table", "jsonl", "csv")
# JSON lines are gathered into one buffer and written when it holds this many bytes: one write per
# ~100 lines, and no encoded line kept once copied (orjson's bytes keep ~8 KB each, whatever their
# length: a list of 100 held 0.8 MB).
WRITE_AT = 64 * 1024
CSV_COLUMNS = ("occurred_at", "service", "position", "type", "actor_id", "actor_role", "correlation_id",
               "causation_id", "caused_by", "event_id", "aggregate_id", "aggregate_version", "person_id", "data")
# The table's columns and widths; the event's fields are left to the other formats.
TABLE_COLUMNS = (("occurred_at", 32), ("service", 13), ("position", 8), ("type", 44), ("actor", 36),
                 ("correlation_id", 36))


def _caused_by(line: dict[str, Any]) -> str:
    cause = line.get("caused_by")
    return f"{cause['source']}#{cause['position']}" if cause else ""


def _table_cell(line: dict[str, Any], column: str) -> str:
    if column == "actor":
        return f"{line['actor_id'] or '-'} ({line['actor_role']})"
    value = line.get(column)
    return "" if value is None else str(value)


def write_history(lines: Iterable[dict[str, Any]], out: TextIO, form: str) -> int:
    """Write each line as it comes; the number written."""
    count = 0
    if form == "jsonl":
        # Compact JSON as `json.JSONEncoder(separators=(",", ":"))` writes it, ASCII only (see
        # shared/state_json.py: encode), gathered as bytes and decoded once per write.
        buffer = bytearray()
        for line in lines:
            buffer += encode(line)
            buffer += b"\n"
            count += 1
            if len(buffer) >= WRITE_AT:
                out.write(buffer.decode("ascii"))
                buffer.clear()
        if buffer:
            out.write(buffer.decode("ascii"))
    elif form == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        for line in lines:
            writer.writerow([_caused_by(line) if column == "caused_by"
                             else encode(line["data"]).decode("ascii") if column == "data"
                             else "" if line.get(column) is None else line[column] for column in CSV_COLUMNS])
            count += 1
    elif form == "table":
        out.write("  ".join(name.ljust(width) for name, width in TABLE_COLUMNS).rstrip() + "\n")
        for line in lines:
            out.write("  ".join(_table_cell(line, name).ljust(width) for name, width in TABLE_COLUMNS).rstrip()
                      + "\n")
            count += 1
    else:
        raise ValueError(f"{form!r} is not one of {', '.join(FORMATS)}")
    return count
