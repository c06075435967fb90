"""The dashboard shows each role its real work queues, and nothing invented."""

from __future__ import annotations

from lims.identity.models import RoleName


def test_admin_sees_the_locked_accounts_queue_with_its_real_count(client, signed_in):
    signed_in(RoleName.ADMIN)
    page = client.get("/").text
    assert "Locked accounts" in page and 'class="count">0</span>' in page
    assert 'href="/admin/users?status=locked"' in page


def test_roles_without_queues_see_an_honest_empty_state(client, signed_in):
    signed_in(RoleName.TECHNICIAN)
    page = client.get("/").text
    assert "Nothing is waiting for you." in page
    assert "Locked accounts" not in page


def test_client_dashboard_names_their_organization(client, signed_in):
    user = signed_in(RoleName.CLIENT)
    assert user.organization.name in client.get("/").text
