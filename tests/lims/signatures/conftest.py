"""A signable record type that exists only in the tests' transaction: a note, made of lines that carry marks."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import ForeignKey, MetaData, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from lims import registry
from lims.audit.models import Controlled
from lims.identity.models import RoleName, User
from lims.signatures import service
from lims.signatures.models import SignatureMeaning


class _TestBase(DeclarativeBase):
    metadata = MetaData()


class BatchNote(Controlled, _TestBase):
    __tablename__ = "test_batch_note"
    audit_parts = ("lines",)

    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str] = mapped_column(String(200))
    performed_by_id: Mapped[int | None]

    lines: Mapped[list[NoteLine]] = relationship(back_populates="note", order_by="NoteLine.position")

    def signed_content(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "performed_by_id": self.performed_by_id,
            "lines": [line.signed_content() for line in self.lines],
        }


class NoteLine(Controlled, _TestBase):
    __tablename__ = "test_note_line"
    audit_parts = ("marks",)

    id: Mapped[int] = mapped_column(primary_key=True)
    note_id: Mapped[int] = mapped_column(ForeignKey("test_batch_note.id"))
    position: Mapped[int]
    text: Mapped[str] = mapped_column(String(200))

    note: Mapped[BatchNote] = relationship(back_populates="lines")
    marks: Mapped[list[NoteMark]] = relationship(back_populates="line", order_by="NoteMark.id")

    def part_label(self) -> str:
        return f"line {self.position}"

    def signed_content(self) -> dict[str, Any]:
        return {"text": self.text, "marks": [mark.text for mark in self.marks]}


class NoteMark(Controlled, _TestBase):
    """A part of a part, with no name of its own."""

    __tablename__ = "test_note_mark"

    id: Mapped[int] = mapped_column(primary_key=True)
    line_id: Mapped[int] = mapped_column(ForeignKey("test_note_line.id"))
    text: Mapped[str] = mapped_column(String(200))

    line: Mapped[NoteLine] = relationship(back_populates="marks")


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

    def make(
        text: str = "Harvest: 2.1e9 viable cells", performed_by_id: int | None = None, lines: tuple[str, ...] = ()
    ) -> BatchNote:
        note = BatchNote(
            text=text,
            performed_by_id=performed_by_id,
            lines=[NoteLine(position=position, text=line) for position, line in enumerate(lines, start=1)],
        )
        db_session.add(note)
        db_session.flush()
        return note

    return make
