"""The findings through the JSON API: listed gravest and newest first by keyset, filtered, and one by its id."""

from __future__ import annotations

from datetime import UTC, datetime

from lims import clock
from lims.compliance.service import findings
from lims.identity.models import RoleName
from tests.lims.compliance.conftest import condition

NOW = datetime(2030, 4, 10, 8, tzinfo=UTC)


def test_the_api_lists_findings_a_page_at_a_time_and_filters_them(client, db_session, signed_in, made_up_check):
    clock.freeze(NOW)
    check, _ = made_up_check()
    findings.keep_findings(
        db_session,
        check,
        [condition(str(number), severity="critical" if number == 2 else None) for number in range(1, 6)],
        now=NOW,
    )
    db_session.commit()
    signed_in(RoleName.MANAGER)
    first = client.get("/api/v1/findings?limit=2").json
    assert [item["record_label"] for item in first["items"]] == ["centrifuge CF-2", "centrifuge CF-5"]
    assert first["items"][0]["severity"] == "critical" and first["items"][0]["status"] == "open"
    rest = client.get(f"/api/v1/findings?limit=10&cursor={first['next_cursor']}").json
    assert [item["record_id"] for item in rest["items"]] == ["4", "3", "1"] and rest["next_cursor"] is None
    assert len(client.get("/api/v1/findings?severity=critical").json["items"]) == 1
    assert client.get("/api/v1/findings?status=resolved").json["items"] == []
    one = client.get(f"/api/v1/findings/{first['items'][0]['id']}").json
    assert (one["check_id"], one["link"]) == ("test.made-up", "/equipment/2")


def test_the_api_refuses_bad_filters_and_answers_404_for_no_finding(client, signed_in):
    signed_in(RoleName.QA)
    assert client.get("/api/v1/findings?severity=catastrophic").status_code == 422
    assert client.get("/api/v1/findings?cursor=x").status_code == 422
    assert client.get("/api/v1/findings/999999").status_code == 404
    assert client.get("/api/v1/findings?area=" + "x" * 100).status_code == 422
