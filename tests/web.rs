//! The real wasm API ([`WasmMeeting`]) in headless Chromium, against a real `endsession-server --dev`.
//!
//! ```sh
//! endsession-server --dev --listen 127.0.0.1:8790 --data /tmp/es-data &
//! ENDSESSION_TEST_SERVER=http://127.0.0.1:8790 CHROMEDRIVER=/usr/bin/chromedriver \
//!   CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
//!   cargo test -p endsession --target wasm32-unknown-unknown --tests
//! ```
//!
//! The server address is read at compile time. Without it every test in `server` fails with a message saying so;
//! the tests in `offline` need no server.
#![cfg(target_arch = "wasm32")]

use endsession::WasmMeeting;
use js_sys::{Function, Object, Promise, Reflect};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(handler: &Function, ms: u32) -> JsValue;

    #[wasm_bindgen(js_name = fetch)]
    fn fetch(url: &str, init: &JsValue) -> Promise;
}

/// Resolves after `ms` milliseconds.
async fn sleep(ms: u32) {
    let _ = JsFuture::from(Promise::new(&mut |resolve, _| {
        set_timeout(&resolve, ms);
    }))
    .await;
}

fn get(value: &JsValue, key: &str) -> JsValue {
    Reflect::get(value, &key.into()).unwrap_or(JsValue::UNDEFINED)
}

fn text(value: &JsValue, key: &str) -> String {
    get(value, key).as_string().unwrap_or_else(|| panic!("`{key}` is not a string in {value:?}"))
}

fn object(entries: &[(&str, JsValue)]) -> JsValue {
    let object: JsValue = Object::new().into();
    for (key, value) in entries {
        Reflect::set(&object, &(*key).into(), value).unwrap();
    }
    object
}

/// One participant's meeting plus every event it emitted, in order.
struct Client {
    meeting: WasmMeeting,
    events: Rc<RefCell<Vec<(String, JsValue)>>>,
    _listener: Closure<dyn FnMut(JsValue, JsValue)>,
}

impl Client {
    fn new(base_uri: &str, token: &str) -> Self {
        Self::with_heartbeat_timeout(base_uri, token, None)
    }

    /// A client that reconnects quickly (100 ms, up to 200 ms, 50 attempts) and counts its socket as lost after
    /// `timeout_ms` without a frame (`None`: derived from the server's heartbeat).
    fn with_heartbeat_timeout(base_uri: &str, token: &str, timeout_ms: Option<u32>) -> Self {
        let events = Rc::new(RefCell::new(Vec::new()));
        let sink = events.clone();
        let listener = Closure::<dyn FnMut(JsValue, JsValue)>::new(move |name: JsValue, payload: JsValue| {
            sink.borrow_mut().push((name.as_string().unwrap(), payload));
        });
        let on_event: Function = listener.as_ref().unchecked_ref::<Function>().clone();
        let reconnect = timeout_ms.map(|_| (100, 200, 50));
        let meeting = WasmMeeting::new(
            base_uri,
            token.into(),
            on_event,
            reconnect.map(|r| r.0),
            reconnect.map(|r| r.1),
            reconnect.map(|r| r.2),
            timeout_ms,
        );
        Client { meeting, events, _listener: listener }
    }

    async fn join(&self) -> Result<JsValue, JsValue> {
        JsFuture::from(self.meeting.join()).await
    }

    async fn kick_all(&self) -> Result<JsValue, JsValue> {
        JsFuture::from(self.meeting.kick_all(None, None, None)).await
    }

    /// `kickAll` with a message and a countdown of `grace_seconds`.
    async fn kick_all_after(&self, message: &str, grace_seconds: u32) -> Result<JsValue, JsValue> {
        JsFuture::from(self.meeting.kick_all(Some(message.into()), None, Some(grace_seconds))).await
    }

    async fn cancel_end(&self) -> Result<JsValue, JsValue> {
        JsFuture::from(self.meeting.cancel_end()).await
    }

    fn room_state(&self) -> String {
        self.meeting.room_state().as_string().unwrap()
    }

    /// The payloads of every `name` event so far.
    fn events(&self, name: &str) -> Vec<JsValue> {
        self.events.borrow().iter().filter(|(n, _)| n == name).map(|(_, p)| p.clone()).collect()
    }

    /// The `state`s of every `roomLeft` so far.
    fn room_left(&self) -> Vec<String> {
        self.events("roomLeft").iter().map(|p| text(p, "state")).collect()
    }

    /// Waits up to 5 s for a `name` event whose payload passes `test`.
    async fn wait_for(&self, name: &str, test: impl Fn(&JsValue) -> bool) -> JsValue {
        self.wait_for_within(name, test, 5).await
    }

    /// Waits up to `seconds` for a `name` event whose payload passes `test`.
    async fn wait_for_within(&self, name: &str, test: impl Fn(&JsValue) -> bool, seconds: u32) -> JsValue {
        for _ in 0..seconds * 50 {
            if let Some(payload) = self.events(name).into_iter().find(|p| test(p)) {
                return payload;
            }
            sleep(20).await;
        }
        panic!("no matching `{name}` event within {seconds} s; events: {:?}", self.events.borrow());
    }

    fn participant_ids(&self) -> Vec<String> {
        self.meeting.participants().iter().map(|p| text(&p, "id")).collect()
    }
}

/// Tests that need no server.
mod offline {
    use super::*;

    #[wasm_bindgen_test]
    async fn kick_all_before_join_rejects_1205_without_a_server() {
        let client = Client::new("http://127.0.0.1:9", "token");
        assert_eq!(client.room_state(), "init");
        let error = client.kick_all().await.expect_err("kickAll must reject before join");
        assert_eq!(text(&error, "code"), "1205");
        assert!(client.events.borrow().is_empty());
    }

    /// The call is made when `join()` returns (its effects are in order with the caller's), and a meeting freed
    /// while it is pending settles it: the promise rejects with `{code: '4902', message}` rather than never
    /// settling.
    #[wasm_bindgen_test]
    async fn a_call_pending_when_the_meeting_is_freed_rejects_4902() {
        let client = Client::new("http://127.0.0.1:9", "token");
        let join = client.meeting.join();
        assert_eq!(client.room_state(), "joining");
        drop(client);
        // Resolves (with `undefined`) after 5 s: a join still pending then fails the `expect_err` below.
        let deadline = Promise::new(&mut |resolve, _| {
            set_timeout(&resolve, 5000);
        });
        let race = Promise::race(&js_sys::Array::of2(&join, &deadline));
        let error = JsFuture::from(race).await.expect_err("the pending join must reject");
        assert_eq!(text(&error, "code"), "4902");
        assert!(text(&error, "message").starts_with("[ERR4902]: "), "{error:?}");
    }

    #[wasm_bindgen_test]
    async fn an_unreachable_server_fails_the_join_with_4900() {
        let client = Client::new("http://127.0.0.1:9", "token");
        let error = client.join().await.expect_err("join must fail");
        assert_eq!(text(&error, "code"), "4900");
        assert_eq!(client.room_left(), ["failed"]);
        assert_eq!(client.room_state(), "failed");
    }
}

/// Tests against `ENDSESSION_TEST_SERVER`.
mod server {
    use super::*;

    /// The server's `/dev/config.json` plus what the tests need to call its REST API.
    struct Server {
        /// REST base: `{server}/client/v4/accounts/{accountId}/realtime/kit/{appId}`.
        api: String,
        api_token: String,
        /// What `initMeeting` gets as `baseURI`.
        base_uri: String,
    }

    fn address() -> &'static str {
        option_env!("ENDSESSION_TEST_SERVER").unwrap_or_else(|| {
            panic!(
                "ENDSESSION_TEST_SERVER is not set. These tests need a running `endsession-server --dev`; build them \
                 with e.g. ENDSESSION_TEST_SERVER=http://127.0.0.1:8790 (see tests/web.rs)."
            )
        })
    }

    async fn request(method: &str, url: &str, token: Option<&str>, body: Option<JsValue>) -> JsValue {
        // GET /dev/config.json stays a simple request (no preflight); the REST calls send a token and JSON.
        let headers = object(&[]);
        if let Some(token) = token {
            Reflect::set(&headers, &"authorization".into(), &format!("Bearer {token}").into()).unwrap();
        }
        let mut init = vec![("method", JsValue::from(method)), ("headers", headers.clone())];
        if let Some(body) = body {
            Reflect::set(&headers, &"content-type".into(), &"application/json".into()).unwrap();
            init.push(("body", js_sys::JSON::stringify(&body).unwrap().into()));
        }
        let response = JsFuture::from(fetch(url, &object(&init)))
            .await
            .unwrap_or_else(|e| panic!("{method} {url} failed: {e:?} (is the server running with --dev?)"));
        let response: web_sys::Response = response.unchecked_into();
        let status = response.status();
        let json = JsFuture::from(response.json().unwrap()).await.unwrap_or(JsValue::NULL);
        assert!(
            (200..300).contains(&status),
            "{method} {url} answered {status}: {}",
            js_sys::JSON::stringify(&json).map(String::from).unwrap_or_default()
        );
        json
    }

    impl Server {
        async fn get() -> Server {
            let address = address().trim_end_matches('/');
            let config = request("GET", &format!("{address}/dev/config.json"), None, None).await;
            let base_uri = get(&config, "baseURI").as_string().unwrap_or_else(|| address.to_string());
            Server {
                api: format!(
                    "{address}/client/v4/accounts/{}/realtime/kit/{}",
                    text(&config, "accountId"),
                    text(&config, "appId")
                ),
                api_token: text(&config, "apiToken"),
                base_uri,
            }
        }

        async fn call(&self, method: &str, path: &str, body: JsValue) -> JsValue {
            let response = request(method, &format!("{}{path}", self.api), Some(&self.api_token), Some(body)).await;
            get(&response, "data")
        }

        /// A new meeting; its id.
        async fn meeting(&self) -> String {
            let data = self.call("POST", "/meetings", object(&[("title", "wasm test".into())])).await;
            text(&data, "id")
        }

        /// A new participant with this preset; its id and token.
        async fn participant(&self, meeting: &str, name: &str, preset: &str) -> (String, String) {
            let body = object(&[
                ("custom_participant_id", format!("{name}-{}", js_sys::Math::random()).into()),
                ("preset_name", preset.into()),
                ("name", name.into()),
            ]);
            let data = self.call("POST", &format!("/meetings/{meeting}/participants"), body).await;
            (text(&data, "id"), text(&data, "token"))
        }

        async fn set_preset(&self, meeting: &str, participant: &str, preset: &str) {
            let body = object(&[("preset_name", preset.into())]);
            self.call("PATCH", &format!("/meetings/{meeting}/participants/{participant}"), body).await;
        }

        /// A joined client with this preset in `meeting`.
        async fn joined(&self, meeting: &str, name: &str, preset: &str) -> (Client, String) {
            let (id, token) = self.participant(meeting, name, preset).await;
            let client = Client::new(&self.base_uri, &token);
            client.join().await.unwrap_or_else(|e| panic!("{name} could not join: {e:?}"));
            assert_eq!(client.room_state(), "joined");
            (client, id)
        }
    }

    const HOST: &str = "group_call_host";
    const PARTICIPANT: &str = "group_call_participant";

    #[wasm_bindgen_test]
    async fn kick_all_before_join_rejects_1205() {
        let server = Server::get().await;
        let meeting = server.meeting().await;
        let (_, token) = server.participant(&meeting, "host", HOST).await;
        let client = Client::new(&server.base_uri, &token);
        let error = client.kick_all().await.expect_err("kickAll must reject before join");
        assert_eq!(text(&error, "code"), "1205");
        assert_eq!(
            text(&error, "message"),
            "[ERR1205]: {Participant} Action not permitted without joining room\nCan`t kick all without joining room"
        );
        assert_eq!(client.room_state(), "init");
    }

    #[wasm_bindgen_test]
    async fn joining_fills_the_meeting_and_others_are_tracked() {
        let server = Server::get().await;
        let meeting = server.meeting().await;
        let (host, host_id) = server.joined(&meeting, "host", HOST).await;
        assert!(host.meeting.kick_participant());
        assert_eq!(host.meeting.self_id().as_string().unwrap(), host_id);
        assert_eq!(host.meeting.self_name().as_string().unwrap(), "host");
        assert_eq!(host.meeting.meeting_id().as_string().unwrap(), meeting);
        assert!(!host.meeting.session_id().as_string().unwrap().is_empty());
        let joined = host.events("roomJoined");
        assert_eq!(joined.len(), 1);
        assert_eq!(get(&joined[0], "reconnected"), JsValue::FALSE);

        let (guest, guest_id) = server.joined(&meeting, "guest", PARTICIPANT).await;
        assert!(!guest.meeting.kick_participant());
        assert_eq!(guest.participant_ids(), std::slice::from_ref(&host_id), "the guest sees the host");
        assert_eq!(guest.meeting.session_id(), host.meeting.session_id(), "one session");
        let seen = host.wait_for("participantJoined", |p| text(p, "id") == guest_id).await;
        assert_eq!(text(&seen, "name"), "guest");
        assert_eq!(text(&seen, "presetName"), PARTICIPANT);
        assert_eq!(host.participant_ids(), [guest_id]);
    }

    #[wasm_bindgen_test]
    async fn a_participant_kick_all_rejects_1201_and_nobody_leaves() {
        let server = Server::get().await;
        let meeting = server.meeting().await;
        let (host, _) = server.joined(&meeting, "host", HOST).await;
        let (guest, _) = server.joined(&meeting, "guest", PARTICIPANT).await;
        let error = guest.kick_all().await.expect_err("a participant may not end the session");
        assert_eq!(text(&error, "code"), "1201");
        assert_eq!(
            text(&error, "message"),
            "[ERR1201]: {Participant} Permission denied\nUnauthorized: User does not have permission to kick peers."
        );
        sleep(300).await;
        assert_eq!((host.room_state(), guest.room_state()), ("joined".into(), "joined".into()));
        assert!(host.room_left().is_empty() && guest.room_left().is_empty());
    }

    /// Issue 13 in the browser: a countdown reaches the guest (`sessionEnding`, end state `ending`), the guest
    /// without `kick_participant` may not cancel it, the host does (`sessionEndCancelled`), and the next countdown
    /// ends the session with its record (`endedBy`, `message`, `eventId`).
    #[wasm_bindgen_test]
    async fn a_countdown_reaches_everyone_is_cancelled_and_the_next_one_ends_with_its_record() {
        let server = Server::get().await;
        let meeting = server.meeting().await;
        let (host, host_id) = server.joined(&meeting, "host", HOST).await;
        let (guest, guest_id) = server.joined(&meeting, "guest", PARTICIPANT).await;
        host.wait_for("participantJoined", |p| text(p, "id") == guest_id).await;
        let session = host.meeting.session_id().as_string().unwrap();

        let scheduled = host.kick_all_after("Wrapping up", 2).await.expect("a host may start a countdown");
        assert_eq!(text(&scheduled, "sessionId"), session);
        assert_eq!(get(&scheduled, "kickedCount").as_f64(), Some(0.0));
        let ends_at = text(&scheduled, "endsAt");
        let told = guest.wait_for("sessionEnding", |_| true).await;
        assert_eq!((text(&told, "endsAt"), text(&told, "message")), (ends_at.clone(), "Wrapping up".into()));
        assert_eq!(text(&told, "reason"), "HOST_ENDED_MEETING");
        assert_eq!(text(&get(&told, "endedBy"), "id"), host_id);
        assert_eq!(guest.meeting.end_state(), "ending");
        assert_eq!(text(&guest.meeting.session_ending(), "endsAt"), ends_at);

        let refused = guest.cancel_end().await.expect_err("a participant may not cancel the end");
        assert_eq!(text(&refused, "code"), "1201");
        let cancelled = host.cancel_end().await.expect("the host may cancel it");
        assert_eq!(get(&cancelled, "cancelled"), JsValue::TRUE);
        let told = guest.wait_for("sessionEndCancelled", |_| true).await;
        assert_eq!(text(&get(&told, "cancelledBy"), "id"), host_id);
        assert_eq!(guest.meeting.end_state(), "no-permission");
        assert!(guest.meeting.session_ending().is_null());

        host.kick_all_after("Bye now", 1).await.expect("a second countdown");
        for client in [&host, &guest] {
            let left = client.wait_for_within("roomLeft", |p| text(p, "state") == "ended", 15).await;
            assert_eq!((text(&left, "sessionId"), text(&left, "message")), (session.clone(), "Bye now".into()));
            assert_eq!(text(&get(&left, "endedBy"), "id"), host_id);
            assert!(!text(&left, "eventId").is_empty());
        }
        let ids: Vec<_> = [&host, &guest].map(|c| text(&c.events("roomLeft")[0], "eventId")).into();
        assert_eq!(ids[0], ids[1], "one end record");
    }

    #[wasm_bindgen_test]
    async fn a_host_kick_all_ends_the_session_for_everyone() {
        let server = Server::get().await;
        let meeting = server.meeting().await;
        let (host, _) = server.joined(&meeting, "host", HOST).await;
        let (guest, guest_id) = server.joined(&meeting, "guest", PARTICIPANT).await;
        host.wait_for("participantJoined", |p| text(p, "id") == guest_id).await;
        let session = host.meeting.session_id().as_string().unwrap();

        // Two calls at once (a double-click) share one request; only the first ended the session, the second is
        // told it was already ended, with the same session and count.
        let (first, second) = futures_join(host.kick_all(), host.kick_all()).await;
        let result = first.expect("the host may end the session");
        assert_eq!(text(&result, "sessionId"), session);
        assert_eq!(get(&result, "kickedCount").as_f64(), Some(2.0));
        assert_eq!(get(&result, "alreadyEnded"), JsValue::FALSE);
        let second = second.expect("the concurrent call resolves too");
        assert_eq!(text(&second, "sessionId"), session);
        assert_eq!(get(&second, "kickedCount").as_f64(), Some(2.0));
        assert_eq!(get(&second, "alreadyEnded"), JsValue::TRUE);

        host.wait_for("roomLeft", |p| text(p, "state") == "ended").await;
        guest.wait_for("roomLeft", |p| text(p, "state") == "ended").await;
        assert_eq!((host.room_state(), guest.room_state()), ("ended".into(), "ended".into()));
        assert_eq!((host.room_left(), guest.room_left()), (vec!["ended".to_string()], vec!["ended".to_string()]));
        assert!(host.participant_ids().is_empty() && guest.participant_ids().is_empty());
        // Why, and which session, reach the page.
        for client in [&host, &guest] {
            let left = &client.events("roomLeft")[0];
            assert_eq!((text(left, "sessionId"), text(left, "reason")), (session.clone(), "HOST_ENDED_MEETING".into()));
            assert_eq!(get(left, "kickedCount").as_f64(), Some(2.0));
        }
        // One end per session: a kickAll after it resolves with that end, as the one that did not end it.
        let late = host.kick_all().await.expect("a kickAll on the ended session resolves");
        assert_eq!(text(&late, "sessionId"), session);
        assert_eq!(get(&late, "kickedCount").as_f64(), Some(2.0));
        assert_eq!(get(&late, "alreadyEnded"), JsValue::TRUE);
    }

    #[wasm_bindgen_test]
    async fn a_silent_socket_counts_as_lost_and_the_client_resumes_the_session() {
        let server = Server::get().await;
        let meeting = server.meeting().await;
        let (_, token) = server.participant(&meeting, "quiet", PARTICIPANT).await;
        // The server pings every few seconds (10 s by default); a 300 ms timeout hears silence first, every time.
        let quiet = Client::with_heartbeat_timeout(&server.base_uri, &token, Some(300));
        quiet.join().await.expect("joins");
        let session = quiet.meeting.session_id().as_string().unwrap();
        let lost = quiet.wait_for("roomLeft", |p| text(p, "state") == "disconnected").await;
        assert_eq!(text(&lost, "sessionId"), session);
        quiet.wait_for("roomJoined", |p| get(p, "reconnected") == JsValue::TRUE).await;
        assert_eq!(quiet.meeting.session_id().as_string().unwrap(), session, "back in the same session");
        quiet.meeting.leave();
    }

    #[wasm_bindgen_test]
    async fn leave_leaves_the_room_and_the_session_goes_on() {
        let server = Server::get().await;
        let meeting = server.meeting().await;
        let (host, _) = server.joined(&meeting, "host", HOST).await;
        let (guest, guest_id) = server.joined(&meeting, "guest", PARTICIPANT).await;
        host.wait_for("participantJoined", |p| text(p, "id") == guest_id).await;
        guest.meeting.leave();
        assert_eq!(guest.room_state(), "left");
        assert_eq!(guest.room_left(), ["left"]);
        let gone = host.wait_for("participantLeft", |p| text(p, "id") == guest_id).await;
        assert_eq!(text(&gone, "name"), "guest");
        assert_eq!(host.room_state(), "joined");
        assert!(host.participant_ids().is_empty());
        sleep(200).await;
        assert_eq!(guest.room_left(), ["left"], "roomLeft once");
    }

    #[wasm_bindgen_test]
    async fn a_preset_change_flips_the_permission_and_emits_permissions_update() {
        let server = Server::get().await;
        let meeting = server.meeting().await;
        let (guest, guest_id) = server.joined(&meeting, "guest", PARTICIPANT).await;
        assert!(!guest.meeting.kick_participant());
        server.set_preset(&meeting, &guest_id, HOST).await;
        guest.wait_for("permissionsUpdate", |p| get(p, "kickParticipant") == JsValue::TRUE).await;
        assert!(guest.meeting.kick_participant());
        server.set_preset(&meeting, &guest_id, PARTICIPANT).await;
        guest.wait_for("permissionsUpdate", |p| get(p, "kickParticipant") == JsValue::FALSE).await;
        assert!(!guest.meeting.kick_participant());
        let error = guest.kick_all().await.expect_err("the permission is gone again");
        assert_eq!(text(&error, "code"), "1201");
    }

    #[wasm_bindgen_test]
    async fn a_bad_token_rejects_the_join_and_emits_rejected() {
        let server = Server::get().await;
        let client = Client::new(&server.base_uri, "not-a-token");
        let error = client.join().await.expect_err("a bad token must not join");
        assert_eq!(text(&error, "code"), "4010");
        assert!(text(&error, "message").starts_with("[ERR4010]: "), "{error:?}");
        assert_eq!(client.room_left(), ["rejected"]);
        assert_eq!(client.room_state(), "rejected");
        let left = &client.events("roomLeft")[0];
        assert_eq!((text(left, "code"), text(left, "sessionId")), ("4010".into(), String::new()));
        assert!(!text(left, "message").is_empty(), "the server's why: {left:?}");
    }

    /// Awaits two futures together (no futures crate in this test).
    async fn futures_join<A, B>(a: A, b: B) -> (A::Output, B::Output)
    where
        A: std::future::Future,
        B: std::future::Future,
    {
        let (mut a, mut b) = (Box::pin(a), Box::pin(b));
        let (mut ra, mut rb) = (None, None);
        std::future::poll_fn(|cx| {
            if ra.is_none() {
                if let std::task::Poll::Ready(v) = a.as_mut().poll(cx) {
                    ra = Some(v);
                }
            }
            if rb.is_none() {
                if let std::task::Poll::Ready(v) = b.as_mut().poll(cx) {
                    rb = Some(v);
                }
            }
            if ra.is_some() && rb.is_some() {
                std::task::Poll::Ready(())
            } else {
                std::task::Poll::Pending
            }
        })
        .await;
        (ra.unwrap(), rb.unwrap())
    }
}
