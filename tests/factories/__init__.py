"""Factories with valid defaults, one module per area (`tests/factories/registry.py`, ...).

Most tests start from the `demo` fixture (the demo district of CONTRACT.md with 6 households per village) and add
what they need with these.
"""
