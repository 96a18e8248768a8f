//! Apps and their presets.

use super::{new_id, Db, Result};
use crate::{clock, presets};
use endsession_protocol::Permissions;
use rusqlite::{params, OptionalExtension, Row};
use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
pub struct AppRow {
    pub id: String,
    pub account_id: String,
    pub name: String,
    pub created_at: String,
}

impl AppRow {
    fn from_row(row: &Row) -> rusqlite::Result<Self> {
        Ok(AppRow { id: row.get(0)?, account_id: row.get(1)?, name: row.get(2)?, created_at: row.get(3)? })
    }
}

/// One page of [`Db::list_apps`]; offsets are 1-based positions in the whole filtered list, as RealtimeKit's paging.
#[derive(Debug, Clone, PartialEq)]
pub struct AppPage {
    pub apps: Vec<AppRow>,
    pub total_count: u64,
    pub start_offset: u64,
    pub end_offset: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PresetRow {
    pub id: String,
    pub app_id: String,
    pub name: String,
    /// `{config, permissions, ui}` as the API shows them.
    pub document: Value,
    pub created_at: String,
    pub updated_at: String,
}

impl PresetRow {
    fn from_row(row: &Row) -> rusqlite::Result<Self> {
        let document: String = row.get(3)?;
        Ok(PresetRow {
            id: row.get(0)?,
            app_id: row.get(1)?,
            name: row.get(2)?,
            document: serde_json::from_str(&document).unwrap_or(Value::Null),
            created_at: row.get(4)?,
            updated_at: row.get(5)?,
        })
    }

    /// What the hub enforces for participants with this preset.
    pub fn permissions(&self) -> Permissions {
        presets::permissions_of(&self.document)
    }
}

const APP_COLUMNS: &str = "id, account_id, name, created_at";
const PRESET_COLUMNS: &str = "id, app_id, name, document, created_at, updated_at";

impl Db {
    /// Creates an app with RealtimeKit's default presets (`group_call_host` may end the session for all,
    /// `group_call_participant` may not), in one transaction.
    pub fn create_app(&mut self, account_id: &str, name: &str) -> Result<AppRow> {
        let now = clock::now();
        let app = AppRow { id: new_id(), account_id: account_id.into(), name: name.into(), created_at: now.clone() };
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT INTO apps (id, account_id, name, created_at) VALUES (?1, ?2, ?3, ?4)",
            params![app.id, app.account_id, app.name, app.created_at],
        )?;
        for (preset_name, kick) in presets::DEFAULTS {
            tx.execute(
                "INSERT INTO presets (id, app_id, name, document, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
                params![new_id(), app.id, preset_name, presets::default_document(*kick).to_string(), now],
            )?;
        }
        tx.commit()?;
        Ok(app)
    }

    /// The app if it exists and belongs to the account: another account's app is reported as missing.
    pub fn app(&mut self, account_id: &str, app_id: &str) -> Result<Option<AppRow>> {
        Ok(self
            .conn
            .query_row(
                &format!("SELECT {APP_COLUMNS} FROM apps WHERE id = ?1 AND account_id = ?2"),
                [app_id, account_id],
                AppRow::from_row,
            )
            .optional()?)
    }

    /// The account's oldest app with this name (for idempotent seeding).
    pub fn app_by_name(&mut self, account_id: &str, name: &str) -> Result<Option<AppRow>> {
        Ok(self
            .conn
            .query_row(
                &format!("SELECT {APP_COLUMNS} FROM apps WHERE account_id = ?1 AND name = ?2 ORDER BY created_at, rowid LIMIT 1"),
                [account_id, name],
                AppRow::from_row,
            )
            .optional()?)
    }

    /// A page of the account's apps by creation time, optionally only those whose name contains `search`.
    pub fn list_apps(
        &mut self,
        account_id: &str,
        search: Option<&str>,
        newest_first: bool,
        page_no: u64,
        per_page: u64,
    ) -> Result<AppPage> {
        let pattern =
            format!("%{}%", search.unwrap_or("").replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
        let filter = "account_id = ?1 AND name LIKE ?2 ESCAPE '\\'";
        let total: i64 = self.conn.query_row(
            &format!("SELECT COUNT(*) FROM apps WHERE {filter}"),
            params![account_id, pattern],
            |r| r.get(0),
        )?;
        let total_count = u64::try_from(total).unwrap_or(0);
        let order = if newest_first { "DESC" } else { "ASC" };
        let skip = page_no.saturating_sub(1).saturating_mul(per_page);
        let mut statement = self.conn.prepare(&format!(
            "SELECT {APP_COLUMNS} FROM apps WHERE {filter} ORDER BY created_at {order}, rowid {order} LIMIT ?3 OFFSET ?4"
        ))?;
        let apps = statement
            .query_map(
                params![
                    account_id,
                    pattern,
                    i64::try_from(per_page).unwrap_or(i64::MAX),
                    i64::try_from(skip).unwrap_or(i64::MAX)
                ],
                AppRow::from_row,
            )?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let start_offset = if apps.is_empty() { 0 } else { skip + 1 };
        Ok(AppPage { total_count, start_offset, end_offset: skip + apps.len() as u64, apps })
    }

    /// The app's preset with this name.
    pub fn preset(&mut self, app_id: &str, name: &str) -> Result<Option<PresetRow>> {
        Ok(self
            .conn
            .query_row(
                &format!("SELECT {PRESET_COLUMNS} FROM presets WHERE app_id = ?1 AND name = ?2"),
                [app_id, name],
                PresetRow::from_row,
            )
            .optional()?)
    }

    /// All presets of the app, oldest first.
    pub fn presets(&mut self, app_id: &str) -> Result<Vec<PresetRow>> {
        let mut statement = self
            .conn
            .prepare(&format!("SELECT {PRESET_COLUMNS} FROM presets WHERE app_id = ?1 ORDER BY created_at, rowid"))?;
        let rows = statement.query_map([app_id], PresetRow::from_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use crate::store::Store;

    #[test]
    fn an_app_comes_with_the_default_presets() {
        let store = Store::open_in_memory().unwrap();
        let app = store.with(|db| db.create_app("acct", "demo")).unwrap();
        let presets = store.with(|db| db.presets(&app.id)).unwrap();
        let kicks: Vec<_> = presets.iter().map(|p| (p.name.as_str(), p.permissions().kick_participant)).collect();
        assert!(kicks.contains(&("group_call_host", true)), "{kicks:?}");
        assert!(kicks.contains(&("group_call_participant", false)), "{kicks:?}");
        assert_eq!(store.with(|db| db.app("other-acct", &app.id)).unwrap(), None);
    }

    #[test]
    fn apps_page_and_search() {
        let store = Store::open_in_memory().unwrap();
        for name in ["alpha", "beta", "alphabet", "100%"] {
            store.with(|db| db.create_app("acct", name)).unwrap();
        }
        store.with(|db| db.create_app("other", "alpha")).unwrap();
        let page = store.with(|db| db.list_apps("acct", Some("alpha"), false, 1, 10)).unwrap();
        let names: Vec<_> = page.apps.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["alpha", "alphabet"]);
        assert_eq!((page.total_count, page.start_offset, page.end_offset), (2, 1, 2));
        let page = store.with(|db| db.list_apps("acct", None, true, 2, 3)).unwrap();
        assert_eq!((page.apps.len(), page.total_count, page.start_offset, page.end_offset), (1, 4, 4, 4));
        assert_eq!(page.apps[0].name, "alpha");
        let page = store.with(|db| db.list_apps("acct", Some("%"), false, 1, 10)).unwrap();
        assert_eq!(page.apps.len(), 1, "`%` is matched literally");
    }
}
