//! Changes to the portal's own accounts. None can leave the portal without
//! an enabled Global Administrator.

use super::{refused, ServiceError, ServiceResult};
use crate::accounts::{self, Role};
use crate::db::models::Account;
use crate::db::{self, audit, throttle, DbConnection};
use chrono::Utc;

/// The hash of the given password (checked for length and strength), or of a new
/// one-time password, which is returned too.
fn hashed(username: &str, password: Option<&str>) -> ServiceResult<(String, Option<String>)> {
    let one_time = match password {
        Some(p) => {
            accounts::validate_password(p, &[username]).map_err(ServiceError::Refused)?;
            None
        }
        None => Some(accounts::generate_password()),
    };
    let plain = password.or(one_time.as_deref()).unwrap_or_default();
    let hash = accounts::hash_password(plain)
        .map_err(|e| ServiceError::Refused(format!("the password could not be hashed: {e}")))?;
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
) -> ServiceResult<(Account, Option<String>)> {
    accounts::validate_username(username).map_err(ServiceError::Refused)?;
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
fn keep_a_global_administrator(conn: &mut DbConnection, account: &Account) -> ServiceResult<()> {
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
) -> ServiceResult<()> {
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
) -> ServiceResult<()> {
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
) -> ServiceResult<Option<String>> {
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
pub fn unlock(conn: &mut DbConnection, actor: &str, account: &Account) -> ServiceResult<()> {
    db::write(conn, |conn| {
        throttle::clear(conn, &throttle::account_subject(&account.username))?;
        audit::record(conn, actor, "account unlocked", &account.username, "")?;
        Ok(())
    })
}
