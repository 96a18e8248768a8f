//! Presets: the permission sets participants are given by name.
//!
//! A preset is stored as the document the RealtimeKit API shows (`{config, permissions, ui}`), so the preset
//! endpoints can return it whole; the server itself reads only `permissions.kick_participant`. [`schema`] checks
//! what clients send against the SDK's preset model.

pub mod schema;

use endsession_protocol::Permissions;
use serde_json::{json, Value};

/// The presets every new app gets, and whether each may end the session for all.
pub const DEFAULTS: &[(&str, bool)] = &[("group_call_host", true), ("group_call_participant", false)];

/// What the server enforces, read from a stored preset document. Anything unreadable grants nothing.
pub fn permissions_of(document: &Value) -> Permissions {
    Permissions { kick_participant: document.pointer("/permissions/kick_participant") == Some(&Value::Bool(true)) }
}

/// A complete preset document with RealtimeKit's group-call defaults; `host` turns on the host permissions.
/// Every field the `cloudflare` SDK's preset model requires is present, so it parses the document unchanged.
pub fn default_document(host: bool) -> Value {
    let produce = json!({ "can_produce": "ALLOWED" });
    json!({
        "config": {
            "max_screenshare_count": 1,
            "max_video_streams": { "desktop": 6, "mobile": 2 },
            "media": {
                "screenshare": { "frame_rate": 5, "quality": "hd" },
                "video": { "frame_rate": 30, "quality": "hd" },
                "audio": { "enable_high_bitrate": false, "enable_stereo": false }
            },
            "view_type": "GROUP_CALL"
        },
        "permissions": {
            "accept_waiting_requests": host,
            "can_accept_production_requests": host,
            "can_change_participant_permissions": host,
            "can_edit_display_name": true,
            "can_livestream": false,
            "can_record": host,
            "can_spotlight": host,
            "chat": {
                "private": { "can_receive": true, "can_send": true, "files": true, "text": true },
                "public": { "can_send": true, "files": true, "text": true }
            },
            "connected_meetings": {
                "can_alter_connected_meetings": host,
                "can_switch_connected_meetings": host,
                "can_switch_to_parent_meeting": host
            },
            "disable_participant_audio": host,
            "disable_participant_screensharing": host,
            "disable_participant_video": host,
            "hidden_participant": false,
            "kick_participant": host,
            "media": { "audio": produce, "screenshare": produce, "video": produce },
            "pin_participant": host,
            "plugins": { "can_close": host, "can_edit_config": host, "can_start": host, "config": {} },
            "polls": { "can_create": host, "can_view": true, "can_vote": true },
            "recorder_type": "NONE",
            "show_participant_list": true,
            "waiting_room_type": "SKIP"
        },
        "ui": {
            "design_tokens": {
                "border_radius": "rounded",
                "border_width": "thin",
                "colors": {
                    "background": { "600": "#222222", "700": "#1f1f1f", "800": "#1b1b1b", "900": "#181818", "1000": "#141414" },
                    "brand": { "300": "#497cfd", "400": "#356ef9", "500": "#2160fd", "600": "#0d51fd", "700": "#2160fd" },
                    "danger": "#FF2D2D",
                    "success": "#62A504",
                    "text": "#EEEEEE",
                    "text_on_brand": "#EEEEEE",
                    "video_bg": "#191919",
                    "warning": "#FFCD07"
                },
                "spacing_base": 4,
                "theme": "dark"
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_true_kick_participant_grants_the_end() {
        assert!(permissions_of(&default_document(true)).kick_participant);
        assert!(!permissions_of(&default_document(false)).kick_participant);
        assert!(!permissions_of(&json!({ "permissions": { "kick_participant": "yes" } })).kick_participant);
        assert!(!permissions_of(&Value::Null).kick_participant);
    }
}
