"""``reports``: the audit trail report of some 1,500 pages, as PDF, in time and peak memory.

Each measurement runs in a process of its own (started fresh, not forked), which generates the report the way the
web page does (the generation audited, then the PDF written a page at a time to a temporary file) and reports its
time and its peak resident memory. First a report of the first 1,000 events of the chain: its pages
tell how many events the large report needs; then that report. The ratio of the two peaks shows whether memory grows
with the document; the large report's time and peak are set against the issue's targets (< 60 s, < 500 MB;
SENAITE's WeasyPrint reports took 11.5 minutes and 12.7 GB for the same size).
"""

from __future__ import annotations

import math
import multiprocessing
import resource
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from bench.audit import CHAIN_STARTS_AT, Target, event_chain_database
from lims.areas import install
from lims.db import create_engine_for
from lims.documents.times import Times
from lims.identity.models import User
from lims.reports.service import audit_trail
from lims.reports.service.generation import Format, Setting, generate, write_pdf

PILOT_EVENTS = 1_000
#: events beyond the estimate, so that the large report reaches the pages asked for
MARGIN = 1.03
SECONDS_TARGET = 60.0
MEGABYTES_TARGET = 500.0
MEMORY_RATIO_TARGET = Target("≤", 1.5)


@dataclass(frozen=True)
class Measurement:
    events: int
    pages: int
    seconds: float
    #: processor time of the measuring process: on a busy machine, less than the time it took
    cpu_seconds: float
    bytes_written: int
    #: resident memory when the report started, and at its peak, in MB
    start_megabytes: float
    peak_megabytes: float


def _megabytes_so_far() -> float:
    """The process's peak resident memory so far, in MB: Linux's VmHWM, which starts afresh with the program (the
    parent's memory at the fork does not count, as it would in ``ru_maxrss``); elsewhere ``ru_maxrss``."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _utc(moment: datetime | None, _with_seconds: bool = False) -> str:
    return moment.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%d %H:%M:%S %Z") if moment else "—"


def _generate_report(url: str, events: int, answers: multiprocessing.Queue[Measurement]) -> None:
    """In the measuring process: the audit trail report of every event of the chain, from its first day."""
    install()
    engine = create_engine_for(url)
    setting = Setting(times=Times(_utc), zone=ZoneInfo("UTC"), today=date(2026, 12, 5), due_soon_days=14)
    parameters = {
        "entity_type": "",
        "entity_id": "",
        "user_id": None,
        "date_from": CHAIN_STARTS_AT.date(),
        "date_to": None,
    }
    reader = User(full_name="Quinn Okafor", username="q.okafor")
    start_megabytes = _megabytes_so_far()
    started, cpu_started = time.perf_counter(), time.process_time()
    with Session(engine) as session, tempfile.TemporaryFile() as out:
        generated = generate(
            session, audit_trail.REPORT, parameters, report_format=Format.PDF, user=reader, setting=setting
        )
        session.commit()
        pages = write_pdf(generated, session, out)
        written = out.tell()
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    engine.dispose()
    answers.put(Measurement(events, pages, seconds, cpu_seconds, written, start_megabytes, _megabytes_so_far()))


def _measure(events: int) -> Measurement:
    with event_chain_database(events) as chain:
        url = chain.engine.url.render_as_string(hide_password=False)
        context = multiprocessing.get_context("spawn")
        answers = context.Queue()
        process = context.Process(target=_generate_report, args=(url, events, answers))
        process.start()
        measurement: Measurement = answers.get()
        process.join()
    return measurement


def _print(label: str, measurement: Measurement) -> None:
    print(
        f"reports: {label:5} {measurement.pages:6,} pages from {measurement.events:7,} events in "
        f"{measurement.seconds:6.1f} s ({measurement.cpu_seconds:.1f} s of processor; "
        f"{measurement.pages / measurement.seconds:5.1f} pages/s, "
        f"{measurement.bytes_written / 1e6:5.1f} MB of PDF); peak memory {measurement.peak_megabytes:6.1f} MB, "
        f"{measurement.peak_megabytes - measurement.start_megabytes:5.1f} MB of it added by the report"
    )


def run(pages: int) -> None:
    pilot = _measure(PILOT_EVENTS)
    _print("small", pilot)
    events = math.ceil(PILOT_EVENTS * pages / pilot.pages * MARGIN)
    large = _measure(events)
    _print("large", large)
    ratio = large.peak_megabytes / pilot.peak_megabytes
    verdict = "PASS" if MEMORY_RATIO_TARGET.met_by(ratio) else "MISS"
    print(
        f"reports: ratio peak memory large/small {ratio:.2f}× for {large.pages / pilot.pages:.0f}× the pages "
        f"(target {MEMORY_RATIO_TARGET.bound} {MEMORY_RATIO_TARGET.ratio:g}×) {verdict}"
    )
    for label, value, target, unit in (
        ("time", large.seconds, SECONDS_TARGET, "s"),
        ("peak memory", large.peak_megabytes, MEGABYTES_TARGET, "MB"),
    ):
        verdict = "PASS" if value < target else "MISS"
        print(f"reports: {label} of {large.pages:,} pages {value:.1f} {unit} (target < {target:g} {unit}) {verdict}")
    sys.stdout.flush()
