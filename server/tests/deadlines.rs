//! Every stage of an HTTP connection has a deadline, and open connections are capped (issue 11, fault 1).
//! Over raw TCP against the in-process server; each stage must be closed within a generous bound of its deadline.

mod common;

use common::*;
use endsession_protocol::{ErrorCode, ServerFrame};
use futures_util::{SinkExt, StreamExt};
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

/// The deadlines these tests set.
const DEADLINE: Duration = Duration::from_secs(1);
/// How long a test waits for the close: the deadline plus a wide margin for a loaded machine.
const BOUND: Duration = Duration::from_secs(12);

async fn server_with_short_deadlines() -> TestServer {
    TestServer::start_with(|config| {
        config.limits.header_timeout = DEADLINE;
        config.limits.request_timeout = DEADLINE;
        config.limits.join_timeout = DEADLINE;
    })
    .await
}

async fn open(server: &TestServer, sent: &[u8]) -> TcpStream {
    let mut stream = TcpStream::connect(server.server.addr()).await.unwrap();
    stream.write_all(sent).await.unwrap();
    stream
}

#[tokio::test]
async fn a_connection_that_sends_nothing_is_closed() {
    let server = server_with_short_deadlines().await;
    let mut stream = open(&server, b"").await;
    read_until_closed(&mut stream, BOUND).await;
}

#[tokio::test]
async fn requests_whose_headers_never_finish_are_closed() {
    let server = server_with_short_deadlines().await;
    let unfinished: [&[u8]; 4] = [
        b"GET / HTTP/1.1\r\nHost: x\r\n",
        b"GET / HT",
        b"POST /client/v4/accounts/acct-1/realtime/kit/apps HTTP/1.1\r\nHost: x\r\nContent-Len",
        b"GET /realtime/ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n",
    ];
    let mut streams = Vec::new();
    for sent in unfinished {
        streams.push(open(&server, sent).await);
    }
    for stream in &mut streams {
        read_until_closed(stream, BOUND).await;
    }
}

#[tokio::test]
async fn headers_that_keep_trickling_in_are_closed_all_the_same() {
    let server = server_with_short_deadlines().await;
    let stream = open(&server, b"GET / HTTP/1.1\r\nHost: x\r\n").await;
    let (mut read, mut write) = stream.into_split();
    // Slowloris: a new header line every 100 ms, so the connection is never silent.
    let trickle = tokio::spawn(async move {
        for i in 0.. {
            if write.write_all(format!("X-{i}: y\r\n").as_bytes()).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    read_until_closed(&mut read, BOUND).await;
    trickle.abort();
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_its_responses() {
    let server = server_with_short_deadlines().await;
    let request = b"GET /client/v4/no-such-route HTTP/1.1\r\nHost: x\r\n\r\n";
    let mut stream = open(&server, &[&request[..], &request[..]].concat()).await;
    let received = String::from_utf8(read_until_closed(&mut stream, BOUND).await).unwrap();
    assert_eq!(received.matches("HTTP/1.1 404").count(), 2, "both requests are answered first: {received}");
    assert!(!received.to_ascii_lowercase().contains("connection: close"), "kept alive, then closed when idle");
}

#[tokio::test]
async fn a_request_body_that_never_finishes_is_answered_408_and_closed() {
    let server = server_with_short_deadlines().await;
    let head = |framing: &str| {
        format!(
            "POST /client/v4/accounts/{ACCOUNT}/realtime/kit/apps HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \
             {ADMIN}\r\nContent-Type: application/json\r\n{framing}\r\n\r\n"
        )
    };
    let short = open(&server, format!("{}{{\"name\":", head("Content-Length: 100")).as_bytes()).await;
    let chunked = open(&server, format!("{}5\r\n{{\"nam\r\n", head("Transfer-Encoding: chunked")).as_bytes()).await;
    let trickled = open(&server, head("Content-Length: 1000").as_bytes()).await;
    let (mut trickled, mut write) = trickled.into_split();
    let trickle = tokio::spawn(async move {
        while write.write_all(b" ").await.is_ok() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    for mut stream in [short, chunked] {
        let received = String::from_utf8(read_until_closed(&mut stream, BOUND).await).unwrap();
        assert!(received.starts_with("HTTP/1.1 408"), "{received}");
    }
    let received = String::from_utf8(read_until_closed(&mut trickled, BOUND).await).unwrap();
    assert!(received.starts_with("HTTP/1.1 408"), "{received}");
    trickle.abort();

    // Nothing was created, and the server answers others as before.
    let apps = server.admin(reqwest::Method::GET, "/apps", None).await;
    assert_eq!(apps.as_array().map(Vec::len), Some(0), "{apps}");
}

#[tokio::test]
async fn a_websocket_that_never_joins_is_closed_even_if_it_pings() {
    let server = server_with_short_deadlines().await;
    let mut silent = server.connect().await;
    let mut pinging = server.connect().await;
    let keep_pinging = async {
        let deadline = tokio::time::Instant::now() + BOUND;
        loop {
            assert!(tokio::time::Instant::now() < deadline, "the pinging socket was not closed");
            if pinging.stream.send(Message::Ping(Vec::new().into())).await.is_err() {
                return None;
            }
            match tokio::time::timeout(Duration::from_millis(100), pinging.stream.next()).await {
                Ok(Some(Ok(Message::Text(text)))) => return Some(ServerFrame::decode(&text).unwrap()),
                Ok(Some(Ok(_))) | Err(_) => {}
                Ok(Some(Err(_)) | None) => return None,
            }
        }
    };
    let told = keep_pinging.await;
    for (socket, told) in [(&mut silent, None), (&mut pinging, told)] {
        let told = match told {
            Some(frame) => frame,
            None => socket.recv().await,
        };
        assert!(
            matches!(&told, ServerFrame::Error { code: ErrorCode::UnexpectedFrame, message, .. } if message.contains("join")),
            "{told:?}"
        );
        socket.expect_closed().await;
    }
}

#[tokio::test]
async fn open_connections_are_capped_and_a_connection_over_the_cap_waits_for_a_free_place() {
    let server = TestServer::start_with(|config| config.limits.max_connections = 4).await;
    let mut idle = Vec::new();
    for _ in 0..4 {
        idle.push(open(&server, b"").await);
    }
    let url = server.kit("/apps");
    let call = tokio::spawn(async move {
        reqwest::Client::new().get(url).bearer_auth(ADMIN).send().await.map(|response| response.status())
    });
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(!call.is_finished(), "a fifth connection was served while four were open: the cap did not hold");

    drop(idle.pop());
    let status = tokio::time::timeout(GUARD, call).await.expect("not served once a place was free").unwrap();
    assert_eq!(status.unwrap(), reqwest::StatusCode::OK);
}

#[tokio::test]
async fn a_client_that_stops_reading_a_response_is_closed_after_the_write_deadline() {
    // A static file far larger than the loopback socket buffers, so the server's writes block.
    let www = tempfile::tempdir().unwrap();
    let size = 64 * 1024 * 1024;
    std::fs::write(www.path().join("big.bin"), vec![7u8; size]).unwrap();
    let server = TestServer::start_with(|config| {
        config.www = Some(www.path().to_owned());
        config.limits.write_timeout = DEADLINE;
        // One connection at a time: the next request is served only once the stalled one is closed.
        config.limits.max_connections = 1;
    })
    .await;
    let mut stalled = open(&server, b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n").await;

    let status = tokio::time::timeout(BOUND, server.http.get(server.kit("/apps")).bearer_auth(ADMIN).send())
        .await
        .expect("the stalled response kept its connection")
        .unwrap()
        .status();
    assert_eq!(status, reqwest::StatusCode::OK);
    let received = read_until_closed(&mut stalled, BOUND).await;
    assert!(received.starts_with(b"HTTP/1.1 200"));
    assert!(received.len() < size, "the whole file was sent: the write deadline did not cut it");
}
