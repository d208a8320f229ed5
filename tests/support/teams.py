"""Forming care teams in tests: careplan forms a team only for a person it knows, and it hears of a
registration through the broker, so a team formed right after registering waits for that."""

from __future__ import annotations

import httpx

from tests.support.polling import eventually


async def join_team(careplan: httpx.AsyncClient, person_id: str, member_id: str, role: str,
                    headers: dict[str, str] | None = None, **program: str) -> httpx.Response:
    """POST the member to the person's team once careplan knows the person (any answer but 404).
    `program`: program_id and program_kind, if the member gives a program."""
    async def answered() -> httpx.Response | None:
        response = await careplan.post(f"/people/{person_id}/team", headers=headers,
                                       json={"member_id": member_id, "role": role, **program})
        return None if response.status_code == 404 else response

    return await eventually(answered, what=f"careplan to know person {person_id}")
