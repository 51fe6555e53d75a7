"""The domain's pure values and rules: no I/O, no clock of their own."""
