//! How the client reconnects after its socket drops: [`Reconnect`].

/// Exponential backoff for reconnecting: attempt `n` (0-based) waits `base_ms * 2^n`, at most `max_ms`, and after
/// `attempts` failed attempts the participant leaves the room with state `failed`.
///
/// ```
/// use endsession::Reconnect;
/// let r = Reconnect::default();
/// assert_eq!((r.base_ms, r.max_ms, r.attempts), (250, 5000, 6));
/// assert_eq!([r.delay(0), r.delay(1), r.delay(4), r.delay(5), r.delay(40)], [250, 500, 4000, 5000, 5000]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reconnect {
    /// Wait before the first attempt, in milliseconds.
    pub base_ms: u32,
    /// Longest wait between attempts, in milliseconds.
    pub max_ms: u32,
    /// How many attempts before giving up; 0 gives up at once.
    pub attempts: u32,
}

impl Default for Reconnect {
    fn default() -> Self {
        Reconnect { base_ms: 250, max_ms: 5000, attempts: 6 }
    }
}

impl Reconnect {
    /// Milliseconds to wait before attempt `attempt` (0-based).
    pub fn delay(&self, attempt: u32) -> u32 {
        let factor = 1u32.checked_shl(attempt).unwrap_or(u32::MAX);
        self.base_ms.saturating_mul(factor).min(self.max_ms)
    }
}
