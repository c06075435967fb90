"""The periodic access review: a manager lists every active user's roles, confirms or changes each, and signs.

The review is one transaction: the roles changed (each a role change with the reason, as the access-change report
shows it), the review with a line per user, and the manager's signature. A wrong password leaves only its refusal.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from lims import clock
from lims.audit import context as audit_context
from lims.errors import RecordNotFound
from lims.identity.models import RoleName, User
from lims.identity.service import users as user_service
from lims.identity.service.sign_in import reauthenticate
from lims.pagination import KeysetPage, page_after
from lims.review.errors import ChangeReasonMissing, ListOutdated
from lims.review.models import AccessReview, AccessReviewEntry
from lims.review.service.intervals import DueState, due_state, next_due_on
from lims.signatures import service as signatures
from lims.signatures.models import SignatureMeaning

#: what signing the review means: the manager reviewed every user's access
MEANING = SignatureMeaning.REVIEWED
#: who signs an access review: a manager, who answers for who may do what in the lab
REVIEWERS = frozenset({RoleName.MANAGER})
SORT_KEY = (AccessReview.reviewed_at, AccessReview.id)


def role_text(roles: frozenset[RoleName] | set[RoleName]) -> str:
    """Roles as the review keeps them: sorted names, comma-separated."""
    return ",".join(sorted(role.value for role in roles))


def users_to_review(session: Session) -> list[User]:
    """Every active user with their roles and organization, by organization then username (three queries)."""
    return list(
        session.scalars(
            select(User)
            .where(User.active.is_(True))
            .options(selectinload(User.roles), selectinload(User.organization))
            .order_by(User.organization_id, User.username)
        )
    )


def check_may_review(session: Session, user: User) -> None:
    """Refuse, before the password is asked for, anyone who may not sign an access review."""
    signatures.check_may_sign(session, AccessReview(), MEANING, user)


def review_access(
    session: Session,
    *,
    decisions: Mapping[int, set[RoleName]],
    listed: Mapping[int, str],
    change_reason: str | None,
    comment: str | None,
    interval_days: int,
    user: User,
    password: str,
    client_address: str | None = None,
) -> AccessReview:
    """Sign the access review: ``decisions`` are the roles each active user keeps (by user id), ``listed`` the
    roles the manager saw for each (``role_text``), so that a change made meanwhile is not signed unseen."""
    check_may_review(session, user)
    reauthenticate(session, user, password=password, client_address=client_address, purpose="signing the access review")
    people = users_to_review(session)
    _check_list_current(people, decisions, listed)
    reason = (change_reason or "").strip()
    changed = [person for person in people if decisions[person.id] != person.role_names]
    if changed and not reason:
        raise ChangeReasonMissing(
            "Say why the roles are changed; the reason is kept with each change.", field="change_reason"
        )
    now = clock.now()
    review = AccessReview(
        reviewed_at=now,
        next_due_on=next_due_on(now, interval_days),
        reviewed_by_id=user.id,
        change_reason=reason or None,
        comment=(comment or "").strip() or None,
    )
    # The reviewer's own line first: a change of one's own roles is refused (and the attempt kept) before any
    # other change is made.
    for person in sorted(people, key=lambda person: person.id != user.id):
        before = role_text(person.role_names)
        if decisions[person.id] != person.role_names:
            user_service.update_user(
                session,
                person,
                full_name=person.full_name,
                email=person.email,
                roles=decisions[person.id],
                actor=user,
                reason=f"Access review: {reason}",
            )
        review.entries.append(
            AccessReviewEntry(user=person, roles_before=before, roles_after=role_text(person.role_names))
        )
    with audit_context.reason_for_change(session, "Access review signed"):
        session.add(review)
    signatures.sign(session, review, meaning=MEANING, user=user, password=password, client_address=client_address)
    return review


def _check_list_current(people: list[User], decisions: Mapping[int, set[RoleName]], listed: Mapping[int, str]) -> None:
    active = {person.id: person for person in people}
    if set(decisions) != set(active):
        raise ListOutdated("Users were added or deactivated since the list was opened; review the list as it is now.")
    moved = [person.username for person in people if listed.get(person.id) != role_text(person.role_names)]
    if moved:
        raise ListOutdated(
            f"The roles of {', '.join(moved)} changed since the list was opened; review the list as it is now."
        )


def get_review(session: Session, review_id: int) -> AccessReview:
    review = session.scalar(
        select(AccessReview)
        .where(AccessReview.id == review_id)
        .options(selectinload(AccessReview.entries).selectinload(AccessReviewEntry.user))
    )
    if review is None:
        raise RecordNotFound(f"There is no access review {review_id}.")
    return review


def list_reviews(
    session: Session, *, after: tuple[datetime, int] | None = None, limit: int = 25
) -> KeysetPage[AccessReview]:
    """A page of the signed access reviews, newest first."""
    query = select(AccessReview).options(selectinload(AccessReview.reviewed_by))
    return page_after(session, query, SORT_KEY, after=after, limit=limit, descending=True)


def last_review(session: Session) -> tuple[int, datetime, date] | None:
    """The id, time and next due date of the newest signed access review."""
    row = session.execute(
        select(AccessReview.id, AccessReview.reviewed_at, AccessReview.next_due_on)
        .order_by(*(column.desc() for column in SORT_KEY))
        .limit(1)
    ).first()
    return None if row is None else (row.id, row.reviewed_at, row.next_due_on)


def due(session: Session) -> DueState:
    """Where the access review stands: due on the date the last one set, or at once if none was signed."""
    last = last_review(session)
    return due_state(last[1], last[2]) if last else due_state(None, None)
