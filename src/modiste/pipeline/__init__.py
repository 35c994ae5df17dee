"""Ingest: registered, idempotent, resumable stages over catalog images."""
