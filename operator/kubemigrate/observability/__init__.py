"""What the operator tells the outside world about itself: metrics and logs.

The controller calls into this package; nothing here knows about kopf or the
Kubernetes API, so the metrics can be exercised with plain ``Outcome`` values and
a real HTTP scrape, and the engine's Job code path never pays for importing it.
Only ``kubemigrate.domain`` may be imported from here (import-linter enforces it).
"""
