"""The samples work list, on the page and in the API: staff see every client's samples, a client its own; filters
combine in SQL; pages go on by keyset; a page sends as many statements for many samples as for few."""

from __future__ import annotations

from datetime import timedelta

import pytest

from lims import clock
from lims.identity.models import RoleName
from lims.samples.models import SampleStatus
from lims.samples.service import stability
from lims.samples.service import submissions as service
from tests.helpers import counted_statements, login
from tests.lims.samples.conftest import row, submitted
from tests.lims.samples.stability_support import NOW, hours_ago, plasma, received


@pytest.fixture(autouse=True)
def _pinned_clock():
    clock.freeze(NOW)


@pytest.fixture
def lab(db_session, clients, create_user):
    """Helix: a late plasma sample, a fresh one, a blood sample in testing, one still expected; Nordic: plasma."""
    stability.set_limit(db_session, sample_type="plasma", max_hours=6, user=create_user(RoleName.MANAGER))
    received(
        db_session, clients, plasma("H-LATE", collected_at=hours_ago(8)), plasma("H-FRESH", collected_at=hours_ago(1))
    )
    (tested,) = received(db_session, clients, row("H-BLOOD", collected_at=hours_ago(30)))
    service.move_samples(db_session, [tested], SampleStatus.IN_TESTING, reason="Testing started")
    submitted(db_session, clients, plasma("H-COMING"))
    received(db_session, clients, plasma("N-LATE", collected_at=hours_ago(9)), organization="nordic")
    db_session.commit()
    return clients


def _shown(html: str) -> list[str]:
    return [cell.split("<")[0] for cell in html.split('">')[1:] if cell.split("<")[0][:2] in ("H-", "N-")]


def _api(client, token, query: str = ""):
    response = client.get(f"/api/v1/samples{query}", headers=token)
    assert response.status_code == 200, response.text
    return response.json


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", {"H-LATE", "H-FRESH", "H-BLOOD", "H-COMING", "N-LATE"}),
        ("?status=received", {"H-LATE", "H-FRESH", "N-LATE"}),
        ("?sample_type=peripheral+blood", {"H-BLOOD"}),
        ("?organization=NORD", {"N-LATE"}),
        ("?past_stability_window=on", {"H-LATE", "N-LATE"}),
        ("?past_stability_window=on&organization=HELIX", {"H-LATE"}),
        (f"?received_from={NOW.date()}&received_to={NOW.date()}", {"H-LATE", "H-FRESH", "H-BLOOD", "N-LATE"}),
        (f"?received_to={(NOW - timedelta(days=1)).date()}", set()),
    ],
)
def test_staff_filter_every_clients_samples(client, lab, query, expected):
    login(client, lab.technician)
    page = client.get(f"/samples{query}")
    assert page.status_code == 200
    assert set(_shown(page.text)) == expected


def test_the_list_flags_samples_past_their_window_and_the_navigation_leads_there(client, lab):
    login(client, lab.technician)
    assert 'href="/samples"' in client.get("/").text
    page = client.get("/samples").text
    assert page.count("past its stability window</span>") == 2
    assert "Nordic CAR Bio" in page and "Helix Cell Therapeutics" in page


def test_a_client_sees_only_its_own_samples_whatever_it_filters(client, lab):
    login(client, lab.helix_user)
    assert 'href="/samples"' in client.get("/portal").text
    assert set(_shown(client.get("/samples").text)) == {"H-LATE", "H-FRESH", "H-BLOOD", "H-COMING"}
    assert _shown(client.get("/samples?organization=NORD").text) == []
    assert "Nordic CAR Bio" not in client.get("/samples").text


def test_the_api_lists_a_clients_own_samples_and_staff_every_clients(client, lab, db_session):
    mine = _api(client, lab.helix_token, "?past_stability_window=true")
    assert [item["client_sample_id"] for item in mine["items"]] == ["H-LATE"]
    assert mine["items"][0]["past_stability_window"] is True and mine["items"][0]["stability_deadline"]
    assert _api(client, lab.nordic_token, "?organization=HELIX")["items"] == []
    assert {item["client_sample_id"] for item in _api(client, lab.nordic_token)["items"]} == {"N-LATE"}


def test_pages_go_on_by_keyset_without_repeating_or_skipping(client, lab):
    first = _api(client, lab.helix_token, "?limit=3")
    second = _api(client, lab.helix_token, f"?limit=3&cursor={first['next_cursor']}")
    names = [item["client_sample_id"] for item in first["items"] + second["items"]]
    assert len(first["items"]) == 3 and second["next_cursor"] is None
    assert sorted(names) == sorted({"H-LATE", "H-FRESH", "H-BLOOD", "H-COMING"})


def test_the_page_goes_on_after_the_last_sample_shown(client, lab, monkeypatch):
    monkeypatch.setattr("lims.samples.views.sample_list.PAGE_SIZE", 2)
    login(client, lab.technician)
    first = client.get("/samples").text
    after = first.split('rel="next" href="/samples?after=')[1].split('"')[0]
    second = client.get(f"/samples?after={after}").text
    assert set(_shown(first)).isdisjoint(_shown(second)) and len(_shown(second)) == 2


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("?status=lost", "There is no such status"),
        ("?received_from=yesterday", "Enter a date as YYYY-MM-DD."),
        ("?received_from=2030-04-10&received_to=2030-04-01", "The last day received comes before the first."),
        ("?sample_type=" + "x" * 121, "Longer than maximum length 120."),
    ],
)
def test_wrong_filters_are_answered_with_a_message(client, lab, query, message):
    login(client, lab.technician)
    page = client.get(f"/samples{query}")
    assert page.status_code == 422 and message in page.text
    api = client.get(f"/api/v1/samples{query}", headers=lab.helix_token)
    assert api.status_code == 422 and message in api.text


def test_a_forged_cursor_is_refused(client, lab):
    assert client.get("/api/v1/samples?cursor=bm90IGEgY3Vyc29y", headers=lab.helix_token).status_code == 422


def test_a_page_sends_as_many_statements_for_many_samples_as_for_few(client, lab, db_session):
    login(client, lab.technician)

    def statements(url: str, **headers) -> int:
        assert client.get(url, headers=headers).status_code == 200
        with counted_statements(db_session.get_bind()) as traffic:
            assert client.get(url, headers=headers).status_code == 200
        return len(traffic.statements)

    urls = ["/samples", "/samples?past_stability_window=on&organization=HELIX", "/samples?status=received"]
    few = [statements(url) for url in urls]
    few_api = statements("/api/v1/samples?status=received", **lab.helix_token)
    received(db_session, lab, *(plasma(f"H-MORE-{n}", collected_at=hours_ago(9)) for n in range(25)))
    assert [statements(url) for url in urls] == few
    assert statements("/api/v1/samples?status=received", **lab.helix_token) == few_api
