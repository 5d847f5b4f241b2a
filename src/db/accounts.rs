//! The portal's own accounts.

use super::models::Account;
use super::schema::{accounts, sessions};
use super::DbConnection;
use crate::accounts::Role;
use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;

pub fn count_accounts(conn: &mut DbConnection) -> QueryResult<i64> {
    accounts::table.count().get_result(conn)
}

#[diesel::declare_sql_function]
extern "SQL" {
    /// SQL's `lower()`: account names are one name whatever their case (a
    /// unique index on `lower(username)` keeps them so).
    fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

pub fn find_by_username(conn: &mut DbConnection, username: &str) -> QueryResult<Option<Account>> {
    accounts::table
        .filter(lower(accounts::username).eq(lower(username)))
        .select(Account::as_select())
        .first(conn)
        .optional()
}

/// Creates an account; the caller has validated the name and hashed the password.
pub fn create_account(
    conn: &mut DbConnection,
    username: &str,
    role: Role,
    password_hash: &str,
    must_change_password: bool,
) -> QueryResult<Account> {
    let account = Account {
        id: new_id(),
        username: username.to_string(),
        password_hash: password_hash.to_string(),
        role: role.key().to_string(),
        disabled: false,
        must_change_password,
        created_at: Utc::now().naive_utc(),
        last_sign_in_at: None,
        password_changed_at: None,
    };
    diesel::insert_into(accounts::table)
        .values(&account)
        .execute(conn)?;
    Ok(account)
}

/// Removes an account that never acted and its sessions: the temporary
/// account of a measuring tool (the portal itself disables accounts instead,
/// as its audit log names them).
pub fn delete_unused_account(conn: &mut DbConnection, id: &str) -> QueryResult<()> {
    super::write(conn, |conn| {
        diesel::delete(sessions::table.filter(sessions::account_id.eq(id))).execute(conn)?;
        diesel::delete(accounts::table.find(id)).execute(conn)?;
        Ok(())
    })
}

pub fn find_by_id(conn: &mut DbConnection, id: &str) -> QueryResult<Option<Account>> {
    accounts::table
        .find(id)
        .select(Account::as_select())
        .first(conn)
        .optional()
}

/// Every account, by name.
pub fn list_accounts(conn: &mut DbConnection) -> QueryResult<Vec<Account>> {
    accounts::table
        .order(accounts::username.asc())
        .select(Account::as_select())
        .load(conn)
}

/// Enabled Global Administrators: the portal must always keep one.
pub fn count_active_global_administrators(conn: &mut DbConnection) -> QueryResult<i64> {
    accounts::table
        .filter(accounts::role.eq(Role::GlobalAdministrator.key()))
        .filter(accounts::disabled.eq(false))
        .count()
        .get_result(conn)
}

pub fn set_role(conn: &mut DbConnection, id: &str, role: Role) -> QueryResult<()> {
    diesel::update(accounts::table.find(id))
        .set(accounts::role.eq(role.key()))
        .execute(conn)
        .map(drop)
}

/// Disabling also ends the account's sessions.
pub fn set_disabled(conn: &mut DbConnection, id: &str, disabled: bool) -> QueryResult<()> {
    diesel::update(accounts::table.find(id))
        .set(accounts::disabled.eq(disabled))
        .execute(conn)?;
    if disabled {
        end_sessions(conn, id)?;
    }
    Ok(())
}

/// A new password ends every session of the account.
pub fn set_password(
    conn: &mut DbConnection,
    id: &str,
    password_hash: &str,
    must_change_password: bool,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::update(accounts::table.find(id))
        .set((
            accounts::password_hash.eq(password_hash),
            accounts::must_change_password.eq(must_change_password),
            accounts::password_changed_at.eq(now),
        ))
        .execute(conn)?;
    end_sessions(conn, id)
}

pub fn record_sign_in(conn: &mut DbConnection, id: &str, now: NaiveDateTime) -> QueryResult<()> {
    diesel::update(accounts::table.find(id))
        .set(accounts::last_sign_in_at.eq(now))
        .execute(conn)
        .map(drop)
}

fn end_sessions(conn: &mut DbConnection, account_id: &str) -> QueryResult<()> {
    diesel::delete(sessions::table.filter(sessions::account_id.eq(account_id)))
        .execute(conn)
        .map(drop)
}

/// A random identifier in the 8-4-4-4-12 hex form directories use.
pub fn new_id() -> String {
    use rand::Rng;
    let b: [u8; 16] = rand::rng().random();
    format_guid(b)
}

/// Formats 16 bytes as a version-4 style GUID.
pub fn format_guid(mut b: [u8; 16]) -> String {
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}
