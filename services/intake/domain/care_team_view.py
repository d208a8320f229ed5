"""Intake's view of each person's care team (from careplan's events): who may see their record."""

from __future__ import annotations

from uuid import UUID

from shared.followers import TeamFollower


class CareTeamView(TeamFollower):
    # Intake keeps the Person aggregate under the person's own id.
    id_namespace = UUID("c1d2e3f4-0a1b-4c2d-8e3f-9a0b1c2d3e4f")

    def __init__(self, person_id: UUID) -> None:  # eventsourcing needs each aggregate's own __init__
        super().__init__(person_id)
