"""Commands that manage users and roles run as a named administrator, who proves it with their password."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from lims.audit import chain as audit_chain
from lims.audit import context as audit_context
from lims.identity.errors import AccountLocked, LoginFailed, NotAnAdministrator
from lims.identity.models import RoleName, User
from lims.identity.service import sign_in


def act_as_administrator(session: Session, *, username: str, password: str, os_user: str, command: str) -> User:
    """Check that ``username`` names an active administrator and ``password`` is theirs, then attribute what the
    session records from now on to them, from the command line of ``os_user``.

    A wrong password counts toward the administrator's lockout; every refusal is audited.
    """
    origin = f"command line ({os_user})"[:64]
    user = session.scalar(select(User).where(User.username == username.strip().lower()))
    if user is None or not user.active or RoleName.ADMIN not in user.role_names:
        message = f"{username!r} is not an active administrator: run the command as one (--as USERNAME)."
        audit_chain.record(
            session,
            "access.refused",
            entity=user,
            details={"refusal": message, "as": username[:200], "os_user": os_user, "command": command},
        )
        raise NotAnAdministrator(message, field="as")
    try:
        sign_in.reauthenticate(session, user, password=password, client_address=origin, purpose=command)
    except AccountLocked:
        raise
    except LoginFailed as error:
        raise LoginFailed(f"The password of {user.username} is wrong; nothing was changed.", field="as") from error
    audit_context.act_as(session, audit_context.Actor(user.id, user.full_name, uuid.uuid4().hex, origin))
    audit_chain.record(
        session, "command_line.authenticated", entity=user, details={"os_user": os_user, "command": command}
    )
    return user
