//! The portal's own accounts.

use super::models::Account;
use super::schema::accounts;
use super::DbConnection;
use crate::accounts::Role;
use chrono::Utc;
use diesel::prelude::*;

pub fn count_accounts(conn: &mut DbConnection) -> QueryResult<i64> {
    accounts::table.count().get_result(conn)
}

pub fn find_by_username(conn: &mut DbConnection, username: &str) -> QueryResult<Option<Account>> {
    accounts::table
        .filter(accounts::username.eq(username))
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
    };
    diesel::insert_into(accounts::table)
        .values(&account)
        .execute(conn)?;
    Ok(account)
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
