"""The signatures' compliance check: signatures that a later change of their record invalidated, and that nobody
has signed again since.

One query finds the candidates: the latest signature of each record and meaning whose record the audit trail
shows changed after it. Their records are then read, one query per type of record, and the signed content
recomputed: only a change to what was signed invalidates a signature.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from lims import registry
from lims.audit.models import AuditEvent
from lims.registry import ComplianceCheck, Condition
from lims.signatures.models import ElectronicSignature
from lims.signatures.service import content_hash, name_of


def invalidated_signatures(session: Session, _now: datetime, _parameters: Mapping[str, int]) -> Iterator[Condition]:
    """Signatures whose record's signed content changed after them, not signed again with the same meaning."""
    later = aliased(ElectronicSignature)
    signed_again = (
        select(later.id)
        .where(
            later.entity_type == ElectronicSignature.entity_type,
            later.entity_id == ElectronicSignature.entity_id,
            later.meaning == ElectronicSignature.meaning,
            later.signed_at > ElectronicSignature.signed_at,
        )
        .exists()
    )
    changed_since = (
        select(AuditEvent.sequence)
        .where(
            AuditEvent.entity_type == ElectronicSignature.entity_type,
            AuditEvent.entity_id == ElectronicSignature.entity_id,
            AuditEvent.action == "update",
            AuditEvent.recorded_at > ElectronicSignature.signed_at,
        )
        .exists()
    )
    candidates = session.scalars(select(ElectronicSignature).where(~signed_again, changed_since)).all()
    by_type: dict[str, list[ElectronicSignature]] = {}
    for signature in candidates:
        by_type.setdefault(signature.entity_type, []).append(signature)
    signables = registry.current().signables
    for entity_type, signatures in by_type.items():
        signable = signables.get(entity_type)
        if signable is None:
            continue
        model = signable.model
        records = {
            str(record.id): record
            for record in session.scalars(
                select(model).where(model.id.in_([int(signature.entity_id) for signature in signatures]))
            )
        }
        for signature in signatures:
            record = records.get(signature.entity_id)
            if record is None or content_hash(record) == signature.content_hash:
                continue
            yield Condition(
                "electronic_signature",
                str(signature.id),
                f"{signature.meaning.value} signature of {name_of(record)}",
                f"signed by {signature.printed_name} on {signature.signed_at.date().isoformat()}; the record changed "
                "since and has not been signed again",
            )


CHECKS = (
    ComplianceCheck(
        "signatures.invalidated-not-resigned",
        "Signatures invalidated by later changes and not signed again",
        "signatures",
        "major",
        "every 1h",
        invalidated_signatures,
    ),
)
