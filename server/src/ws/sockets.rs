//! The WebSocket limits, and the count of open sockets per participant that enforces
//! [`Limits::max_sockets_per_participant`].

use crate::config::Limits;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Shared by every connection (in [`super::Endpoint`]).
#[derive(Debug)]
pub struct Sockets {
    limits: Limits,
    /// Participant id → open joined-or-joining sockets. Entries are removed at zero, so this holds only the
    /// participants that are connected.
    open: Mutex<HashMap<String, usize>>,
}

impl Sockets {
    pub fn new(limits: Limits) -> Self {
        Sockets { limits, open: Mutex::default() }
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Counts one more socket of `participant_id`; None if it already has the most allowed. The count goes down when
    /// the returned slot is dropped.
    pub fn admit(self: &Arc<Self>, participant_id: &str) -> Option<SocketSlot> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let count = open.entry(participant_id.to_owned()).or_default();
        if *count >= self.limits.max_sockets_per_participant {
            return None;
        }
        *count += 1;
        Some(SocketSlot { sockets: self.clone(), participant_id: participant_id.to_owned() })
    }
}

/// One counted socket; see [`Sockets::admit`].
#[derive(Debug)]
pub struct SocketSlot {
    sockets: Arc<Sockets>,
    participant_id: String,
}

impl Drop for SocketSlot {
    fn drop(&mut self) {
        let mut open = self.sockets.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(count) = open.get_mut(&self.participant_id) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.participant_id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_participant_gets_at_most_its_cap_and_a_closed_socket_frees_its_place() {
        let sockets = Arc::new(Sockets::new(Limits { max_sockets_per_participant: 2, ..Limits::default() }));
        let first = sockets.admit("p").unwrap();
        let _second = sockets.admit("p").unwrap();
        assert!(sockets.admit("p").is_none());
        assert!(sockets.admit("q").is_some(), "another participant is not affected");
        drop(first);
        assert!(sockets.admit("p").is_some());
        drop(_second);
        assert!(sockets.open.lock().unwrap().is_empty(), "no entry is kept for a participant without sockets");
    }
}
