"""Chat commands by feature; each module exports its `COMMANDS`, added to the registry in
bot/commands.py."""
