"""Repositories over the database, one module per part of the domain; every statement is built
with SQLAlchemy Core, so every value is a bound parameter."""
