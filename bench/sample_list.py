"""The samples work list with its filters in a lab of 1,000,000 samples against one of 10,000, through the full app.

Each page is requested as a signed-in user, alternating between the two labs so both see the same load on the
machine: the technicians' list unfiltered, by status, by sample type, by client, by received date (the last
week), past their stability window, a keyset page deep in the list (after the median sample id), a client's own
list, and the JSON API's page. For each: p50 and p95 latency and the SQL statements one request sends.

``LIMS_BENCH_LAB_URL`` names the large lab (``python -m bench generate --scale 1``: 1,000,000 samples) and
``LIMS_BENCH_SAMPLES_SMALL_LAB_URL`` the small one (``--scale 0.01``: 10,000 samples); without them both are
generated into temporary SQLite files at scales 0.02 and 0.002 (a quick look, not the measurement).
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select, text

from bench.audit import Target, _print_ratio
from bench.pages import Lab, Measured, PageToMeasure, _databases, _measure, _served
from lims import clock

SMALL_LAB_URL_VARIABLE = "LIMS_BENCH_SAMPLES_SMALL_LAB_URL"
#: the scales generated when no database is named
LARGE_SCALE, SMALL_SCALE = 0.02, 0.002
RATIO_TARGET = Target("≤", 2.0)

TECHNICIAN, QA, CLIENT = "t.nguyen", "q.okafor", "c.patel"


@dataclass(frozen=True)
class ListPage:
    label: str
    username: str
    #: the path, with {after} (the median sample id), {client} (the largest client's code) and {week} (a week ago)
    path: str


PAGES = (
    ListPage("work list", TECHNICIAN, "/samples"),
    ListPage("status received", TECHNICIAN, "/samples?status=received"),
    ListPage("sample type plasma", TECHNICIAN, "/samples?sample_type=plasma"),
    ListPage("one client", TECHNICIAN, "/samples?organization={client}"),
    ListPage("received in the last week", TECHNICIAN, "/samples?received_from={week}"),
    ListPage("past stability window", TECHNICIAN, "/samples?past_stability_window=on"),
    ListPage("past window, one client", QA, "/samples?past_stability_window=on&organization={client}"),
    ListPage("keyset page after the median", TECHNICIAN, "/samples?after={after}"),
    ListPage("a client's own list", CLIENT, "/samples"),
    ListPage("API, status in testing", QA, "/api/v1/samples?status=in+testing&limit=50"),
)


def run(requests: int) -> None:
    with ExitStack() as stack:
        large_url, small_url = _databases(
            stack, small_lab_variable=SMALL_LAB_URL_VARIABLE, scales=(LARGE_SCALE, SMALL_SCALE)
        )
        large = stack.enter_context(_served(large_url, stack))
        small = stack.enter_context(_served(small_url, stack))
        for lab in (large, small):
            lab.paths.update(_paths(lab))
        print(f"sample-list: large {_holding(large)}")
        print(f"sample-list: small {_holding(small)}")
        print(
            f"sample-list: {'page':<30} {'small p50':>9} {'p95':>7} {'stmts':>5}   {'large p50':>9} {'p95':>7} "
            f"{'stmts':>5}   ratio p50 (median of {requests} requests each, alternated)"
        )
        results: list[tuple[ListPage, Measured, Measured]] = []
        for page in PAGES:
            small_measured, large_measured = _measure(
                PageToMeasure(page.label, page.username, page.path), small, large, requests
            )
            results.append((page, small_measured, large_measured))
            print(
                f"sample-list: {page.label:<30} {small_measured.p50_ms:7.1f}ms {small_measured.p95_ms:5.1f}ms "
                f"{small_measured.statements:5d}   {large_measured.p50_ms:7.1f}ms {large_measured.p95_ms:5.1f}ms "
                f"{large_measured.statements:5d}   {large_measured.p50_ms / small_measured.p50_ms:5.2f}×"
            )
    unequal = [page.label for page, small_page, large_page in results if small_page.statements != large_page.statements]
    print(
        "sample-list: statements per page equal at both sizes: "
        f"{'all' if not unequal else 'not for ' + ', '.join(unequal)} {'PASS' if not unequal else 'MISS'}"
    )
    worst, worst_small, worst_large = max(results, key=lambda result: result[2].p50_ms / result[1].p50_ms)
    _print_ratio(
        "sample-list",
        f"large/small p50 latency, worst ({worst.label})",
        worst_large.p50_ms / worst_small.p50_ms,
        RATIO_TARGET,
    )


def _paths(lab: Lab) -> dict[str, str]:
    engine = lab.app.extensions["lims.db"].engine
    with engine.connect() as connection:
        count = connection.execute(text("SELECT count(*) FROM sample")).scalar_one()
        if not count:
            raise RuntimeError("the lab has no samples: generate it with `python -m bench generate`")
        after = connection.execute(
            text("SELECT id FROM sample ORDER BY id LIMIT 1 OFFSET :middle"), {"middle": count // 2}
        ).scalar_one()
        client = connection.execute(
            text(
                "SELECT o.code FROM organization o JOIN sample s ON s.organization_id = o.id "
                "GROUP BY o.code ORDER BY count(*) DESC LIMIT 1"
            )
        ).scalar_one()
    week = (clock.today() - timedelta(days=7)).isoformat()
    return {"after": str(after), "client": client, "week": week}


def _holding(lab: Lab) -> str:
    engine = lab.app.extensions["lims.db"].engine
    with engine.connect() as connection:
        samples = connection.execute(select(func.count()).select_from(text("sample"))).scalar_one()
        past = connection.execute(
            text("SELECT count(*) FROM sample WHERE status = 'received' AND stability_deadline < :now"),
            {"now": clock.now()},
        ).scalar_one()
    return f"{engine.url.get_backend_name()}: {samples:,} samples, {past:,} of them past their stability window"
