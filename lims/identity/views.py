"""Sign-in, one's own password, and the admin pages for users, roles, organizations and tokens."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.datastructures import MultiDict

from lims import clock
from lims.access import (
    ANY_USER,
    allow,
    current_user_session,
    forget_signed_in,
    idle_time,
    keep_signed_in,
    public,
)
from lims.db import get_session
from lims.identity import schemas
from lims.identity.errors import AccountLocked
from lims.identity.models import OrganizationKind, RoleName, SessionEndCause, User

# Aliased: the views of users, organizations and API tokens have those names.
from lims.identity.service import access_changes as access_change_service
from lims.identity.service import api_tokens as token_service
from lims.identity.service import organizations as organization_service
from lims.identity.service import passwords as password_service
from lims.identity.service import sessions as session_service
from lims.identity.service import sign_in as sign_in_service
from lims.identity.service import users as user_service
from lims.web import load_input, on_refusal_show, safe_next_url

blueprint = Blueprint("identity", __name__, template_folder="templates")

ADMIN = RoleName.ADMIN
REVIEWERS = frozenset({RoleName.QA, RoleName.ADMIN})


# Signing in and out


@blueprint.route("/login", methods=["GET", "POST"])
@public
def login() -> Any:
    if request.method == "GET":
        if current_user.is_authenticated:
            return redirect(url_for("dashboard.index"))
        return render_template("identity/login.html", errors={}, form={"next": request.args.get("next", "")})
    with on_refusal_show("identity/login.html"):
        data = load_input(schemas.LoginSchema())
        user = sign_in_service.authenticate(
            get_session(), username=data["username"], password=data["password"], client_address=request.remote_addr
        )
    max_age_days = current_app.config["PASSWORD_MAX_AGE_DAYS"]
    expired = password_service.require_change_if_too_old(get_session(), user, max_age_days=max_age_days)
    keep_signed_in(_open_session(user))
    if expired:
        flash(f"Your password is more than {max_age_days} days old: choose a new one before you continue.", "warning")
    return redirect(safe_next_url(data["next"], url_for("dashboard.index")))


def _open_session(user: User) -> str:
    return session_service.open_session(
        get_session(), user, client_address=request.remote_addr, user_agent=request.user_agent.string
    )


@blueprint.route("/logout", methods=["POST"])
@allow(ANY_USER)
def logout() -> Any:
    session_service.end_session(get_session(), current_user_session(), SessionEndCause.SIGNED_OUT)
    forget_signed_in()
    flash("You are signed out.", "info")
    return redirect(url_for("identity.login"))


@blueprint.route("/account/password", methods=["GET", "POST"])
@allow(ANY_USER)
def change_password() -> Any:
    if request.method == "GET":
        return render_template("identity/change_password.html", errors={}, form=MultiDict())
    with on_refusal_show("identity/change_password.html"):
        data = load_input(schemas.PasswordChangeSchema())
        try:
            user = password_service.change_password(
                get_session(),
                current_user,
                current_password=data["current_password"],
                new_password=data["new_password"],
                client_address=request.remote_addr,
                minimum_score=current_app.config["PASSWORD_MIN_SCORE"],
            )
        except AccountLocked as locked:
            # The lockout ended every session of the user, this one included.
            forget_signed_in()
            flash(locked.message, "error")
            return redirect(url_for("identity.login"))
    # Every session of the user ended with the old password; this browser goes on in a new one.
    keep_signed_in(_open_session(user))
    flash("Your password is changed.", "success")
    return redirect(url_for("dashboard.index"))


# Users


@blueprint.route("/admin/users")
@allow(ADMIN)
def users() -> Any:
    context: dict[str, Any] = {
        "role_options": [(role.value, role.value) for role in RoleName],
        "organization_options": _organization_options(),
        "status_options": [(s, s.capitalize()) for s in ("all", "active", "deactivated", "locked")],
    }
    with on_refusal_show("identity/users.html", page=None, criteria=request.args, **context):
        criteria = load_input(schemas.UserFilterSchema(), request.args)
    page_number = criteria.pop("page")
    text = criteria.pop("q")
    page = user_service.list_users(get_session(), user_service.UserFilter(text=text, **criteria), page=page_number)
    shown = {**criteria, "q": text}
    return render_template(
        "identity/users.html",
        page=page,
        criteria=shown,
        errors={},
        now=clock.now(),
        filter_args={key: value for key, value in shown.items() if value and value != "all"},
        **context,
    )


def _user_form_context() -> dict[str, Any]:
    return {
        "organization_options": _organization_options(),
        "role_options": [(role.value, f"{role.value} — {user_service.ROLE_DESCRIPTIONS[role]}") for role in RoleName],
    }


def _user_page_context(account: User) -> dict[str, Any]:
    return {
        "account": account,
        "attempts": sign_in_service.recent_login_attempts(get_session(), account),
        "now": clock.now(),
        **_user_form_context(),
    }


def _organization_options(kind: OrganizationKind | None = None) -> list[tuple[int, str]]:
    return [(o.id, o.name) for o in organization_service.list_organizations(get_session(), kind=kind)]


@blueprint.route("/admin/users/new", methods=["GET", "POST"])
@allow(ADMIN)
def new_user() -> Any:
    if request.method == "GET":
        return render_template("identity/user_new.html", errors={}, form=MultiDict(), **_user_form_context())
    db = get_session()
    with on_refusal_show("identity/user_new.html", _user_form_context):
        data = load_input(schemas.UserCreateSchema())
        temporary_password = password_service.generate_temporary_password(data["username"])
        user = user_service.create_user(
            db,
            username=data["username"],
            full_name=data["full_name"],
            email=data["email"],
            organization=organization_service.get_organization(db, data["organization_id"]),
            roles=set(data["roles"]),
            password=temporary_password,
            must_change_password=True,
            actor=current_user,
            reason=data["reason"],
        )
    return render_template("identity/temporary_password.html", user=user, temporary_password=temporary_password), 201


@blueprint.route("/admin/users/<int:user_id>", methods=["GET", "POST"])
@allow(ADMIN)
def user(user_id: int) -> Any:
    db = get_session()
    account = user_service.get_user(db, user_id)
    if request.method == "GET":
        return render_template("identity/user.html", errors={}, form=None, **_user_page_context(account))
    with on_refusal_show("identity/user.html", lambda: _user_page_context(account)):
        data = load_input(schemas.UserUpdateSchema())
        user_service.update_user(
            db,
            account,
            full_name=data["full_name"],
            email=data["email"],
            roles=set(data["roles"]),
            actor=current_user,
            reason=data["reason"],
        )
    flash(f"{account.username} is updated.", "success")
    return redirect(url_for("identity.user", user_id=account.id), 303)


@blueprint.route("/admin/users/<int:user_id>/deactivate", methods=["POST"])
@allow(ADMIN)
def deactivate_user(user_id: int) -> Any:
    db = get_session()
    account = user_service.get_user(db, user_id)
    with on_refusal_show("identity/user.html", lambda: _user_page_context(account)):
        data = load_input(schemas.ReasonSchema())
        user_service.deactivate_user(db, account, reason=data["reason"], actor=current_user)
    flash(f"{account.username} is deactivated.", "success")
    return redirect(url_for("identity.user", user_id=account.id), 303)


@blueprint.route("/admin/users/<int:user_id>/reactivate", methods=["POST"])
@allow(ADMIN)
def reactivate_user(user_id: int) -> Any:
    db = get_session()
    account = user_service.get_user(db, user_id)
    with on_refusal_show("identity/user.html", lambda: _user_page_context(account)):
        data = load_input(schemas.ReasonSchema())
        user_service.reactivate_user(db, account, reason=data["reason"])
    temporary_password = password_service.reset_password(db, account, actor=current_user)
    return render_template("identity/temporary_password.html", user=account, temporary_password=temporary_password)


@blueprint.route("/admin/users/<int:user_id>/unlock", methods=["POST"])
@allow(ADMIN)
def unlock_user(user_id: int) -> Any:
    db = get_session()
    account = user_service.get_user(db, user_id)
    sign_in_service.unlock_user(db, account)
    flash(f"{account.username} is unlocked.", "success")
    return redirect(url_for("identity.user", user_id=account.id), 303)


@blueprint.route("/admin/users/<int:user_id>/reset-password", methods=["POST"])
@allow(ADMIN)
def reset_password(user_id: int) -> Any:
    db = get_session()
    account = user_service.get_user(db, user_id)
    temporary_password = password_service.reset_password(db, account, actor=current_user)
    return render_template("identity/temporary_password.html", user=account, temporary_password=temporary_password)


def _sessions_page_context(account: User) -> dict[str, Any]:
    return {
        "account": account,
        "sessions": session_service.active_sessions(get_session(), account, idle_time=idle_time()),
        "idle_minutes": int(idle_time().total_seconds() // 60),
    }


@blueprint.route("/admin/users/<int:user_id>/sessions")
@allow(ADMIN)
def user_sessions(user_id: int) -> Any:
    account = user_service.get_user(get_session(), user_id)
    return render_template("identity/sessions.html", errors={}, form=MultiDict(), **_sessions_page_context(account))


@blueprint.route("/admin/users/<int:user_id>/sessions/end", methods=["POST"])
@allow(ADMIN)
def end_user_sessions(user_id: int) -> Any:
    db = get_session()
    account = user_service.get_user(db, user_id)
    with on_refusal_show("identity/sessions.html", lambda: _sessions_page_context(account)):
        data = load_input(schemas.ReasonSchema())
        ended = session_service.end_sessions_by_administrator(db, account, reason=data["reason"])
    flash(f"{ended} session{'s' if ended != 1 else ''} of {account.username} ended.", "success")
    return redirect(url_for("identity.user_sessions", user_id=account.id), 303)


@blueprint.route("/admin/roles")
@allow(ADMIN)
def roles() -> Any:
    return render_template("identity/roles.html", roles=user_service.list_roles(get_session()))


# The access-change report (QA and admin)


def _access_change_criteria(data: dict[str, Any]) -> access_change_service.AccessChangeFilter:
    """The filter the form asks for: its local dates as UTC bounds, the end date included."""
    zone = ZoneInfo(current_app.config["DISPLAY_TIMEZONE"])

    def start_of(day: date | None) -> datetime | None:
        if day is None:
            return None
        try:
            return datetime.combine(day, time.min, tzinfo=zone).astimezone(UTC)
        except OverflowError:
            # A bound at the very edge of the calendar (year 1 or 9999) excludes no change.
            return None

    day_after = data["date_to"] + timedelta(days=1) if data["date_to"] and data["date_to"] < date.max else None
    return access_change_service.AccessChangeFilter(
        user_id=data["user_id"],
        changed_by_id=data["changed_by_id"],
        changed_from=start_of(data["date_from"]),
        changed_until=start_of(day_after),
    )


def _access_change_filter_args() -> dict[str, str]:
    """The filters of this request, to carry over to the next page and the export."""
    return {key: value for key, value in request.args.items() if value and key != "cursor"}


def _access_change_page_context() -> dict[str, Any]:
    people = user_service.list_users(get_session(), user_service.UserFilter(), page=1, per_page=1000).items
    return {"user_options": [(person.id, f"{person.full_name} ({person.username})") for person in people]}


def _refused_access_change_filters() -> Any:
    return on_refusal_show(
        "identity/access_changes.html",
        _access_change_page_context,
        page=None,
        next_cursor=None,
        form=request.args,
        filter_args=_access_change_filter_args(),
    )


@blueprint.route("/admin/access-changes")
@allow(REVIEWERS)
def access_changes() -> Any:
    schema = schemas.AccessChangeFilterSchema()
    with _refused_access_change_filters():
        data = load_input(schema, request.args)
        page = access_change_service.list_role_changes(
            get_session(), _access_change_criteria(data), after=data["cursor"]
        )
    return render_template(
        "identity/access_changes.html",
        page=page,
        next_cursor=schema.fields["cursor"].serialize("next_key", page),
        form=request.args,
        errors={},
        filter_args=_access_change_filter_args(),
        **_access_change_page_context(),
    )


@blueprint.route("/admin/access-changes.csv")
@allow(REVIEWERS)
def access_changes_csv() -> Any:
    with _refused_access_change_filters():
        data = load_input(schemas.AccessChangeFilterSchema(), request.args)
        criteria = _access_change_criteria(data)
    lines = access_change_service.export_role_changes(get_session(), criteria, filters=_access_change_filter_args())
    filename = f"access-changes-{clock.now():%Y%m%dT%H%M%SZ}.csv"
    return Response(
        "".join(lines), mimetype="text/csv", headers={"Content-Disposition": f'attachment; filename="{filename}"'}
    )


# Organizations


@blueprint.route("/admin/organizations")
@allow(ADMIN)
def organizations() -> Any:
    return render_template(
        "identity/organizations.html", organizations=organization_service.list_organizations(get_session())
    )


@blueprint.route("/admin/organizations/new", methods=["GET", "POST"])
@allow(ADMIN)
def new_organization() -> Any:
    if request.method == "GET":
        return render_template("identity/organization_new.html", errors={}, form=MultiDict())
    with on_refusal_show("identity/organization_new.html"):
        data = load_input(schemas.OrganizationCreateSchema())
        organization = organization_service.create_organization(get_session(), **data, kind=OrganizationKind.CLIENT)
    flash(f"{organization.name} is registered.", "success")
    return redirect(url_for("identity.organization", organization_id=organization.id), 303)


@blueprint.route("/admin/organizations/<int:organization_id>", methods=["GET", "POST"])
@allow(ADMIN)
def organization(organization_id: int) -> Any:
    db = get_session()
    record = organization_service.get_organization(db, organization_id)
    context: dict[str, Any] = {"organization": record, "tokens": token_service.list_api_tokens(db, organization=record)}
    if request.method == "GET":
        return render_template("identity/organization.html", errors={}, form=None, **context)
    with on_refusal_show("identity/organization.html", **context):
        data = load_input(schemas.OrganizationUpdateSchema())
        organization_service.update_organization(
            db, record, name=data["name"], active=data["active"], reason=data["reason"]
        )
    flash(f"{record.name} is updated.", "success")
    return redirect(url_for("identity.organization", organization_id=record.id), 303)


# API tokens: the admin manages every client's, a client user their own organization's.


@blueprint.route("/admin/api-tokens", methods=["GET", "POST"])
@allow(ADMIN)
def api_tokens() -> Any:
    db = get_session()
    context: dict[str, Any] = {
        "tokens": token_service.list_api_tokens(db),
        "choose_organization": True,
        "organization_options": _organization_options(OrganizationKind.CLIENT),
        "revoke_endpoint": "identity.revoke_api_token",
    }
    if request.method == "GET":
        return render_template("identity/api_tokens.html", errors={}, form=MultiDict(), **context)
    with on_refusal_show("identity/api_tokens.html", **context):
        data = load_input(schemas.AdminApiTokenCreateSchema())
        organization = organization_service.get_organization(db, data["organization_id"])
        token, secret = token_service.issue_api_token(
            db, organization=organization, name=data["name"], actor=current_user
        )
    return render_template(
        "identity/api_token_issued.html", token=token, secret=secret, back=url_for("identity.api_tokens")
    ), 201


@blueprint.route("/admin/api-tokens/<int:token_id>/revoke", methods=["POST"])
@allow(ADMIN)
def revoke_api_token(token_id: int) -> Any:
    db = get_session()
    token = token_service.revoke_api_token(db, token_service.get_api_token(db, token_id), actor=current_user)
    flash(f"The token {token.name!r} of {token.organization.name} is revoked.", "success")
    return redirect(url_for("identity.api_tokens"), 303)


@blueprint.route("/portal/api-tokens", methods=["GET", "POST"])
@allow(RoleName.CLIENT)
def portal_tokens() -> Any:
    db = get_session()
    context: dict[str, Any] = {
        "tokens": token_service.list_api_tokens(db, organization=current_user.organization),
        "choose_organization": False,
        "revoke_endpoint": "identity.portal_revoke_token",
    }
    if request.method == "GET":
        return render_template("identity/api_tokens.html", errors={}, form=MultiDict(), **context)
    with on_refusal_show("identity/api_tokens.html", **context):
        data = load_input(schemas.ApiTokenCreateSchema())
        token, secret = token_service.issue_api_token(
            db, organization=current_user.organization, name=data["name"], actor=current_user
        )
    return render_template(
        "identity/api_token_issued.html", token=token, secret=secret, back=url_for("identity.portal_tokens")
    ), 201


@blueprint.route("/portal/api-tokens/<int:token_id>/revoke", methods=["POST"])
@allow(RoleName.CLIENT)
def portal_revoke_token(token_id: int) -> Any:
    db = get_session()
    token = token_service.get_api_token(db, token_id, organization=current_user.organization)
    token_service.revoke_api_token(db, token, actor=current_user)
    flash(f"The token {token.name!r} is revoked.", "success")
    return redirect(url_for("identity.portal_tokens"), 303)
