"""Meetings: create, list, get, update (PATCH, including status), replace (PUT), through the official SDK."""

from __future__ import annotations

from datetime import datetime

import cloudflare
import pytest
from cloudflare.types.realtime_kit import (
    MeetingCreateResponse,
    MeetingGetMeetingByIDResponse,
    MeetingGetResponse,
    MeetingReplaceMeetingByIDResponse,
    MeetingUpdateMeetingByIDResponse,
)

from support import Kit, ServerProcess, missing_id, unique


def test_create_meeting(admin: Kit):
    app = admin.new_app()
    title = unique("Weekly sync")
    resp = admin.rk.meetings.create(app, account_id=admin.account, title=title, persist_chat=True)
    assert isinstance(resp, MeetingCreateResponse)
    assert resp.success is True
    m = resp.data
    assert isinstance(m.id, str) and m.id
    assert m.title == title
    assert m.persist_chat is True
    # A new meeting can be joined: RealtimeKit creates meetings ACTIVE
    # (types/realtime_kit/meeting_create_response.py: "Users will not be able to join an INACTIVE meeting").
    assert m.status == "ACTIVE"
    assert isinstance(m.created_at, datetime) and isinstance(m.updated_at, datetime)


def test_meeting_ids_are_unique(admin: Kit):
    app = admin.new_app()
    ids = {admin.new_meeting(app, title="same title").id for _ in range(3)}
    assert len(ids) == 3


def test_get_meeting_by_id(admin: Kit):
    app = admin.new_app()
    created = admin.new_meeting(app)
    resp = admin.rk.meetings.get_meeting_by_id(created.id, account_id=admin.account, app_id=app)
    assert isinstance(resp, MeetingGetMeetingByIDResponse)
    assert resp.success is True
    assert resp.data.id == created.id
    assert resp.data.title == created.title
    assert resp.data.status == "ACTIVE"
    assert resp.data.created_at == created.created_at


def test_list_meetings(admin: Kit):
    app = admin.new_app()
    made = [admin.new_meeting(app) for _ in range(3)]
    resp = admin.rk.meetings.get(app, account_id=admin.account)
    assert isinstance(resp, MeetingGetResponse)
    assert resp.success is True
    assert {m.id for m in made} == {m.id for m in resp.data}, "exactly this app's meetings"
    assert resp.paging.total_count == 3, f"paging: {resp.paging}"
    for m in resp.data:
        assert m.title and m.status in ("ACTIVE", "INACTIVE") and isinstance(m.created_at, datetime)


def test_list_meetings_filtered_by_status(admin: Kit):
    app = admin.new_app()
    active, inactive = admin.new_meeting(app), admin.new_meeting(app)
    admin.rk.meetings.update_meeting_by_id(inactive.id, account_id=admin.account, app_id=app, status="INACTIVE")
    got = admin.rk.meetings.get(app, account_id=admin.account, status="INACTIVE")
    assert [m.id for m in got.data] == [inactive.id]
    got = admin.rk.meetings.get(app, account_id=admin.account, status="ACTIVE")
    assert [m.id for m in got.data] == [active.id]


def test_meetings_of_one_app_are_not_listed_in_another(admin: Kit):
    app1, app2 = admin.new_app(), admin.new_app()
    m1 = admin.new_meeting(app1)
    listed = admin.rk.meetings.get(app2, account_id=admin.account)
    assert m1.id not in {m.id for m in listed.data}


def test_patch_meeting(admin: Kit):
    app = admin.new_app()
    created = admin.new_meeting(app, title="before", persist_chat=True)
    resp = admin.rk.meetings.update_meeting_by_id(created.id, account_id=admin.account, app_id=app, title="after")
    assert isinstance(resp, MeetingUpdateMeetingByIDResponse)
    assert resp.success is True
    assert resp.data.id == created.id
    assert resp.data.title == "after"
    # PATCH is partial: fields not sent keep their values.
    assert resp.data.persist_chat is True
    assert resp.data.status == "ACTIVE"
    assert resp.data.updated_at >= created.updated_at
    assert resp.data.created_at == created.created_at
    got = admin.rk.meetings.get_meeting_by_id(created.id, account_id=admin.account, app_id=app)
    assert got.data.title == "after" and got.data.persist_chat is True


def test_patch_meeting_status(admin: Kit):
    app = admin.new_app()
    created = admin.new_meeting(app)
    off = admin.rk.meetings.update_meeting_by_id(created.id, account_id=admin.account, app_id=app, status="INACTIVE")
    assert off.data.status == "INACTIVE"
    assert off.data.title == created.title
    assert admin.rk.meetings.get_meeting_by_id(created.id, account_id=admin.account, app_id=app).data.status == "INACTIVE"
    on = admin.rk.meetings.update_meeting_by_id(created.id, account_id=admin.account, app_id=app, status="ACTIVE")
    assert on.data.status == "ACTIVE"
    assert admin.rk.meetings.get_meeting_by_id(created.id, account_id=admin.account, app_id=app).data.status == "ACTIVE"


def test_put_replaces_the_meeting(admin: Kit):
    app = admin.new_app()
    created = admin.new_meeting(app, title="original")
    resp = admin.rk.meetings.replace_meeting_by_id(
        created.id, account_id=admin.account, app_id=app, title="replaced", record_on_start=False, persist_chat=True
    )
    assert isinstance(resp, MeetingReplaceMeetingByIDResponse)
    assert resp.success is True
    assert resp.data.id == created.id
    assert resp.data.title == "replaced"
    assert resp.data.persist_chat is True
    assert resp.data.created_at == created.created_at
    got = admin.rk.meetings.get_meeting_by_id(created.id, account_id=admin.account, app_id=app)
    assert got.data.title == "replaced" and got.data.persist_chat is True


def test_unknown_meeting_is_404(admin: Kit):
    app = admin.new_app()
    known = admin.new_meeting(app)  # the same routes work for a meeting that exists
    admin.rk.meetings.update_meeting_by_id(known.id, account_id=admin.account, app_id=app, title="known")
    with pytest.raises(cloudflare.NotFoundError):
        admin.rk.meetings.get_meeting_by_id(missing_id(), account_id=admin.account, app_id=app)
    with pytest.raises(cloudflare.NotFoundError):
        admin.rk.meetings.update_meeting_by_id(missing_id(), account_id=admin.account, app_id=app, title="x")


def test_success_envelope_over_raw_http(server: ServerProcess, admin: Kit):
    # The SDK fills in what it can from any JSON; over raw HTTP the envelope itself is checked.
    app = admin.new_app()
    created = server.raw("POST", admin.kit_path(app) + "/meetings", token=admin.token, body={"title": "raw"})
    assert created.status in (200, 201), created
    assert "application/json" in (created.headers.get("Content-Type") or created.headers.get("content-type") or "")
    body = created.json()
    assert body["success"] is True and isinstance(body["data"], dict) and body["data"]["title"] == "raw", created
    got = server.raw("GET", f"{admin.kit_path(app)}/meetings/{body['data']['id']}", token=admin.token)
    assert got.status == 200, got
    assert got.json()["success"] is True and got.json()["data"]["id"] == body["data"]["id"]
