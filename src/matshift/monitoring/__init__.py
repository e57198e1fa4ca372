"""Monitoring new (plant) batches against what the models were trained on."""
