"""Environment binding: the revision must come from a branch the environment allows, objects must not
be marked for another environment, (optionally) the revision must have passed an earlier one — synced
there, not rolled back there and, where the app there has a verification window, verified (Passed) —,
and
(optionally) its commits must be signed by a key the Environment or the Project lists.

Seed 01, incident 1: a Friday merge meant for test went to production. Here a prod app refuses a
revision no allowed branch contains, whatever branch or SHA someone pointed it at.
"""

from __future__ import annotations

from plumbline.config import GuardName, Severity, SignatureMode, VerificationSpec, effective_verification
from plumbline.guards._model import Finding, GuardContext, finding
from plumbline.guards._objects import labels_and_annotations
from plumbline.plan import Action, Plan
from plumbline.signatures import Checked, SignatureState, Verdict, check_required
from plumbline.store import AuditOutcome, SyncResult, failed_revisions
from plumbline.verify import verification_record

NAME = GuardName.ENVIRONMENT
NEEDS_CLUSTER = False

# Labels or annotations that say which environment an object is meant for.
ENVIRONMENT_KEYS = ("plumbline.dev/environment", "environment", "env", "app.kubernetes.io/environment")


def check(*, plan: Plan, context: GuardContext) -> list[Finding]:
    return [
        *_branch(plan, context),
        *_marked(plan, context),
        *_promotion(plan, context),
        *_signatures(plan, context),
    ]


def _branch(plan: Plan, context: GuardContext) -> list[Finding]:
    env = context.environment
    if env.spec.branches == ["*"]:
        return []
    allowed = ", ".join(env.spec.branches)
    revision = f"{context.checkout.revision} ({context.checkout.sha[:12]})"
    branches = context.checkout.branches
    if branches is None:
        if env.allows_branch(context.checkout.revision):
            return []
        message = (
            f"environment {env.name!r} takes revisions from {allowed} only, and it is not known "
            f"which branches contain {revision}"
        )
        fix = f"deploy a branch named in Environment {env.name} spec.branches"
        return [finding(NAME, context.app_subject, message, fix, field="revision")]
    if any(env.allows_branch(branch) for branch in branches):
        return []
    on = ", ".join(branches) if branches else "no branch"
    message = (
        f"revision {revision} is on {on}, but environment {env.name!r} takes only revisions reachable "
        f"from {allowed}"
    )
    fix = (
        f"merge the change into {allowed} first (a branch meant for another environment does not "
        f"reach {env.name})"
    )
    return [finding(NAME, context.app_subject, message, fix, field="revision", overridable=True)]


def _marked(plan: Plan, context: GuardContext) -> list[Finding]:
    here = context.environment.name
    others = set(context.environments) - {here}
    findings = []
    for item in plan.items:
        if item.desired is None or item.action is Action.PRUNE:
            continue
        for key, value in labels_and_annotations(item.desired).items():
            if key in ENVIRONMENT_KEYS and value != here and value in others:
                message = (
                    f"the object is marked for environment {value!r}, but app "
                    f"{context.app.name!r} deploys to {here!r} (from {item.source})"
                )
                fix = f"render the {here} variant (check the overlay or value files), or mark it {here!r}"
                findings.append(finding(NAME, item.ref, message, fix, field=f"metadata {key}"))
                break
    return findings


def _promotion(plan: Plan, context: GuardContext) -> list[Finding]:
    earlier = context.environment.spec.requires_passed_in
    if not earlier:
        return []
    sha = context.checkout.sha
    here = context.environment.name
    apps = [a.name for a in context.apps.values() if a.spec.environment == earlier]
    if context.store is None:
        message = (
            f"environment {here!r} requires revisions to pass {earlier!r} first; "
            "no history is at hand to confirm it here"
        )
        fix = "the sync itself checks this against history"
        return [finding(NAME, context.app_subject, message, fix, field="revision", severity=Severity.WARN)]
    unverified = []
    for name in apps:
        synced = any(
            record.sha == sha and record.result is SyncResult.SUCCEEDED
            for record in context.store.history(name, limit=200, with_desired=False)
        )
        if not synced:
            continue
        if sha in failed_revisions(context.store, name):
            unverified.append(f"{name}: rolled back")  # a rollback left it: failed there, whatever the window
            continue
        window = _verification_of(context, name)
        if window is None or not window.enabled:
            return []  # nothing to verify there: a successful sync is the pass
        verified = verification_record(context.store, name, sha)
        if verified is not None and verified.outcome is AuditOutcome.PASSED:
            return []
        got = f"verification {verified.outcome.value}" if verified is not None else "not verified yet"
        unverified.append(f"{name}: {got}")
    tried = ", ".join(apps) if apps else f"none: no app is in environment {earlier!r}"
    if unverified:
        message = (
            f"revision {sha[:12]} synced in {earlier!r} but did not pass its verification window there "
            f"({'; '.join(unverified)}); environment {here!r} requires that first"
        )
    else:
        message = (
            f"revision {sha[:12]} has not synced successfully in {earlier!r} (apps there: {tried}); "
            f"environment {here!r} requires that first"
        )
    fix = f"sync this revision to {earlier} and let it settle"
    return [finding(NAME, context.app_subject, message, fix, field="revision", overridable=True)]


def _verification_of(context: GuardContext, app: str) -> VerificationSpec | None:
    """The verification window ``app`` is held to (its own over its Environment's)."""
    found = context.apps[app]
    environment = context.environments.get(found.spec.environment)
    return effective_verification(
        found.spec.verification, environment.spec.verification if environment else None
    )


def _signatures(plan: Plan, context: GuardContext) -> list[Finding]:
    """Each commit the Environment's or the Project's ``spec.signatures`` checks that is not signed by
    one of its keys: one finding per commit (``Commit/<sha>``), naming who signed it, if anyone.

    ``strict`` checks every commit since the last verified one: ``plumb check``'s base, else the app's
    last synced commit in the store. A commit's own ``Plumb-Allow`` trailer cannot name it (a commit
    cannot hold its own SHA); a later signed commit's trailer, ``--allow`` or a GuardException can.
    """
    info = context.checkout
    since = info.base or _last_synced(context)
    findings = []
    for checked in check_required(
        context.environment, context.project, mirror=info.mirror, sha=info.sha, since=since
    ):
        if checked.error is not None:
            who = checked.required_by
            message = (
                f"{who} requires signed commits, and {info.sha[:12]}'s cannot be checked: {checked.error}"
            )
            fix = "sync from a repository plumbline has fetched (plumb sync fetches it)"
            findings.append(finding(NAME, context.app_subject, message, fix, field="signature"))
        findings += [_unsigned(verdict, checked) for verdict in checked.failed]
    return findings


def _last_synced(context: GuardContext) -> str | None:
    record = context.store.last_sync(context.app.name) if context.store is not None else None
    return record.sha if record is not None else None


def _unsigned(verdict: Verdict, checked: Checked) -> Finding:
    who, requirement, since = checked.required_by, checked.requirement, checked.since
    names = ", ".join(f"{k.name} ({'OpenPGP' if k.openpgp else 'SSH'})" for k in requirement.keys)
    which = "the revision's commit" if verdict.sha == checked.sha else "a commit in the revision's history"
    scope = ""
    if requirement.mode is SignatureMode.STRICT:
        scope = f" (strict: every commit since {since[:12]})" if since else " (strict: every commit)"
    message = (
        f"{which} {verdict.sha[:12]} is {verdict.describe()}; {who} requires commits signed by "
        f"one of {names}{scope}"
    )
    match verdict.state:
        case SignatureState.UNLISTED:
            fix = f"sign it with a listed key, or list the signer's key in {who} spec.signatures.keys"
        case SignatureState.BAD:
            fix = f"sign the commit again with {verdict.key}'s key (git commit --amend -S)"
        case _:
            fix = "sign it with a listed key (git commit -S; for an SSH key, -c gpg.format=ssh)"
    return finding(NAME, f"Commit/{verdict.sha}", message, fix, field="signature", overridable=True)
