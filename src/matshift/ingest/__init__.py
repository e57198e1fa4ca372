"""Source-specific ingestion helpers (live Materials Project)."""
