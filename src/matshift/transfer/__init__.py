"""Transfer learning from a source domain (DFT) to a target domain (experiment)."""
