"""The front door: the `carecoord` command (run the services, play the demo, write the API
documents, development tokens and keys, rebuild careplan's pictures). It depends on `services/`
and `shared/`; neither depends on it."""
