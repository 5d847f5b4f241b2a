//! API keys: created (shown once, stored hashed) and revoked.

use super::{refused, ServiceError, ServiceResult};
use crate::db::{self, audit, DbConnection};
use chrono::Utc;

/// Creates an API key with a name and scopes, and records it in the audit
/// log. Returns the key and its secret, which is shown once and stored hashed.
pub fn create_api_key(
    conn: &mut DbConnection,
    actor: &str,
    name: &str,
    read: bool,
    ingest: bool,
) -> ServiceResult<(db::api_keys::ApiKey, String)> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return refused("Give the key a name of 1 to 100 characters, saying who or what uses it.");
    }
    if !read && !ingest {
        return refused("Choose at least one scope: read reports, or ingest events.");
    }
    let now = Utc::now().naive_utc();
    Ok(db::write(conn, |conn| {
        let created = db::api_keys::create_key(conn, name, read, ingest, actor, now)?;
        audit::record(
            conn,
            actor,
            "API key created",
            name,
            &format!("{}; {}", created.0.scopes_text(), created.0.key_prefix),
        )?;
        crate::db::QueryResult::Ok(created)
    })?)
}

/// Revokes an API key; its requests get 401 from now on. Returns its name.
pub fn revoke_api_key(conn: &mut DbConnection, actor: &str, id: &str) -> ServiceResult<String> {
    db::write(conn, |conn| {
        let key = db::api_keys::find_key(conn, id)?
            .ok_or(ServiceError::Database(crate::db::not_found()))?;
        if !db::api_keys::revoke_key(conn, id, Utc::now().naive_utc())? {
            return refused(format!("The key '{}' was already revoked.", key.name));
        }
        audit::record(conn, actor, "API key revoked", &key.name, &key.key_prefix)?;
        Ok(key.name)
    })
}
