"""`lims user`: user accounts from the command line."""

from __future__ import annotations

import click

from lims.commands import password_from, unit_of_work
from lims.identity.models import RoleName
from lims.identity.service import organizations as identity_organizations
from lims.identity.service import sign_in as identity_sign_in
from lims.identity.service import users as identity_users


@click.group("user")
def user_group() -> None:
    """User accounts."""


@user_group.command("create")
@click.argument("username")
@click.option("--full-name", required=True, help="Printed on the user's signatures.")
@click.option("--email", required=True)
@click.option("--organization", "organization_code", required=True, help="Organization code.")
@click.option(
    "--role",
    "roles",
    multiple=True,
    required=True,
    type=click.Choice([role.value for role in RoleName]),
    help="Repeat for several roles.",
)
def user_create(username: str, full_name: str, email: str, organization_code: str, roles: tuple[str, ...]) -> None:
    """Create a user; the password comes from LIMS_USER_PASSWORD or a prompt."""
    password = password_from("LIMS_USER_PASSWORD", f"Password for {username}")
    with unit_of_work() as session:
        organization = identity_organizations.organization_by_code(session, organization_code)
        identity_users.create_user(
            session,
            username=username,
            full_name=full_name,
            email=email,
            organization=organization,
            roles={RoleName(role) for role in roles},
            password=password,
            must_change_password=False,
            actor=None,
        )
    click.echo(f"Created {username.lower()}.")


@user_group.command("deactivate")
@click.argument("username")
@click.option("--reason", required=True, help="Why the account is deactivated (kept with the account).")
def user_deactivate(username: str, reason: str) -> None:
    """Deactivate a user (accounts are never deleted)."""
    with unit_of_work() as session:
        identity_users.deactivate_user(
            session, identity_users.user_by_username(session, username), reason=reason, actor=None
        )
    click.echo(f"Deactivated {username}.")


@user_group.command("unlock")
@click.argument("username")
def user_unlock(username: str) -> None:
    """Lift a lockout after failed sign-ins."""
    with unit_of_work() as session:
        identity_sign_in.unlock_user(session, identity_users.user_by_username(session, username))
    click.echo(f"Unlocked {username}.")
