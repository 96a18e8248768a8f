"""Bad input over raw HTTP: invalid JSON, wrong types, bad values, bodies over the limit. Each gets a Cloudflare
error that names the field, and the server keeps serving (checked after every case). Also bad WebSocket frames."""

from __future__ import annotations

import pytest

from participant import Crowd
from support import Kit, ServerProcess, Tokens, assert_cloudflare_error


def still_serving(server: ServerProcess, admin: Kit, app: str) -> None:
    """A normal request right after the bad one is answered normally."""
    resp = server.raw("GET", admin.kit_path() + "/apps?per_page=1", token=admin.token)
    assert resp.status == 200, f"a normal request after the bad one: {resp}"
    assert resp.json().get("success") is True


@pytest.fixture
def setup(admin: Kit):
    app = admin.new_app()
    meeting = admin.new_meeting(app)
    return app, meeting


INVALID_JSON = [
    b"{not json",
    b'{"title": "unterminated',
    b'{"title": "a",}',
    b"\xff\xfe\x00garbage",
]


@pytest.mark.parametrize("body", INVALID_JSON, ids=["not-json", "truncated", "trailing-comma", "binary"])
def test_invalid_json_is_400(server: ServerProcess, admin: Kit, setup, body: bytes):
    app, _ = setup
    resp = server.raw("POST", admin.kit_path(app) + "/meetings", token=admin.token, body=body)
    assert_cloudflare_error(resp, 400)
    still_serving(server, admin, app)


def test_invalid_json_on_patch_is_400(server: ServerProcess, admin: Kit, setup):
    app, meeting = setup
    resp = server.raw("PATCH", f"{admin.kit_path(app)}/meetings/{meeting.id}", token=admin.token, body=b'{"status": }')
    assert_cloudflare_error(resp, 400)
    still_serving(server, admin, app)


def test_non_object_body_is_400(server: ServerProcess, admin: Kit, setup):
    app, _ = setup
    for body in (b"[]", b'"just a string"', b"42", b"null"):
        resp = server.raw("POST", admin.kit_path(app) + "/meetings", token=admin.token, body=body)
        assert_cloudflare_error(resp, 400)
    still_serving(server, admin, app)


# (path below /{app_id}, method, body, the field the message must name)
WRONG_FIELDS = [
    ("/meetings", "POST", {"title": 123}, "title"),
    ("/meetings", "POST", {"title": "t", "persist_chat": "yes"}, "persist_chat"),
    ("/meetings", "POST", {"title": "t", "session_keep_alive_time_in_secs": "long"}, "session_keep_alive_time_in_secs"),
    ("/meetings/{meeting}", "PATCH", {"status": "PAUSED"}, "status"),
    ("/meetings/{meeting}", "PATCH", {"status": 1}, "status"),
    ("/meetings/{meeting}", "PATCH", {"title": ["a"]}, "title"),
    ("/meetings/{meeting}/participants", "POST", {"custom_participant_id": "x", "preset_name": 7}, "preset_name"),
    ("/meetings/{meeting}/participants", "POST", {"preset_name": "group_call_host"}, "custom_participant_id"),
    ("/meetings/{meeting}/participants", "POST", {"custom_participant_id": 5, "preset_name": "group_call_host"},
     "custom_participant_id"),
    ("/meetings/{meeting}/active-session/kick", "POST", {"participant_ids": "abc"}, "participant_ids"),
    ("/meetings/{meeting}/active-session/kick", "POST", {"custom_participant_ids": [1, 2]}, "custom_participant_ids"),
    ("/presets/{preset}", "PATCH", {"permissions": {"kick_participant": "yes"}}, "kick_participant"),
    ("/presets/{preset}", "PATCH", {"name": False}, "name"),
    ("/webhooks", "POST", {"name": "n", "url": "https://x.example.com", "events": ["meeting.exploded"]}, "events"),
    ("/webhooks", "POST", {"name": "n", "url": "https://x.example.com", "events": "meeting.ended"}, "events"),
    ("/webhooks", "POST", {"name": "n", "events": ["meeting.ended"]}, "url"),
    ("/webhooks", "POST", {"name": "n", "url": "https://x.example.com", "events": ["meeting.ended"], "enabled": "on"},
     "enabled"),
]


@pytest.mark.parametrize("path,method,body,field", WRONG_FIELDS,
                         ids=[f"{m} {p.split('/')[-1] or p} {f}" for p, m, _, f in WRONG_FIELDS])
def test_wrong_field_is_400_naming_it(server: ServerProcess, admin: Kit, setup, path, method, body, field):
    app, meeting = setup
    preset = admin.presets_by_name(app)["group_call_participant"].id if "{preset}" in path else None
    full = admin.kit_path(app) + path.format(meeting=meeting.id, preset=preset)
    resp = server.raw(method, full, token=admin.token, body=body)
    assert_cloudflare_error(resp, 400, mentions=(field,))
    still_serving(server, admin, app)


def test_rejected_patch_changes_nothing(server: ServerProcess, admin: Kit, setup):
    app, meeting = setup
    resp = server.raw("PATCH", f"{admin.kit_path(app)}/meetings/{meeting.id}", token=admin.token,
                      body={"title": "half applied", "status": "PAUSED"})
    assert_cloudflare_error(resp, 400, mentions=("status",))
    got = admin.rk.meetings.get_meeting_by_id(meeting.id, account_id=admin.account, app_id=app).data
    assert (got.title, got.status) == (meeting.title, "ACTIVE"), "a refused request applies nothing"


# Assumption: the body limit is at most 4 MiB (1 MiB is usual for this kind of API; axum's default is 2 MiB).
OVERSIZED = 5 * 1024 * 1024


def test_body_over_the_limit_is_413(server: ServerProcess, admin: Kit, tokens: Tokens, setup):
    app, _ = setup
    resp = server.raw_oversized("POST", admin.kit_path(app) + "/meetings", token=tokens.a_admin, size=OVERSIZED)
    assert_cloudflare_error(resp, 413)
    still_serving(server, admin, app)
    titles = [m.title for m in admin.rk.meetings.get(app, account_id=admin.account).data]
    assert all(len(t or "") < 1000 for t in titles), "the oversized meeting was not created"


def test_unknown_route_is_a_cloudflare_404(server: ServerProcess, admin: Kit, setup):
    app, _ = setup
    resp = server.raw("GET", admin.kit_path(app) + "/no-such-thing", token=admin.token)
    assert_cloudflare_error(resp, 404)
    still_serving(server, admin, app)


# --- WebSocket frames ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "frame,code",
    [
        ("not json", "4000"),
        ('{"type":"dance"}', "4000"),
        ('{"type":"join","version":1}', "4000"),
        ('{"type":"join","token":"forged","version":1}', "4010"),
        ('{"type":"kickAll","id":1}', "4002"),
    ],
    ids=["not-json", "unknown-type", "join-without-token", "forged-token", "kickAll-before-join"],
)
def test_bad_first_frame_gets_an_error_and_a_close(server: ServerProcess, admin: Kit, crowd: Crowd, setup, frame, code):
    # protocol/src/frames.rs ErrorCode: 4000 malformed, 4002 unexpected, 4010 invalid token; all close the socket.
    app, meeting = setup
    from participant import Participant

    p = Participant(server.ws_url, "", "bad")
    crowd.all.append(p)
    p.send(frame)
    err = p.wait_for("error")
    assert err["code"] == code, err
    assert err["message"], err
    p.wait_closed()
    # A good participant still joins.
    ok = crowd.join(admin.add(app, meeting.id).token, "good")
    assert ok.joined["meetingId"] == meeting.id


def test_unsupported_protocol_version(server: ServerProcess, admin: Kit, crowd: Crowd, setup):
    app, meeting = setup
    from participant import Participant

    p = Participant(server.ws_url, "", "future")
    crowd.all.append(p)
    p.send({"type": "join", "token": admin.add(app, meeting.id).token, "version": 99})
    assert p.wait_for("error")["code"] == "4050"
    p.wait_closed()
