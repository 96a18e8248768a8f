//! Presets: an app's named permission sets. Participants refer to theirs by name, so a rename carries over to them.

use super::paging::{contains_pattern, Filter, Page, PageRequest, PagedQuery};
use super::{new_id, Db, Result};
use crate::{clock, presets};
use endsession_protocol::Permissions;
use rusqlite::{params, OptionalExtension, Row};
use serde_json::Value;

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

/// Why a preset write was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PresetConflict {
    /// Another preset of the app has this name: names must be unique, participants refer to presets by name.
    NameTaken(String),
}

const COLUMNS: &str = "id, app_id, name, document, created_at, updated_at";

impl Db {
    /// The app's preset with this name.
    pub fn preset(&self, app_id: &str, name: &str) -> Result<Option<PresetRow>> {
        Ok(self
            .conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM presets WHERE app_id = ?1 AND name = ?2"),
                [app_id, name],
                PresetRow::from_row,
            )
            .optional()?)
    }

    /// The app's preset with this id.
    pub fn preset_by_id(&self, app_id: &str, preset_id: &str) -> Result<Option<PresetRow>> {
        Ok(self
            .conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM presets WHERE app_id = ?1 AND id = ?2"),
                [app_id, preset_id],
                PresetRow::from_row,
            )
            .optional()?)
    }

    /// All presets of the app, oldest first.
    pub fn presets(&self, app_id: &str) -> Result<Vec<PresetRow>> {
        let mut statement = self
            .conn
            .prepare(&format!("SELECT {COLUMNS} FROM presets WHERE app_id = ?1 ORDER BY created_at, rowid"))?;
        let rows = statement.query_map([app_id], PresetRow::from_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// A page of the app's presets, oldest first, optionally only those whose name contains `search`.
    pub fn list_presets(&self, app_id: &str, search: Option<&str>, page: PageRequest) -> Result<Page<PresetRow>> {
        let mut filter = Filter::default();
        filter.equals("app_id", app_id.to_owned());
        if let Some(search) = search {
            let pattern = filter.bind(contains_pattern(search));
            filter.and(format!("name LIKE {pattern} ESCAPE '\\'"));
        }
        let query = PagedQuery { columns: COLUMNS, from: "presets", filter, order: "created_at, rowid" };
        self.page(query, page, PresetRow::from_row)
    }

    pub fn create_preset(
        &self,
        app_id: &str,
        name: &str,
        document: Value,
    ) -> Result<std::result::Result<PresetRow, PresetConflict>> {
        if self.preset(app_id, name)?.is_some() {
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
        self.conn.execute(
            &format!("INSERT INTO presets ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"),
            params![row.id, row.app_id, row.name, row.document.to_string(), row.created_at, row.updated_at],
        )?;
        Ok(Ok(row))
    }

    /// Writes a changed preset (name and document) and stamps `updated_at`. A new name is carried over to the
    /// participants of the app that had the old one, in the same transaction, so nobody loses their preset.
    pub fn save_preset(&mut self, preset: &PresetRow) -> Result<std::result::Result<PresetRow, PresetConflict>> {
        self.transaction(|db| {
            let Some(old) = db.preset_by_id(&preset.app_id, &preset.id)? else {
                return Err(rusqlite::Error::QueryReturnedNoRows.into());
            };
            if old.name != preset.name {
                if db.preset(&preset.app_id, &preset.name)?.is_some() {
                    return Ok(Err(PresetConflict::NameTaken(preset.name.clone())));
                }
                db.conn.execute(
                    "UPDATE participants SET preset_name = ?1
                     WHERE preset_name = ?2 AND meeting_id IN (SELECT id FROM meetings WHERE app_id = ?3)",
                    params![preset.name, old.name, preset.app_id],
                )?;
            }
            let updated = PresetRow { updated_at: clock::now(), ..preset.clone() };
            db.conn.execute(
                "UPDATE presets SET name = ?1, document = ?2, updated_at = ?3 WHERE id = ?4 AND app_id = ?5",
                params![updated.name, updated.document.to_string(), updated.updated_at, updated.id, updated.app_id],
            )?;
            Ok(Ok(updated))
        })
    }

    /// Deletes the preset; the deleted row, or None if the app has no such preset. Participants that had it keep
    /// its name and, until a preset of that name exists again, no permissions.
    pub fn delete_preset(&self, app_id: &str, preset_id: &str) -> Result<Option<PresetRow>> {
        let Some(row) = self.preset_by_id(app_id, preset_id)? else { return Ok(None) };
        self.conn.execute("DELETE FROM presets WHERE id = ?1 AND app_id = ?2", [preset_id, app_id])?;
        Ok(Some(row))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests::store_with_meeting;
    use serde_json::json;

    #[test]
    fn names_are_unique_and_a_rename_carries_over_to_participants() {
        let (store, app, meeting) = store_with_meeting();
        let taken = store.with(|db| db.create_preset(&app.id, "group_call_host", json!({}))).unwrap();
        assert_eq!(taken, Err(PresetConflict::NameTaken("group_call_host".into())));
        let made = store.with(|db| db.create_preset(&app.id, "mod", json!({ "permissions": {} }))).unwrap().unwrap();
        let p = store.with(|db| db.add_participant(&meeting.id, "c", "mod", None, None)).unwrap();

        let renamed = PresetRow { name: "moderator".into(), ..made.clone() };
        let saved = store.with(|db| db.save_preset(&renamed)).unwrap().unwrap();
        assert!(saved.updated_at >= made.updated_at);
        assert_eq!(store.with(|db| db.participant(&meeting.id, &p.id)).unwrap().unwrap().preset_name, "moderator");
        let clash = PresetRow { name: "group_call_host".into(), ..saved.clone() };
        assert!(store.with(|db| db.save_preset(&clash)).unwrap().is_err());

        let page = store.with(|db| db.list_presets(&app.id, Some("mod"), PageRequest::new(None, None))).unwrap();
        assert_eq!(page.items.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(), [made.id.as_str()]);
        assert_eq!(store.with(|db| db.delete_preset(&app.id, &made.id)).unwrap().unwrap().name, "moderator");
        assert_eq!(store.with(|db| db.preset_by_id(&app.id, &made.id)).unwrap(), None);
        assert_eq!(store.with(|db| db.delete_preset("other-app", &made.id)).unwrap(), None);
    }
}
