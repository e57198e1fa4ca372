"""Audit: leakage by splitting, metadata shortcuts, selection bias (simulated on band gaps), VAE latents."""

from matshift.pipelines.audit.pipeline import create_pipeline

__all__ = ["create_pipeline"]
