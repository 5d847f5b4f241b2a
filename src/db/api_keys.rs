//! API keys: a name, scopes, and the SHA-256 of the key, which is shown once.

use super::schema::api_keys;
use super::DbConnection;
use crate::accounts::{new_token, token_hash};
use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

/// What every key starts with, so that it is recognisable in a script or a leak scan.
pub const KEY_PREFIX: &str = "aik_";

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = api_keys)]
pub struct ApiKey {
    pub id: String,
    pub name: String,
    pub key_prefix: String,
    pub can_read: bool,
    pub can_ingest: bool,
    pub created_at: NaiveDateTime,
    pub created_by: String,
    pub last_used_at: Option<NaiveDateTime>,
    pub revoked_at: Option<NaiveDateTime>,
}

impl ApiKey {
    pub fn scopes_text(&self) -> String {
        match (self.can_read, self.can_ingest) {
            (true, true) => "Read reports, ingest events".into(),
            (true, false) => "Read reports".into(),
            (false, true) => "Ingest events".into(),
            (false, false) => "None".into(),
        }
    }
}

/// Creates a key; returns its record and the key itself (never stored).
pub fn create_key(
    conn: &mut DbConnection,
    name: &str,
    can_read: bool,
    can_ingest: bool,
    created_by: &str,
    now: NaiveDateTime,
) -> QueryResult<(ApiKey, String)> {
    let secret = format!("{KEY_PREFIX}{}", new_token());
    let key = ApiKey {
        id: super::accounts::new_id(),
        name: name.to_string(),
        key_prefix: secret.chars().take(KEY_PREFIX.len() + 6).collect(),
        can_read,
        can_ingest,
        created_at: now,
        created_by: created_by.to_string(),
        last_used_at: None,
        revoked_at: None,
    };
    diesel::insert_into(api_keys::table)
        .values((
            api_keys::id.eq(&key.id),
            api_keys::name.eq(&key.name),
            api_keys::key_hash.eq(token_hash(&secret)),
            api_keys::key_prefix.eq(&key.key_prefix),
            api_keys::can_read.eq(can_read),
            api_keys::can_ingest.eq(can_ingest),
            api_keys::created_at.eq(now),
            api_keys::created_by.eq(created_by),
        ))
        .execute(conn)?;
    Ok((key, secret))
}

/// Every key, newest first.
pub fn list_keys(conn: &mut DbConnection) -> QueryResult<Vec<ApiKey>> {
    api_keys::table
        .order(api_keys::created_at.desc())
        .select(ApiKey::as_select())
        .load(conn)
}

pub fn find_key(conn: &mut DbConnection, id: &str) -> QueryResult<Option<ApiKey>> {
    api_keys::table
        .find(id)
        .select(ApiKey::as_select())
        .first(conn)
        .optional()
}

/// The unrevoked key a request presents, marked as used (at most once a minute,
/// so a busy script costs no write per request).
pub fn authenticate(
    conn: &mut DbConnection,
    secret: &str,
    now: NaiveDateTime,
) -> QueryResult<Option<ApiKey>> {
    let key: Option<ApiKey> = api_keys::table
        .filter(api_keys::key_hash.eq(token_hash(secret)))
        .filter(api_keys::revoked_at.is_null())
        .select(ApiKey::as_select())
        .first(conn)
        .optional()?;
    if let Some(k) = &key {
        if k.last_used_at
            .is_none_or(|t| now - t >= Duration::minutes(1))
        {
            diesel::update(api_keys::table.find(&k.id))
                .set(api_keys::last_used_at.eq(now))
                .execute(conn)?;
        }
    }
    Ok(key)
}

pub fn revoke_key(conn: &mut DbConnection, id: &str, now: NaiveDateTime) -> QueryResult<bool> {
    diesel::update(
        api_keys::table
            .find(id)
            .filter(api_keys::revoked_at.is_null()),
    )
    .set(api_keys::revoked_at.eq(now))
    .execute(conn)
    .map(|n| n > 0)
}
