"""Requests for a merged-away record are answered with the survivor's record (not a 308).

Chosen over a redirect because a redirect would be decided before the caller's access is: it
would tell anyone holding a token that the id exists and which record it became. Rewritten here,
the request is served as one for the survivor, and access is decided on the survivor's record,
whose care team is the union of both and whose person answers to either id's token. So a refusal
still says only "not found", and clients need not follow anything: the answer names the
survivor's `person_id`, which they should use from then on.

A plain ASGI middleware (see shared/http.py: CorrelationIdMiddleware): the one place careplan's
HTTP layer resolves ids, before routing, so every route (reads and writes) follows merges alike.
"""

from __future__ import annotations

from typing import cast
from uuid import UUID

from starlette.types import ASGIApp, Receive, Scope, Send

from services.careplan.application import CareplanApplication
from shared.runtime import Foundation

PREFIX = "/people/"


class MergedRecordPaths:
    def __init__(self, app: ASGIApp, foundation: Foundation) -> None:
        self.app = app
        self._foundation = foundation

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(PREFIX):
            scope = await self._resolved(scope)
        await self.app(scope, receive, send)

    async def _resolved(self, scope: Scope) -> Scope:
        head, _, rest = scope["path"][len(PREFIX):].partition("/")
        try:
            person_id = UUID(head)
        except ValueError:
            return scope  # not an id: the route answers 422 as before
        application = cast(CareplanApplication, self._foundation.application)
        survivor = await self._foundation.run_sync(application.survivor_of, person_id)
        if survivor == person_id:
            return scope
        path = f"{PREFIX}{survivor}" + (f"/{rest}" if rest or scope["path"].endswith("/") else "")
        return {**scope, "path": path, "raw_path": path.encode()}
