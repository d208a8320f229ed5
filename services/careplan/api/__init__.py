"""Careplan's HTTP API, one module per part of a person's care (team, plan, medication, safety plan)."""
