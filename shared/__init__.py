"""carecoord's shared package: integration-event contracts, broker topology, the outbox relay,
consumer tracking, settings and telemetry used by every service."""
