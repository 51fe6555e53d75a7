"""Chat commands by feature; each module exports COMMANDS, added to bot/commands.py's registry."""
