"""Signatures as the audit trail vouches for them: each is applied in the same transaction as a
``signature.applied`` event that records its fields, so a row inserted or rewritten with database rights,
whatever hashes it was given, disagrees with the chain."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lims.audit import chain as audit_chain
from lims.audit.models import AuditEvent
from lims.signatures.models import ElectronicSignature

APPLIED = "signature.applied"
#: rows read at a time when every signature is checked
_READ_AT_ONCE = 1000


def applied_details(signature: ElectronicSignature) -> dict[str, Any]:
    """What the ``signature.applied`` event records of ``signature`` (its record is the event's entity)."""
    return {
        "signature_id": signature.id,
        "meaning": signature.meaning,
        "signer_id": signature.signer_id,
        "signer": signature.printed_name,
        "signed_at": signature.signed_at,
        "content_hash": signature.content_hash,
    }


def details_of(event: AuditEvent) -> dict[str, Any]:
    return json.loads(event.changes) if event.changes else {}


def differences(signature: ElectronicSignature, event: AuditEvent) -> list[str]:
    """The fields in which ``signature`` differs from what its ``signature.applied`` event recorded.

    Events written before the signer's id and the time were recorded leave those two uncompared.
    """
    recorded = details_of(event)
    differing = [
        field
        for field, value in audit_chain.stable_value_map(applied_details(signature)).items()
        if field in recorded and recorded[field] != value
    ]
    if (event.entity_type, event.entity_id) != (signature.entity_type, signature.entity_id):
        differing.insert(0, "signed record")
    return differing


def vouched_for(signature: ElectronicSignature, events: list[AuditEvent]) -> bool:
    """Whether one of ``events`` (those applying signatures to its record) records ``signature`` as it stands."""
    return any(
        details_of(event).get("signature_id") == signature.id and not differences(signature, event) for event in events
    )


def _described(signature: ElectronicSignature) -> str:
    record = f"{signature.entity_type.replace('_', ' ')} {signature.entity_id}"
    when = audit_chain.stable_value(signature.signed_at)
    return f"Signature {signature.id} ({record}, {signature.meaning.value} by {signature.printed_name} at {when})"


def disagreements(session: Session) -> Iterator[str]:
    """Each signature row that the audit trail does not vouch for, and each applied signature whose row is gone."""
    applied: dict[Any, AuditEvent] = {}
    for event in session.scalars(
        select(AuditEvent).where(AuditEvent.action == APPLIED).execution_options(yield_per=_READ_AT_ONCE)
    ):
        applied.setdefault(details_of(event).get("signature_id"), event)
    for signature in session.scalars(
        select(ElectronicSignature).order_by(ElectronicSignature.id).execution_options(yield_per=_READ_AT_ONCE)
    ):
        applying = applied.pop(signature.id, None)
        if applying is None:
            yield f"{_described(signature)} has no signature.applied event: it was not applied through the LIMS."
            continue
        differing = differences(signature, applying)
        if differing:
            yield (
                f"{_described(signature)} differs from its signature.applied event {applying.sequence} "
                f"in {', '.join(differing)}: it was altered after it was applied."
            )
    for signature_id, orphan in applied.items():
        yield f"Signature {signature_id}, applied in event {orphan.sequence}, is missing from the signatures."
