"""The demo's published accounts, and the mark that tells a demo database from a real one.

The demo's passwords are printed in the README: a real database refuses them, a database `lims demo` has loaded
(and marked) accepts them.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from lims import clock
from lims.identity.models import DemoDatabaseMark, RoleName


@dataclass(frozen=True)
class DemoAccount:
    username: str
    password: str
    full_name: str
    role: RoleName
    organization_code: str


#: The README lists these; change both together.
ACCOUNTS = (
    DemoAccount("a.rossi", "demo-admin-2026", "Alessandro Rossi", RoleName.ADMIN, "NBCT"),
    DemoAccount("m.larsen", "demo-manager-2026", "Maja Larsen", RoleName.MANAGER, "NBCT"),
    DemoAccount("q.okafor", "demo-qa-officer-2026", "Quinn Okafor", RoleName.QA, "NBCT"),
    DemoAccount("t.nguyen", "demo-technician-2026", "Thi Nguyen", RoleName.TECHNICIAN, "NBCT"),
    DemoAccount("s.lind", "demo-technician-lind-2026", "Sara Lind", RoleName.TECHNICIAN, "NBCT"),
    DemoAccount("c.patel", "demo-client-helix-2026", "Chandra Patel", RoleName.CLIENT, "HELIX"),
    DemoAccount("d.weber", "demo-client-nordcar-2026", "Dana Weber", RoleName.CLIENT, "NORDCAR"),
)
DEMO_PASSWORDS = frozenset(account.password for account in ACCOUNTS)


def demo_password(username: str) -> str:
    return next(account.password for account in ACCOUNTS if account.username == username)


def is_demo_database(session: Session) -> bool:
    return session.scalar(select(DemoDatabaseMark.id).limit(1)) is not None


def mark_demo_database(session: Session) -> None:
    """Record, once, that this database holds the demo data set."""
    if not is_demo_database(session):
        session.add(DemoDatabaseMark(marked_at=clock.now()))
        session.flush()
