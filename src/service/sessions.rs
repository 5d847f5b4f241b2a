//! Signing in and out, and changing one's own password.
//!
//! A sign-in is two steps around the password check, so that no database
//! connection or lock is held while Argon2 runs: [`reserve`] counts the
//! attempt against the client address and the account *before* the
//! password is looked at (refusing at once when either is locked), and
//! [`settle`] then opens a session (giving the attempts back) or leaves them
//! counted as failures, auditing a lock this attempt set.

use super::{ServiceError, ServiceResult};
use crate::accounts;
use crate::config::SecuritySettings;
use crate::db::models::Account;
use crate::db::{self, audit, sessions, throttle, DbConnection, QueryResult};
use chrono::NaiveDateTime;

/// Who is signing in, from where.
#[derive(Debug, Clone)]
pub struct SignInRequest {
    pub username: String,
    /// The client address the attempt counts against.
    pub address: String,
    /// The session the browser had (its key), ended by a new sign-in.
    pub presented: Option<String>,
}

/// What a sign-in attempt came to.
#[derive(Debug)]
pub enum Attempt {
    SignedIn { token: String, must_change: bool },
    Refused,
    AccountLocked(NaiveDateTime),
    AddressBlocked(NaiveDateTime),
}

/// The attempts a sign-in holds while its password is checked, and the
/// account the name belongs to (if any).
#[derive(Debug)]
pub struct Reserved {
    account_attempt: throttle::Reservation,
    address_attempt: throttle::Reservation,
    account: Option<Account>,
}

impl Reserved {
    /// The hash to check the password against (none for an unknown name: a
    /// dummy hash is checked instead, so both take the same time).
    pub fn password_hash(&self) -> Option<String> {
        self.account.as_ref().map(|a| a.password_hash.clone())
    }
}

fn limits(settings: &SecuritySettings, max_failures: i32) -> throttle::Limits {
    throttle::Limits {
        max_failures,
        window: settings.failure_window,
        lock: settings.lock,
    }
}

/// Counts the attempt against the address, then the account; `Err` with the
/// refusal when either is locked (an address attempt is then given back).
/// One transaction: an attempt that arms a lock (the last the limit allows)
/// writes the lock's audit row with it, so a lock is never stored without
/// its row. The lock holds from now: attempts arriving while this one's
/// password is checked are refused. Should the password turn out right,
/// [`settle`] lifts the lock again, with an audit row of its own. The
/// throttle rows are taken address first, then account, here and in
/// [`settle`], so two sign-ins never wait for each other in opposite orders.
pub fn reserve(
    conn: &mut DbConnection,
    request: &SignInRequest,
    settings: &SecuritySettings,
    now: NaiveDateTime,
) -> QueryResult<Result<Reserved, Attempt>> {
    let account_subject = throttle::account_subject(&request.username);
    let address_subject = throttle::address_subject(&request.address);
    let username = request.username.as_str();
    let address = request.address.as_str();
    db::transaction(conn, |conn| {
        let address_limits = limits(settings, settings.address_failures);
        let address_attempt = throttle::reserve(conn, &address_subject, address_limits, now)?;
        if let throttle::Reservation::Locked(until) = address_attempt {
            return Ok(Err(Attempt::AddressBlocked(until)));
        }
        let account_limits = limits(settings, settings.account_failures);
        let account_attempt = throttle::reserve(conn, &account_subject, account_limits, now)?;
        if let throttle::Reservation::Locked(until) = account_attempt {
            throttle::release(conn, &address_subject, address_attempt)?;
            return Ok(Err(Attempt::AccountLocked(until)));
        }
        if let Some(until) = armed(address_attempt) {
            audit::record(
                conn,
                address,
                "address blocked",
                address,
                &format!(
                    "sign-in attempt {} from this address within the window; blocked until {} UTC unless its password is right",
                    settings.address_failures,
                    until.format("%Y-%m-%d %H:%M:%S")
                ),
            )?;
        }
        if let Some(until) = armed(account_attempt) {
            audit::record(
                conn,
                username,
                "account locked",
                username,
                &format!(
                    "sign-in attempt {} within the window, from {address}; locked until {} UTC unless its password is right",
                    settings.account_failures,
                    until.format("%Y-%m-%d %H:%M:%S")
                ),
            )?;
        }
        let account = db::accounts::find_by_username(conn, username)?;
        Ok(Ok(Reserved {
            account_attempt,
            address_attempt,
            account,
        }))
    })
}

/// The end of the lock an attempt armed, if it was the last one allowed.
fn armed(attempt: throttle::Reservation) -> Option<NaiveDateTime> {
    match attempt {
        throttle::Reservation::Granted { locks } => locks,
        throttle::Reservation::Locked(_) => None,
    }
}

/// What a checked password comes to: a new session (one transaction: the
/// account's row first, as every change of accounts does, so a sign-in and
/// an administrator's change of the account never wait for each other in
/// opposite orders), or a counted failure.
pub fn settle(
    conn: &mut DbConnection,
    request: &SignInRequest,
    reserved: Reserved,
    password_ok: bool,
    settings: &SecuritySettings,
    now: NaiveDateTime,
) -> QueryResult<Attempt> {
    let username = request.username.as_str();
    let address = request.address.as_str();
    let Reserved {
        account_attempt,
        address_attempt,
        account,
    } = reserved;
    let account = match account {
        Some(a) if password_ok && !a.disabled => a,
        other => {
            if other.as_ref().is_some_and(|a| a.disabled && password_ok) {
                audit::record(
                    conn,
                    username,
                    "sign-in refused",
                    username,
                    "the account is disabled",
                )?;
            }
            // A lock this attempt armed stays, with the audit row written
            // when it was armed.
            if let Some(until) = armed(account_attempt) {
                return Ok(Attempt::AccountLocked(until));
            }
            if let Some(until) = armed(address_attempt) {
                return Ok(Attempt::AddressBlocked(until));
            }
            return Ok(Attempt::Refused);
        }
    };
    let account_subject = throttle::account_subject(username);
    let address_subject = throttle::address_subject(address);
    db::transaction(conn, |conn| {
        db::accounts::record_sign_in(conn, &account.id, now)?;
        // Address first, then account, as in [`reserve`].
        throttle::release(conn, &address_subject, address_attempt)?;
        throttle::clear(conn, &account_subject)?;
        if armed(address_attempt).is_some() {
            audit::record(
                conn,
                address,
                "address unblocked",
                address,
                "the sign-in attempt that blocked it had the right password",
            )?;
        }
        if armed(account_attempt).is_some() {
            audit::record(
                conn,
                username,
                "account unlocked",
                username,
                "the sign-in attempt that locked it had the right password",
            )?;
        }
        if let Some(old) = &request.presented {
            sessions::delete_session(conn, old)?;
        }
        sessions::purge_expired(
            conn,
            now - settings.session_idle,
            now - settings.session_absolute,
        )?;
        throttle::purge_stale(conn, now, settings.failure_window)?;
        let session = sessions::create_session(conn, &account.id, address, now)?;
        Ok(Attempt::SignedIn {
            token: session.token,
            must_change: account.must_change_password,
        })
    })
}

/// Ends a session (its key).
pub fn sign_out(conn: &mut DbConnection, session: &str) -> QueryResult<()> {
    sessions::delete_session(conn, session)
}

/// An account changing its own password.
pub struct PasswordChange<'a> {
    pub account_id: &'a str,
    pub current: &'a str,
    /// Already checked for strength by the caller, which shows the reasons.
    pub new: &'a str,
    /// Where the new session signs in from.
    pub address: &'a str,
}

/// Sets a new password when the current one is right: every other session
/// of the account ends, a new one is opened (its token returned), with its
/// audit row, in one transaction. `None` when the current password is wrong.
pub fn change_password(
    conn: &mut DbConnection,
    change: PasswordChange<'_>,
) -> ServiceResult<Option<String>> {
    let Some(account) = db::accounts::find_by_id(conn, change.account_id)? else {
        return Err(ServiceError::Refused("the account no longer exists".into()));
    };
    if !accounts::verify_password(change.current, &account.password_hash) {
        return Ok(None);
    }
    let hash = accounts::hash_password(change.new)
        .map_err(|e| ServiceError::Refused(format!("hashing a password: {e}")))?;
    let now = chrono::Utc::now().naive_utc();
    db::write(conn, |conn| {
        db::accounts::set_password(conn, &account.id, &hash, false, now)?;
        let session = sessions::create_session(conn, &account.id, change.address, now)?;
        sessions::set_flash(
            conn,
            &accounts::token_hash(&session.token),
            "Your password was changed. Other sessions of your account have ended.",
        )?;
        audit::record(
            conn,
            &account.username,
            "password changed",
            &account.username,
            "by the account itself",
        )?;
        Ok(Some(session.token))
    })
}
