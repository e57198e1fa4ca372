"""Ingestion: staging a raw source as the materials table, and the live Materials Project."""
