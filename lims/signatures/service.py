"""Applying and checking electronic signatures."""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, event, select
from sqlalchemy.orm import Session

from lims import clock, registry
from lims.audit import chain as audit_chain
from lims.audit import context as audit_context
from lims.audit.models import AuditEvent
from lims.errors import Conflict, LimsError, RecordNotFound
from lims.identity.models import RoleName, User
from lims.identity.service.sign_in import reauthenticate
from lims.signatures import trail
from lims.signatures.errors import MeaningNotAllowed, RecordSigned, SamePersonRefused, SignatureRefused
from lims.signatures.models import ElectronicSignature, KeepsSignatureState, Signable, SignatureMeaning


class SignatureStatus(enum.StrEnum):
    VALID = "valid"
    #: the record changed after it was signed
    INVALIDATED = "invalidated"
    #: the signature row does not belong to this record (copied or altered)
    BROKEN = "broken"
    #: the audit trail has no record of this signature as it stands: inserted or rewritten outside the LIMS
    UNRECORDED = "unrecorded"


#: an area's own rule, run before a signature is applied (order of signatures, four-eyes, ...)
SigningRule = Callable[[Session, Any, SignatureMeaning, User], None]


@dataclass(frozen=True)
class NextStep:
    """What comes after a signature, for whoever signed: what happens now, and the next thing they can do (a link to
    ``endpoint`` with ``arguments``, labelled ``label``), if there is one."""

    text: str
    label: str | None = None
    endpoint: str | None = None
    arguments: tuple[tuple[str, Any], ...] = ()


#: what comes after a signature of a record with a meaning, for the user who signed, once it is applied
NextStepRule = Callable[[Session, Any, SignatureMeaning, User], NextStep]


@dataclass(frozen=True)
class SignableType:
    """Who may sign records of ``model`` with which meaning, and the area's rules (``Registry.signable``)."""

    model: type[Signable]
    #: which roles may sign with which meaning
    meanings: dict[SignatureMeaning, frozenset[RoleName]]
    before_signing: SigningRule | None = None
    #: what a signature does to the record (a lifecycle step), in the same transaction
    after_signing: SigningRule | None = None
    #: what people call a record, for the signing page ("step 4. Activation of batch CART-HLX19-260003")
    name: Callable[[Any], str] | None = None
    #: what a signer attests beside the signed content, by heading: records kept with it that never change once
    #: made ("Equipment used": ["CEN-01 Sorvall centrifuge"]), shown on the signing page
    attests: Callable[[Session, Any], Mapping[str, Sequence[str]]] | None = None
    #: what comes after a signature, for whoever signed (offered on the page the signing page returns to)
    next_step: NextStepRule | None = None


@dataclass(frozen=True)
class ApprovalStates:
    """The statuses a document under two-person approval moves through."""

    draft: enum.Enum
    in_review: enum.Enum
    approved: enum.Enum


def two_person_approval(
    model: type[Signable],
    states: ApprovalStates,
    *,
    locked: type[Conflict],
    describe: Callable[[Any], str],
    ready_for_review: Callable[[Any], None],
) -> SignableType:
    """The signing rules of a versioned document that goes to review when its author signs it (a manager or QA),
    and is approved, or rejected back to draft, by QA's signature from a different person.

    ``ready_for_review`` refuses a document its author may not yet send (not a draft, incomplete);
    ``describe`` names it in messages and reasons ("Version 2.0").
    """
    next_status = {
        SignatureMeaning.AUTHORED: states.in_review,
        SignatureMeaning.APPROVED: states.approved,
        SignatureMeaning.REJECTED: states.draft,
    }

    def check(session: Session, document: Any, meaning: SignatureMeaning, user: User) -> None:
        if meaning == SignatureMeaning.AUTHORED:
            ready_for_review(document)
            return
        if document.status != states.in_review:
            raise locked(f"{describe(document)} is {document.status.value}, not in review.")
        require_different_person(
            user, signers_with_meaning(session, document, SignatureMeaning.AUTHORED), earlier_role="authored"
        )

    def advance(session: Session, document: Any, meaning: SignatureMeaning, _user: User) -> None:
        with audit_context.reason_for_change(session, f"{describe(document)} signed as {meaning.value}"):
            document.status = next_status[meaning]

    return SignableType(
        model,
        {
            SignatureMeaning.AUTHORED: frozenset({RoleName.MANAGER, RoleName.QA}),
            SignatureMeaning.APPROVED: frozenset({RoleName.QA}),
            SignatureMeaning.REJECTED: frozenset({RoleName.QA}),
        },
        before_signing=check,
        after_signing=advance,
        name=describe,
        next_step=lambda _session, document, meaning, _user: NextStep(
            {
                SignatureMeaning.AUTHORED: f"{describe(document)} is in review: QA approves it, or sends it back to "
                "draft with the reason.",
                SignatureMeaning.APPROVED: f"{describe(document)} is approved: it can be put into effect from its "
                "page.",
                SignatureMeaning.REJECTED: f"{describe(document)} is back to draft: its author revises it and signs "
                "it again.",
            }[meaning]
        ),
    )


def role_may_sign(user: User, model: type[Signable], meaning: SignatureMeaning) -> bool:
    """Whether ``user``'s roles let them sign records of ``model`` with ``meaning`` at all (for lists of work)."""
    signable = registry.current().signables.get(model.__tablename__)
    return signable is not None and meaning in signable.meanings and user.has_any_role(signable.meanings[meaning])


def signable_record(session: Session, entity_type: str, entity_id: int) -> Signable:
    """Load a record that can be signed, or raise RecordNotFound."""
    signable = registry.current().signables.get(entity_type)
    record = session.get(signable.model, entity_id) if signable else None
    if record is None:
        raise RecordNotFound(f"There is no signable {entity_type.replace('_', ' ')} with id {entity_id}.")
    return record


def name_of(record: Signable) -> str:
    """What people call a signable record, as its area declares; else its type and id."""
    signable = registry.current().signables[record.__tablename__]
    return signable.name(record) if signable.name else f"{record.__tablename__.replace('_', ' ')} {record.id}"


def next_step_after(session: Session, record: Signable, meaning: SignatureMeaning, user: User) -> NextStep:
    """What comes after ``user`` signed ``record`` with ``meaning``, as its area declares; at least that it is
    signed."""
    signable = registry.current().signables[record.__tablename__]
    if signable.next_step is not None:
        return signable.next_step(session, record, meaning, user)
    name = name_of(record)
    return NextStep(f"{name[:1].upper()}{name[1:]} is signed as {meaning.value}.")


def attested_with(session: Session, record: Signable) -> Mapping[str, Sequence[str]]:
    """What a signer of ``record`` attests beside its signed content (equipment used, lots taken), by heading."""
    signable = registry.current().signables[record.__tablename__]
    return signable.attests(session, record) if signable.attests else {}


def content_hash(record: Signable) -> str:
    """SHA-256 of the record's signed content, in the audit trail's canonical form."""
    content = audit_chain.canonical_json(audit_chain.stable_value_map(record.signed_content()))
    return hashlib.sha256(content.encode()).hexdigest()


def _binding_hash(signature: ElectronicSignature) -> str:
    fields = [
        signature.entity_type,
        signature.entity_id,
        signature.meaning.value,
        signature.signer_id,
        signature.printed_name,
        audit_chain.stable_value(signature.signed_at),
        signature.content_hash,
    ]
    return hashlib.sha256(audit_chain.canonical_json(fields).encode()).hexdigest()


def check_may_sign(session: Session, record: Signable, meaning: SignatureMeaning, user: User) -> None:
    """Refuse, with the reason ``sign`` would give, unless ``user`` may sign ``record`` with ``meaning`` now.

    Everything ``sign`` checks but the password, so a page can refuse before asking for it.
    """
    entity_type = record.__tablename__
    signable = registry.current().signables.get(entity_type)
    if signable is None or meaning not in signable.meanings:
        raise MeaningNotAllowed(
            f"A {entity_type.replace('_', ' ')} cannot be signed as {meaning.value}.", field="meaning"
        )
    if not user.has_any_role(signable.meanings[meaning]):
        raise SignatureRefused(f"Your role may not sign a {entity_type.replace('_', ' ')} as {meaning.value}.")
    if user.must_change_password:
        raise SignatureRefused("Change your temporary password before you sign anything.")
    if signable.before_signing is not None:
        signable.before_signing(session, record, meaning, user)


def may_sign(session: Session, record: Signable, meaning: SignatureMeaning, user: User) -> bool:
    """Whether ``check_may_sign`` lets ``user`` sign ``record`` with ``meaning`` now (pages offer signatures by it).

    Asked inside a savepoint that is rolled back: an area's rule may lock rows to decide (a batch, while its
    steps are signed), and a page that only offers the signature must not hold them for the rest of its request.
    """
    savepoint = session.begin_nested()
    try:
        check_may_sign(session, record, meaning, user)
    except LimsError:
        return False
    finally:
        savepoint.rollback()
    return True


def reauthenticate_to_sign(
    session: Session,
    record: Signable,
    meaning: SignatureMeaning,
    user: User,
    *,
    password: str,
    client_address: str | None,
) -> None:
    """Prove ``user`` is at the keyboard before signing ``record``; a failure is audited as a refused signature.

    Areas that write a signature's reason before signing prove the password first with this, so a wrong one
    leaves the record as it was.
    """
    reauthenticate(
        session,
        user,
        password=password,
        client_address=client_address,
        purpose=f"signing {record.__tablename__.replace('_', ' ')} {record.id} as {meaning.value}",
    )


def sign(
    session: Session,
    record: Signable,
    *,
    meaning: SignatureMeaning,
    user: User,
    password: str,
    client_address: str | None = None,
) -> ElectronicSignature:
    """Sign ``record`` as ``user`` after they re-enter their password; a wrong one counts toward lockout."""
    check_may_sign(session, record, meaning, user)
    reauthenticate_to_sign(session, record, meaning, user, password=password, client_address=client_address)
    session.flush()
    signature = ElectronicSignature(
        entity_type=record.__tablename__,
        entity_id=str(record.id),
        meaning=meaning,
        signer_id=user.id,
        printed_name=user.full_name,
        signed_at=clock.now(),
        content_hash=content_hash(record),
    )
    signature.binding_hash = _binding_hash(signature)
    session.add(signature)
    session.flush()
    if isinstance(record, KeepsSignatureState):
        _note_signature(session, record, signature)
    # In the signature's transaction: the event vouches for the row (see lims.signatures.trail).
    audit_chain.record(session, trail.APPLIED, entity=record, details=trail.applied_details(signature))
    after_signing = registry.current().signables[record.__tablename__].after_signing
    if after_signing is not None:
        after_signing(session, record, meaning, user)
    for follower in registry.current().signature_followers(record.__tablename__, meaning.value):
        follower(session, record, user)
    return signature


def refresh_signature_state(session: Session, record: KeepsSignatureState) -> None:
    """Store ``record``'s content hash as its signed content now stands and, by meaning, whether a signature covers
    it: call after every change to the signed content. A change invalidates the signatures over the content as it
    was; a change back to content once signed makes those signatures hold again, as ``signature_status`` finds."""
    current = content_hash(record)
    if current != record.content_hash:
        _store_signature_state(session, record, current)


def _note_signature(session: Session, record: KeepsSignatureState, signature: ElectronicSignature) -> None:
    """The record's stored state once ``signature`` covers it (read afresh if its stored hash was not current)."""
    if signature.content_hash != record.content_hash:
        _store_signature_state(session, record, signature.content_hash)
        return
    column = record.signature_state.get(signature.meaning)
    if column is not None:
        setattr(record, column, True)


def _store_signature_state(session: Session, record: KeepsSignatureState, current: str) -> None:
    record.content_hash = current
    holding_meanings: set[SignatureMeaning] = set()
    if record.id is not None:
        with session.no_autoflush:
            holding_meanings = set(
                session.scalars(
                    select(ElectronicSignature.meaning).where(
                        ElectronicSignature.entity_type == record.__tablename__,
                        ElectronicSignature.entity_id == str(record.id),
                        ElectronicSignature.content_hash == current,
                    )
                )
            )
    for meaning, column in record.signature_state.items():
        if getattr(record, column) != (meaning in holding_meanings):
            setattr(record, column, meaning in holding_meanings)


def signature_status(
    signature: ElectronicSignature, record: Signable, applied_events: list[AuditEvent]
) -> SignatureStatus:
    """Tell whether ``signature`` still holds for ``record`` as it is now; ``applied_events`` are the
    ``signature.applied`` events of ``record``, one of which must record the signature as it stands."""
    if (signature.entity_type, signature.entity_id) != (record.__tablename__, str(record.id)) or _binding_hash(
        signature
    ) != signature.binding_hash:
        return SignatureStatus.BROKEN
    if not trail.vouched_for(signature, applied_events):
        return SignatureStatus.UNRECORDED
    if content_hash(record) != signature.content_hash:
        return SignatureStatus.INVALIDATED
    return SignatureStatus.VALID


def signatures_of(session: Session, record: Signable) -> list[tuple[ElectronicSignature, SignatureStatus]]:
    """Every signature applied to ``record``, oldest first, with whether it still holds."""
    return signatures_of_many(session, [record])[record.id]


def signatures_of_many(
    session: Session, records: Sequence[Signable]
) -> dict[Any, list[tuple[ElectronicSignature, SignatureStatus]]]:
    """The signatures of several records of one type in one query, by record id, oldest first."""
    by_id: dict[Any, list[tuple[ElectronicSignature, SignatureStatus]]] = {record.id: [] for record in records}
    if not records:
        return by_id
    by_key = {str(record.id): record for record in records}
    # Each signature comes with every signature.applied event of its record, in the same statement: a record
    # has a few signatures, and a page a statement however many records it shows.
    found = session.execute(
        select(ElectronicSignature, AuditEvent)
        .outerjoin(
            AuditEvent,
            and_(
                AuditEvent.entity_type == ElectronicSignature.entity_type,
                AuditEvent.entity_id == ElectronicSignature.entity_id,
                AuditEvent.action == trail.APPLIED,
            ),
        )
        .where(
            ElectronicSignature.entity_type == records[0].__tablename__, ElectronicSignature.entity_id.in_(list(by_key))
        )
        .order_by(ElectronicSignature.signed_at, ElectronicSignature.id)
    )
    signed: dict[int, ElectronicSignature] = {}
    applied_events: dict[int, list[AuditEvent]] = {}
    for signature, applied in found:
        signed.setdefault(signature.id, signature)
        events = applied_events.setdefault(signature.id, [])
        if applied is not None:
            events.append(applied)
    for signature in signed.values():
        record = by_key[signature.entity_id]
        by_id[record.id].append((signature, signature_status(signature, record, applied_events[signature.id])))
    return by_id


def require_different_person(user: User, earlier_signers: Iterable[int | None], *, earlier_role: str) -> None:
    """Refuse ``user`` if they are one of the people who already acted on the record (four-eyes rule)."""
    if user.id in set(earlier_signers):
        raise SamePersonRefused(f"A different person than the one who {earlier_role} this record must sign it.")


def holding(
    signed: Iterable[tuple[ElectronicSignature, SignatureStatus]], meaning: SignatureMeaning
) -> list[ElectronicSignature]:
    """Of signatures already read (``signatures_of``), those with ``meaning`` that still hold."""
    return [
        signature for signature, status in signed if signature.meaning == meaning and status == SignatureStatus.VALID
    ]


def signers_with_meaning(session: Session, record: Signable, meaning: SignatureMeaning) -> list[int]:
    """Ids of the users who signed ``record`` with ``meaning`` (and whose signature still holds)."""
    return [signature.signer_id for signature in holding(signatures_of(session, record), meaning)]


class ImmutableOnceSigned:
    """Marks a signable model whose records may not change once anyone has signed them."""

    __tablename__: str


@event.listens_for(Session, "before_flush")
def _refuse_changes_to_signed_records(session: Session, _context: Any, _instances: Any) -> None:
    changed = [*session.deleted, *(instance for instance in session.dirty if session.is_modified(instance))]
    for instance in changed:
        if isinstance(instance, ImmutableOnceSigned) and _has_signatures(session, instance):
            raise RecordSigned(
                f"This {instance.__tablename__.replace('_', ' ')} is signed and can no longer change; "
                "record a correction instead."
            )


def _has_signatures(session: Session, record: Any) -> bool:
    with session.no_autoflush:
        return (
            session.scalar(
                select(ElectronicSignature.id)
                .where(
                    ElectronicSignature.entity_type == record.__tablename__,
                    ElectronicSignature.entity_id == str(record.id),
                )
                .limit(1)
            )
            is not None
        )
