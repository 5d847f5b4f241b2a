//! Sign-in sessions in the database, so that any portal instance sharing it
//! accepts a session another one created.

use super::models::Account;
use super::schema::{accounts, sessions};
use super::DbConnection;
use crate::accounts::{new_token, token_hash};
use chrono::NaiveDateTime;
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = sessions)]
pub struct SessionRow {
    pub token_hash: String,
    pub account_id: String,
    pub csrf_token: String,
    pub created_at: NaiveDateTime,
    pub last_seen_at: NaiveDateTime,
    pub client_address: String,
    pub flash: Option<String>,
}

/// A new session: the token goes into the cookie, only its hash is stored.
pub struct NewSession {
    pub token: String,
    pub csrf_token: String,
}

pub fn create_session(
    conn: &mut DbConnection,
    account_id: &str,
    client_address: &str,
    now: NaiveDateTime,
) -> QueryResult<NewSession> {
    let session = NewSession {
        token: new_token(),
        csrf_token: new_token(),
    };
    diesel::insert_into(sessions::table)
        .values((
            sessions::token_hash.eq(token_hash(&session.token)),
            sessions::account_id.eq(account_id),
            sessions::csrf_token.eq(&session.csrf_token),
            sessions::created_at.eq(now),
            sessions::last_seen_at.eq(now),
            sessions::client_address.eq(client_address),
        ))
        .execute(conn)?;
    Ok(session)
}

/// The session of a cookie's token and its account.
pub fn find_session(
    conn: &mut DbConnection,
    token: &str,
) -> QueryResult<Option<(SessionRow, Account)>> {
    sessions::table
        .inner_join(accounts::table)
        .filter(sessions::token_hash.eq(token_hash(token)))
        .select((SessionRow::as_select(), Account::as_select()))
        .first(conn)
        .optional()
}

/// Marks a session as used now (callers skip this when it was used moments ago,
/// so a busy page costs no write per request) and takes its notice.
pub fn touch_session(
    conn: &mut DbConnection,
    token_hash: &str,
    now: NaiveDateTime,
    clear_flash: bool,
) -> QueryResult<()> {
    let target = sessions::table.find(token_hash);
    if clear_flash {
        diesel::update(target)
            .set((
                sessions::last_seen_at.eq(now),
                sessions::flash.eq(None::<String>),
            ))
            .execute(conn)?;
    } else {
        diesel::update(target)
            .set(sessions::last_seen_at.eq(now))
            .execute(conn)?;
    }
    Ok(())
}

/// Leaves a notice for the session's next page.
pub fn set_flash(conn: &mut DbConnection, token_hash: &str, message: &str) -> QueryResult<()> {
    diesel::update(sessions::table.find(token_hash))
        .set(sessions::flash.eq(message))
        .execute(conn)
        .map(drop)
}

pub fn delete_session(conn: &mut DbConnection, token_hash: &str) -> QueryResult<()> {
    diesel::delete(sessions::table.find(token_hash))
        .execute(conn)
        .map(drop)
}

/// Removes sessions idle since before `idle_cutoff` or created before
/// `absolute_cutoff`; returns how many.
pub fn purge_expired(
    conn: &mut DbConnection,
    idle_cutoff: NaiveDateTime,
    absolute_cutoff: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::delete(
        sessions::table.filter(
            sessions::last_seen_at
                .lt(idle_cutoff)
                .or(sessions::created_at.lt(absolute_cutoff)),
        ),
    )
    .execute(conn)
}
