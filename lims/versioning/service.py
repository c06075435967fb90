"""The rules of the version lifecycle: only a draft changes, one change at a time, an approved version takes effect
and ends the one in effect before it.

The signatures that send a version to review and approve it are ``lims.signatures.service.two_person_approval``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TypeVar

from sqlalchemy import Subquery, func, select
from sqlalchemy.orm import Session

from lims import clock
from lims.audit import context as audit_context
from lims.signatures.models import ElectronicSignature, SignatureMeaning
from lims.versioning.errors import (
    UnfinishedVersion,
    VersionNotApproved,
    VersionNotDraft,
    VersionNotEffective,
)
from lims.versioning.models import DocumentVersion

Version = TypeVar("Version", bound=DocumentVersion)


def _sentence(text: str) -> str:
    """``text`` to open a sentence with ("version 2.0" → "Version 2.0")."""
    return text[:1].upper() + text[1:]


def effective_version(versions: Iterable[Version]) -> Version | None:
    return next((version for version in versions if version.status == version.lifecycle.effective), None)


def has_unfinished_version(versions: Iterable[DocumentVersion]) -> bool:
    """Whether a version of the document is in draft or review."""
    return any(version.status in version.lifecycle.unfinished for version in versions)


def locked_reason(version: DocumentVersion) -> str | None:
    """Why ``version`` can no longer change, or None for a draft."""
    if version.is_draft:
        return None
    return _sentence(version.lifecycle.not_draft.format(version=version.label, status=version.status.value))


def require_draft(version: DocumentVersion) -> None:
    reason = locked_reason(version)
    if reason is not None:
        raise VersionNotDraft(reason)


def version_to_amend(versions: Sequence[Version], *, document: str) -> Version:
    """The newest version of ``document``, to draft the next one from; refused while a change is under way."""
    if has_unfinished_version(versions):
        raise UnfinishedVersion(f"{document} already has a version in draft or review; finish it first.")
    return versions[-1]


def _end(version: DocumentVersion, at: datetime) -> None:
    version.status = version.lifecycle.ended
    setattr(version, version.lifecycle.ended_at, at)


def make_effective(session: Session, version: Version) -> Version:
    """Put an approved version into effect; the version in effect until now is superseded (or retired)."""
    lifecycle = version.lifecycle
    if version.status != lifecycle.approved:
        raise VersionNotApproved(
            f"Only an approved version becomes effective; {version.label} is {version.status.value}."
        )
    now = clock.now()
    previous = effective_version(version.document_versions)
    with audit_context.reason_for_change(session, f"{_sentence(version.label)} made effective"):
        if previous is not None:
            _end(previous, now)
            session.flush()  # the database allows one effective version per document
        version.status = lifecycle.effective
        version.effective_at = now
    return version


def withdraw(session: Session, version: Version, *, reason: str) -> Version:
    """Take the effective version out of effect without a successor, for the reason given."""
    lifecycle = version.lifecycle
    if version.status != lifecycle.effective:
        raise VersionNotEffective(
            f"Only the effective version can be {lifecycle.ended.value}; {version.label} is {version.status.value}."
        )
    with audit_context.reason_for_change(session, reason):
        _end(version, clock.now())
    return version


def count_in_review(session: Session, model: type[Version]) -> int:
    """How many versions of ``model`` wait for QA's approval (``versions_in_review``), in one statement."""
    return session.scalar(select(func.count()).select_from(model).where(model.status == model.lifecycle.in_review)) or 0


def versions_in_review(session: Session, model: type[Version]) -> list[Version]:
    """Versions their author signed, waiting for QA's approval, oldest first."""
    return list(
        session.scalars(select(model).where(model.status == model.lifecycle.in_review).order_by(model.created_at))
    )


def sent_to_review(model: type[DocumentVersion]) -> Subquery:
    """When each version of ``model`` was last sent to review (its author's signature): version id (as text, as
    signatures name records) and ``since``; join it to the versions in review to age them in one query."""
    return (
        select(ElectronicSignature.entity_id, func.max(ElectronicSignature.signed_at).label("since"))
        .where(
            ElectronicSignature.entity_type == model.__tablename__,
            ElectronicSignature.meaning == SignatureMeaning.AUTHORED,
        )
        .group_by(ElectronicSignature.entity_id)
        .subquery()
    )
