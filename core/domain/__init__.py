"""Pure values and rules of the procurement domain: no I/O, no database, no Telegram."""
