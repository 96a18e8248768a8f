//! Apps: an account's separate RealtimeKit spaces. Each has its own presets, meetings and webhooks.

use super::paging::{contains_pattern, Filter, Page, PageRequest, PagedQuery};
use super::{new_id, Db, Result};
use crate::{clock, presets};
use rusqlite::{params, OptionalExtension, Row};

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

/// One page of [`Db::list_apps`].
pub type AppPage = Page<AppRow>;

const APP_COLUMNS: &str = "id, account_id, name, created_at";

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
    pub fn app(&self, account_id: &str, app_id: &str) -> Result<Option<AppRow>> {
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
    pub fn app_by_name(&self, account_id: &str, name: &str) -> Result<Option<AppRow>> {
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
        &self,
        account_id: &str,
        search: Option<&str>,
        newest_first: bool,
        page: PageRequest,
    ) -> Result<AppPage> {
        let order = if newest_first { "created_at DESC, rowid DESC" } else { "created_at ASC, rowid ASC" };
        let mut filter = Filter::default();
        filter.equals("account_id", account_id.to_owned());
        if let Some(search) = search {
            let pattern = filter.bind(contains_pattern(search));
            filter.and(format!("name LIKE {pattern} ESCAPE '\\'"));
        }
        self.page(PagedQuery { columns: APP_COLUMNS, from: "apps", filter, order }, page, AppRow::from_row)
    }
}

#[cfg(test)]
mod tests {
    use crate::store::{PageRequest, Store};

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
        let page =
            store.with(|db| db.list_apps("acct", Some("alpha"), false, PageRequest::new(Some(1), Some(10)))).unwrap();
        let names: Vec<_> = page.items.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["alpha", "alphabet"]);
        assert_eq!((page.total_count, page.start_offset, page.end_offset), (2, 1, 2));
        let page = store.with(|db| db.list_apps("acct", None, true, PageRequest::new(Some(2), Some(3)))).unwrap();
        assert_eq!((page.items.len(), page.total_count, page.start_offset, page.end_offset), (1, 4, 4, 4));
        assert_eq!(page.items[0].name, "alpha");
        let page =
            store.with(|db| db.list_apps("acct", Some("%"), false, PageRequest::new(Some(1), Some(10)))).unwrap();
        assert_eq!(page.items.len(), 1, "`%` is matched literally");
    }
}
