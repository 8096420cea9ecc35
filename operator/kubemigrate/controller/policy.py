"""What the cluster admin lets a MigrationRun ask of its Job.

Whoever may create a MigrationRun in a namespace gets a Pod there that the Job
controller creates on their behalf: their own RBAC on Pods is never checked, only
Pod Security admission is. The spec fields that shape that Pod (an image source, a
ServiceAccount, where it runs, how long and how often) are therefore limited by the
operator's settings, which only the admin who installs the operator sets. A run
that breaks a limit fails as ``InvalidSpec``, like any other spec the operator
refuses, with a message naming the field, the limit and the setting to change.

Pure: the spec and the settings in, ``InvalidSpec`` or nothing out. ``jobs.build_job``
calls ``check`` too, so no Job is ever built that these settings refuse.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from kubemigrate.controller.spec import InvalidSpec, MigrationRunSpec, ResourceRequirements
from kubemigrate.quantities import parse_quantity
from kubemigrate.settings import ANY, JobResources, OperatorSettings

#: Each limiting setting: its environment variable and the Helm value that sets it.
SETTINGS: dict[str, tuple[str, str]] = {
    "allowed_source_images": (
        "KUBEMIGRATE_ALLOWED_SOURCE_IMAGES",
        "operator.allowedSourceImages",
    ),
    "allowed_service_accounts": (
        "KUBEMIGRATE_ALLOWED_SERVICE_ACCOUNTS",
        "operator.allowedServiceAccounts",
    ),
    "allow_node_selector": ("KUBEMIGRATE_ALLOW_NODE_SELECTOR", "operator.allowNodeSelector"),
    "allow_tolerations": ("KUBEMIGRATE_ALLOW_TOLERATIONS", "operator.allowTolerations"),
    "allow_image_pull_secrets": (
        "KUBEMIGRATE_ALLOW_IMAGE_PULL_SECRETS",
        "operator.allowImagePullSecrets",
    ),
    "job_resources": ("KUBEMIGRATE_JOB_RESOURCES", "operator.jobResources"),
    "job_max_backoff_limit": ("KUBEMIGRATE_JOB_MAX_BACKOFF_LIMIT", "operator.jobMaxBackoffLimit"),
    "job_max_active_deadline_seconds": (
        "KUBEMIGRATE_JOB_MAX_ACTIVE_DEADLINE_SECONDS",
        "operator.jobMaxActiveDeadlineSeconds",
    ),
}

DOCKER_HUB = "docker.io"

# The distribution project's reference grammar (github.com/distribution/reference).
_DOMAIN_PART = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"{_DOMAIN_PART}(?:\.{_DOMAIN_PART})*(?::[0-9]+)?"
_PATH_PART = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_REFERENCE = re.compile(
    rf"^(?P<name>(?:{_DOMAIN}/)?{_PATH_PART}(?:/{_PATH_PART})*)"
    rf"(?::(?P<tag>{_TAG}))?(?:@(?P<digest>{_DIGEST}))?\Z"
)


def setting(field: str) -> str:
    """How a run's author can name a setting to the admin who sets it."""
    env, value = SETTINGS[field]
    return f"the operator's {env} (Helm value {value})"


def normalize_image(reference: str) -> str | None:
    """``reference`` in full form, as containerd and Docker read it, or None when it is
    not an image reference at all.

    A first component without a dot or a colon (and not ``localhost``) is a Docker Hub
    repository (``shop/migrations`` is ``docker.io/shop/migrations``), and a name with
    no slash one of its official images (``postgres`` is ``docker.io/library/postgres``).
    The registry's host is lowercased: host names are case-insensitive, paths are not.
    """
    match = _REFERENCE.match(reference)
    if match is None or len(match["name"]) > 255:
        return None
    name = match["name"]
    first, slash, rest = name.partition("/")
    is_host = slash and (
        "." in first or ":" in first or first == "localhost" or first != first.lower()
    )
    if is_host:
        domain, path = first.lower(), rest
    else:
        domain, path = DOCKER_HUB, name
    if domain == "index.docker.io":
        domain = DOCKER_HUB
    if domain == DOCKER_HUB and "/" not in path:
        path = f"library/{path}"
    full = f"{domain}/{path}"
    if match["tag"]:
        full += f":{match['tag']}"
    if match["digest"]:
        full += f"@{match['digest']}"
    return full


def _under(reference: str, prefix: str) -> bool:
    """Whether a full reference is ``prefix`` or lies under it, by whole components: a
    registry host is followed by ``/``, a repository by ``/``, ``:`` (a tag) or ``@``."""
    head, _, tail = prefix.partition("/")
    prefix = f"{head.lower()}/{tail}" if tail or prefix.endswith("/") else head.lower()
    if reference == prefix:
        return True
    if not reference.startswith(prefix):
        return False
    if prefix.endswith("/"):
        return True
    follows = reference[len(prefix)]
    return follows == "/" or ("/" in prefix and follows in ":@")


def image_allowed(reference: str, prefixes: Iterable[str]) -> bool:
    """Whether ``spec.source.image.reference`` lies under one of the allowed prefixes."""
    prefixes = tuple(prefixes)
    if ANY in prefixes:
        return True
    full = normalize_image(reference)
    return full is not None and any(_under(full, prefix) for prefix in prefixes)


def service_account_allowed(name: str, namespace: str, allowed: Iterable[str]) -> bool:
    """``default`` always is (it is what a run without the field gets); others when listed
    by name or as ``namespace/name``."""
    allowed = tuple(allowed)
    return (
        name == "default" or ANY in allowed or name in allowed or f"{namespace}/{name}" in allowed
    )


def _listing(values: tuple[str, ...]) -> str:
    return ", ".join(values)


def problems(spec: MigrationRunSpec, settings: OperatorSettings, namespace: str) -> list[str]:
    """Each way the run asks for more than the settings allow, as ``spec.field: why``."""
    found: list[str] = []
    image = spec.source.image
    if image is not None and not image_allowed(image.reference, settings.allowed_source_images):
        prefixes = settings.allowed_source_images
        where = setting("allowed_source_images")
        if not prefixes:
            found.append(
                f"spec.source.image.reference: image sources are turned off ({where} lists "
                "no image): the image would run as an init container in this namespace; use "
                "spec.source.configMap or spec.source.inline, or ask the cluster admin to "
                "allow the image's repository"
            )
        elif normalize_image(image.reference) is None:
            found.append(
                f"spec.source.image.reference: {image.reference!r} is not an image reference "
                f"(registry/repository[:tag][@digest]), so {where} cannot allow it"
            )
        else:
            found.append(
                f"spec.source.image.reference: {image.reference} is not under the allowed "
                f"prefixes ({_listing(prefixes)}) of {where}"
            )
    job = spec.job
    if job is None:
        return found
    account = job.service_account_name
    allowed = settings.allowed_service_accounts
    if account is not None and not service_account_allowed(account, namespace, allowed):
        listed = f"allows only {_listing(allowed)}" if allowed else "allows none"
        where = setting("allowed_service_accounts")
        found.append(
            f"spec.job.serviceAccountName: {account} is not allowed ({where} "
            f"{listed}; without the field the Job runs as the namespace's default "
            "ServiceAccount): a ServiceAccount's cloud credentials (workload identity) reach "
            "every container of the Job"
        )
    for value, allow, field, spec_field in (
        (job.node_selector, settings.allow_node_selector, "allow_node_selector", "nodeSelector"),
        (job.tolerations, settings.allow_tolerations, "allow_tolerations", "tolerations"),
        (
            job.image_pull_secrets,
            settings.allow_image_pull_secrets,
            "allow_image_pull_secrets",
            "imagePullSecrets",
        ),
    ):
        if value and not allow:  # an empty one changes nothing
            found.append(f"spec.job.{spec_field} is not allowed ({setting(field)} is false)")
    found += _resource_problems(job.resources, settings.job_resources)
    most_retries = settings.job_max_backoff_limit
    if job.backoff_limit is not None and job.backoff_limit > most_retries:
        found.append(
            f"spec.job.backoffLimit: {job.backoff_limit} is above the maximum of {most_retries} "
            f"({setting('job_max_backoff_limit')})"
        )
    longest = settings.job_max_active_deadline_seconds
    deadline = job.active_deadline_seconds
    if longest is not None and deadline is not None and deadline > longest:
        found.append(
            f"spec.job.activeDeadlineSeconds: {deadline} is above the maximum of {longest} "
            f"({setting('job_max_active_deadline_seconds')})"
        )
    return found


def _resource_problems(asked: ResourceRequirements | None, defaults: JobResources) -> list[str]:
    """A limit the defaults name may be changed, not removed: a run's 0 would be none."""
    found = []
    for name, value in ((asked.limits or {}) if asked else {}).items():
        if name in defaults.limits and _amount(value) <= 0:
            found.append(
                f"spec.job.resources.limits.{name}: {value} would leave the Job without a "
                f"{name} limit, which every Job keeps ({defaults.limits[name]} unless the run "
                f"sets another above zero; {setting('job_resources')})"
            )
    return found


def _amount(value: str | int) -> Any:
    try:
        return parse_quantity(value)
    except ValueError:
        return 0  # the CRD's pattern lets no such value through; refused if one comes


def job_resources(asked: ResourceRequirements | None, defaults: JobResources) -> dict[str, Any]:
    """The ``resources`` of the Job's containers: the operator's defaults, with the values
    the run names instead of theirs.

    A run changes what it names and keeps the rest, so ``resources: {}`` changes nothing
    and no default limit can be left out. Where a default would now contradict the run
    (a default request above a limit the run lowered, a default limit below a request
    it raised), the default moves to the run's value. Where the run contradicts itself,
    the API server refuses the Job and the run says so in its terms (``JobRejected``).
    """
    asked_requests = dict((asked.requests or {}) if asked else {})
    asked_limits = dict((asked.limits or {}) if asked else {})
    merged = defaults.as_dict()
    requests = {**merged["requests"], **asked_requests}
    limits = {**merged["limits"], **asked_limits}
    for name in requests.keys() & limits.keys():
        if _amount(requests[name]) <= _amount(limits[name]):
            continue
        if name in asked_limits and name not in asked_requests:
            requests[name] = limits[name]
        elif name in asked_requests and name not in asked_limits:
            limits[name] = requests[name]
    resources: dict[str, Any] = {}
    if requests:
        resources["requests"] = requests
    if limits:
        resources["limits"] = limits
    return resources


def check(spec: MigrationRunSpec, settings: OperatorSettings, namespace: str) -> None:
    """Raise ``InvalidSpec`` naming every field the settings refuse, or return."""
    found = problems(spec, settings, namespace)
    if not found:
        return
    raise InvalidSpec(
        "refused by the operator's settings, which a cluster admin sets: " + "; ".join(found),
        hint="the spec cannot be edited; delete this run and create one within the limits",
        fields=sorted({text.split(":", 1)[0].split(" ", 1)[0] for text in found}),
    )
