"""Guards: checks over a plan that yield findings (block or warn) a person can act on.

One module per guard, each ``check(*, plan, context) -> list[Finding]`` over plain data, named by a
:class:`GuardName` and building its findings with :func:`finding` (which adds the override hint):

* :mod:`~plumbline.guards.project` — repositories, namespaces and kinds inside the Project;
* :mod:`~plumbline.guards.environment` — branch binding, environment labels, promotion;
* :mod:`~plumbline.guards.destructive` — protected deletes and replacements, blast radius, empty renders;
* :mod:`~plumbline.guards.references` — in-cluster Service addresses resolve, with the port;
* :mod:`~plumbline.guards.secrets` — no plaintext secrets in the source;
* :mod:`~plumbline.guards.windows` — sync windows per environment;
* :mod:`~plumbline.guards.policy` — CEL policies and the API server's admission denials.

    context = GuardContext(app=app, project=project, environment=environment, checkout=info)
    findings = run_guards(plan=plan, context=context)
    blocking, overridden = apply_overrides(findings, allows, trailers(checkout.message, sha=checkout.sha))

A blocked plan applies only with an override naming each block (``--allow GUARD:KIND/NAME --reason``,
a ``Plumb-Allow: GUARD KIND/NAME`` commit trailer, or a standing ``GuardException`` in the
configuration that has not expired); the caller records ``overridden`` in history. :func:`decide` is
the one place that happens (:func:`gate` runs the guards and calls it; so does ``plumb check``).
"""

from plumbline.config import GuardName, Severity
from plumbline.guards._gate import GateResult, decide, gate
from plumbline.guards._model import TRAILER, CheckoutInfo, Finding, GuardContext, finding, override_hint
from plumbline.guards._reach import branches_containing, checkout_info
from plumbline.guards._runner import GUARDS, run_guards
from plumbline.guards.overrides import (
    Allow,
    ExceptionUse,
    Overridden,
    OverrideError,
    apply_overrides,
    parse_allow,
    trailers,
)

__all__ = [
    "GUARDS",
    "TRAILER",
    "Allow",
    "CheckoutInfo",
    "ExceptionUse",
    "Finding",
    "GateResult",
    "GuardContext",
    "GuardName",
    "Overridden",
    "OverrideError",
    "Severity",
    "apply_overrides",
    "branches_containing",
    "checkout_info",
    "decide",
    "finding",
    "gate",
    "override_hint",
    "parse_allow",
    "run_guards",
    "trailers",
]
