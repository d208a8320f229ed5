"""Followers' events stored before the follower aggregates moved to shared/followers.py still load."""

from __future__ import annotations

import pytest
from eventsourcing.utils import get_topic, resolve_topic

from shared.followers import PersonFollower, TeamFollower


@pytest.mark.parametrize("event_class", [
    PersonFollower.Created, PersonFollower.UpstreamEventUnprocessable, TeamFollower.Created,
    TeamFollower.CareTeamFormed, TeamFollower.TeamMemberJoined, TeamFollower.TeamMemberLeft,
])
def test_an_event_stored_under_the_old_module_resolves_to_its_class(event_class):
    old_topic = get_topic(event_class).replace("shared.followers:", "shared.following:")
    assert old_topic.startswith("shared.following:")
    assert resolve_topic(old_topic) is event_class
