"""Demo data (small, deterministic) and the code that loads it."""
