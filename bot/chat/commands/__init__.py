"""Chat commands, one module per feature: its handlers, its formatting and its COMMANDS, which
bot/chat/registry.py lists."""
