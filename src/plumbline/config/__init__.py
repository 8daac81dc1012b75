"""plumbline's own configuration: Projects, Environments, Apps and GuardExceptions, Kubernetes-style YAML.

The public data are frozen pydantic models (``App``, ``Project``, ``Environment`` and their specs):
fields are snake_case in Python (``app.spec.source.repo_url``) and camelCase in YAML (``repoURL``).
``Mode``, ``Tool``, ``Severity`` and ``GuardName`` are the one vocabulary for the automation gradient,
the renderer, a guard finding's weight and the guards' names.

    config = load_config(find_config(None))
    app = config.app("guestbook")
    project = config.project(app.spec.project)

Every validation problem names file, line, object and field (:class:`InvalidConfigError`).
"""

from plumbline.config._find import find_config
from plumbline.config._load import Config, Origin, load_config
from plumbline.config._model import (
    API_VERSION,
    DEFAULT_ENVIRONMENT,
    DEFAULT_INSTANCE,
    DEFAULT_PROJECT,
    GUARD_NAMES,
    INSTANCE_ENV,
    KINDS,
    MAX_EXCEPTION_DAYS,
    App,
    AppSpec,
    Destination,
    Environment,
    EnvironmentSpec,
    GroupKind,
    GuardException,
    GuardName,
    HealthCheck,
    HealthStatus,
    HelmSource,
    IgnoreDifference,
    Instance,
    Metadata,
    Mode,
    Policy,
    Project,
    ProjectDestination,
    ProjectSpec,
    RankedEnum,
    Severity,
    Source,
    SyncOptions,
    SyncWindow,
    Tool,
    check_dns1123_label,
    is_remote,
)
from plumbline.config._problems import InvalidConfigError, Problem
from plumbline.config._status import (
    AppStatus,
    Condition,
    ConditionType,
    GuardBlock,
    HealthState,
    LastOperation,
    PauseState,
    SyncState,
)

__all__ = [
    "API_VERSION",
    "DEFAULT_ENVIRONMENT",
    "DEFAULT_INSTANCE",
    "DEFAULT_PROJECT",
    "GUARD_NAMES",
    "INSTANCE_ENV",
    "KINDS",
    "MAX_EXCEPTION_DAYS",
    "App",
    "AppSpec",
    "AppStatus",
    "Condition",
    "ConditionType",
    "Config",
    "Destination",
    "Environment",
    "EnvironmentSpec",
    "GroupKind",
    "GuardBlock",
    "GuardException",
    "GuardName",
    "HealthCheck",
    "HealthState",
    "HealthStatus",
    "HelmSource",
    "IgnoreDifference",
    "Instance",
    "InvalidConfigError",
    "LastOperation",
    "Metadata",
    "Mode",
    "Origin",
    "PauseState",
    "Policy",
    "Problem",
    "Project",
    "ProjectDestination",
    "ProjectSpec",
    "RankedEnum",
    "Severity",
    "Source",
    "SyncOptions",
    "SyncState",
    "SyncWindow",
    "Tool",
    "check_dns1123_label",
    "find_config",
    "is_remote",
    "load_config",
]
