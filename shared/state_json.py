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
  past 64 bits, non-ASCII and DEL, which `json` escapes). A state holding a float, or one orjson
  cannot read (NaN) or would read as a float (an integer past 64 bits), is returned as `Exact`, a dict that `encode` leaves to `json`;
  `encode` also falls back when orjson's output is not plain ASCII.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

_TAG_KEY = b'"_type_"'
# A number with a fraction or an exponent as `json` writes it (`1.5`, `2.5e-07`, `1e+16`), found
# by its `.` or `e` and the `,`, `}` or `]` that ends it (a string that merely looks like one only
# costs the slower path). Two patterns, each with a literal first byte: scanned in C, ~1 us.
_FRACTION = re.compile(rb"\.\d+(?:e[-+]\d+)?\s*[,}\]]")
_EXPONENT = re.compile(rb"e[-+]\d+\s*[,}\]]")
# orjson reads an integer past 64 bits as a float: a run of 19 digits (a long number, or a string
# holding one) is left to `json`. Found by mapping every digit to 0, then a plain search (~1 us).
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


def decode_state(plaintext: bytes) -> dict[str, Any]:
    """A decrypted state as the plain fields it was recorded with (the same as `json` with the
    hook above), as `Exact` when orjson would not write it back as `json` does."""
    try:
        if _LONG_NUMBER in plaintext.translate(_ZERO_DIGITS):
            raise orjson.JSONDecodeError("possibly an integer past 64 bits", "", 0)
        state = orjson.loads(plaintext)
    except orjson.JSONDecodeError:  # NaN, Infinity, integers past 64 bits; or not JSON at all
        decoded = _STDLIB_DECODER.decode(plaintext.decode())
        return Exact(decoded) if type(decoded) is dict else decoded
    tags = plaintext.count(_TAG_KEY)
    if tags and type(state) is dict:
        found = 0
        for name, item in state.items():  # (the hook's work inlined: this runs for every event)
            if type(item) is dict and "_type_" in item:
                found += 1
                kind = item["_type_"]
                if kind is not None and len(item) == 2 and "_data_" in item:
                    data = item["_data_"]
                    state[name] = (f"{data[:8]}-{data[8:12]}-{data[12:16]}-{data[16:20]}-{data[20:]}"
                                   if kind == "uuid_hex" else data)
        if found != tags:  # tags below the top level (or a "_type_" that is no tag): walk it all
            state = _walk(state)
    elif tags:
        state = _walk(state)
    if type(state) is dict and (_FRACTION.search(plaintext) is not None or _EXPONENT.search(plaintext) is not None):
        return Exact(state)
    return state


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
