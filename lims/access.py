"""Deny-by-default access control: every route declares who may use it.

A view without a declaration is refused to everyone. Web routes authenticate
through the session cookie (anonymous users go to the login page); routes
under ``/api/`` authenticate with a bearer token (anonymous callers get 401).
The cookie carries only the token of a session kept on the server
(``lims.identity.service.sessions``), looked up on every request.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any, Final, Literal, TypeVar

from flask import current_app, flash, g, redirect, request, session, url_for
from flask_login import current_user, logout_user
from flask_wtf.csrf import CSRFProtect

from lims import clock
from lims.audit import chain as audit_chain
from lims.audit import context as audit_context
from lims.db import (
    changes_kept_despite_refusal,
    get_session,
    keep_changes_despite_refusal,
    record_at_request_end,
)
from lims.identity.models import STAFF_ROLES, ApiToken, RoleName, SessionEndCause, User, UserSession
from lims.identity.service import sessions as session_service
from lims.web import REFUSAL_MESSAGE, refuse

View = TypeVar("View", bound=Callable[..., Any])

ACCESS_ATTRIBUTE = "lims_allowed_roles"
PUBLIC: Final = "public"
OWN_RECORDS_ATTRIBUTE = "lims_own_records_of_signed_in_user"
#: Every signed-in user, staff or client.
ANY_USER: frozenset[RoleName] = frozenset(RoleName)
STAFF: frozenset[RoleName] = STAFF_ROLES
#: Pages a user who must change their password may still reach.
PASSWORD_CHANGE_ENDPOINTS = frozenset({"identity.change_password", "identity.logout"})

#: Where the Flask session keeps the token of the server-side session.
SESSION_TOKEN: Final = "session_token"
_USER_SESSION = "user_session"
_ENDED_IDLE = "session_ended_idle"

csrf = CSRFProtect()


def allow(*roles: RoleName | frozenset[RoleName]) -> Callable[[View], View]:
    """Declare the roles that may use a view."""
    allowed: frozenset[RoleName] = frozenset().union(
        *(role if isinstance(role, frozenset) else {role} for role in roles)
    )
    if not allowed:
        raise ValueError("allow() needs at least one role; use public for open routes")

    def decorate(view: View) -> View:
        setattr(view, ACCESS_ATTRIBUTE, allowed)
        return view

    return decorate


def own_records_of_signed_in_user(view: View) -> View:
    """Declare an API operation about the signed-in person's own records (their inbox).

    Any user its roles admit calls it from their signed-in browser session, writing with the page's CSRF token in
    the ``X-CSRFToken`` header; an API token acts for an organization, not a person, and is refused.
    """
    setattr(view, OWN_RECORDS_ATTRIBUTE, True)
    return view


def public(view: View) -> View:
    """Declare a view open to everyone, signed in or not."""
    setattr(view, ACCESS_ATTRIBUTE, PUBLIC)
    return view


def declared_access(endpoint: str) -> frozenset[RoleName] | Literal["public"] | None:
    """Return what ``endpoint`` declared: roles, PUBLIC, or None for nothing."""
    if endpoint == "static":
        return PUBLIC
    view = current_app.view_functions.get(endpoint)
    return getattr(view, ACCESS_ATTRIBUTE, None)


def may_use(endpoint: str) -> bool:
    """Tell whether the signed-in user may open ``endpoint`` (navigation uses this)."""
    allowed = declared_access(endpoint)
    if allowed == PUBLIC:
        return True
    if allowed is None or not current_user.is_authenticated:
        return False
    return current_user.has_any_role(allowed)


def current_api_token() -> ApiToken:
    return g.api_token


def client_organization_id() -> int | None:
    """The organization whose API token is calling, or None for staff, who may see every organization's records."""
    token = g.get("api_token")
    return None if token is None else token.organization_id


def start_audit_context() -> None:
    """Attribute the request's changes to an anonymous caller until it authenticates."""
    if request.endpoint == "static":
        return
    g.request_id = uuid.uuid4().hex
    _act_as(None, "anonymous")


def _act_as(user_id: int | None, name: str) -> None:
    audit_context.act_as(get_session(), audit_context.Actor(user_id, name, g.get("request_id"), request.remote_addr))


def idle_time() -> timedelta:
    return timedelta(minutes=current_app.config["SESSION_IDLE_MINUTES"])


def load_signed_in_user() -> User | None:
    """The user whose open server-side session the cookie names (Flask-Login's loader), or None.

    A session idle beyond the idle time is ended here and audited as its user's sign-out, whatever the
    request; the request goes on as anonymous. Otherwise the request counts as the session's activity,
    recorded at the end of the request even if it is refused.
    """
    token = session.get(SESSION_TOKEN)
    if not isinstance(token, str):
        return None
    db_session = get_session()
    user_session = session_service.find_open_session(db_session, token)
    if user_session is None:
        session.pop(SESSION_TOKEN)
        return None
    now = clock.now()
    if session_service.is_idle(user_session, idle_time=idle_time(), at=now):
        user = user_session.user
        _act_as(user.id, user.full_name)
        session_service.end_session(db_session, user_session, SessionEndCause.IDLE, idle_time=idle_time())
        keep_changes_despite_refusal()  # an API call answers this with 401, which would roll the event back
        _act_as(None, "anonymous")
        session.pop(SESSION_TOKEN)
        setattr(g, _ENDED_IDLE, True)
        return None
    if session_service.activity_is_due(user_session, idle_time=idle_time(), at=now):
        # The id is read now: a refused request's rollback expires the row before its activity is recorded.
        user_session_id = user_session.id
        record_at_request_end(
            lambda request_session: session_service.note_activity(request_session, user_session_id, now)
        )
    setattr(g, _USER_SESSION, user_session)
    return user_session.user


def current_user_session() -> UserSession:
    """The server-side session of the signed-in user making this request (on routes that admit signed-in users)."""
    return g.get(_USER_SESSION)


def keep_signed_in(token: str) -> None:
    """Make the browser's cookie carry ``token``, naming the server-side session just opened for it."""
    session.clear()
    session[SESSION_TOKEN] = token
    session.permanent = True


def forget_signed_in() -> None:
    """Clear the browser's cookie and this request's user, once its server-side session has ended."""
    logout_user()
    session.clear()


def _ended_idle_message() -> str:
    return (
        f"You were signed out after {current_app.config['SESSION_IDLE_MINUTES']} minutes without activity. "
        "Please sign in again."
    )


def _refusal_details() -> dict[str, str]:
    return {"method": request.method, "path": request.path[:500]}


def _refuse_audited(status: int, message: str, action: str = "access.refused") -> Any:
    audit_chain.record(get_session(), action, details=_refusal_details())
    keep_changes_despite_refusal()
    return refuse(status, message)


def audit_refusal_by_a_rule(status_code: int) -> None:
    """Record a 403 that a domain rule answered (the route check records its own), after undoing what it changed.

    Rules deeper than the route, such as who may sign what, refuse accesses too; the request's own
    changes must not survive the refusal, but the refusal must.
    """
    if status_code != 403 or changes_kept_despite_refusal():
        return
    db_session = get_session()
    db_session.rollback()
    audit_chain.record(
        db_session, "access.refused", details={**_refusal_details(), "refusal": str(g.get(REFUSAL_MESSAGE, ""))[:500]}
    )
    keep_changes_despite_refusal()


def enforce_access() -> Any:
    """Refuse the request unless its route's declaration admits the caller."""
    if request.endpoint is None:
        return None  # no route matched: the router answers 404 or 405
    allowed = declared_access(request.endpoint)
    is_api = request.path.startswith("/api/")
    if allowed is None:
        return _refuse_audited(403, "This address declares no access rule, so it is closed to everyone.")
    if allowed == PUBLIC:
        if not is_api:
            csrf.protect()
        return None
    if is_api and getattr(current_app.view_functions[request.endpoint], OWN_RECORDS_ATTRIBUTE, False):
        return _enforce_own_records(allowed)
    if is_api:
        return _enforce_api(allowed)
    return _enforce_web(allowed)


def _enforce_web(allowed: frozenset[RoleName]) -> Any:
    if not current_user.is_authenticated:
        if g.get(_ENDED_IDLE):
            flash(_ended_idle_message(), "info")
            return redirect(url_for("identity.login"))
        return redirect(
            url_for("identity.login", next=request.full_path.rstrip("?") if request.method == "GET" else None)
        )
    _act_as(current_user.id, current_user.full_name)
    if current_user.must_change_password and request.endpoint not in PASSWORD_CHANGE_ENDPOINTS:
        flash("Choose a new password before you continue.", "info")
        return redirect(url_for("identity.change_password"))
    if not current_user.has_any_role(allowed):
        return _refuse_audited(403, "Your role does not give access to this page.")
    csrf.protect()
    return None


def _enforce_own_records(allowed: frozenset[RoleName]) -> Any:
    if not current_user.is_authenticated:
        if g.get(_ENDED_IDLE):
            return refuse(401, "Your session ended after a period without activity; sign in again.")
        return refuse(401, "Sign in: this operation reads and changes the signed-in person's own records.")
    _act_as(current_user.id, current_user.full_name)
    if current_user.must_change_password:
        return _refuse_audited(403, "Choose a new password before you continue.")
    if not current_user.has_any_role(allowed):
        return _refuse_audited(403, "Your role does not give access to this resource.")
    if request.method != "GET":
        csrf.protect()
    return None


def _enforce_api(allowed: frozenset[RoleName]) -> Any:
    from lims.identity.service.api_tokens import authenticate_api_token

    if (
        "Authorization" not in request.headers
        and request.method == "GET"
        and current_user.is_authenticated
        and current_user.is_staff
    ):
        # Staff read the API from a signed-in browser session; reading changes
        # nothing, so no CSRF token is needed, and writing always needs one.
        _act_as(current_user.id, current_user.full_name)
        if not current_user.has_any_role(allowed & STAFF):
            return _refuse_audited(403, "Your role does not give access to this operation.")
        return None
    if "Authorization" not in request.headers and g.get(_ENDED_IDLE):
        return refuse(401, "Your session ended after a period without activity; sign in again.")
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not presented.strip():
        return refuse(401, "Send an API token in the header 'Authorization: Bearer <token>'.")
    token = authenticate_api_token(get_session(), presented.strip())
    if token is None:
        return _refuse_audited(401, "The API token is unknown or has been revoked.", "api.token_refused")
    _act_as(None, f"API token {token.prefix} of {token.organization.code}")
    if RoleName.CLIENT not in allowed:
        return _refuse_audited(403, "API tokens do not give access to this resource.")
    g.api_token = token
    return None
