"""What the areas contribute to the LIMS, declared once by each area's ``setup.register``.

The app factory, the command line, the dashboard, the signing rules and the audit viewer read the registry
that ``lims.areas.install()`` made current; no module contributes anything by being imported.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import click
from flask import Blueprint
from sqlalchemy.orm import Session

if TYPE_CHECKING:
    from sqlalchemy import Select

    from lims.api.blueprint import ApiBlueprint
    from lims.dashboard.service import HeldRecords, WorkQueue
    from lims.identity.models import RoleName
    from lims.signatures.service import SignableType

#: fills a session with an area's part of the demo data set (adding only what is missing)
DemoLoader = Callable[[Session], None]
#: the records an area made from a trial subject's material, given the session and the subject
SubjectRecordFinder = Callable[[Session, Any], Sequence[Any]]
#: the records of one type that took material from a lot, given their ids, keyed by id
ConsumingRecordFinder = Callable[[Session, list[str]], Mapping[str, Any]]
#: what an area's work requires training on now (a master record version's training subject, …)
TrainingSubjectFinder = Callable[[Session], Sequence[str]]
#: the query naming records of one type, given their ids: rows of (id, identifier, referent or NULL), e.g.
#: (4, "CART-HLX19-260002", NULL); the trail names every type a page shows in one statement, a union of these
RecordNamer = Callable[[list[int]], "Select[*tuple[Any, ...]]"]
#: the id of the record of one type that people know by a business identifier (a batch number), or None
RecordFinder = Callable[[Session, str], "str | None"]
#: the samples an area holds of a trial subject's visits, given the session and the subject (one query)
VisitSampleFinder = Callable[[Session, Any], Sequence["VisitSample"]]
#: checks records that the audit trail vouches for (signatures) against it: a sentence for each that disagrees
TrailCheck = Callable[[Session], Iterable[str]]
#: the documents an area issued about one record of a type, given the record's id (a bounded number of queries)
IssuedDocumentFinder = Callable[[Session, str], Sequence["IssuedDocumentLink"]]
#: what an area does when a record of another area is signed (a certificate issued on a batch's release), in the
#: signature's transaction: (session, record, signer)
SignatureFollower = Callable[[Session, Any, Any], None]


@dataclass(frozen=True)
class ImpactedRecord:
    """A record that equipment uses served (a batch), as the area that owns it names it."""

    #: the declaration's ``kind``
    kind: str
    key: str
    label: str


@dataclass(frozen=True)
class ImpactedRecords:
    """How an out-of-tolerance impact assessment finds an area's records among the equipment's uses, and what a
    verdict of impact does to one of them."""

    #: what the records are called ("batch"); a verdict names its record by kind and key
    kind: str
    #: by the ``record_type`` of the uses that serve the area's records ("batch_step", "test_result"), the record
    #: each use served, given the uses' ``record_id`` values (one query): record id -> the record
    finders: Mapping[str, Callable[[Session, list[str]], Mapping[str, ImpactedRecord]]]
    #: acts on a verdict of impact: (session, record key, what the impact is, the user closing the assessment)
    on_impact: Callable[[Session, str, str, Any], None]


@dataclass(frozen=True)
class VisitSample:
    """A sample of a trial subject's visit that an area holds (a client's sample on a manifest), for the subject's
    calendar: expected against received, and collected in or outside the visit's window."""

    visit_id: int
    label: str
    status: str
    #: whether it has arrived at the lab
    received: bool
    #: the facility's local date it was collected on, where the client gave it
    collected_on: date | None
    endpoint: str
    arguments: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class AreaJob:
    """Work an area has the compliance scheduler do on a schedule (the delivery of webhooks, say): every
    ``every_seconds``, or as ``schedule`` says ("every 24h", "cron 30 1 * * *"; give one of the two)."""

    job_id: str
    title: str
    every_seconds: int | None
    #: does the work in the given session (one transaction) and says what it did
    run: Callable[[Session, Mapping[str, Any]], str]
    schedule: str | None = None

    def __post_init__(self) -> None:
        if (self.every_seconds is None) == (self.schedule is None):
            raise ValueError(f"The scheduled job {self.job_id!r} needs either every_seconds or a schedule.")

    @property
    def schedule_text(self) -> str:
        """The job's schedule in the checks' form ("every 15s")."""
        return self.schedule or f"every {self.every_seconds}s"


#: how grave a finding is, gravest first
SEVERITIES: tuple[str, ...] = ("critical", "major", "minor")


@dataclass(frozen=True)
class Condition:
    """One open non-compliant condition a check found: it becomes (or keeps open) one finding keyed by
    (check_id, record_type, record_id)."""

    #: the audit trail's entity type: "equipment", "lot", "batch", "user", "sample" ...
    record_type: str
    record_id: str
    #: what people call it: "centrifuge CF-004", "lot IL2-001-260518-001"
    record_label: str
    #: the lab's words: "calibration 4 days overdue (due 2026-12-01)"
    detail: str
    #: the record's page path, e.g. "/equipment/17"
    link: str | None = None
    #: overrides the check's severity (escalation): "critical" | "major" | "minor"
    severity: str | None = None


#: (session, now, parameters) -> the open conditions; a bounded number of set-based queries
CheckFunction = Callable[[Session, datetime, Mapping[str, int]], Iterable[Condition]]


@dataclass(frozen=True)
class ComplianceCheck:
    """A compliance check an area declares: a plain function of (session, now, parameters) that the compliance
    scheduler calls on ``schedule``, each condition it returns kept as one finding until it clears."""

    #: "equipment.calibration-overdue"
    check_id: str
    title: str
    #: the area that owns the records: "equipment"
    area: str
    #: "critical" | "major" | "minor"
    severity: str
    #: "every 1h" / "every 15m" / "cron 0 2 * * *" (crontab, in the facility's time zone)
    schedule: str
    run: CheckFunction
    #: editable parameters with their defaults, e.g. {"days": 30}
    parameters: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"The check {self.check_id!r} has severity {self.severity!r}, not one of {SEVERITIES}.")


@dataclass(frozen=True)
class HeaderLink:
    """A link every signed-in page shows in its header, with a count beside it (the unread messages, say)."""

    label: str
    endpoint: str
    #: the count for the signed-in user, given the session and the user: one statement, whatever the data
    count: Callable[[Session, Any], int]
    #: the largest count shown as it is; more show as "<count_limit - 1>+"
    count_limit: int = 100


@dataclass(frozen=True)
class PortalRow:
    label: str
    status: str


@dataclass(frozen=True)
class PortalSection:
    """Records of an area that a client's portal lists, with their status (its batches, say)."""

    title: str
    #: the heading of the records' column ("Batch")
    record_heading: str
    #: the organization's records, given the session and the organization's id (a bounded number of queries)
    rows: Callable[[Session, int], Sequence[PortalRow]]


@dataclass(frozen=True)
class IssuedDocumentLink:
    """A document issued about a record (a batch's certificate, each version), as the record's page links to it."""

    label: str
    #: "valid", "superseded" or "revoked"
    status: str
    endpoint: str
    arguments: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class RecordName:
    """A record as people call it: ``identifier`` after its kind ("q.okafor" of a user), and ``referent`` where
    another record refers to it ("Thi Nguyen" entered an entry)."""

    identifier: str
    referent: str | None = None


@dataclass(frozen=True)
class RecordNames:
    """How the audit trail names an area's records of one type, and finds one by what people call it."""

    #: the table of the records ("batch")
    entity_type: str
    #: what one is called ("batch", "step", "lot")
    kind: str
    name: RecordNamer
    #: for the trail's filter: the record a business identifier (batch number, lot number) names
    find: RecordFinder | None = None
    #: what to type in the filter, for a refusal ("a batch number")
    identifier_hint: str = ""


class NoAreasInstalled(RuntimeError):
    """Something asked for what the areas contribute before any were installed."""


class DeclaredTwice(ValueError):
    """Two declarations claim the same thing (an area registered twice, or two areas collide)."""


@dataclass(frozen=True)
class NavigationEntry:
    label: str
    endpoint: str
    #: position in the main navigation, smallest first
    order: int
    #: the roles whose menu shows the entry (others its route admits reach the page from where they work); None: all
    shown_to: frozenset[RoleName] | None = None


class Registry:
    """The blueprints, navigation, work queues, signable records, audit actions, commands and demo data of the
    installed areas, in the order the areas declared them."""

    def __init__(self) -> None:
        self._blueprints: list[Blueprint] = []
        self._api_blueprints: list[ApiBlueprint] = []
        self._navigation: list[NavigationEntry] = []
        self._work_queues: list[WorkQueue] = []
        self._held_records: list[HeldRecords] = []
        self._signables: dict[str, SignableType] = {}
        self._audit_actions: dict[str, None] = {}
        self._cli_groups: list[click.Group] = []
        self._demo_loaders: list[DemoLoader] = []
        self._subject_record_finders: list[SubjectRecordFinder] = []
        self._visit_sample_finders: list[VisitSampleFinder] = []
        self._consuming_record_finders: dict[str, ConsumingRecordFinder] = {}
        self._training_subject_finders: list[TrainingSubjectFinder] = []
        self._trail_checks: list[TrailCheck] = []
        self._impacted_records: list[ImpactedRecords] = []
        self._record_names: dict[str, RecordNames] = {}
        self._signature_followers: dict[tuple[str, str], list[SignatureFollower]] = {}
        self._area_jobs: list[AreaJob] = []
        self._portal_sections: list[PortalSection] = []
        self._issued_document_finders: dict[str, list[IssuedDocumentFinder]] = {}
        self._header_links: list[HeaderLink] = []
        self._compliance_checks: dict[str, ComplianceCheck] = {}
        self._claimed: set[tuple[str, Hashable]] = set()

    def _claim(self, kind: str, key: Hashable, description: str) -> None:
        if (kind, key) in self._claimed:
            raise DeclaredTwice(f"{description} is declared twice.")
        self._claimed.add((kind, key))

    def blueprint(self, blueprint: Blueprint) -> None:
        """Serve the pages of ``blueprint``."""
        self._claim("blueprint", blueprint.name, f"Blueprint {blueprint.name!r}")
        self._blueprints.append(blueprint)

    def api_blueprint(self, blueprint: ApiBlueprint) -> None:
        """Serve ``blueprint``'s part of the JSON API under /api/v1."""
        self._claim("blueprint", blueprint.name, f"Blueprint {blueprint.name!r}")
        self._api_blueprints.append(blueprint)

    def navigation(self, label: str, endpoint: str, *, order: int, shown_to: frozenset[RoleName] | None = None) -> None:
        """Offer ``endpoint`` in the main navigation, at ``order``, to whoever its route admits, or only to those
        of them holding one of ``shown_to``: a page some roles work in daily and others only look into."""
        self._claim("navigation", endpoint, f"The navigation entry for {endpoint!r}")
        self._navigation.append(NavigationEntry(label, endpoint, order, shown_to))

    def work_queue(self, queue: WorkQueue) -> None:
        """Show ``queue`` on the dashboards of its roles."""
        self._claim("work queue", queue.title, f"The work queue {queue.title!r}")
        self._work_queues.append(queue)

    def held_records(self, declaration: HeldRecords) -> None:
        """Show, on the dashboards of its roles, the records held up until someone acts, and who can unblock them."""
        self._held_records.append(declaration)

    def signable(self, signable_type: SignableType) -> None:
        """Let records of the type be signed under its rules."""
        table = signable_type.model.__tablename__
        self._claim("signable", table, f"The signable record type {table!r}")
        self._signables[table] = signable_type

    def audit_actions(self, *names: str) -> None:
        """Name the actions an area records in the audit trail, for the viewer's filter (several areas may share
        one)."""
        self._audit_actions.update(dict.fromkeys(names))

    def cli_group(self, group: click.Group) -> None:
        """Add ``group`` to the `lims` command line."""
        self._claim("command", group.name, f"The command group {group.name!r}")
        self._cli_groups.append(group)

    def demo_loader(self, loader: DemoLoader) -> None:
        """Run ``loader`` when `lims demo` loads the demo data set, after the loaders of earlier areas."""
        self._claim("demo loader", loader, f"The demo loader {loader.__qualname__}")
        self._demo_loaders.append(loader)

    def subject_records(self, finder: SubjectRecordFinder) -> None:
        """List what ``finder`` finds among the records made from a trial subject's material."""
        self._claim("subject records", finder, f"The subject record finder {finder.__qualname__}")
        self._subject_record_finders.append(finder)

    def visit_samples(self, finder: VisitSampleFinder) -> None:
        """Show what ``finder`` finds against each visit of a subject's calendar."""
        self._claim("visit samples", finder, f"The visit sample finder {finder.__qualname__}")
        self._visit_sample_finders.append(finder)

    def consuming_records(self, record_type: str, finder: ConsumingRecordFinder) -> None:
        """Let a lot's page link to the records of ``record_type`` that took its material, found by ``finder``."""
        self._claim("consuming records", record_type, f"The consuming records of type {record_type!r}")
        self._consuming_record_finders[record_type] = finder

    def training_subjects(self, finder: TrainingSubjectFinder) -> None:
        """Offer what ``finder`` finds as subjects on the training form (work that requires training)."""
        self._claim("training subjects", finder, f"The training subject finder {finder.__qualname__}")
        self._training_subject_finders.append(finder)

    def trail_check(self, check: TrailCheck) -> None:
        """Check records against the audit trail whenever the trail is verified (``lims audit verify``)."""
        self._claim("trail check", check, f"The trail check {check.__qualname__}")
        self._trail_checks.append(check)

    def impacted_records(self, declaration: ImpactedRecords) -> None:
        """Let out-of-tolerance impact assessments list the area's records its equipment uses served, and ask QA
        for a verdict on each when they are closed."""
        self._claim("impacted records", declaration.kind, f"The impacted records of kind {declaration.kind!r}")
        for use_record_type in declaration.finders:
            self._claim(
                "impacted use records",
                use_record_type,
                f"The impacted records of equipment uses of type {use_record_type!r}",
            )
        self._impacted_records.append(declaration)

    def record_names(self, declaration: RecordNames) -> None:
        """Let the audit trail name the records of a type as people do, and filter by their business identifier."""
        self._claim(
            "record names", declaration.entity_type, f"The names of records of type {declaration.entity_type!r}"
        )
        self._record_names[declaration.entity_type] = declaration

    def when_signed(self, model: type, meaning: str, follower: SignatureFollower) -> None:
        """Run ``follower`` whenever a record of ``model`` is signed with ``meaning``, after the signing area's own
        rules, in the same transaction: a refusal undoes the signature."""
        table = model.__tablename__  # type: ignore[attr-defined]
        self._claim("signature follower", (table, meaning, follower), f"The follower {follower.__qualname__}")
        self._signature_followers.setdefault((table, str(meaning)), []).append(follower)

    def signature_followers(self, table: str, meaning: str) -> tuple[SignatureFollower, ...]:
        """What other areas do when a record of ``table`` is signed with ``meaning``."""
        return tuple(self._signature_followers.get((table, str(meaning)), ()))

    def compliance_check(self, check: ComplianceCheck) -> None:
        """Have the compliance scheduler run ``check`` on its schedule and keep what it finds as findings."""
        self._claim("compliance check", check.check_id, f"The compliance check {check.check_id!r}")
        self._compliance_checks[check.check_id] = check

    @property
    def compliance_checks(self) -> Mapping[str, ComplianceCheck]:
        """The compliance checks by id, in the order the areas declared them."""
        return MappingProxyType(self._compliance_checks)

    def area_job(self, job: AreaJob) -> None:
        """Have the compliance scheduler run ``job`` on its schedule."""
        self._claim("area job", job.job_id, f"The scheduled job {job.job_id!r}")
        self._area_jobs.append(job)

    def portal_section(self, section: PortalSection) -> None:
        """List the organization's records of an area on a client's portal."""
        self._claim("portal section", section.title, f"The portal section {section.title!r}")
        self._portal_sections.append(section)

    def issued_documents(self, record_type: str, finder: IssuedDocumentFinder) -> None:
        """Let the page of a record of ``record_type`` link to the documents ``finder`` finds issued about it."""
        self._claim("issued documents", (record_type, finder), f"The issued document finder {finder.__qualname__}")
        self._issued_document_finders.setdefault(record_type, []).append(finder)

    def documents_issued_about(self, session: Session, record_type: str, record_id: str) -> list[IssuedDocumentLink]:
        """Every document the areas issued about a record, as each area lists them."""
        return [
            link for finder in self._issued_document_finders.get(record_type, ()) for link in finder(session, record_id)
        ]

    def header_link(self, link: HeaderLink) -> None:
        """Show ``link`` with its count in the header of every page, to whoever its route admits."""
        self._claim("header link", link.endpoint, f"The header link to {link.endpoint!r}")
        self._header_links.append(link)

    @property
    def header_links(self) -> tuple[HeaderLink, ...]:
        return tuple(self._header_links)

    @property
    def area_jobs(self) -> tuple[AreaJob, ...]:
        return tuple(self._area_jobs)

    @property
    def portal_sections(self) -> tuple[PortalSection, ...]:
        return tuple(self._portal_sections)

    @property
    def blueprints(self) -> tuple[Blueprint, ...]:
        return tuple(self._blueprints)

    @property
    def api_blueprints(self) -> tuple[ApiBlueprint, ...]:
        return tuple(self._api_blueprints)

    @property
    def navigation_entries(self) -> tuple[NavigationEntry, ...]:
        """The main navigation in display order."""
        return tuple(sorted(self._navigation, key=lambda entry: entry.order))

    @property
    def work_queues(self) -> tuple[WorkQueue, ...]:
        return tuple(self._work_queues)

    @property
    def held_record_declarations(self) -> tuple[HeldRecords, ...]:
        return tuple(self._held_records)

    @property
    def signables(self) -> Mapping[str, SignableType]:
        """The signable record types by table name."""
        return MappingProxyType(self._signables)

    @property
    def known_audit_actions(self) -> tuple[str, ...]:
        return tuple(self._audit_actions)

    @property
    def cli_groups(self) -> tuple[click.Group, ...]:
        return tuple(self._cli_groups)

    @property
    def demo_loaders(self) -> tuple[DemoLoader, ...]:
        return tuple(self._demo_loaders)

    @property
    def subject_record_finders(self) -> tuple[SubjectRecordFinder, ...]:
        return tuple(self._subject_record_finders)

    @property
    def visit_sample_finders(self) -> tuple[VisitSampleFinder, ...]:
        return tuple(self._visit_sample_finders)

    @property
    def consuming_record_finders(self) -> Mapping[str, ConsumingRecordFinder]:
        """The finders of the records that take material from lots, by record type."""
        return MappingProxyType(self._consuming_record_finders)

    @property
    def training_subject_finders(self) -> tuple[TrainingSubjectFinder, ...]:
        return tuple(self._training_subject_finders)

    @property
    def trail_checks(self) -> tuple[TrailCheck, ...]:
        return tuple(self._trail_checks)

    @property
    def impacted_record_declarations(self) -> tuple[ImpactedRecords, ...]:
        return tuple(self._impacted_records)


_current: Registry | None = None


def make_current(registry: Registry) -> None:
    """Let every part of the LIMS read ``registry`` (``lims.areas.install`` does this)."""
    global _current
    _current = registry


def current() -> Registry:
    """The registry of the installed areas."""
    if _current is None:
        raise NoAreasInstalled(
            "No areas are installed: call lims.areas.install() before using the LIMS (the app "
            "factory, the command line and the migrations do)."
        )
    return _current


def record_names_of(entity_type: str) -> RecordNames | None:
    """How the installed areas name records of ``entity_type``, if one declared it."""
    return current()._record_names.get(entity_type)
