"""The procurement domain: prices, forecasts, recommendations, inventory, vendors, alerts, delivery.

Domain modules import only the standard library, pandas/numpy and `core` itself; storage and
messaging live behind the ports in `core.ports`, implemented in `core.adapters`.
"""
