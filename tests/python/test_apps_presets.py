"""Apps (create, list) and presets (create, list, get, update, replace, delete) through the official SDK."""

from __future__ import annotations

from datetime import datetime

import cloudflare
import pytest
from cloudflare.types.realtime_kit import (
    AppGetResponse,
    AppPostResponse,
    PresetCreateResponse,
    PresetDeleteResponse,
    PresetGetPresetByIDResponse,
    PresetGetResponse,
    PresetReplacePresetByIDResponse,
    PresetUpdateResponse,
)

from support import Kit, missing_id, preset_body, unique

DEFAULT_PRESETS = {"group_call_host": True, "group_call_participant": False}  # name -> kick_participant


def test_create_app_returns_the_app(admin: Kit):
    name = unique("app")
    resp = admin.rk.apps.post(account_id=admin.account, name=name)
    assert isinstance(resp, AppPostResponse)
    assert resp.success is True
    # types/realtime_kit/app_post_response.py: the app is nested under `data.app`.
    app = resp.data.app
    assert isinstance(app.id, str) and app.id
    assert app.name == name
    assert isinstance(app.created_at, datetime), f"created_at must be an ISO 8601 time, got {app.created_at!r}"


def test_list_apps_shows_the_accounts_apps(lister: Kit):
    first, second = lister.new_app(), lister.new_app()
    resp = lister.rk.apps.get(account_id=lister.account)
    assert isinstance(resp, AppGetResponse)
    assert resp.success is True
    assert isinstance(resp.data, list)
    ids = {a.id for a in resp.data}
    assert {first, second} <= ids, f"both new apps listed: {ids}"
    for a in resp.data:
        assert a.id and a.name, f"every app has an id and a name: {a}"
        assert isinstance(a.created_at, datetime), f"created_at: {a.created_at!r}"


def test_new_app_has_the_two_default_presets(admin: Kit):
    app = admin.new_app()
    resp = admin.rk.presets.get(app, account_id=admin.account)
    assert isinstance(resp, PresetGetResponse)
    assert resp.success is True
    names = {p.name: p for p in resp.data}
    assert set(DEFAULT_PRESETS) <= set(names), f"default presets of a new app: {sorted(names)}"
    assert resp.paging.total_count == len(resp.data), f"paging.total_count: {resp.paging}"
    for name, kick in DEFAULT_PRESETS.items():
        preset_id = names[name].id
        assert preset_id, f"{name} has an id"
        got = admin.rk.presets.get_preset_by_id(preset_id, account_id=admin.account, app_id=app)
        assert isinstance(got, PresetGetPresetByIDResponse)
        assert got.success is True
        assert got.data.id == preset_id and got.data.name == name
        assert got.data.permissions.kick_participant is kick, f"{name}.permissions.kick_participant"
        assert got.data.config.view_type == "GROUP_CALL", f"{name}.config.view_type"
        assert isinstance(got.data.created_at, datetime) and isinstance(got.data.updated_at, datetime)


def test_preset_create_get_list(admin: Kit):
    app = admin.new_app()
    name = unique("moderator")
    resp = admin.rk.presets.create(app, account_id=admin.account, name=name, **preset_body(kick_participant=True))
    assert isinstance(resp, PresetCreateResponse)
    assert resp.success is True
    preset = resp.data
    assert preset.id and preset.name == name
    assert preset.permissions.kick_participant is True
    assert preset.permissions.waiting_room_type == "SKIP"
    assert preset.permissions.chat.public.can_send is True
    assert preset.config.max_video_streams.desktop == 9
    assert preset.config.media.video.quality == "hd"
    # The colour keys are "1000", "600", ... on the wire; the SDK names them api_1000, ...
    assert preset.ui.design_tokens.colors.background.api_1000 == "#000000"
    assert preset.ui.design_tokens.theme == "dark"
    assert isinstance(preset.created_at, datetime)

    got = admin.rk.presets.get_preset_by_id(preset.id, account_id=admin.account, app_id=app)
    assert got.data.name == name and got.data.permissions.kick_participant is True
    listed = admin.rk.presets.get(app, account_id=admin.account)
    assert preset.id in {p.id for p in listed.data}


def test_preset_update_changes_only_what_is_sent(admin: Kit):
    app = admin.new_app()
    created = admin.rk.presets.create(
        app, account_id=admin.account, name=unique("p"), **preset_body(kick_participant=False)
    ).data
    resp = admin.rk.presets.update(
        created.id, account_id=admin.account, app_id=app, permissions={"kick_participant": True}
    )
    assert isinstance(resp, PresetUpdateResponse)
    assert resp.success is True
    assert resp.data.id == created.id
    assert resp.data.permissions.kick_participant is True
    # PATCH is partial: what was not sent stays as it was.
    assert resp.data.name == created.name
    assert resp.data.permissions.can_edit_display_name is True
    assert resp.data.config.view_type == "GROUP_CALL"
    assert resp.data.updated_at >= created.updated_at

    renamed = admin.rk.presets.update(created.id, account_id=admin.account, app_id=app, name="renamed-" + created.name)
    assert renamed.data.name == "renamed-" + created.name
    assert renamed.data.permissions.kick_participant is True

    got = admin.rk.presets.get_preset_by_id(created.id, account_id=admin.account, app_id=app)
    assert got.data.permissions.kick_participant is True and got.data.name == "renamed-" + created.name


def test_preset_update_of_a_default_preset(admin: Kit):
    app = admin.new_app()
    host = admin.presets_by_name(app)["group_call_host"]
    resp = admin.rk.presets.update(host.id, account_id=admin.account, app_id=app, permissions={"kick_participant": False})
    assert resp.data.permissions.kick_participant is False
    assert admin.rk.presets.get_preset_by_id(host.id, account_id=admin.account, app_id=app).data.permissions.kick_participant is False


def test_preset_replace(admin: Kit):
    app = admin.new_app()
    created = admin.rk.presets.create(
        app, account_id=admin.account, name=unique("p"), **preset_body(kick_participant=False)
    ).data
    body = preset_body(kick_participant=True)
    body["config"]["view_type"] = "WEBINAR"
    resp = admin.rk.presets.replace_preset_by_id(
        created.id, account_id=admin.account, app_id=app, name=created.name + "-v2", **body
    )
    assert isinstance(resp, PresetReplacePresetByIDResponse)
    assert resp.success is True
    assert resp.data.id == created.id
    assert resp.data.name == created.name + "-v2"
    assert resp.data.permissions.kick_participant is True
    assert resp.data.config.view_type == "WEBINAR"


def test_preset_delete(admin: Kit):
    app = admin.new_app()
    created = admin.rk.presets.create(
        app, account_id=admin.account, name=unique("p"), **preset_body(kick_participant=True)
    ).data
    resp = admin.rk.presets.delete(created.id, account_id=admin.account, app_id=app)
    assert isinstance(resp, PresetDeleteResponse)
    assert resp.success is True
    # types/realtime_kit/preset_delete_response.py: the deleted preset is returned.
    assert resp.data.id == created.id and resp.data.name == created.name
    with pytest.raises(cloudflare.NotFoundError):
        admin.rk.presets.get_preset_by_id(created.id, account_id=admin.account, app_id=app)
    listed = admin.rk.presets.get(app, account_id=admin.account)
    assert created.id not in {p.id for p in listed.data}


def test_preset_names_are_unique_within_an_app(admin: Kit):
    # Participants name their preset by `preset_name`, so two presets of one app cannot share a name.
    app = admin.new_app()
    with pytest.raises(cloudflare.APIStatusError) as e:
        admin.rk.presets.create(app, account_id=admin.account, name="group_call_host", **preset_body(kick_participant=True))
    assert e.value.status_code in (400, 409), f"duplicate preset name: {e.value.status_code} {e.value.body}"


def test_unknown_preset_and_app_are_404(admin: Kit):
    app = admin.new_app()
    # The same calls succeed for what exists, so the 404s below are about the ids, not a missing route.
    host = admin.presets_by_name(app)["group_call_host"]
    assert admin.rk.presets.get_preset_by_id(host.id, account_id=admin.account, app_id=app).data.id == host.id
    with pytest.raises(cloudflare.NotFoundError):
        admin.rk.presets.get_preset_by_id(missing_id(), account_id=admin.account, app_id=app)
    with pytest.raises(cloudflare.NotFoundError):
        admin.rk.presets.get(missing_id(), account_id=admin.account)
