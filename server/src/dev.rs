//! `--dev`: a ready-made account, token, app, presets and meeting for the demo page, and what `/dev/config.json` (in
//! [`crate::rest::dev`]) hands to it. Seeding is idempotent: a second start finds and reuses what the first one made.

use crate::api_token::Scope;
use crate::presets;
use crate::store::{Result, Store};
use std::sync::OnceLock;

pub const DEV_ACCOUNT: &str = "dev-account";
pub const DEV_SECRET: &str = "dev-secret";
pub const DEV_APP: &str = "Demo app";
pub const DEV_MEETING: &str = "Demo meeting";

/// What `--dev` seeded.
#[derive(Debug)]
pub struct DevSeed {
    pub account_id: String,
    pub app_id: String,
    pub meeting_id: String,
    /// The bearer secret of the seeded `Realtime Admin` token.
    pub api_token: String,
    /// One line per seeded thing, for the binary to print.
    pub lines: Vec<String>,
    /// `http://ADDR` once the server is bound; the fallback `baseURI` when a request has no Host header.
    pub base_uri: OnceLock<String>,
}

/// Seeds (or finds) the demo objects.
pub fn seed(store: &Store) -> Result<DevSeed> {
    store.with(|db| {
        let mut lines = Vec::new();
        let said = |created: bool| if created { "created" } else { "exists" };

        let created = db.ensure_account(DEV_ACCOUNT)?;
        lines.push(format!("dev: account {DEV_ACCOUNT} ({})", said(created)));
        let created = db.ensure_api_token(DEV_ACCOUNT, DEV_SECRET, Scope::Admin)?;
        lines.push(format!("dev: api token {DEV_ACCOUNT}:{DEV_SECRET}:{} ({})", Scope::Admin, said(created)));

        let (app, created) = match db.app_by_name(DEV_ACCOUNT, DEV_APP)? {
            Some(app) => (app, false),
            None => (db.create_app(DEV_ACCOUNT, DEV_APP)?, true),
        };
        lines.push(format!("dev: app {} \"{DEV_APP}\" ({})", app.id, said(created)));
        for (name, _) in presets::DEFAULTS {
            if let Some(preset) = db.preset(&app.id, name)? {
                let kick = preset.permissions().kick_participant;
                lines.push(format!("dev: preset {name} kick_participant={kick} ({})", said(created)));
            }
        }

        let (meeting, created) = match db.meeting_by_title(&app.id, DEV_MEETING)? {
            Some(meeting) => (meeting, false),
            None => (db.create_meeting(&app.id, Some(DEV_MEETING), Default::default())?, true),
        };
        lines.push(format!("dev: meeting {} \"{DEV_MEETING}\" ({})", meeting.id, said(created)));

        Ok(DevSeed {
            account_id: DEV_ACCOUNT.into(),
            app_id: app.id,
            meeting_id: meeting.id,
            api_token: DEV_SECRET.into(),
            lines,
            base_uri: OnceLock::new(),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeding_twice_reuses_everything() {
        let store = Store::open_in_memory().unwrap();
        let first = seed(&store).unwrap();
        assert!(first.lines.iter().all(|line| line.ends_with("(created)")), "{:?}", first.lines);
        let second = seed(&store).unwrap();
        assert!(second.lines.iter().all(|line| line.ends_with("(exists)")), "{:?}", second.lines);
        assert_eq!((first.app_id, first.meeting_id), (second.app_id, second.meeting_id));
        assert_eq!(first.lines.len(), 6);
        let token = store.with(|db| db.api_token(DEV_SECRET)).unwrap().unwrap();
        assert_eq!((token.account_id.as_str(), token.scope), (DEV_ACCOUNT, Scope::Admin));
    }
}
