"""Assertions on a published or recorded `traceparent` that hold whether or not a tracer provider
is installed: without one a service passes the caller's on as given; with one (an earlier test in
the process may have installed one for good, and FastAPI and the services then make spans) it is
the service's own span in the caller's trace, or a new trace when the caller's was not usable."""

from __future__ import annotations

import re

TRACEPARENT = re.compile(r"00-([0-9a-f]{32})-[0-9a-f]{16}-0[0-3]")


def trace_id_of(traceparent: str) -> str:
    return traceparent.split("-")[1]


def continues(recorded: str | None, given: str) -> bool:
    """`recorded` is in the trace `given` names."""
    return recorded is not None and TRACEPARENT.fullmatch(recorded) is not None \
        and trace_id_of(recorded) == trace_id_of(given)


def starts_afresh(recorded: str | None, refused_trace_id: str) -> bool:
    """Nothing of a refused trace was taken: no trace, or a well-formed one of another trace id."""
    return recorded is None or (TRACEPARENT.fullmatch(recorded) is not None
                                and trace_id_of(recorded) != refused_trace_id.lower())
