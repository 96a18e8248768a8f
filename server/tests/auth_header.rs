//! `Authorization` over raw HTTP (issue 11, fault 7): the auth scheme is case-insensitive (RFC 9110 §11.1), so
//! `bearer`, `BEARER` and `Bearer` are one scheme; other schemes and empty tokens stay refused.

mod common;

use common::{TestServer, ACCOUNT, ADMIN, GUARD};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Sends one request with this `Authorization` value, byte for byte; returns the status and the body.
async fn get_apps(server: &TestServer, authorization: &str) -> (u16, serde_json::Value) {
    let mut tcp = TcpStream::connect(server.server.addr()).await.unwrap();
    let request = format!(
        "GET /client/v4/accounts/{ACCOUNT}/realtime/kit/apps HTTP/1.1\r\nHost: {}\r\nAuthorization: {authorization}\r\n\
         Connection: close\r\n\r\n",
        server.server.addr()
    );
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    tokio::time::timeout(GUARD, tcp.read_to_end(&mut response)).await.expect("no answer in time").unwrap();
    let response = String::from_utf8(response).unwrap();
    let status = response.split(' ').nth(1).and_then(|code| code.parse().ok()).expect("an HTTP status line");
    let body = response.split_once("\r\n\r\n").map_or("", |(_, body)| body);
    (status, serde_json::from_str(body).unwrap_or(serde_json::Value::Null))
}

#[tokio::test]
async fn the_bearer_scheme_is_accepted_in_any_case() {
    let server = TestServer::start().await;
    for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
        let (status, body) = get_apps(&server, &format!("{scheme} {ADMIN}")).await;
        assert_eq!(status, 200, "`{scheme}`: {body}");
        assert_eq!(body["success"], true, "`{scheme}`: {body}");
    }
    let (status, body) = get_apps(&server, &format!("bearer   {ADMIN}")).await;
    assert_eq!(status, 200, "several spaces after the scheme: {body}");
}

#[tokio::test]
async fn other_schemes_and_empty_tokens_stay_refused() {
    let server = TestServer::start().await;
    for value in [format!("Basic {ADMIN}"), format!("bearer{ADMIN}"), "bearer".into(), "bearer ".into(), ADMIN.into()] {
        let (status, body) = get_apps(&server, &value).await;
        assert_eq!(status, 401, "`{value}`: {body}");
        assert_eq!(body["success"], false, "`{value}`: {body}");
    }
    let (status, _) = get_apps(&server, "bearer wrong-secret").await;
    assert_eq!(status, 401, "a lowercase scheme does not weaken the secret check");
}
