"""`lims user`: user accounts and their roles from the command line, run as a named administrator (``--as``)."""

from __future__ import annotations

import getpass
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click
from flask import current_app
from sqlalchemy.orm import Session

from lims.commands import password_from, unit_of_work
from lims.identity.models import RoleName, User
from lims.identity.service import administrators as identity_administrators
from lims.identity.service import organizations as identity_organizations
from lims.identity.service import sign_in as identity_sign_in
from lims.identity.service import users as identity_users

#: The administrator's password for scripts; otherwise it is asked at the terminal.
AS_PASSWORD_VARIABLE = "LIMS_AS_PASSWORD"


def _as_administrator(command: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--as",
        "as_username",
        required=True,
        metavar="USERNAME",
        help=f"The administrator who runs the command; their password comes from {AS_PASSWORD_VARIABLE} or a prompt.",
    )(command)


def _roles_option(command: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--role",
        "roles",
        multiple=True,
        required=True,
        type=click.Choice([role.value for role in RoleName]),
        help="Repeat for several roles.",
    )(command)


def _administrator_password(username: str) -> str:
    return password_from(AS_PASSWORD_VARIABLE, f"Password of the administrator {username}", new=False)


@contextmanager
def _as(username: str, password: str, command: str) -> Iterator[tuple[Session, User]]:
    """One unit of work attributed to the administrator ``username``, once their password is proven."""
    with unit_of_work() as session:
        administrator = identity_administrators.act_as_administrator(
            session, username=username, password=password, os_user=getpass.getuser(), command=command
        )
        yield session, administrator


@click.group("user")
def user_group() -> None:
    """User accounts and their roles."""


@user_group.command("create")
@click.argument("username")
@click.option("--full-name", required=True, help="Printed on the user's signatures.")
@click.option("--email", required=True)
@click.option("--organization", "organization_code", required=True, help="Organization code.")
@_roles_option
@click.option("--reason", required=True, help="Why the user gets these roles (kept in the access-change report).")
@_as_administrator
def user_create(
    username: str,
    full_name: str,
    email: str,
    organization_code: str,
    roles: tuple[str, ...],
    reason: str,
    as_username: str,
) -> None:
    """Create a user; the user's password comes from LIMS_USER_PASSWORD or a prompt."""
    administrator_password = _administrator_password(as_username)
    password = password_from("LIMS_USER_PASSWORD", f"Password for {username}")
    with _as(as_username, administrator_password, f"user create {username}") as (session, administrator):
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
            actor=administrator,
            reason=reason,
            minimum_score=current_app.config["PASSWORD_MIN_SCORE"],
        )
    click.echo(f"Created {username.lower()}.")


@user_group.command("roles")
@click.argument("username")
@_roles_option
@click.option("--reason", required=True, help="Why the roles change (kept in the access-change report).")
@_as_administrator
def user_roles(username: str, roles: tuple[str, ...], reason: str, as_username: str) -> None:
    """Set the roles a user holds to exactly those given (nobody changes their own)."""
    administrator_password = _administrator_password(as_username)
    with _as(as_username, administrator_password, f"user roles {username}") as (session, administrator):
        user = identity_users.user_by_username(session, username)
        identity_users.update_user(
            session,
            user,
            full_name=user.full_name,
            email=user.email,
            roles={RoleName(role) for role in roles},
            actor=administrator,
            reason=reason,
        )
        held = ", ".join(sorted(user.role_names))
    click.echo(f"{username.lower()} holds: {held}.")


@user_group.command("deactivate")
@click.argument("username")
@click.option("--reason", required=True, help="Why the account is deactivated (kept with the account).")
@_as_administrator
def user_deactivate(username: str, reason: str, as_username: str) -> None:
    """Deactivate a user (accounts are never deleted)."""
    administrator_password = _administrator_password(as_username)
    with _as(as_username, administrator_password, f"user deactivate {username}") as (session, administrator):
        identity_users.deactivate_user(
            session, identity_users.user_by_username(session, username), reason=reason, actor=administrator
        )
    click.echo(f"Deactivated {username}.")


@user_group.command("unlock")
@click.argument("username")
@_as_administrator
def user_unlock(username: str, as_username: str) -> None:
    """Lift a lockout after failed sign-ins."""
    administrator_password = _administrator_password(as_username)
    with _as(as_username, administrator_password, f"user unlock {username}") as (session, _administrator):
        identity_sign_in.unlock_user(session, identity_users.user_by_username(session, username))
    click.echo(f"Unlocked {username}.")
