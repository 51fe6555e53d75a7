"""The front-end-neutral command layer, one module per feature in commands/."""
