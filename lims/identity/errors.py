"""The refusals of identity: signing in, passwords, accounts, roles, organizations and API tokens."""

from __future__ import annotations

from lims.errors import AccessDenied, Conflict, InvalidInput, LimsError


class LoginFailed(LimsError):
    """Signing in, or proving one's password to sign a record, failed."""

    status_code = 401
    #: the failed attempt is kept although the action is refused: it counts toward lockout
    keeps_changes = True


class AccountLocked(LoginFailed):
    """Too many failed passwords in a short time lock the account for a while."""

    status_code = 423


class AccountNotLocked(Conflict):
    """Only a locked account can be unlocked."""


class PasswordPolicyViolation(InvalidInput):
    """A new password breaks the password policy (length, too easy to guess, built on names, used recently)."""

    def __init__(self, message: str, *, field: str = "password") -> None:
        super().__init__(message, field=field)


class WrongCurrentPassword(InvalidInput):
    """Changing one's password starts by proving the current one."""

    #: the failed attempt is kept although the change is refused: it counts toward lockout
    keeps_changes = True


class RolesRefused(InvalidInput):
    """A user holds at least one known role, and the roles fit the user's organization."""


class SelfLockoutRefused(InvalidInput):
    """An administrator does not deactivate their own account."""


class OwnRolesRefused(AccessDenied):
    """Nobody changes their own roles (segregation of duties): another administrator does it."""

    #: the refusal is audited, and its event kept although the change is refused
    keeps_changes = True


class NotAnAdministrator(AccessDenied):
    """A command that manages users is run as a named, active administrator."""

    #: the refusal is audited, and its event kept although the command is refused
    keeps_changes = True


class AccountAlreadyDeactivated(Conflict):
    """The account is deactivated already."""


class AccountAlreadyActive(Conflict):
    """The account is active already."""


class ClientOrganizationRequired(InvalidInput):
    """Only a client organization (not the facility) sponsors protocols or holds API tokens."""


class OrganizationDeactivated(InvalidInput):
    """A deactivated organization gets no new users or API tokens."""


class FacilityDeactivationRefused(InvalidInput):
    """The facility runs the LIMS: it is never deactivated."""


class NotYourOrganization(AccessDenied):
    """A client manages the API tokens of their own organization only."""


class NoSessionToEnd(Conflict):
    """An administrator ends a user's sessions only while the user has one open."""


class TokenRevoked(Conflict):
    """The API token is revoked already."""
