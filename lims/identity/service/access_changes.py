"""The access-change report: the roles granted and revoked, filtered and paged in SQL, and its CSV export."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, joinedload

from lims.audit import chain as audit_chain
from lims.audit.chain import stable_value
from lims.csv_export import csv_lines as export_lines
from lims.identity.models import RoleChange
from lims.pagination import KeysetPage, page_after

#: newest first; the id parts changes made at the same moment
SORT_KEY = (RoleChange.changed_at, RoleChange.id)

CSV_HEADER = (
    "changed_at_utc",
    "user",
    "user_name",
    "role",
    "change",
    "changed_by",
    "changed_by_id",
    "reason",
)


@dataclass(frozen=True)
class AccessChangeFilter:
    #: whose access changed
    user_id: int | None = None
    #: who changed it
    changed_by_id: int | None = None
    changed_from: datetime | None = None
    #: exclusive upper bound
    changed_until: datetime | None = None


def _filtered(criteria: AccessChangeFilter) -> Select[RoleChange]:
    query = select(RoleChange).options(joinedload(RoleChange.user))
    if criteria.user_id is not None:
        query = query.where(RoleChange.user_id == criteria.user_id)
    if criteria.changed_by_id is not None:
        query = query.where(RoleChange.changed_by_id == criteria.changed_by_id)
    if criteria.changed_from is not None:
        query = query.where(RoleChange.changed_at >= criteria.changed_from)
    if criteria.changed_until is not None:
        query = query.where(RoleChange.changed_at < criteria.changed_until)
    return query


def list_role_changes(
    session: Session, criteria: AccessChangeFilter, *, after: tuple[datetime, int] | None = None, limit: int = 50
) -> KeysetPage[RoleChange]:
    """A page of the role changes matching ``criteria``, newest first, going on after the key ``after``."""
    return page_after(session, _filtered(criteria), SORT_KEY, after=after, limit=limit, descending=True)


def export_role_changes(session: Session, criteria: AccessChangeFilter, *, filters: dict[str, str]) -> Iterator[str]:
    """Record the export of the role changes matching ``criteria`` (asked for as ``filters``); give its CSV lines."""
    audit_chain.record(session, "access_changes.exported", details=filters)
    changes = session.scalars(
        _filtered(criteria).order_by(*(column.desc() for column in SORT_KEY)).execution_options(yield_per=1000)
    )
    return csv_lines(changes)


def csv_lines(changes: Iterable[RoleChange]) -> Iterator[str]:
    """The CSV export, header first; no cell starts like a spreadsheet formula."""
    return export_lines(
        CSV_HEADER,
        (
            (
                stable_value(change.changed_at),
                change.user.username,
                change.user.full_name,
                change.role.value,
                change.kind.value,
                change.changed_by_name,
                change.changed_by_id,
                change.reason,
            )
            for change in changes
        ),
    )
