"""Telegram and console front end of the Smart Procurement Bot."""

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _version

try:
    __version__ = _version("smart-procurement-bot")
except PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "unknown"
