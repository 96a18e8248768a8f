//! The others in the session: [`Participants`].

use endsession_protocol::Participant;
use serde::Serialize;

/// The other participants in the session, in the order they joined; `meeting.participants.joined`.
///
/// ```
/// use endsession::Participants;
/// use endsession_protocol::Participant;
/// let p = |id: &str| Participant {
///     id: id.into(), name: id.into(), custom_participant_id: id.into(), preset_name: "group_call_host".into(),
/// };
/// let mut joined = Participants::default();
/// assert!(joined.insert(p("a")));
/// assert!(!joined.insert(p("a")));
/// assert_eq!(joined.remove("a").map(|p| p.id), Some("a".to_string()));
/// assert!(joined.is_empty());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Participants(Vec<Participant>);

impl Participants {
    /// Replaces everyone at once (a `joined` frame).
    pub fn replace(&mut self, list: Vec<Participant>) -> Vec<Participant> {
        std::mem::replace(&mut self.0, list)
    }

    /// Adds or updates `participant`; true if it was not there before.
    pub fn insert(&mut self, participant: Participant) -> bool {
        match self.0.iter_mut().find(|p| p.id == participant.id) {
            Some(existing) => {
                *existing = participant;
                false
            }
            None => {
                self.0.push(participant);
                true
            }
        }
    }

    /// Removes the participant with this id and returns it.
    pub fn remove(&mut self, id: &str) -> Option<Participant> {
        // Not `Vec::remove`: its index check's panic message formats integers, which costs the wasm payload
        // core::fmt's integer printing. Collected in place (the same allocation), in order.
        let mut removed = None;
        self.0 = std::mem::take(&mut self.0)
            .into_iter()
            .filter_map(|p| {
                if removed.is_none() && p.id == id {
                    removed = Some(p);
                    None
                } else {
                    Some(p)
                }
            })
            .collect();
        removed
    }

    /// The participant with this id.
    pub fn get(&self, id: &str) -> Option<&Participant> {
        self.0.iter().find(|p| p.id == id)
    }

    /// Empties the map (the room was left).
    pub fn clear(&mut self) {
        self.0.clear();
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Everyone, in join order.
    pub fn iter(&self) -> std::slice::Iter<'_, Participant> {
        self.0.iter()
    }
}
