"""Operators rotate an integration's token in the admin; the old token stops at once."""

from __future__ import annotations

import re

from tests.api.conftest import bearer


def test_rotating_a_token_in_the_admin_shows_the_new_one_once_and_stops_the_old(admin_client, owner):
    old_token_client = owner.client
    assert old_token_client.get("/api/v1/courses/").status_code == 200
    response = admin_client.post(
        "/admin/grader/integration/",
        {"action": "rotate_token", "_selected_action": [owner.integration.pk]},
        follow=True,
    )
    [new_token] = re.findall(r"New token for [^:]+: (grd_[A-Za-z0-9_\-]+)", response.content.decode())
    assert old_token_client.get("/api/v1/courses/").status_code == 401
    assert bearer(new_token).get("/api/v1/courses/").status_code == 200
    owner.integration.refresh_from_db()
    assert new_token not in (owner.integration.token_sha256, owner.integration.token_prefix)
