"""A kubelet stand-in: the Job controller and a node that runs containers as local processes.

The local cluster has no nodes, so this process plays both the parts an operator
relies on after it creates a Job: the Job controller (Pods from the template,
``backoffLimit``, ``podFailurePolicy``, deadlines, TTL, Job status and conditions, see
:mod:`.controller`) and the kubelet (each container's ``command`` run on this host with
its env, volumes and termination message, Pod status written back, see
:mod:`.runtime`), with the default scheduler's one decision that matters on one node:
a Pod whose node selector or required node affinity the node does not match stays
Pending, Unschedulable (:mod:`.scheduling`). Both record Events as client-go does
(:mod:`.events`): ``SuccessfulCreate``, ``FailedCreate`` (a Pod the API refused, e.g.
for a missing ServiceAccount), ``Completed``, ``FailedScheduling``... Start it with
:class:`KubeletProcess`, or from a shell with
``python -m kubemigrate.devcluster.kubelet --kubeconfig PATH``.
"""

from .process import KubeletError, KubeletProcess
from .runtime import read_log

__all__ = ["KubeletError", "KubeletProcess", "read_log"]
