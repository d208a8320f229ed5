"""The history's fast JSON (shared/state_json.py) says exactly what the standard library said:
the same plain values decoded from any stored state, the same bytes written for any line."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from uuid import UUID, uuid4

PERSON = uuid4()

from hypothesis import given, settings
from hypothesis import strategies as st

from shared.envelope import stable_event_id
from shared.person_history import STATE_COLUMNS, history_line, history_line_of
from shared.state_json import _untag, decode_state, encode

# What eventsourcing's transcoder writes (compact, UTF-8 as it is) and what history read and wrote
# before: `json` with the untagging hook, and compact ASCII.
STORED = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
BEFORE_DECODER = json.JSONDecoder(object_hook=_untag)
BEFORE_ENCODER = json.JSONEncoder(separators=(",", ":"))


def tagged(kind: str, data):
    return {"_type_": kind, "_data_": data}


scalars = (st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
           | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=12)
           # floats orjson would write otherwise than json (`1e-5` for `1e-05`, `0.00001`)
           | st.sampled_from([1e-05, 2.5e-07, -3e-09, 0.00012, 1e16, 1.5])
           | st.sampled_from(["_type_", "_data_", "1.5}", "e-5,", "2026-12-01T09:00:00.5+00:00", "é\x7f\x00"]))
values = st.recursive(
    scalars | st.uuids().map(lambda u: tagged("uuid_hex", u.hex))
    | st.datetimes(timezones=st.just(timezone.utc)).map(lambda d: tagged("datetime_iso", d.isoformat())),
    lambda inner: (st.lists(inner, max_size=4)
                   | st.dictionaries(st.sampled_from(["a", "b", "_type_", "_data_", "ü"]) | st.text(max_size=4),
                                     inner, max_size=4)
                   | st.builds(tagged, st.sampled_from(["provenance", "upstream_ref", "decimal_str"]), inner)),
    max_leaves=20)
states = st.dictionaries(st.text(max_size=8), values, max_size=8)


@settings(max_examples=400, deadline=None)
@given(states)
def test_any_stored_state_decodes_and_encodes_exactly_as_the_standard_library_did(state):
    stored = STORED.encode(state).encode()
    expected = BEFORE_DECODER.decode(stored.decode())
    decoded = decode_state(stored)
    assert json.dumps(decoded, sort_keys=True) == json.dumps(expected, sort_keys=True)  # (NaN != NaN)
    line = {"position": 1, "data": decoded, "caused_by": None}
    assert encode(line) == BEFORE_ENCODER.encode({"position": 1, "data": expected, "caused_by": None}).encode()


def test_a_real_events_tags_become_plain_values():
    person, at = uuid4(), datetime(2026, 12, 1, 9, tzinfo=timezone.utc)
    stored = STORED.encode({"timestamp": tagged("datetime_iso", at.isoformat()), "person_id": tagged("uuid_hex", person.hex),
                            "provenance": tagged("provenance", {"actor_id": "casey", "causation_id": None}),
                            "answers": {"item1": 2}, "score": 7.5, "name": "Zoë"}).encode()
    decoded = decode_state(stored)
    assert decoded == {"timestamp": at.isoformat(), "person_id": str(person),
                       "provenance": {"actor_id": "casey", "causation_id": None}, "answers": {"item1": 2},
                       "score": 7.5, "name": "Zoë"}
    assert UUID(decoded["person_id"]) == person
    assert encode(decoded) == BEFORE_ENCODER.encode(decoded).encode()  # "Zo\u00eb", 7.5 as json writes it


refs = st.fixed_dictionaries({"actor_id": st.text(max_size=6), "actor_role": st.sampled_from(["person", "agency_system"]),
                              "correlation_id": st.text(max_size=6) | st.none(), "causation_id": st.none()})


# An event's own fields: the line's columns (`upstream`, `provenance`...) always have the shapes the
# events give them, set below, never arbitrary values.
event_fields = st.dictionaries(st.text(max_size=8).filter(lambda name: name not in STATE_COLUMNS), values, max_size=8)


@settings(max_examples=300, deadline=None)
@given(event_fields, st.none() | refs.map(lambda ref: tagged("provenance", ref)), st.booleans())
def test_a_line_made_from_the_stored_text_is_written_exactly_as_before(state, provenance, person_column):
    """`history_line_of` (decoded and split in one pass, by the CLI and the endpoints) writes the
    bytes that the line made of `json`'s decoding of the whole state wrote."""
    at = datetime(2026, 12, 1, 9, 30, 0, 250000, tzinfo=timezone.utc)
    columns = {"timestamp": tagged("datetime_iso", at.isoformat()),
               **({"person_id": tagged("uuid_hex", uuid4().hex)} if person_column else {}),
               **({"provenance": provenance} if provenance else {}), "class_version": 2}
    stored = STORED.encode({**columns, **state}).encode()
    originator = uuid4()
    made = history_line_of("intake", 7, at, str(originator), 3, "m:Person.Registered", stored, str(PERSON))
    before = history_line("intake", 7, at, originator, 3, "m:Person.Registered",
                          BEFORE_DECODER.decode(stored.decode()), PERSON)
    assert encode(made) == BEFORE_ENCODER.encode(before).encode()
    assert made["event_id"] == str(stable_event_id("intake", originator, 3))
