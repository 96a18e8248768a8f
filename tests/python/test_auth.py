"""Authentication, scopes and isolation, over raw HTTP (and the SDK's typed errors where it helps).

Tokens: account A has `Realtime Admin`, `Realtime` and `Realtime Read` tokens; account B has its own.
"""

from __future__ import annotations

import json

import cloudflare
import pytest

from participant import Crowd
from support import Kit, ServerProcess, Tokens, assert_cloudflare_error, missing_id, new_account_id, preset_body


def test_missing_token_is_401(server: ServerProcess, admin: Kit):
    app = admin.new_app()
    for method, path, body in [
        ("GET", admin.kit_path() + "/apps", None),
        ("POST", admin.kit_path(app) + "/meetings", {"title": "x"}),
        ("GET", admin.kit_path(app) + "/meetings", None),
    ]:
        assert_cloudflare_error(server.raw(method, path, body=body), 401)


@pytest.mark.parametrize(
    "header",
    ["Bearer not-a-token", "Bearer ", "Bearer", "Basic dXNlcjpwYXNz", "not-a-scheme"],
    ids=["unknown-secret", "empty-secret", "no-secret", "basic-auth", "no-scheme"],
)
def test_wrong_token_is_401(server: ServerProcess, admin: Kit, header: str):
    assert_cloudflare_error(server.raw("GET", admin.kit_path() + "/apps", token=header), 401)


def test_wrong_token_through_the_sdk(server: ServerProcess, tokens: Tokens):
    cf = cloudflare.Cloudflare(api_token="wrong", base_url=f"{server.base}/client/v4", max_retries=0, timeout=5)
    with pytest.raises(cloudflare.AuthenticationError):
        cf.realtime_kit.apps.get(account_id=tokens.a_admin.account)


def test_read_scope_can_read_everything(lister: Kit, lister_reader: Kit, crowd: Crowd):
    admin, reader = lister, lister_reader  # account C, whose app list is short
    app = admin.new_app()
    meeting = admin.new_meeting(app, title="readable")
    p = admin.add(app, meeting.id, "ann")
    hook = admin.rk.webhooks.create_webhook(app, account_id=admin.account, name="h", url="https://x.example.com/h",
                                           events=["meeting.ended"]).data
    joined = crowd.join(p.token, "ann")
    rk, acct = reader.rk, reader.account

    assert app in {a.id for a in rk.apps.get(account_id=acct).data}
    assert meeting.id in {m.id for m in rk.meetings.get(app, account_id=acct).data}
    assert rk.meetings.get_meeting_by_id(meeting.id, account_id=acct, app_id=app).data.title == "readable"
    assert [x.id for x in rk.meetings.get_meeting_participants(meeting.id, account_id=acct, app_id=app).data] == [p.id]
    assert rk.meetings.get_meeting_participant(p.id, account_id=acct, app_id=app, meeting_id=meeting.id).data.id == p.id
    presets = {x.name: x.id for x in rk.presets.get(app, account_id=acct).data}
    assert rk.presets.get_preset_by_id(presets["group_call_host"], account_id=acct, app_id=app).data.permissions.kick_participant is True
    assert [w.id for w in rk.webhooks.get_webhooks(app, account_id=acct).data] == [hook.id]
    assert rk.webhooks.get_webhook_by_id(hook.id, account_id=acct, app_id=app).data.name == "h"
    active = rk.active_session.get_active_session(meeting.id, account_id=acct, app_id=app)
    assert active.data.id == joined.session_id and active.data.status == "LIVE"
    assert joined.session_id in {s.id for s in rk.sessions.get_sessions(app, account_id=acct, associated_id=meeting.id).data.sessions}
    assert rk.sessions.get_session_details(joined.session_id, account_id=acct, app_id=app).data.id == joined.session_id


def test_read_scope_cannot_write(server: ServerProcess, tokens: Tokens, admin: Kit):
    app = admin.new_app()
    meeting = admin.new_meeting(app, title="untouched")
    p = admin.add(app, meeting.id, "ann")
    preset = admin.presets_by_name(app)["group_call_participant"]
    hook = admin.rk.webhooks.create_webhook(app, account_id=admin.account, name="h", url="https://x.example.com/h",
                                           events=["meeting.ended"]).data
    base, m = admin.kit_path(app), f"{admin.kit_path(app)}/meetings/{meeting.id}"
    writes = [
        ("POST", admin.kit_path() + "/apps", {"name": "nope"}),
        ("POST", base + "/meetings", {"title": "nope"}),
        ("PATCH", m, {"title": "changed"}),
        ("PATCH", m, {"status": "INACTIVE"}),
        ("PUT", m, {"title": "changed"}),
        ("POST", m + "/participants", {"custom_participant_id": "x", "preset_name": "group_call_host"}),
        ("PATCH", f"{m}/participants/{p.id}", {"preset_name": "group_call_host"}),
        ("POST", f"{m}/participants/{p.id}/token", None),
        ("DELETE", f"{m}/participants/{p.id}", None),
        ("POST", base + "/presets", {"name": "nope", **preset_body(True)}),
        ("PATCH", f"{base}/presets/{preset.id}", {"permissions": {"kick_participant": True}}),
        ("PUT", f"{base}/presets/{preset.id}", {"name": "nope", **preset_body(True)}),
        ("DELETE", f"{base}/presets/{preset.id}", None),
        ("POST", base + "/webhooks", {"name": "n", "url": "https://x.example.com/n", "events": ["meeting.ended"]}),
        ("PATCH", f"{base}/webhooks/{hook.id}", {"enabled": False}),
        ("PUT", f"{base}/webhooks/{hook.id}", {"name": "n", "url": "https://x.example.com/n", "events": ["meeting.ended"]}),
        ("DELETE", f"{base}/webhooks/{hook.id}", None),
        ("POST", m + "/active-session/kick-all", None),
        ("POST", m + "/active-session/kick", {"participant_ids": [p.id]}),
    ]
    wrong = []
    for method, path, body in writes:
        resp = server.raw(method, path, token=tokens.a_read, body=body)
        try:
            assert_cloudflare_error(resp, 403)
        except AssertionError as e:
            wrong.append(f"{method} {path.replace(base, '…')}: {e}")
    assert not wrong, "read scope must get 403 on every write:\n" + "\n".join(wrong)

    # Nothing changed.
    rk = admin.rk
    assert rk.meetings.get_meeting_by_id(meeting.id, account_id=admin.account, app_id=app).data.title == "untouched"
    assert rk.meetings.get_meeting_by_id(meeting.id, account_id=admin.account, app_id=app).data.status == "ACTIVE"
    assert rk.meetings.get_meeting_participant(p.id, account_id=admin.account, app_id=app, meeting_id=meeting.id).data.preset_name == "group_call_participant"
    assert rk.presets.get_preset_by_id(preset.id, account_id=admin.account, app_id=app).data.permissions.kick_participant is False
    assert rk.webhooks.get_webhook_by_id(hook.id, account_id=admin.account, app_id=app).data.enabled is True
    assert len(rk.meetings.get(app, account_id=admin.account).data) == 1


def test_read_scope_kick_all_is_403_and_ends_nothing(admin: Kit, reader: Kit, crowd: Crowd):
    app = admin.new_app()
    meeting = admin.new_meeting(app)
    ann = crowd.join(admin.add(app, meeting.id, "ann").token, "ann")
    with pytest.raises(cloudflare.PermissionDeniedError) as e:
        reader.kick_all(app, meeting.id)
    assert e.value.status_code == 403
    live = admin.active_session(app, meeting.id)
    assert live.data.status == "LIVE" and live.data.live_participants == 1
    # The next frame Ann gets is the real end, not an earlier one.
    admin.kick_all(app, meeting.id)
    assert ann.wait_for("roomLeft")["state"] == "ended"
    assert len(ann.frames_of("roomLeft")) == 1


def test_realtime_scope_can_write(writer: Kit, crowd: Crowd):
    # The RealtimeKit docs accept `Realtime Admin` or `Realtime` for these calls (reference/realtimekit.md).
    app = writer.new_app()
    meeting = writer.new_meeting(app)
    p = writer.add(app, meeting.id, "ann", preset="group_call_host")
    ann = crowd.join(p.token, "ann")
    updated = writer.rk.meetings.update_meeting_by_id(meeting.id, account_id=writer.account, app_id=app, title="renamed")
    assert updated.data.title == "renamed"
    hook = writer.rk.webhooks.create_webhook(app, account_id=writer.account, name="h", url="https://x.example.com/h",
                                            events=["meeting.ended"])
    assert hook.success is True
    assert writer.kick_all(app, meeting.id).data.kicked_participants_count == 1
    assert ann.wait_for("roomLeft")["state"] == "ended"


# --- isolation ---------------------------------------------------------------------------------------------------


def same_answer(a, b, what: str) -> None:
    """Two answers that must not tell apart 'exists elsewhere' from 'does not exist': same status, same body.
    The ids in each request's own path may be echoed back, so they are blanked before comparing."""
    assert a.status == b.status, f"{what}: status differs: {a} vs {b}"

    def blanked(r):
        text = r.text()
        for part in r.what.split("/"):
            if len(part) >= 32:  # the account, app, meeting, participant... ids of that request
                text = text.replace(part, "<id>")
        return text

    assert json.loads(blanked(a)) == json.loads(blanked(b)), (
        f"{what}: body differs, which reveals that the resource exists:\n{a}\n{b}"
    )


def test_other_accounts_app_and_meeting_are_404(server: ServerProcess, tokens: Tokens, admin: Kit, other: Kit):
    app_a = admin.new_app()
    meeting_a = admin.new_meeting(app_a)
    p_a = admin.add(app_a, meeting_a.id, "ann")
    app_b = other.new_app()
    b = tokens.b_admin
    kit_b = other.kit_path

    kit_a = admin.kit_path
    # what -> (B asks for A's object, B asks for something that does not exist, A asks for its own object)
    cases = {
        "A's app in B's account": (
            f"{kit_b(app_a)}/meetings/{meeting_a.id}", f"{kit_b(missing_id())}/meetings/{missing_id()}",
            f"{kit_a(app_a)}/meetings/{meeting_a.id}"),
        "A's meeting in B's app": (
            f"{kit_b(app_b)}/meetings/{meeting_a.id}", f"{kit_b(app_b)}/meetings/{missing_id()}",
            f"{kit_a(app_a)}/meetings/{meeting_a.id}"),
        "A's app's meeting list": (f"{kit_b(app_a)}/meetings", f"{kit_b(missing_id())}/meetings",
                                   f"{kit_a(app_a)}/meetings"),
        "A's app's presets": (f"{kit_b(app_a)}/presets", f"{kit_b(missing_id())}/presets", f"{kit_a(app_a)}/presets"),
        "A's participant": (
            f"{kit_b(app_a)}/meetings/{meeting_a.id}/participants/{p_a.id}",
            f"{kit_b(missing_id())}/meetings/{missing_id()}/participants/{missing_id()}",
            f"{kit_a(app_a)}/meetings/{meeting_a.id}/participants/{p_a.id}"),
        "A's participants list": (
            f"{kit_b(app_a)}/meetings/{meeting_a.id}/participants",
            f"{kit_b(missing_id())}/meetings/{missing_id()}/participants",
            f"{kit_a(app_a)}/meetings/{meeting_a.id}/participants"),
    }
    for what, (theirs, nothing, own) in cases.items():
        # The owner reads its object with success, so B's 404 is about the account, not a missing route.
        mine = server.raw("GET", own, token=tokens.a_admin)
        assert mine.status == 200, f"{what}: the owner's own read: {mine}"
        got, missing = server.raw("GET", theirs, token=b), server.raw("GET", nothing, token=b)
        assert_cloudflare_error(got, 404)
        same_answer(got, missing, what)


def test_other_account_cannot_change_or_end_anything(server: ServerProcess, tokens: Tokens, admin: Kit, other: Kit,
                                                     crowd: Crowd):
    app_a = admin.new_app()
    meeting_a = admin.new_meeting(app_a, title="mine")
    ann = crowd.join(admin.add(app_a, meeting_a.id, "ann").token, "ann")
    b = tokens.b_admin
    m = f"{other.kit_path(app_a)}/meetings/{meeting_a.id}"
    nothing = f"{other.kit_path(missing_id())}/meetings/{missing_id()}"
    for method, suffix, body in [
        ("PATCH", "", {"title": "theirs", "status": "INACTIVE"}),
        ("POST", "/participants", {"custom_participant_id": "mallory", "preset_name": "group_call_host"}),
        ("POST", "/active-session/kick-all", None),
        ("POST", "/active-session/kick", {"custom_participant_ids": ["ann"]}),
    ]:
        got = server.raw(method, m + suffix, token=b, body=body)
        assert_cloudflare_error(got, 404)
        same_answer(got, server.raw(method, nothing + suffix, token=b, body=body), f"{method} {suffix or 'meeting'}")

    after = admin.rk.meetings.get_meeting_by_id(meeting_a.id, account_id=admin.account, app_id=app_a).data
    assert (after.title, after.status) == ("mine", "ACTIVE")
    assert [p.custom_participant_id for p in admin.rk.meetings.get_meeting_participants(
        meeting_a.id, account_id=admin.account, app_id=app_a).data] == ["ann"]
    live = admin.active_session(app_a, meeting_a.id)
    assert live.data.status == "LIVE" and live.data.live_participants == 1
    assert not ann.frames_of("roomLeft")


def test_token_of_one_account_on_another_accounts_path(server: ServerProcess, tokens: Tokens, admin: Kit):
    app_a = admin.new_app()
    meeting_a = admin.new_meeting(app_a)
    b = tokens.b_admin
    for suffix in ["/apps", f"/{app_a}/meetings", f"/{app_a}/meetings/{meeting_a.id}"]:
        theirs = server.raw("GET", f"/accounts/{tokens.a_admin.account}/realtime/kit{suffix}", token=b)
        nobody = server.raw("GET", f"/accounts/{new_account_id()}/realtime/kit{suffix.replace(app_a, missing_id())}",
                            token=b)
        # Assumption: a token used on an account it does not belong to is refused like an account that does not
        # exist; 403 or 404 are both Cloudflare-like, but the two answers must be the same.
        assert theirs.status in (403, 404), f"B's token on A's account: {theirs}"
        assert_cloudflare_error(theirs, theirs.status)
        same_answer(theirs, nobody, f"A's account{suffix} with B's token")
        assert app_a not in theirs.text() and meeting_a.id not in theirs.text()
    theirs = server.raw("POST", f"/accounts/{tokens.a_admin.account}/realtime/kit/{app_a}/meetings", token=b,
                        body={"title": "intruder"})
    assert theirs.status in (403, 404), theirs
    assert [m.title for m in admin.rk.meetings.get(app_a, account_id=admin.account).data] == [meeting_a.title]


def test_apps_list_shows_only_the_callers_account(lister: Kit, other: Kit):
    # Account C's list is short; account B's holds the few apps the isolation tests make.
    mine, theirs = lister.new_app(), other.new_app()
    a_ids = {a.id for a in lister.rk.apps.get(account_id=lister.account, per_page=100).data}
    b_ids = {a.id for a in other.rk.apps.get(account_id=other.account, per_page=100).data}
    assert mine in a_ids and theirs not in a_ids
    assert theirs in b_ids and mine not in b_ids


def test_other_apps_meeting_in_the_same_account_is_404(server: ServerProcess, tokens: Tokens, admin: Kit):
    app1, app2 = admin.new_app(), admin.new_app()
    meeting1 = admin.new_meeting(app1)
    p1 = admin.add(app1, meeting1.id, "ann")
    hook1 = admin.rk.webhooks.create_webhook(app1, account_id=admin.account, name="h", url="https://x.example.com/h",
                                            events=["meeting.ended"]).data
    preset1 = admin.presets_by_name(app1)["group_call_host"]
    a = tokens.a_admin
    base2 = admin.kit_path(app2)
    for what, theirs, nothing in [
        ("meeting", f"{base2}/meetings/{meeting1.id}", f"{base2}/meetings/{missing_id()}"),
        ("participant", f"{base2}/meetings/{meeting1.id}/participants/{p1.id}",
         f"{base2}/meetings/{missing_id()}/participants/{missing_id()}"),
        ("webhook", f"{base2}/webhooks/{hook1.id}", f"{base2}/webhooks/{missing_id()}"),
        ("preset", f"{base2}/presets/{preset1.id}", f"{base2}/presets/{missing_id()}"),
    ]:
        own = server.raw("GET", theirs.replace(f"/{app2}/", f"/{app1}/"), token=a)
        assert own.status == 200, f"{what} through its own app: {own}"
        got = server.raw("GET", theirs, token=a)
        assert_cloudflare_error(got, 404)
        same_answer(got, server.raw("GET", nothing, token=a), f"app1's {what} through app2")


def test_participant_token_is_not_an_api_token(server: ServerProcess, admin: Kit):
    app = admin.new_app()
    meeting = admin.new_meeting(app)
    p = admin.add(app, meeting.id, "ann", preset="group_call_host")
    resp = server.raw("GET", admin.kit_path() + "/apps", token=f"Bearer {p.token}")
    assert_cloudflare_error(resp, 401)
