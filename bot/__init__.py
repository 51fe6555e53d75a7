"""Telegram and console front end of the Smart Procurement Bot."""
