"""What identity and access contribute: sign-in, the admin pages, the access-change report, the locked-accounts
queue, `lims user`, and the demo's organizations and accounts."""

from __future__ import annotations

from lims.audit.naming import named_by_column
from lims.dashboard.service import WorkQueue
from lims.identity import api, compliance, demo, models, views
from lims.identity.cli import user_group
from lims.identity.service import sign_in
from lims.registry import Registry


def register(registry: Registry) -> None:
    for check in compliance.CHECKS:
        registry.compliance_check(check)
    registry.blueprint(views.blueprint)
    registry.api_blueprint(api.blueprint)
    registry.navigation("Users", "identity.users", order=60)
    registry.navigation("Roles", "identity.roles", order=61)
    registry.navigation("Organizations", "identity.organizations", order=62)
    registry.navigation("API tokens", "identity.api_tokens", order=63)
    registry.navigation("API tokens", "identity.portal_tokens", order=64)
    registry.navigation("Access changes", "identity.access_changes", order=65)
    registry.work_queue(
        WorkQueue(
            title="Locked accounts",
            description="Users locked out after repeated failed sign-ins, waiting for an unlock.",
            roles=frozenset({models.RoleName.ADMIN}),
            count=lambda session, _user, _settings: sign_in.locked_users_count(session),
            endpoint="identity.users",
            arguments=(("status", "locked"),),
        )
    )
    # lims.access records the refusals: it enforces the rules of this area's accounts, roles and tokens.
    registry.audit_actions(
        *(f"login.{outcome.value}" for outcome in models.LoginOutcome),
        "login.lockout",
        "logout",
        "session.ended",
        "user.unlocked",
        "access.refused",
        "api.token_refused",
        "command_line.authenticated",
        "access_changes.exported",
    )
    registry.cli_group(user_group)
    registry.record_names(
        named_by_column(
            models.User, "user", models.User.username, referent=models.User.full_name, identifier_hint="a username"
        )
    )
    registry.demo_loader(demo.load_accounts)
