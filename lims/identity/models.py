"""Organizations, users, roles, login attempts, signed-in sessions and API tokens."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Column, ForeignKey, Index, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lims.audit.models import Controlled
from lims.db import Base, string_enum


class OrganizationKind(enum.StrEnum):
    FACILITY = "facility"
    CLIENT = "client"


class RoleName(enum.StrEnum):
    TECHNICIAN = "technician"
    QA = "qa"
    MANAGER = "manager"
    ADMIN = "admin"
    CLIENT = "client"


STAFF_ROLES = frozenset({RoleName.TECHNICIAN, RoleName.QA, RoleName.MANAGER, RoleName.ADMIN})


class RoleChangeKind(enum.StrEnum):
    GRANTED = "granted"
    REVOKED = "revoked"


class LoginOutcome(enum.StrEnum):
    SUCCESS = "success"
    WRONG_PASSWORD = "wrong_password"
    UNKNOWN_USER = "unknown_user"
    LOCKED = "locked"
    DEACTIVATED = "deactivated"


user_role = Table(
    "user_role",
    Base.metadata,
    Column("user_id", ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True),
    Column("role_id", ForeignKey("role.id", ondelete="RESTRICT"), primary_key=True),
)


class Organization(Controlled, Base):
    __tablename__ = "organization"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[OrganizationKind] = mapped_column(string_enum(OrganizationKind, "organization_kind"))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime]

    users: Mapped[list[User]] = relationship(back_populates="organization")
    api_tokens: Mapped[list[ApiToken]] = relationship(back_populates="organization")

    @property
    def is_facility(self) -> bool:
        return self.kind == OrganizationKind.FACILITY


class Role(Base):
    __tablename__ = "role"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[RoleName] = mapped_column(string_enum(RoleName, "role_name"), unique=True)
    description: Mapped[str] = mapped_column(Text)

    users: Mapped[list[User]] = relationship(secondary=user_role, back_populates="roles")

    def __str__(self) -> str:
        return self.name.value


class User(Controlled, Base):
    # "user" is reserved on PostgreSQL.
    __tablename__ = "user_account"
    # Sign-ins and lockouts move these; they are audited as events of their own.
    audit_system_fields = frozenset({"last_login_at", "locked_until", "failures_counted_since"})
    audit_redacted_fields = frozenset({"password_hash"})

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254))
    organization_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    must_change_password: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime]
    password_changed_at: Mapped[datetime]
    last_login_at: Mapped[datetime | None]
    locked_until: Mapped[datetime | None]
    # Failed logins before this moment no longer count toward a lockout: it
    # moves on every success, unlock and lock.
    failures_counted_since: Mapped[datetime]
    deactivated_at: Mapped[datetime | None]
    deactivation_reason: Mapped[str | None] = mapped_column(Text)

    organization: Mapped[Organization] = relationship(back_populates="users")
    roles: Mapped[list[Role]] = relationship(secondary=user_role, back_populates="users", order_by="Role.id")

    @property
    def role_names(self) -> frozenset[RoleName]:
        return frozenset(role.name for role in self.roles)

    def has_any_role(self, roles: frozenset[RoleName] | set[RoleName]) -> bool:
        return not self.role_names.isdisjoint(roles)

    @property
    def is_staff(self) -> bool:
        return self.has_any_role(STAFF_ROLES)

    def is_locked(self, at: datetime) -> bool:
        return self.locked_until is not None and self.locked_until > at

    # Flask-Login protocol
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_anonymous(self) -> bool:
        return False


class RoleChange(Controlled, Base):
    """One role granted to or revoked from a user, by whom, when and why: what the access-change report lists.

    The user's own audit events hold the same change; this table lets the report filter and page in SQL.
    """

    __tablename__ = "role_change"
    __table_args__ = (
        Index("ix_role_change_changed_at", "changed_at", "id"),
        Index("ix_role_change_user_changed_at", "user_id", "changed_at", "id"),
        Index("ix_role_change_changed_by_changed_at", "changed_by_id", "changed_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    role: Mapped[RoleName] = mapped_column(string_enum(RoleName, "role_name"))
    kind: Mapped[RoleChangeKind] = mapped_column(string_enum(RoleChangeKind, "role_change_kind"))
    changed_at: Mapped[datetime]
    #: None when the change was made from the command line without a named administrator (``lims init``, the demo)
    changed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    #: the name the audit trail gives whoever made the change
    changed_by_name: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    changed_by: Mapped[User | None] = relationship(foreign_keys=[changed_by_id])


class LoginAttempt(Base):
    __tablename__ = "login_attempt"
    __table_args__ = (Index("ix_login_attempt_user_at", "user_id", "attempted_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(200))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    outcome: Mapped[LoginOutcome] = mapped_column(string_enum(LoginOutcome, "login_outcome"))
    attempted_at: Mapped[datetime]
    client_address: Mapped[str | None] = mapped_column(String(64))


class SessionEndCause(enum.StrEnum):
    SIGNED_OUT = "signed_out"
    IDLE = "idle"
    DEACTIVATED = "deactivated"
    LOCKED = "locked"
    PASSWORD_CHANGED = "password_changed"
    PASSWORD_RESET = "password_reset"
    ENDED_BY_ADMINISTRATOR = "ended_by_administrator"


class UserSession(Base):
    """A signed-in browser session, kept on the server: the cookie holds only a token naming it.

    Not a controlled record: its activity changes on every request. Its start and end are audit events.
    """

    __tablename__ = "user_session"
    __table_args__ = (Index("ix_user_session_user_open", "user_id", "ended_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    # SHA-256 of the cookie's token: a copy of the table lets no one take over a session.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    client_address: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(300))
    ended_at: Mapped[datetime | None]
    end_cause: Mapped[SessionEndCause | None] = mapped_column(string_enum(SessionEndCause, "session_end_cause"))

    user: Mapped[User] = relationship()


class ApiToken(Controlled, Base):
    __tablename__ = "api_token"
    audit_system_fields = frozenset({"last_used_at"})
    audit_redacted_fields = frozenset({"secret_hash"})

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    # The public part of the token, used to find the row; the secret is only hashed.
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    organization: Mapped[Organization] = relationship(back_populates="api_tokens")
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
    revoked_by: Mapped[User | None] = relationship(foreign_keys=[revoked_by_id])

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None


class PasswordHistory(Base):
    """A password a user had before: its argon2 hash, so that a new password cannot be an old one again."""

    __tablename__ = "password_history"
    __table_args__ = (Index("ix_password_history_user_replaced", "user_id", "replaced_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    password_hash: Mapped[str] = mapped_column(String(255))
    replaced_at: Mapped[datetime]


class DemoDatabaseMark(Base):
    """Written by `lims demo`: this database holds the demo data set, whose published passwords it accepts."""

    __tablename__ = "demo_database_mark"

    id: Mapped[int] = mapped_column(primary_key=True)
    marked_at: Mapped[datetime]
