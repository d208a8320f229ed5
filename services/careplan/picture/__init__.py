"""The integrated picture of each person, a read model built from careplan's own events.

model.py folds domain events into one picture per person's facts (document.py), and view.py
presents them at a given moment (plain Python); projection.py tails the notification log and keeps
the pictures in PostgreSQL (asyncpg), encrypted; fhir.py exports a picture as a FHIR R4 Bundle.
"""
