"""Pure domain model: migrations, plans, integrity rules and errors.

Nothing here does I/O or imports a framework, so every rule can be tested with
plain values and no database (import-linter enforces it).
"""
