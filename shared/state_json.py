"""Stored event state as plain JSON, fast and exactly as the standard library would have it.

A history decodes and re-encodes every event it lists, so JSON is most of its time. orjson (C,
no hook) decodes and encodes several times faster than `json`; these functions keep what `json`
gave before, byte for byte:

- Decoding undoes eventsourcing's transcoding (`{"_type_": name, "_data_": data}`: a UUID as its
  usual string, anything else as the plain data it was stored as) as `json`'s object hook did,
  innermost first. Tagged values nearly always sit at the top level of the state (the event's
  own attributes), so the top level is untagged alone, and the whole tree walked only when the
  stored text holds more `"_type_"` keys than the top level had.
- orjson would write some values differently from `json` (floats in exponent form, NaN, integers
  past 64 bits, non-ASCII and DEL, which `json` escapes). The stored text is `json`'s own
  (eventsourcing's transcoder: compact, UTF-8 as it is), so orjson writing the decoded state back
  to the very same bytes (~0.5 us, a compare of bytes) shows that it writes every value in it as
  `json` does; a state it writes otherwise (a float such as 1e-05), one it cannot read (NaN), or
  one it may read wrongly (an integer past 64 bits, read as a float: then `json` reads it) is
  returned as `Exact`, a dict that `encode` leaves to `json`. `encode` also falls back when
  orjson's output is not plain ASCII.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

_TAG_KEY = b'"_type_"'
# orjson reads an integer past 64 bits as a float: where orjson did not write the text back, a run
# of 19 digits (a long number, or a string holding one) is read by `json`. Found by mapping every
# digit to 0, then a plain search (~1 us).
_ZERO_DIGITS = bytes.maketrans(b"123456789", b"000000000")
_LONG_NUMBER = b"0" * 19
_STDLIB_ENCODER = json.JSONEncoder(separators=(",", ":"))


class Exact(dict):
    """A state (or a line's data) to be encoded by `json`, not orjson (see the module's doc)."""


def _untag(obj: dict[str, Any]) -> Any:
    """`json`'s former object hook: a transcoded value as plain JSON, anything else as it is."""
    kind = obj.get("_type_")
    if kind is None or "_data_" not in obj or len(obj) != 2:
        return obj
    data = obj["_data_"]
    if kind == "uuid_hex":
        return f"{data[:8]}-{data[8:12]}-{data[12:16]}-{data[16:20]}-{data[20:]}"
    return data


_STDLIB_DECODER = json.JSONDecoder(object_hook=_untag)


def _walk(value: Any) -> Any:
    """Every dict in the tree untagged, innermost first (what the object hook did)."""
    if type(value) is dict:
        for name, item in value.items():
            if type(item) is dict or type(item) is list:
                value[name] = _walk(item)
        return _untag(value)
    if type(value) is list:
        for index, item in enumerate(value):
            if type(item) is dict or type(item) is list:
                value[index] = _walk(item)
    return value


def _decoded_by_json(plaintext: bytes) -> Any:
    decoded = _STDLIB_DECODER.decode(plaintext.decode())
    return Exact(decoded) if type(decoded) is dict else decoded


def _read(plaintext: bytes) -> tuple[Any, bool, bool]:
    """The stored JSON read by orjson, tags and all, and whether orjson writes every value in it
    as `json` did; or, where orjson cannot be trusted to read it, read by `json` (tags undone by
    its hook). Last: whether tags may be left to undo."""
    try:
        state = orjson.loads(plaintext)
    except orjson.JSONDecodeError:  # NaN, Infinity; or not JSON at all
        return _STDLIB_DECODER.decode(plaintext.decode()), False, False
    try:
        # The stored text is `json`'s: orjson writing it back the same shows that it writes every
        # value in it as `json` does (a float `json` writes otherwise, such as 1e-05, makes a
        # difference; so does a number orjson read wrongly). ~0.5 us: less than looking for floats.
        exact = orjson.dumps(state) == plaintext
    except orjson.JSONEncodeError:  # (nested too deep for orjson to write)
        exact = False
    if not exact and _LONG_NUMBER in plaintext.translate(_ZERO_DIGITS):
        # orjson may have read an integer past 64 bits as a float
        return _STDLIB_DECODER.decode(plaintext.decode()), False, False
    return state, exact, True


def decode_state(plaintext: bytes) -> dict[str, Any]:
    """A decrypted state as the plain fields it was recorded with (the same as `json` with the
    hook above), as `Exact` when orjson would not write it back as `json` does."""
    return decode_fields(plaintext, frozenset())[1]


def decode_fields(plaintext: bytes, columns: frozenset[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """`decode_state` split, in one pass: the top-level fields named in `columns`, and the others
    (as `Exact` when orjson would not write them as `json` does)."""
    state, exact, tagged = _read(plaintext)
    if type(state) is not dict:
        return {}, state
    tags = plaintext.count(_TAG_KEY) if tagged else 0
    picked: dict[str, Any] = {}
    rest: dict[str, Any] = {}
    found = 0
    for name, item in state.items():  # (the hook's work inlined at the top level: this runs for every event)
        if tags and type(item) is dict and "_type_" in item:
            found += 1
            kind = item["_type_"]
            if kind is not None and len(item) == 2 and "_data_" in item:
                data = item["_data_"]
                item = f"{data[:8]}-{data[8:12]}-{data[12:16]}-{data[16:20]}-{data[20:]}" if kind == "uuid_hex" else data
        if name in columns:
            picked[name] = item
        else:
            rest[name] = item
    if found != tags:  # tags below the top level (or a "_type_" that is no tag): walk it all
        whole = _walk(state)
        if type(whole) is not dict:
            return {}, whole
        picked = {name: value for name, value in whole.items() if name in columns}
        rest = {name: value for name, value in whole.items() if name not in columns}
    return picked, rest if exact else Exact(rest)


def _refuse(value: Any) -> Any:
    raise TypeError("written by json")


def encode(line: dict[str, Any]) -> bytes:
    """`json.JSONEncoder(separators=(",", ":")).encode(line)`, as UTF-8 (ASCII) bytes."""
    try:
        encoded = orjson.dumps(line, default=_refuse, option=orjson.OPT_PASSTHROUGH_SUBCLASS)
    except TypeError:  # an Exact inside, or an integer past 64 bits
        return _STDLIB_ENCODER.encode(line).encode()
    if encoded.isascii() and b"\x7f" not in encoded:
        return encoded
    return _STDLIB_ENCODER.encode(line).encode()
