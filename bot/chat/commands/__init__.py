"""Chat commands, one module per feature: its handlers, its formatting and its commands()."""
