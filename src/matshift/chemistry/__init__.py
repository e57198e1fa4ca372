"""Chemistry primitives: formula parsing, canonical compositions and the periodic table."""
