//! The sessions history (`/sessions`, `/sessions/{id}`, `/sessions/{id}/participants`) and that it survives a
//! restart, a session live at that moment included: nobody comes back to it, so it ends after the reconnect grace,
//! with its peak, at the last moment anyone was in it.

mod common;

use common::TestServer;
use endsession_protocol::{ClientFrame, LeaveState, ServerFrame};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

fn ids(sessions: &Value) -> Vec<&str> {
    sessions.as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn sessions_and_who_was_in_them_survive_a_restart() {
    let server = TestServer::start_with_grace(std::time::Duration::from_millis(300)).await;
    let meeting = server.meeting().await;
    let (host_id, host_token) = server.host(&meeting).await;
    let (guest_id, guest_token) = server.guest(&meeting).await;

    // Session 1: both join, the guest leaves, the host ends it for all.
    let (mut host, first) = server.join(&host_token).await;
    let (mut guest, _) = server.join(&guest_token).await;
    guest.send(&ClientFrame::Leave).await;
    assert!(matches!(guest.until_closed().await.as_slice(), [ServerFrame::RoomLeft { state: LeaveState::Left, .. }]));
    host.send(&ClientFrame::kick_all(1)).await;
    host.until_closed().await;
    // Session 2: still live when the server goes away.
    let (_still_connected, second) = server.join(&guest_token).await;

    let server = server.restart().await;
    let stopped_at = endsession_server::clock::now();
    let app = &meeting.app_id;
    // Restored with its participant absent; nobody comes back within the grace, so it ends.
    let deadline = tokio::time::Instant::now() + common::GUARD;
    while server.admin(Method::GET, &format!("/{app}/sessions/{second}"), None).await["status"] != "ENDED" {
        assert!(tokio::time::Instant::now() < deadline, "the session nobody came back to ends after the grace");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let history = server.admin(Method::GET, &format!("/{app}/sessions?associated_id={}", meeting.id), None).await;
    assert_eq!(ids(&history["sessions"]), [second.as_str(), first.as_str()], "newest first: {history}");
    let [s2, s1] = [&history["sessions"][0], &history["sessions"][1]];
    assert_eq!(
        (&s1["status"], &s1["reason"], &s1["max_concurrent_participants"]),
        (&json!("ENDED"), &json!("HOST_ENDED_MEETING"), &json!(2))
    );
    // Nobody came back to the live session: it ended as if everyone had left, with its peak, no later than the
    // restart (downtime is not meeting time).
    assert_eq!(
        (&s2["status"], &s2["reason"], &s2["live_participants"], &s2["max_concurrent_participants"]),
        (&json!("ENDED"), &json!("ALL_PARTICIPANTS_LEFT"), &json!(0), &json!(1))
    );
    assert!(s2["ended_at"].as_str().unwrap() <= stopped_at.as_str(), "{s2}");
    assert!(s1["ended_at"].as_str().unwrap() <= s2["started_at"].as_str().unwrap());
    assert_eq!(server.admin(Method::GET, &format!("/{app}/sessions/{first}"), None).await, *s1);

    let stays = server.admin(Method::GET, &format!("/{app}/sessions/{first}/participants"), None).await;
    let stays = stays["participants"].as_array().unwrap().clone();
    let who: Vec<_> = stays.iter().map(|s| s["user_id"].as_str().unwrap()).collect();
    assert_eq!(who, [host_id.as_str(), guest_id.as_str()], "by arrival: {stays:?}");
    let (host_stay, guest_stay) = (&stays[0], &stays[1]);
    assert_eq!(host_stay["left_at"], s1["ended_at"], "the end closes the stays still open");
    assert!(guest_stay["left_at"].as_str().unwrap() <= host_stay["left_at"].as_str().unwrap(), "the guest left first");
    assert_eq!(guest_stay["preset_name"], "group_call_participant");
    let stays = server.admin(Method::GET, &format!("/{app}/sessions/{second}/participants"), None).await;
    assert_eq!(stays["participants"][0]["left_at"], s2["ended_at"]);

    // Filters and order.
    let live = server.admin(Method::GET, &format!("/{app}/sessions?status=LIVE"), None).await;
    assert_eq!(live["sessions"], json!([]));
    let oldest_first = server.admin(Method::GET, &format!("/{app}/sessions?sort_order=ASC&per_page=1"), None).await;
    assert_eq!(ids(&oldest_first["sessions"]), [first.as_str()]);

    // Another app of the same account does not see them.
    let other = server.meeting().await;
    let (status, _) = server.api(Method::GET, &format!("/{}/sessions/{first}", other.app_id), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = server.api(Method::GET, &format!("/{}/sessions/{first}/participants", other.app_id), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Tokens issued before the restart still join, into a new session that the history shows live.
    let (_host, third) = server.join(&host_token).await;
    let history = server.admin(Method::GET, &format!("/{app}/sessions"), None).await;
    assert_eq!(ids(&history["sessions"]), [third.as_str(), second.as_str(), first.as_str()]);
    assert_eq!(
        (&history["sessions"][0]["status"], &history["sessions"][0]["live_participants"]),
        (&json!("LIVE"), &json!(1))
    );
}
