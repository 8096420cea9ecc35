"""Runs plans against a database: sources, the PostgreSQL store, the runner, reports.

Never imports kopf or kubernetes: a Job's pod runs this path and must start fast.
"""
