"""Human-readable summaries of the pipeline's outputs (the README's results tables)."""
