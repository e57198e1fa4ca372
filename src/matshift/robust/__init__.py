"""Methods that train for the target domain or the worst group: importance weighting, DANN, Group DRO."""
