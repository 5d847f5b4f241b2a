//! Changes to the portal's own accounts, shared by the command line and the
//! Admin pages. Each runs in one transaction with its audit-trail entry, and
//! none can leave the portal without an enabled Global Administrator.

use crate::accounts::{self, Role};
use crate::db::models::Account;
use crate::db::{self, audit, throttle, DbConnection};
use chrono::Utc;
use std::fmt;

#[derive(Debug)]
pub enum AdminError {
    /// The change is not allowed; the text says why.
    Refused(String),
    Database(diesel::result::Error),
}

impl fmt::Display for AdminError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AdminError::Refused(m) => f.write_str(m),
            AdminError::Database(e) => write!(f, "database error: {e}"),
        }
    }
}

impl std::error::Error for AdminError {}

impl From<diesel::result::Error> for AdminError {
    fn from(e: diesel::result::Error) -> Self {
        AdminError::Database(e)
    }
}

pub type AdminResult<T> = Result<T, AdminError>;

fn refused<T>(message: impl Into<String>) -> AdminResult<T> {
    Err(AdminError::Refused(message.into()))
}

/// The hash of the given password (checked for length and strength), or of a new
/// one-time password, which is returned too.
fn hashed(username: &str, password: Option<&str>) -> AdminResult<(String, Option<String>)> {
    let one_time = match password {
        Some(p) => {
            accounts::validate_password(p, &[username]).map_err(AdminError::Refused)?;
            None
        }
        None => Some(accounts::generate_password()),
    };
    let plain = password.or(one_time.as_deref()).unwrap_or_default();
    let hash = accounts::hash_password(plain)
        .map_err(|e| AdminError::Refused(format!("the password could not be hashed: {e}")))?;
    Ok((hash, one_time))
}

/// A new account. Without a password it gets a one-time password (returned),
/// which must be changed at the first sign-in.
pub fn add_account(
    conn: &mut DbConnection,
    actor: &str,
    username: &str,
    role: Role,
    password: Option<&str>,
) -> AdminResult<(Account, Option<String>)> {
    accounts::validate_username(username).map_err(AdminError::Refused)?;
    let (hash, one_time) = hashed(username, password)?;
    db::write(conn, |conn| {
        if db::accounts::find_by_username(conn, username)?.is_some() {
            return refused(format!("An account named '{username}' already exists."));
        }
        let account =
            db::accounts::create_account(conn, username, role, &hash, one_time.is_some())?;
        audit::record(
            conn,
            actor,
            "account added",
            username,
            &format!(
                "role {role}{}",
                if one_time.is_some() {
                    "; one-time password"
                } else {
                    ""
                }
            ),
        )?;
        Ok((account, one_time))
    })
}

/// Refuses a change that would leave no enabled Global Administrator.
fn keep_a_global_administrator(conn: &mut DbConnection, account: &Account) -> AdminResult<()> {
    let is_active_ga = account.role == Role::GlobalAdministrator.key() && !account.disabled;
    if is_active_ga && db::accounts::count_active_global_administrators(conn)? <= 1 {
        return refused(format!(
            "'{}' is the only enabled Global Administrator; make another account a Global Administrator first.",
            account.username
        ));
    }
    Ok(())
}

pub fn set_role(
    conn: &mut DbConnection,
    actor: &str,
    account: &Account,
    role: Role,
) -> AdminResult<()> {
    if account.role == role.key() {
        return Ok(());
    }
    db::write(conn, |conn| {
        if role != Role::GlobalAdministrator {
            keep_a_global_administrator(conn, account)?;
        }
        db::accounts::set_role(conn, &account.id, role)?;
        let old = Role::from_key(&account.role).map_or(account.role.clone(), |r| r.to_string());
        audit::record(
            conn,
            actor,
            "role changed",
            &account.username,
            &format!("{old} → {role}"),
        )?;
        Ok(())
    })
}

pub fn set_disabled(
    conn: &mut DbConnection,
    actor: &str,
    account: &Account,
    disabled: bool,
) -> AdminResult<()> {
    if account.disabled == disabled {
        return Ok(());
    }
    if disabled && account.username == actor {
        return refused("You cannot disable the account you are signed in with.");
    }
    db::write(conn, |conn| {
        if disabled {
            keep_a_global_administrator(conn, account)?;
        }
        db::accounts::set_disabled(conn, &account.id, disabled)?;
        let (action, details) = if disabled {
            ("account disabled", "its sessions ended")
        } else {
            ("account enabled", "")
        };
        audit::record(conn, actor, action, &account.username, details)?;
        Ok(())
    })
}

/// A new password (a one-time one when none is given, returned); ends the
/// account's sessions and lifts its sign-in lock.
pub fn reset_password(
    conn: &mut DbConnection,
    actor: &str,
    account: &Account,
    password: Option<&str>,
) -> AdminResult<Option<String>> {
    let (hash, one_time) = hashed(&account.username, password)?;
    db::write(conn, |conn| {
        let now = Utc::now().naive_utc();
        db::accounts::set_password(conn, &account.id, &hash, one_time.is_some(), now)?;
        throttle::clear(conn, &throttle::account_subject(&account.username))?;
        audit::record(
            conn,
            actor,
            "password reset",
            &account.username,
            if one_time.is_some() {
                "one-time password; sessions ended"
            } else {
                "sessions ended"
            },
        )?;
        Ok(one_time)
    })
}

/// Lifts a sign-in lock before it runs out.
pub fn unlock(conn: &mut DbConnection, actor: &str, account: &Account) -> AdminResult<()> {
    db::write(conn, |conn| {
        throttle::clear(conn, &throttle::account_subject(&account.username))?;
        audit::record(conn, actor, "account unlocked", &account.username, "")?;
        Ok(())
    })
}

/// Creates an API key with a name and scopes, and records it in the audit
/// log. Returns the key and its secret, which is shown once and stored hashed.
pub fn create_api_key(
    conn: &mut DbConnection,
    actor: &str,
    name: &str,
    read: bool,
    ingest: bool,
) -> AdminResult<(db::api_keys::ApiKey, String)> {
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
        diesel::QueryResult::Ok(created)
    })?)
}

/// Revokes an API key; its requests get 401 from now on. Returns its name.
pub fn revoke_api_key(conn: &mut DbConnection, actor: &str, id: &str) -> AdminResult<String> {
    db::write(conn, |conn| {
        let key = db::api_keys::find_key(conn, id)?
            .ok_or(AdminError::Database(diesel::result::Error::NotFound))?;
        if !db::api_keys::revoke_key(conn, id, Utc::now().naive_utc())? {
            return refused(format!("The key '{}' was already revoked.", key.name));
        }
        audit::record(conn, actor, "API key revoked", &key.name, &key.key_prefix)?;
        Ok(key.name)
    })
}

/// Sets how many days of events `prune` keeps.
pub fn set_retention(conn: &mut DbConnection, actor: &str, days: i32) -> AdminResult<()> {
    db::write(conn, |conn| {
        db::retention::set_retention_days(conn, days)?;
        audit::record(
            conn,
            actor,
            "Retention changed",
            "events",
            &format!("{days} days"),
        )?;
        Ok(())
    })
}

/// Stores a new SSPR policy and re-evaluates every user, with its audit row
/// (`describe` words it from the old policy and what was re-evaluated), in
/// one transaction.
pub fn save_policy(
    conn: &mut DbConnection,
    actor: &str,
    policy: &crate::domain::SsprPolicy,
    describe: impl FnOnce(&crate::domain::SsprPolicy, &db::directory::Recomputed) -> String,
) -> AdminResult<db::directory::Recomputed> {
    db::write(conn, |conn| {
        let old = db::directory::load_policy(conn).map_err(|e| match e {
            db::directory::PolicyLoadError::Database(e) => AdminError::Database(e),
            invalid => AdminError::Refused(invalid.to_string()),
        })?;
        let recomputed = db::directory::save_policy(conn, policy, Some(actor))?;
        audit::record(
            conn,
            actor,
            "policy changed",
            "SSPR policy",
            &describe(&old, &recomputed),
        )?;
        Ok(recomputed)
    })
}
