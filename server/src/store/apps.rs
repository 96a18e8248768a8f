//! Apps: an account's separate RealtimeKit spaces. Each has its own presets, meetings and webhooks.

use super::paging::{contains_pattern, like, Filter, Page, PageRequest, PagedQuery};
use super::{new_id, Db, Result};
use crate::{clock, presets};
use sqlx::any::AnyRow;
use sqlx::{Connection, Row};

#[derive(Debug, Clone, PartialEq)]
pub struct AppRow {
    pub id: String,
    pub account_id: String,
    pub name: String,
    pub created_at: String,
}

impl AppRow {
    fn from_row(row: &AnyRow) -> Result<Self> {
        Ok(AppRow {
            id: row.try_get(0)?,
            account_id: row.try_get(1)?,
            name: row.try_get(2)?,
            created_at: row.try_get(3)?,
        })
    }
}

/// One page of [`Db::list_apps`].
pub type AppPage = Page<AppRow>;

const APP_COLUMNS: &str = "id, account_id, name, created_at";

impl Db {
    /// Creates an app with RealtimeKit's default presets (`group_call_host` may end the session for all,
    /// `group_call_participant` may not), in one transaction (a savepoint inside a [`super::Tx`]).
    pub async fn create_app(&mut self, account_id: &str, name: &str) -> Result<AppRow> {
        let now = clock::now();
        let app = AppRow { id: new_id(), account_id: account_id.into(), name: name.into(), created_at: now.clone() };
        let mut tx = self.conn().begin().await?;
        sqlx::query("INSERT INTO apps (id, account_id, name, created_at) VALUES ($1, $2, $3, $4)")
            .bind(&app.id)
            .bind(&app.account_id)
            .bind(&app.name)
            .bind(&app.created_at)
            .execute(&mut *tx)
            .await?;
        for (preset_name, kick) in presets::DEFAULTS {
            sqlx::query(
                "INSERT INTO presets (id, app_id, name, document, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)",
            )
            .bind(new_id())
            .bind(&app.id)
            .bind(*preset_name)
            .bind(presets::default_document(*kick).to_string())
            .bind(&now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(app)
    }

    /// The app if it exists and belongs to the account: another account's app is reported as missing.
    pub async fn app(&mut self, account_id: &str, app_id: &str) -> Result<Option<AppRow>> {
        let sql = format!("SELECT {APP_COLUMNS} FROM apps WHERE id = $1 AND account_id = $2");
        let row = sqlx::query(&sql).bind(app_id).bind(account_id).fetch_optional(self.conn()).await?;
        row.as_ref().map(AppRow::from_row).transpose()
    }

    /// The account's oldest app with this name (for idempotent seeding).
    pub async fn app_by_name(&mut self, account_id: &str, name: &str) -> Result<Option<AppRow>> {
        let sql = format!(
            "SELECT {APP_COLUMNS} FROM apps WHERE account_id = $1 AND name = $2 ORDER BY created_at, rowid LIMIT 1"
        );
        let row = sqlx::query(&sql).bind(account_id).bind(name).fetch_optional(self.conn()).await?;
        row.as_ref().map(AppRow::from_row).transpose()
    }

    /// A page of the account's apps by creation time, optionally only those whose name contains `search`.
    pub async fn list_apps(
        &mut self,
        account_id: &str,
        search: Option<&str>,
        newest_first: bool,
        page: PageRequest,
    ) -> Result<AppPage> {
        let order = if newest_first { "created_at DESC, rowid DESC" } else { "created_at ASC, rowid ASC" };
        let mut filter = Filter::default();
        filter.equals("account_id", account_id);
        if let Some(search) = search {
            let pattern = filter.bind(contains_pattern(search));
            filter.and(like("name", &pattern));
        }
        self.page(PagedQuery { columns: APP_COLUMNS, from: "apps", filter, order }, page, AppRow::from_row).await
    }
}

#[cfg(test)]
mod tests {
    use crate::store::test_db::stores;
    use crate::store::PageRequest;

    #[tokio::test]
    async fn an_app_comes_with_the_default_presets() {
        for store in stores().await {
            let mut db = store.db().await.unwrap();
            let app = db.create_app("acct", "demo").await.unwrap();
            let presets = db.presets(&app.id).await.unwrap();
            let kicks: Vec<_> = presets.iter().map(|p| (p.name.as_str(), p.permissions().kick_participant)).collect();
            assert!(kicks.contains(&("group_call_host", true)), "{kicks:?}");
            assert!(kicks.contains(&("group_call_participant", false)), "{kicks:?}");
            assert_eq!(db.app("other-acct", &app.id).await.unwrap(), None);
        }
    }

    #[tokio::test]
    async fn apps_page_and_search() {
        for store in stores().await {
            let mut db = store.db().await.unwrap();
            for name in ["alpha", "beta", "Alphabet", "100%"] {
                db.create_app("acct", name).await.unwrap();
            }
            db.create_app("other", "alpha").await.unwrap();
            let page = db.list_apps("acct", Some("alpha"), false, PageRequest::new(Some(1), Some(10))).await.unwrap();
            let names: Vec<_> = page.items.iter().map(|a| a.name.as_str()).collect();
            assert_eq!(names, ["alpha", "Alphabet"], "{:?}: letter case aside", store.dialect());
            assert_eq!((page.total_count, page.start_offset, page.end_offset), (2, 1, 2));
            let page = db.list_apps("acct", None, true, PageRequest::new(Some(2), Some(3))).await.unwrap();
            assert_eq!((page.items.len(), page.total_count, page.start_offset, page.end_offset), (1, 4, 4, 4));
            assert_eq!(page.items[0].name, "alpha");
            let page = db.list_apps("acct", Some("%"), false, PageRequest::new(Some(1), Some(10))).await.unwrap();
            assert_eq!(page.items.len(), 1, "`%` is matched literally");
        }
    }
}
