"""matshift: materials property prediction that stays reliable under distribution shift."""

__version__ = "0.1.0"
