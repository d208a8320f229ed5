"""The README's demo, played against the three services as processes: it must keep working."""

from __future__ import annotations

import asyncio

from carecoord.demo import DemoUrls, play_demo
from tests.support.processes import ServiceProcess
from tests.support.system import TEST_JWT_SECRET, System


async def test_the_demo_plays_through_against_the_three_services(system: System, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("JWT_DEV_SECRET", TEST_JWT_SECRET)  # the demo's tokens, as the services expect
    services = {name: ServiceProcess(name, system.isolation, tmp_path / f"{name}.log")
                for name in ("intake", "careplan", "notifications")}
    try:
        for service in services.values():
            await asyncio.to_thread(service.start)
        urls = DemoUrls(**{name: service.url for name, service in services.items()})
        assert await asyncio.to_thread(play_demo, urls) == 0
    finally:
        for service in services.values():
            service.stop()
    shown = capsys.readouterr().out
    assert "a clinician outside the team asking for the timeline gets HTTP 404" in shown
    assert "a peer specialist trying to record a prescribing decision gets HTTP 403" in shown
    assert "what Aunt Rosa sees, by Jordan's consent" in shown
    assert '"categories_withheld": [\n    "mental_health",\n    "substance_use"\n  ]' in shown
    # The goal Jordan marked as general reaches the aunt; nothing unmarked would.
    assert "the ward-board app received a signed urgent crisis notice (sequence 1" in shown
    assert '"in_own_words": "I want to sleep through the night and get back to my shifts"' in shown
