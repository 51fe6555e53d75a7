"""The only places that talk to SQLite, Twilio, Prophet and price feeds."""
