//! Where the client connects: [`ws_url`].

use endsession_protocol::WS_PATH;

/// The WebSocket URL for a server's `baseURI`: `http` becomes `ws`, `https` becomes `wss`, and the protocol's path
/// ([`endsession_protocol::WS_PATH`]) is appended after any path the base has.
///
/// ```
/// use endsession::ws_url;
/// assert_eq!(ws_url("http://127.0.0.1:8787"), "ws://127.0.0.1:8787/realtime/ws");
/// assert_eq!(ws_url("https://example.com/rtk/"), "wss://example.com/rtk/realtime/ws");
/// ```
pub fn ws_url(base_uri: &str) -> String {
    // Byte-level prefix checks with `get` (no panicking slices, no substring search): this runs in the wasm payload.
    let mut base = base_uri.trim_matches(' ');
    while let Some(shorter) = base.strip_suffix('/') {
        base = shorter;
    }
    let mut scheme = "ws";
    let mut rest = base;
    for (prefix, websocket) in [("https://", "wss"), ("http://", "ws"), ("wss://", "wss"), ("ws://", "ws")] {
        if base.get(..prefix.len()).is_some_and(|head| head.eq_ignore_ascii_case(prefix)) {
            scheme = websocket;
            rest = base.get(prefix.len()..).unwrap_or_default();
            break;
        }
    }
    let mut url = String::with_capacity(scheme.len() + 3 + rest.len() + WS_PATH.len());
    url.push_str(scheme);
    url.push_str("://");
    url.push_str(rest);
    url.push_str(WS_PATH);
    url
}

#[cfg(test)]
mod tests {
    use super::ws_url;

    #[test]
    fn schemes_map_to_websocket_schemes() {
        assert_eq!(ws_url("http://h:1"), "ws://h:1/realtime/ws");
        assert_eq!(ws_url("HTTPS://h"), "wss://h/realtime/ws");
        assert_eq!(ws_url("ws://h"), "ws://h/realtime/ws");
        assert_eq!(ws_url("wss://h/"), "wss://h/realtime/ws");
        assert_eq!(ws_url(" h:8787 "), "ws://h:8787/realtime/ws");
        assert_eq!(ws_url("http://é/"), "ws://é/realtime/ws");
        assert_eq!(ws_url("https://h/a/b//"), "wss://h/a/b/realtime/ws");
    }
}
