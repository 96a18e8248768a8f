//! The shape of a preset body, from the `cloudflare` SDK's `PresetCreateParams` (`Required` there is `required`
//! here), so that a bad body is refused with the path of the offending field instead of being stored and breaking
//! every later read of the preset.
//!
//! A table rather than typed structs: the server enforces one permission and stores the rest as given, so it only
//! needs to know which fields exist, their types, and which are required.

use serde_json::Value;

/// What a field holds.
pub enum Shape {
    Bool,
    Number,
    Text,
    /// One of these strings.
    OneOf(&'static [&'static str]),
    /// An array of integers, or null.
    Integers,
    Object(&'static [Field]),
    /// An object of objects under any keys (plugin configs by plugin id).
    Map,
}

pub struct Field {
    pub name: &'static str,
    pub required: bool,
    pub shape: Shape,
}

const fn req(name: &'static str, shape: Shape) -> Field {
    Field { name, required: true, shape }
}

const fn opt(name: &'static str, shape: Shape) -> Field {
    Field { name, required: false, shape }
}

use Shape::{Bool, Integers, Map, Number, Object, OneOf, Text};

const QUALITY: Shape = OneOf(&["hd", "vga", "qvga", "fhd", "uhd"]);
const PRODUCE: &[Field] = &[req("can_produce", OneOf(&["ALLOWED", "NOT_ALLOWED", "CAN_REQUEST"]))];

const CONFIG: &[Field] = &[
    req("max_screenshare_count", Number),
    req("max_video_streams", Object(&[req("desktop", Number), req("mobile", Number)])),
    req(
        "media",
        Object(&[
            req("screenshare", Object(&[req("frame_rate", Number), req("quality", QUALITY)])),
            req("video", Object(&[req("frame_rate", Number), req("quality", QUALITY), opt("simulcast", Bool)])),
            opt("audio", Object(&[opt("enable_high_bitrate", Bool), opt("enable_stereo", Bool)])),
        ]),
    ),
    req("view_type", OneOf(&["GROUP_CALL", "WEBINAR", "AUDIO_ROOM", "LIVESTREAM"])),
    opt("livestream_viewer_qualities", Integers),
];

const PERMISSIONS: &[Field] = &[
    req("accept_waiting_requests", Bool),
    req("can_accept_production_requests", Bool),
    req("can_change_participant_permissions", Bool),
    req("can_edit_display_name", Bool),
    req("can_livestream", Bool),
    req("can_record", Bool),
    req("can_spotlight", Bool),
    req(
        "chat",
        Object(&[
            req(
                "private",
                Object(&[req("can_receive", Bool), req("can_send", Bool), req("files", Bool), req("text", Bool)]),
            ),
            req("public", Object(&[req("can_send", Bool), req("files", Bool), req("text", Bool)])),
        ]),
    ),
    req(
        "connected_meetings",
        Object(&[
            req("can_alter_connected_meetings", Bool),
            req("can_switch_connected_meetings", Bool),
            req("can_switch_to_parent_meeting", Bool),
        ]),
    ),
    req("disable_participant_audio", Bool),
    req("disable_participant_screensharing", Bool),
    req("disable_participant_video", Bool),
    req("hidden_participant", Bool),
    req("kick_participant", Bool),
    req(
        "media",
        Object(&[req("audio", Object(PRODUCE)), req("screenshare", Object(PRODUCE)), req("video", Object(PRODUCE))]),
    ),
    req("pin_participant", Bool),
    req(
        "plugins",
        Object(&[req("can_close", Bool), req("can_edit_config", Bool), req("can_start", Bool), req("config", Map)]),
    ),
    req("polls", Object(&[req("can_create", Bool), req("can_view", Bool), req("can_vote", Bool)])),
    req("recorder_type", OneOf(&["RECORDER", "LIVESTREAMER", "NONE"])),
    req("show_participant_list", Bool),
    req("waiting_room_type", OneOf(&["SKIP", "ON_PRIVILEGED_USER_ENTRY", "SKIP_ON_ACCEPT"])),
    opt("accept_stage_requests", Bool),
    opt("is_recorder", Bool),
    opt("stage_access", OneOf(&["ALLOWED", "NOT_ALLOWED", "CAN_REQUEST"])),
    opt("stage_enabled", Bool),
    opt("transcription_enabled", Bool),
];

const SHADES_BACKGROUND: &[Field] =
    &[req("1000", Text), req("600", Text), req("700", Text), req("800", Text), req("900", Text)];
const SHADES_BRAND: &[Field] =
    &[req("300", Text), req("400", Text), req("500", Text), req("600", Text), req("700", Text)];

const UI: &[Field] = &[req(
    "design_tokens",
    Object(&[
        req("border_radius", OneOf(&["sharp", "rounded", "extra-rounded", "circular"])),
        req("border_width", OneOf(&["none", "thin", "fat"])),
        req(
            "colors",
            Object(&[
                req("background", Object(SHADES_BACKGROUND)),
                req("brand", Object(SHADES_BRAND)),
                req("danger", Text),
                req("success", Text),
                req("text", Text),
                req("text_on_brand", Text),
                req("video_bg", Text),
                req("warning", Text),
            ]),
        ),
        req("spacing_base", Number),
        req("theme", OneOf(&["darkest", "dark", "light"])),
        opt("font_family", Text),
        opt("google_font", Text),
        opt("logo", Text),
    ]),
)];

/// The body of create and replace (`PresetCreateParams`); update takes the same fields, all optional.
pub const BODY: &[Field] =
    &[req("name", Text), req("config", Object(CONFIG)), req("permissions", Object(PERMISSIONS)), req("ui", Object(UI))];

/// Whether required fields must be present: a create or replace must be complete, a PATCH may send any part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Complete,
    Partial,
}

/// Checks a body against [`BODY`]; the error names the first offending field by its path, e.g.
/// ``permissions.kick_participant` must be a boolean`.
pub fn check(body: &Value, mode: Mode) -> Result<(), String> {
    check_object(body, BODY, "", mode)
}

fn path_of(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

fn check_object(value: &Value, fields: &[Field], path: &str, mode: Mode) -> Result<(), String> {
    let Value::Object(object) = value else {
        return Err(if path.is_empty() {
            "the body must be a JSON object".into()
        } else {
            format!("`{path}` must be an object")
        });
    };
    for (key, value) in object {
        let here = path_of(path, key);
        let field = fields.iter().find(|f| f.name == key).ok_or_else(|| format!("unknown field `{here}`"))?;
        check_value(value, &field.shape, &here, mode)?;
    }
    if mode == Mode::Complete {
        if let Some(missing) = fields.iter().find(|f| f.required && !object.contains_key(f.name)) {
            return Err(format!("missing field `{}`", path_of(path, missing.name)));
        }
    }
    Ok(())
}

fn check_value(value: &Value, shape: &Shape, path: &str, mode: Mode) -> Result<(), String> {
    let fits = match shape {
        Bool => value.is_boolean(),
        Number => value.is_number(),
        Text => value.is_string(),
        OneOf(allowed) => {
            return match value.as_str() {
                Some(s) if allowed.contains(&s) => Ok(()),
                _ => Err(format!("`{path}` must be one of {}", allowed.join(", "))),
            }
        }
        Integers => {
            value.is_null() || value.as_array().is_some_and(|items| items.iter().all(|i| i.is_i64() || i.is_u64()))
        }
        Object(fields) => return check_object(value, fields, path, mode),
        Map => value.as_object().is_some_and(|entries| entries.values().all(Value::is_object)),
    };
    if fits {
        return Ok(());
    }
    let expected = match shape {
        Bool => "a boolean",
        Number => "a number",
        Text => "a string",
        Integers => "an array of integers",
        Map => "an object of objects",
        OneOf(_) | Object(_) => unreachable!("answered above"),
    };
    Err(format!("`{path}` must be {expected}"))
}

/// Applies a checked partial body to a stored document: objects merge key by key, anything else is replaced.
pub fn merge(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(target), Value::Object(patch)) => {
            for (key, value) in patch {
                match target.get_mut(key) {
                    Some(existing) if existing.is_object() && value.is_object() => merge(existing, value),
                    _ => {
                        target.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        (target, patch) => *target = patch.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::presets::default_document;
    use serde_json::json;

    fn complete() -> Value {
        let mut body = default_document(true);
        body["name"] = json!("host");
        body
    }

    #[test]
    fn the_default_document_is_a_complete_body() {
        assert_eq!(check(&complete(), Mode::Complete), Ok(()));
    }

    #[test]
    fn errors_name_the_field() {
        let mut body = complete();
        body["permissions"]["kick_participant"] = json!("yes");
        assert_eq!(check(&body, Mode::Complete).unwrap_err(), "`permissions.kick_participant` must be a boolean");
        let mut body = complete();
        body["config"]["media"].as_object_mut().unwrap().remove("video");
        assert_eq!(check(&body, Mode::Complete).unwrap_err(), "missing field `config.media.video`");
        assert_eq!(check(&body, Mode::Partial), Ok(()), "a PATCH may leave fields out");
        let mut body = complete();
        body["ui"]["design_tokens"]["theme"] = json!("neon");
        assert!(check(&body, Mode::Complete).unwrap_err().starts_with("`ui.design_tokens.theme` must be one of"));
        assert_eq!(check(&json!({ "permisions": {} }), Mode::Partial).unwrap_err(), "unknown field `permisions`");
        assert_eq!(check(&json!({ "name": false }), Mode::Partial).unwrap_err(), "`name` must be a string");
        assert_eq!(check(&json!([]), Mode::Partial).unwrap_err(), "the body must be a JSON object");
        let plugins =
            json!({ "permissions": { "plugins": { "config": { "p-1": { "access_control": "VIEW_ONLY" } } } } });
        assert_eq!(check(&plugins, Mode::Partial), Ok(()));
    }

    #[test]
    fn a_patch_merges_objects_and_replaces_the_rest() {
        let mut document = default_document(false);
        merge(
            &mut document,
            &json!({ "permissions": { "kick_participant": true }, "config": { "view_type": "WEBINAR" } }),
        );
        assert_eq!(document["permissions"]["kick_participant"], true);
        assert_eq!(document["permissions"]["can_edit_display_name"], true, "untouched fields stay");
        assert_eq!(document["config"]["view_type"], "WEBINAR");
        assert_eq!(document["config"]["max_screenshare_count"], 1);
    }
}
