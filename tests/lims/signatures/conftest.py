"""A signable record type that exists only in the tests' transaction."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import MetaData, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from lims import registry
from lims.audit.models import Controlled
from lims.identity.models import RoleName, User
from lims.signatures import service
from lims.signatures.models import SignatureMeaning


class _TestBase(DeclarativeBase):
    metadata = MetaData()


class BatchNote(Controlled, _TestBase):
    __tablename__ = "test_batch_note"

    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str] = mapped_column(String(200))
    performed_by_id: Mapped[int | None]

    def signed_content(self) -> dict[str, Any]:
        return {"text": self.text, "performed_by_id": self.performed_by_id}


def _someone_else_verifies(_session: Any, note: BatchNote, meaning: SignatureMeaning, user: User) -> None:
    if meaning == SignatureMeaning.VERIFIED:
        service.require_different_person(user, [note.performed_by_id], earlier_role="performed")


@pytest.fixture
def create_note(connection, db_session, monkeypatch):
    _TestBase.metadata.create_all(connection)
    monkeypatch.setitem(
        registry.current()._signables,
        BatchNote.__tablename__,
        service.SignableType(
            BatchNote,
            {
                SignatureMeaning.PERFORMED: frozenset({RoleName.TECHNICIAN}),
                SignatureMeaning.VERIFIED: frozenset({RoleName.TECHNICIAN, RoleName.QA}),
                SignatureMeaning.APPROVED: frozenset({RoleName.QA}),
            },
            before_signing=_someone_else_verifies,
        ),
    )

    def make(text: str = "Harvest: 2.1e9 viable cells", performed_by_id: int | None = None) -> BatchNote:
        note = BatchNote(text=text, performed_by_id=performed_by_id)
        db_session.add(note)
        db_session.flush()
        return note

    return make
