//! Which requests to the WebSocket endpoint are upgraded, and how the others are answered (RFC 6455 §4.2,
//! server/src/ws/handshake.rs). Raw HTTP over TCP, so that the test controls every byte of the request.

mod common;

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The request line and headers of a valid upgrade; each case changes one thing.
const VALID: [(&str, &str); 4] = [
    ("Connection", "Upgrade"),
    ("Upgrade", "websocket"),
    ("Sec-WebSocket-Version", "13"),
    // RFC 6455 §1.3's example key.
    ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
];

/// A header of [`VALID`] replaced by another value, or (None) left out.
type Change<'a> = Option<(&'a str, Option<&'a str>)>;

/// Sends `method` over `version` with the headers of [`VALID`] after `change`; returns the response's head.
async fn head_of(server: &TestServer, method: &str, version: &str, change: Change<'_>) -> String {
    let mut request = format!("{method} {} {version}\r\nHost: localhost\r\n", endsession_protocol::WS_PATH);
    for (name, value) in VALID {
        let value = match change {
            Some((changed, replacement)) if changed == name => replacement,
            _ => Some(value),
        };
        if let Some(value) = value {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    request.push_str("\r\n");
    let mut tcp = TcpStream::connect(server.server.addr()).await.unwrap();
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        head.push(tokio::time::timeout(GUARD, tcp.read_u8()).await.expect("an answer in time").unwrap());
    }
    String::from_utf8(head).unwrap().to_ascii_lowercase()
}

#[tokio::test]
async fn upgrade_requests_of_every_valid_shape_are_upgraded_with_the_right_accept_key() {
    let server = TestServer::start().await;
    let shapes = [
        None,
        Some(("Connection", Some("keep-alive, Upgrade"))),
        Some(("Connection", Some("keep-alive,\tUpgrade"))),
        Some(("Connection", Some("Upgrade\t, keep-alive"))),
        Some(("Connection", Some("upgrade"))),
        Some(("Upgrade", Some("WebSocket"))),
    ];
    for change in shapes {
        let head = head_of(&server, "GET", "HTTP/1.1", change).await;
        assert!(head.starts_with("http/1.1 101"), "{change:?}: {head}");
        assert!(head.contains("sec-websocket-accept: s3pplmbitxaq9kygzzhzrbk+xoo="), "{change:?}: {head}");
    }
}

#[tokio::test]
async fn other_requests_get_a_clear_error() {
    let server = TestServer::start().await;
    let cases: [(&str, &str, Change, &str); 9] = [
        ("HEAD", "HTTP/1.1", None, "405"),
        ("GET", "HTTP/1.0", None, "400"),
        ("GET", "HTTP/1.1", Some(("Connection", None)), "400"),
        ("GET", "HTTP/1.1", Some(("Connection", Some("keep-alive"))), "400"),
        // A token, not a substring.
        ("GET", "HTTP/1.1", Some(("Connection", Some("upgraded"))), "400"),
        ("GET", "HTTP/1.1", Some(("Upgrade", None)), "400"),
        ("GET", "HTTP/1.1", Some(("Upgrade", Some("h2c"))), "400"),
        ("GET", "HTTP/1.1", Some(("Sec-WebSocket-Key", None)), "400"),
        ("GET", "HTTP/1.1", Some(("Sec-WebSocket-Version", Some("8"))), "426"),
    ];
    for (method, version, change, status) in cases {
        let head = head_of(&server, method, version, change).await;
        let status_line = head.lines().next().unwrap_or_default();
        assert!(status_line.contains(&format!(" {status} ")), "{method} {version} {change:?}: {head}");
        if status == "426" {
            assert!(head.contains("sec-websocket-version: 13"), "§4.2.2 names the version it speaks: {head}");
        }
    }
    // The server is still serving upgrades.
    let head = head_of(&server, "GET", "HTTP/1.1", None).await;
    assert!(head.starts_with("http/1.1 101"), "{head}");
}
