//! A quick run of the benchmark at N = 20 against a real server and the floor, in process, so that the bench cannot
//! rot. It checks deliveries, never times.

use endsession_bench::{create_meeting, floor, run_floor, run_ours};
use endsession_server::config::{ApiToken, Config, Scope};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_participants_each_receive_the_end_from_ours_and_from_the_floor() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::local(dir.path());
    config.api_tokens = vec![ApiToken { account_id: "bench".into(), secret: "s".into(), scope: Scope::Admin }];
    let server = endsession_server::start(config).await.unwrap();
    let meeting = create_meeting(&format!("http://{}", server.addr()), "bench", "s", 20, None).await.unwrap();
    let ours = run_ours(server.addr(), &meeting, async |_| {}).await.unwrap();
    assert_eq!((ours.n, ours.delivered, ours.kicked_count), (20, 20, Some(21)));

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(floor::serve(listener));
    let bare = run_floor(addr, 20, async |_| {}).await.unwrap();
    assert_eq!((bare.n, bare.delivered), (20, 20));
    assert!(ours.quantile(0.99).is_finite() && bare.quantile(0.99).is_finite());
}
