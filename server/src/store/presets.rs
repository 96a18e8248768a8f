//! Presets: an app's named permission sets. Participants refer to theirs by name, so a rename carries over to them.

use super::paging::{contains_pattern, like, Filter, Page, PageRequest, PagedQuery};
use super::{new_id, Db, Result, StoreError};
use crate::{clock, presets};
use endsession_protocol::Permissions;
use serde_json::Value;
use sqlx::any::AnyRow;
use sqlx::Row;

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
    fn from_row(row: &AnyRow) -> Result<Self> {
        let document: String = row.try_get(3)?;
        Ok(PresetRow {
            id: row.try_get(0)?,
            app_id: row.try_get(1)?,
            name: row.try_get(2)?,
            document: serde_json::from_str(&document).unwrap_or(Value::Null),
            created_at: row.try_get(4)?,
            updated_at: row.try_get(5)?,
        })
    }

    /// What the hub enforces for participants with this preset.
    pub fn permissions(&self) -> Permissions {
        presets::permissions_of(&self.document)
    }
}

/// Why a preset write was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PresetConflict {
    /// Another preset of the app has this name: names must be unique, participants refer to presets by name.
    NameTaken(String),
}

const COLUMNS: &str = "id, app_id, name, document, created_at, updated_at";

impl Db {
    /// The app's preset with this name.
    pub async fn preset(&mut self, app_id: &str, name: &str) -> Result<Option<PresetRow>> {
        let sql = format!("SELECT {COLUMNS} FROM presets WHERE app_id = $1 AND name = $2");
        let row = sqlx::query(&sql).bind(app_id).bind(name).fetch_optional(self.conn()).await?;
        row.as_ref().map(PresetRow::from_row).transpose()
    }

    /// The app's preset with this id.
    pub async fn preset_by_id(&mut self, app_id: &str, preset_id: &str) -> Result<Option<PresetRow>> {
        let sql = format!("SELECT {COLUMNS} FROM presets WHERE app_id = $1 AND id = $2");
        let row = sqlx::query(&sql).bind(app_id).bind(preset_id).fetch_optional(self.conn()).await?;
        row.as_ref().map(PresetRow::from_row).transpose()
    }

    /// All presets of the app, oldest first.
    pub async fn presets(&mut self, app_id: &str) -> Result<Vec<PresetRow>> {
        let sql = format!("SELECT {COLUMNS} FROM presets WHERE app_id = $1 ORDER BY created_at, rowid");
        let rows = sqlx::query(&sql).bind(app_id).fetch_all(self.conn()).await?;
        rows.iter().map(PresetRow::from_row).collect()
    }

    /// A page of the app's presets, oldest first, optionally only those whose name contains `search`.
    pub async fn list_presets(
        &mut self,
        app_id: &str,
        search: Option<&str>,
        page: PageRequest,
    ) -> Result<Page<PresetRow>> {
        let mut filter = Filter::default();
        filter.equals("app_id", app_id);
        if let Some(search) = search {
            let pattern = filter.bind(contains_pattern(search));
            filter.and(like("name", &pattern));
        }
        let query = PagedQuery { columns: COLUMNS, from: "presets", filter, order: "created_at, rowid" };
        self.page(query, page, PresetRow::from_row).await
    }

    pub async fn create_preset(
        &mut self,
        app_id: &str,
        name: &str,
        document: Value,
    ) -> Result<std::result::Result<PresetRow, PresetConflict>> {
        if self.preset(app_id, name).await?.is_some() {
            return Ok(Err(PresetConflict::NameTaken(name.into())));
        }
        let now = clock::now();
        let row = PresetRow {
            id: new_id(),
            app_id: app_id.into(),
            name: name.into(),
            document,
            created_at: now.clone(),
            updated_at: now,
        };
        sqlx::query(&format!("INSERT INTO presets ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"))
            .bind(&row.id)
            .bind(&row.app_id)
            .bind(&row.name)
            .bind(row.document.to_string())
            .bind(&row.created_at)
            .bind(&row.updated_at)
            .execute(self.conn())
            .await?;
        Ok(Ok(row))
    }

    /// Writes a changed preset (name and document) and stamps `updated_at`. A new name is carried over to the
    /// participants of the app that had the old one, in the same transaction, so nobody loses their preset.
    pub async fn save_preset(&mut self, preset: &PresetRow) -> Result<std::result::Result<PresetRow, PresetConflict>> {
        let mut tx = self.begin_write().await?;
        let sql = format!("SELECT {COLUMNS} FROM presets WHERE app_id = $1 AND id = $2");
        let Some(old) = sqlx::query(&sql).bind(&preset.app_id).bind(&preset.id).fetch_optional(&mut *tx).await? else {
            return Err(StoreError::Sql(sqlx::Error::RowNotFound));
        };
        let old = PresetRow::from_row(&old)?;
        if old.name != preset.name {
            let taken = sqlx::query("SELECT id FROM presets WHERE app_id = $1 AND name = $2")
                .bind(&preset.app_id)
                .bind(&preset.name)
                .fetch_optional(&mut *tx)
                .await?;
            if taken.is_some() {
                return Ok(Err(PresetConflict::NameTaken(preset.name.clone())));
            }
            sqlx::query(
                "UPDATE participants SET preset_name = $1
                 WHERE preset_name = $2 AND meeting_id IN (SELECT id FROM meetings WHERE app_id = $3)",
            )
            .bind(&preset.name)
            .bind(&old.name)
            .bind(&preset.app_id)
            .execute(&mut *tx)
            .await?;
        }
        let updated = PresetRow { updated_at: clock::now(), ..preset.clone() };
        sqlx::query("UPDATE presets SET name = $1, document = $2, updated_at = $3 WHERE id = $4 AND app_id = $5")
            .bind(&updated.name)
            .bind(updated.document.to_string())
            .bind(&updated.updated_at)
            .bind(&updated.id)
            .bind(&updated.app_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Ok(updated))
    }

    /// Deletes the preset; the deleted row, or None if the app has no such preset. Participants that had it keep
    /// its name and, until a preset of that name exists again, no permissions.
    pub async fn delete_preset(&mut self, app_id: &str, preset_id: &str) -> Result<Option<PresetRow>> {
        let Some(row) = self.preset_by_id(app_id, preset_id).await? else { return Ok(None) };
        sqlx::query("DELETE FROM presets WHERE id = $1 AND app_id = $2")
            .bind(preset_id)
            .bind(app_id)
            .execute(self.conn())
            .await?;
        Ok(Some(row))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests::with_meeting;
    use serde_json::json;

    #[tokio::test]
    async fn names_are_unique_and_a_rename_carries_over_to_participants() {
        for (store, app, meeting) in with_meeting().await {
            let mut db = store.db().await.unwrap();
            let taken = db.create_preset(&app.id, "group_call_host", json!({})).await.unwrap();
            assert_eq!(taken, Err(PresetConflict::NameTaken("group_call_host".into())));
            let made = db.create_preset(&app.id, "mod", json!({ "permissions": {} })).await.unwrap().unwrap();
            let p = db.add_participant(&meeting.id, "c", "mod", None, None).await.unwrap();

            let renamed = PresetRow { name: "moderator".into(), ..made.clone() };
            let saved = db.save_preset(&renamed).await.unwrap().unwrap();
            assert!(saved.updated_at >= made.updated_at);
            assert_eq!(db.participant(&meeting.id, &p.id).await.unwrap().unwrap().preset_name, "moderator");
            let clash = PresetRow { name: "group_call_host".into(), ..saved.clone() };
            assert!(db.save_preset(&clash).await.unwrap().is_err());

            let page = db.list_presets(&app.id, Some("mod"), PageRequest::new(None, None)).await.unwrap();
            assert_eq!(page.items.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(), [made.id.as_str()]);
            assert_eq!(db.delete_preset(&app.id, &made.id).await.unwrap().unwrap().name, "moderator");
            assert_eq!(db.preset_by_id(&app.id, &made.id).await.unwrap(), None);
            assert_eq!(db.delete_preset("other-app", &made.id).await.unwrap(), None);
        }
    }
}
