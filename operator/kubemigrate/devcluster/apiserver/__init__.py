"""A Kubernetes API server emulator: the local cluster's control plane for tests and demos.

Built on kmock's ``KubernetesEmulator`` (see :mod:`.emulator`, the only module that
touches kmock) and made to behave like the real apiserver where kopf, the kubernetes
client and kubectl depend on it. Start it from Python with :class:`ApiServerProcess`,
or from a shell with ``python -m kubemigrate.devcluster.apiserver --port 0``.
"""

from .process import ApiServerError, ApiServerProcess

__all__ = ["ApiServerError", "ApiServerProcess"]
