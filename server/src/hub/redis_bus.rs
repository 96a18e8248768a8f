//! The frames of a transition, from the node that decided them to the nodes whose connections get them: one Redis
//! pub/sub channel per node, `endsession:node:{node}`.
//!
//! A message is JSON, `[{"c": [connection ids], "f": final?, "t": "frame text"}, …]`: the runs of one frame to many
//! connections (a broadcast) are sent once, and a connection's frames keep their order.

use super::{node_of, ConnId, Inner, Outbound};
use crate::hub::FanOut;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Weak;
use std::time::Duration;
use tokio::sync::oneshot;
use tungstenite::Utf8Bytes;

pub(super) fn channel(node: u64) -> String {
    format!("endsession:node:{node}")
}

/// One frame for some connections of a node.
#[derive(Debug, Serialize, Deserialize)]
struct Run {
    #[serde(rename = "c")]
    conns: Vec<ConnId>,
    #[serde(rename = "f")]
    last: bool,
    #[serde(rename = "t")]
    text: String,
    /// Not a frame: these connections are to reconnect ([`super::Outbox::reconnect`]), see [`reconnect_message`].
    #[serde(rename = "r", default, skip_serializing_if = "std::ops::Not::not")]
    reconnect: bool,
}

/// The message that asks connections of one node to reconnect: sent by another node's sweep that took them for a
/// dead node's (its stamp was gone: Redis lost its data, or the node stalled). A node that is in fact alive then
/// sends those clients to resume, instead of keeping sockets that are in no room any more.
pub(super) fn reconnect_message(conns: Vec<ConnId>) -> String {
    let run = Run { conns, last: true, text: String::new(), reconnect: true };
    serde_json::to_string(&[run]).expect("plain data serializes")
}

/// The frames, in order, grouped into one message per node.
pub(super) fn messages(frames: Vec<(ConnId, Outbound)>) -> Vec<(u64, String)> {
    let mut runs: BTreeMap<u64, Vec<Run>> = BTreeMap::new();
    for (conn, outbound) in frames {
        let (last, text) = match &outbound {
            Outbound::Frame(text) => (false, text),
            Outbound::Final(text, _) => (true, text),
        };
        let node = runs.entry(node_of(conn)).or_default();
        match node.last_mut() {
            // Only the last run is extended: a connection's frames must not overtake each other.
            Some(run) if run.last == last && run.text == text.as_str() => run.conns.push(conn),
            _ => node.push(Run { conns: vec![conn], last, text: text.as_str().to_owned(), reconnect: false }),
        }
    }
    runs.into_iter().map(|(node, runs)| (node, serde_json::to_string(&runs).expect("plain data serializes"))).collect()
}

/// Hands one message's frames to this node's connections. A final frame is the connection's last: it is forgotten.
fn deliver(inner: &Inner, message: &str) {
    let runs: Vec<Run> = match serde_json::from_str(message) {
        Ok(runs) => runs,
        Err(e) => {
            tracing::error!(error = %e, "redis: a frame message that does not parse");
            return;
        }
    };
    let mut local = inner.local.lock().unwrap_or_else(|p| p.into_inner());
    for run in runs {
        if run.reconnect {
            for conn in run.conns {
                if let Some(outbox) = local.remove(&conn) {
                    outbox.reconnect();
                }
            }
            continue;
        }
        let text = Utf8Bytes::from(run.text);
        // A last frame: this node's share of one fan-out (an end), whose connections write before they tear down.
        // Its queuing ends with this run.
        let fan_out = run.last.then(FanOut::start);
        for conn in run.conns {
            let outbound = match &fan_out {
                Some((fan_out, _queuing)) => Outbound::Final(text.clone(), Some(fan_out.clone())),
                None => Outbound::Frame(text.clone()),
            };
            if run.last {
                if let Some(outbox) = local.remove(&conn) {
                    super::Deliver::deliver(&outbox, outbound);
                }
            } else if let Some(outbox) = local.get(&conn) {
                super::Deliver::deliver(outbox, outbound);
            }
        }
    }
}

/// Subscribes to this node's channel (tells `ready` once subscribed, or why not) and delivers what arrives, until
/// the hub is gone. A lost subscription is taken again at once (then every second while that fails). Frames
/// published meanwhile are lost to this node, so its connections are asked to reconnect twice: when the subscription
/// is lost (those already joined), and when it is back (those admitted while it was down).
pub(super) async fn listen(
    client: redis::Client,
    channel: String,
    inner: Weak<Inner>,
    ready: oneshot::Sender<anyhow::Result<()>>,
) {
    let mut ready = Some(ready);
    let mut lost = false;
    loop {
        let subscribed = async {
            let mut pubsub = client.get_async_pubsub().await?;
            pubsub.subscribe(&channel).await?;
            redis::RedisResult::Ok(pubsub.split())
        };
        match subscribed.await {
            Ok((_sink, mut stream)) => {
                if let Some(ready) = ready.take() {
                    let _ = ready.send(Ok(()));
                }
                if std::mem::take(&mut lost) {
                    tracing::warn!(channel, "redis: subscribed again");
                    if let Some(inner) = inner.upgrade() {
                        inner.let_go_of_everyone("subscribed again: its connections admitted meanwhile missed frames");
                    }
                }
                while let Some(message) = stream.next().await {
                    let Some(inner) = inner.upgrade() else { return };
                    match message.get_payload::<String>() {
                        Ok(text) => deliver(&inner, &text),
                        Err(e) => tracing::error!(error = %e, "redis: a frame message that is not text"),
                    }
                }
                tracing::error!(channel, "redis: the subscription was lost; subscribing again");
                lost = true;
                match inner.upgrade() {
                    Some(inner) => inner.let_go_of_everyone("lost its redis subscription"),
                    None => return,
                }
                continue;
            }
            Err(e) => {
                if let Some(ready) = ready.take() {
                    let _ = ready.send(Err(e.into()));
                    return;
                }
                tracing::error!(channel, error = %e, "redis: could not subscribe again");
            }
        }
        if inner.strong_count() == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(text: &str) -> Outbound {
        Outbound::Frame(Utf8Bytes::from(text.to_owned()))
    }

    #[test]
    fn a_broadcast_is_one_run_per_node_and_each_connection_keeps_its_order() {
        let (a1, a2, b1) = ((1 << 32) | 1, (1 << 32) | 2, (2 << 32) | 1);
        let frames = vec![
            (a1, frame("x")),
            (a2, frame("x")),
            (b1, frame("x")),
            (a1, frame("y")),
            (a1, frame("x")),
            (a2, Outbound::Final(Utf8Bytes::from("x".to_owned()), None)),
        ];
        let messages = messages(frames);
        assert_eq!(messages.len(), 2);
        let (node, text) = &messages[0];
        assert_eq!(*node, 1);
        let runs: Vec<Run> = serde_json::from_str(text).unwrap();
        let shape: Vec<_> = runs.iter().map(|r| (r.conns.clone(), r.last, r.text.as_str())).collect();
        assert_eq!(
            shape,
            vec![(vec![a1, a2], false, "x"), (vec![a1], false, "y"), (vec![a1], false, "x"), (vec![a2], true, "x")]
        );
        assert_eq!(messages[1].0, 2);
    }
}
