"""The operator proper: MigrationRun resources in, Jobs and status out.

The modules here split along what can be tested without a cluster: ``spec`` (the
resource's spec as typed models) and ``jobs`` (the Job a run needs) are pure, so
they are checked with plain values and golden files; the kopf handlers stay thin
and only move those values to and from the API server. Nothing here connects to a
database or reads a Secret: that happens inside the Job's pod.
"""
