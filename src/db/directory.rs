//! The directory's write side: the SSPR policy and the per-user status derived
//! from it, kept true at every change.

use super::counts::{add_status_counts, rebuild_status_counts, touch_data_changed};
use super::models::{NewUserMethod, PolicyRow, StatusKey, User};
use super::schema::{
    directory_groups, group_members, portal_state, sspr_policy, user_methods, users,
};
use super::trends::{record_changes, status_bits, StatusChange};
use super::{indexes, DbConnection};
use crate::domain::second_factor::MfaDetails;
use crate::domain::{evaluate, Method, MethodSet, SsprPolicy, UserFacts, VerdictSource};
use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;
use std::collections::{HashMap, HashSet};

/// Users are read and updated in pages of this many, so memory stays flat
/// whatever the directory's size.
const PAGE: i64 = 5_000;
/// Ids per `IN (…)` list: well under SQLite's bound-parameter limit.
const ID_CHUNK: usize = 500;
/// A recomputation changing at least this many users, and a fifth of all,
/// rebuilds the status indexes instead of maintaining them.
const REBUILD_MIN_ROWS: u64 = 50_000;
/// The columns [`set_derived`] writes.
const DERIVED_COLUMNS: [&str; 7] = [
    "status_key",
    "methods_mask",
    "is_registered",
    "is_enabled",
    "is_capable",
    "is_mfa_capable",
    "is_passwordless_capable",
];

#[derive(Debug, thiserror::Error)]
pub enum PolicyLoadError {
    #[error("database error: {0}")]
    Database(#[from] diesel::result::Error),
    #[error("the stored SSPR policy is invalid: {0}")]
    Invalid(#[from] crate::domain::policy::PolicyError),
}

pub fn load_policy_row(conn: &mut DbConnection) -> QueryResult<PolicyRow> {
    sspr_policy::table
        .find(1)
        .select(PolicyRow::as_select())
        .first(conn)
}

pub fn load_policy(conn: &mut DbConnection) -> Result<SsprPolicy, PolicyLoadError> {
    let row = load_policy_row(conn)?;
    Ok(SsprPolicy::from_parts(
        &row.scope,
        row.group_id,
        row.methods_required,
        row.allowed_methods,
    )?)
}

/// Which statuses users show where an export stated verdicts (the default
/// while none is chosen: the directory's).
pub fn verdict_source(conn: &mut DbConnection) -> QueryResult<VerdictSource> {
    let stored: Option<String> = portal_state::table
        .find(1)
        .select(portal_state::verdict_source)
        .first(conn)?;
    Ok(stored
        .as_deref()
        .and_then(VerdictSource::from_key)
        .unwrap_or_default())
}

/// Chooses the verdict source and re-evaluates every user under it and
/// `policy` (the stored one).
pub fn set_verdict_source(
    conn: &mut DbConnection,
    source: VerdictSource,
    policy: &SsprPolicy,
    now: NaiveDateTime,
) -> QueryResult<Recomputed> {
    diesel::update(portal_state::table.find(1))
        .set(portal_state::verdict_source.eq(source.key()))
        .execute(conn)?;
    let recomputed = recompute_all(conn, policy, now)?;
    touch_data_changed(conn, now)?;
    Ok(recomputed)
}

/// Users whose verdicts a directory export stated, and how many of them the
/// portal's policy finds otherwise and how many are stale.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VerdictTotals {
    pub stated: i64,
    pub disagree: i64,
    pub stale: i64,
}

/// How many users have directory-stated verdicts, disagree with the policy
/// and are stale: from the status counts.
pub fn verdict_totals(conn: &mut DbConnection) -> QueryResult<VerdictTotals> {
    let stated: i64 = users::table
        .filter(users::directory_status.is_not_null())
        .count()
        .get_result(conn)?;
    let mut totals = VerdictTotals {
        stated,
        ..VerdictTotals::default()
    };
    for row in super::counts::status_count_rows(conn)? {
        let key = row.key();
        totals.disagree += row.user_count * i64::from(key.disagrees);
        totals.stale += row.user_count * i64::from(key.stale);
    }
    Ok(totals)
}

/// Marks stale the verdicts of users with verdicts whom an import stating
/// verdicts did not include (`stated`: the ids it did include), moving them
/// between the status counts. Returns how many were marked.
pub fn mark_stale_verdicts(
    conn: &mut DbConnection,
    stated: &HashSet<String>,
    now: NaiveDateTime,
) -> QueryResult<u64> {
    let mut stale: Vec<User> = Vec::new();
    let mut after = String::new();
    loop {
        let page: Vec<User> = users::table
            .filter(users::id.gt(&after))
            .filter(users::directory_status.is_not_null())
            .filter(users::verdicts_stale.eq(false))
            .order(users::id)
            .limit(PAGE)
            .select(User::as_select())
            .load(conn)?;
        let Some(last) = page.last() else { break };
        after = last.id.clone();
        stale.extend(page.into_iter().filter(|u| !stated.contains(&u.id)));
    }
    let mut deltas: HashMap<StatusKey, i64> = HashMap::new();
    for user in &stale {
        let old = user.key();
        let new = StatusKey { stale: true, ..old };
        *deltas.entry(old).or_default() -= 1;
        *deltas.entry(new).or_default() += 1;
        diesel::update(users::table.find(&user.id))
            .set((
                users::verdicts_stale.eq(true),
                users::status_key.eq(new.pack()),
                users::updated_at.eq(now),
            ))
            .execute(conn)?;
    }
    add_status_counts(conn, &deltas)?;
    if !stale.is_empty() {
        touch_data_changed(conn, now)?;
    }
    Ok(stale.len() as u64)
}

/// What a full recomputation changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Recomputed {
    pub users: u64,
    pub changed: u64,
}

/// Writes the policy row only; callers that do not recompute every user
/// themselves use [`save_policy`].
pub fn store_policy(
    conn: &mut DbConnection,
    policy: &SsprPolicy,
    updated_by: Option<&str>,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::update(sspr_policy::table.find(1))
        .set((
            sspr_policy::scope.eq(policy.scope.key()),
            sspr_policy::group_id.eq(policy.scope.group_id()),
            sspr_policy::methods_required.eq(i32::from(policy.methods_required())),
            sspr_policy::allowed_methods.eq(policy.allowed().mask()),
            sspr_policy::updated_at.eq(now),
            sspr_policy::updated_by.eq(updated_by),
        ))
        .execute(conn)?;
    Ok(())
}

/// Stores a new policy and recomputes every user's status in the same
/// transaction, so no page ever shows figures of the old policy after it.
pub fn save_policy(
    conn: &mut DbConnection,
    policy: &SsprPolicy,
    updated_by: Option<&str>,
) -> QueryResult<Recomputed> {
    super::write(conn, |conn| {
        let now = Utc::now().naive_utc();
        store_policy(conn, policy, updated_by, now)?;
        let summary = recompute_all(conn, policy, now)?;
        touch_data_changed(conn, now)?;
        Ok(summary)
    })
}

/// Members of the policy group among `ids`.
fn policy_group_members(
    conn: &mut DbConnection,
    policy: &SsprPolicy,
    ids: &[&str],
) -> QueryResult<HashSet<String>> {
    let Some(group) = policy.scope.group_id() else {
        return Ok(HashSet::new());
    };
    let mut members = HashSet::new();
    for chunk in ids.chunks(ID_CHUNK) {
        let found: Vec<String> = group_members::table
            .filter(group_members::group_id.eq(group))
            .filter(group_members::user_id.eq_any(chunk))
            .select(group_members::user_id)
            .load(conn)?;
        members.extend(found);
    }
    Ok(members)
}

/// Writes the derived columns of users who share one new key.
fn set_derived(
    conn: &mut DbConnection,
    ids: &[String],
    key: StatusKey,
    now: NaiveDateTime,
) -> QueryResult<()> {
    let s = key.status;
    for chunk in ids.chunks(ID_CHUNK) {
        diesel::update(users::table.filter(users::id.eq_any(chunk)))
            .set((
                users::is_registered.eq(s.registered),
                users::is_enabled.eq(s.enabled),
                users::is_capable.eq(s.capable),
                users::is_mfa_capable.eq(s.mfa_capable),
                users::is_passwordless_capable.eq(s.passwordless_capable),
                users::methods_mask.eq(key.methods_mask),
                users::status_key.eq(key.pack()),
                users::updated_at.eq(now),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Re-evaluates every user against `policy` (from the stored methods and
/// memberships) and rebuilds the status counts.
pub fn recompute_all(
    conn: &mut DbConnection,
    policy: &SsprPolicy,
    now: NaiveDateTime,
) -> QueryResult<Recomputed> {
    recompute_all_with(conn, policy, now, REBUILD_MIN_ROWS)
}

/// [`recompute_all`] with the number of changed users from which SQLite's
/// status indexes are rebuilt rather than maintained (tests lower it).
pub fn recompute_all_with(
    conn: &mut DbConnection,
    policy: &SsprPolicy,
    now: NaiveDateTime,
    rebuild_min_rows: u64,
) -> QueryResult<Recomputed> {
    let started = std::time::Instant::now();
    let source = verdict_source(conn)?;
    let mut summary = Recomputed::default();
    let mut changed: HashMap<StatusKey, Vec<String>> = HashMap::new();
    let mut status_changes: Vec<StatusChange> = Vec::new();
    let mut after = String::new();
    loop {
        let page: Vec<User> = users::table
            .filter(users::id.gt(&after))
            .order(users::id)
            .limit(PAGE)
            .select(User::as_select())
            .load(conn)?;
        let Some(last) = page.last() else { break };
        after = last.id.clone();
        let ids: Vec<&str> = page.iter().map(|u| u.id.as_str()).collect();
        let members = policy_group_members(conn, policy, &ids)?;
        for user in &page {
            summary.users += 1;
            let facts = UserFacts {
                is_guest: user.is_guest,
                is_admin: user.is_admin,
                in_policy_group: members.contains(&user.id),
                methods: user.methods(),
            };
            let key = user.evaluated_key(evaluate(policy, &facts), source, user.methods_mask);
            if key.pack() != user.status_key {
                summary.changed += 1;
                let (before, after) = (status_bits(&user.key()), status_bits(&key));
                if before != after {
                    status_changes.push(StatusChange {
                        user_id: user.id.clone(),
                        at: now,
                        before: Some(before),
                        after,
                    });
                }
                changed.entry(key).or_default().push(user.id.clone());
            }
        }
    }
    // Most users changing (say, scope None → All) would update every status
    // index row by row: on SQLite it is far cheaper to drop those indexes and
    // build them again. (PostgreSQL's DROP INDEX would lock readers out of
    // the users table until the commit, so there they are maintained.)
    let rebuild = matches!(conn, DbConnection::Sqlite(_))
        && summary.changed >= rebuild_min_rows
        && summary.changed * 5 >= summary.users;
    let evaluated = started.elapsed();
    let dropped = if rebuild {
        let status_indexes = indexes::secondary(conn, "'users'")?
            .into_iter()
            .filter(|i| {
                i.kind == "index" && DERIVED_COLUMNS.iter().any(|c| i.definition.contains(c))
            })
            .collect();
        indexes::drop(conn, status_indexes)?
    } else {
        Vec::new()
    };
    for (key, ids) in &changed {
        set_derived(conn, ids, *key, now)?;
    }
    let updated = started.elapsed();
    indexes::create(conn, &dropped)?;
    rebuild_status_counts(conn)?;
    record_changes(conn, &status_changes)?;
    tracing::info!(
        "recomputed {} users ({} changed): evaluated in {:.1} s, updated in {:.1} s, {} indexes rebuilt and counts in {:.1} s",
        summary.users,
        summary.changed,
        evaluated.as_secs_f64(),
        (updated - evaluated).as_secs_f64(),
        dropped.len(),
        (started.elapsed() - updated).as_secs_f64()
    );
    Ok(summary)
}

/// Re-derives the methods mask and status of the given users from their
/// stored methods and memberships, and moves them between status counts.
/// Call it after any change to those users' facts; it returns how many changed.
pub fn refresh_users(
    conn: &mut DbConnection,
    policy: &SsprPolicy,
    ids: &[String],
    now: NaiveDateTime,
) -> QueryResult<u64> {
    refresh_users_arrived(conn, policy, ids, &HashSet::new(), now)
}

/// [`refresh_users`], where the users in `arrived` were inserted just now
/// (the trend history records them as arriving with their statuses).
fn refresh_users_arrived(
    conn: &mut DbConnection,
    policy: &SsprPolicy,
    ids: &[String],
    arrived: &HashSet<&str>,
    now: NaiveDateTime,
) -> QueryResult<u64> {
    let source = verdict_source(conn)?;
    let mut deltas: HashMap<StatusKey, i64> = HashMap::new();
    let mut status_changes: Vec<StatusChange> = Vec::new();
    let mut changed = 0;
    for chunk in ids.chunks(ID_CHUNK) {
        let page: Vec<User> = users::table
            .filter(users::id.eq_any(chunk))
            .select(User::as_select())
            .load(conn)?;
        let registered: Vec<(String, i32)> = user_methods::table
            .filter(user_methods::user_id.eq_any(chunk))
            .select((user_methods::user_id, user_methods::method))
            .load(conn)?;
        let mut masks: HashMap<String, MethodSet> = HashMap::new();
        for (user_id, code) in registered {
            if let Some(m) = Method::from_code(code) {
                masks.entry(user_id).or_default().insert(m);
            }
        }
        let chunk_ids: Vec<&str> = chunk.iter().map(String::as_str).collect();
        let members = policy_group_members(conn, policy, &chunk_ids)?;
        for user in page {
            let methods = masks.get(&user.id).copied().unwrap_or_default();
            let facts = UserFacts {
                is_guest: user.is_guest,
                is_admin: user.is_admin,
                in_policy_group: members.contains(&user.id),
                methods,
            };
            let old = user.key();
            let new = user.evaluated_key(evaluate(policy, &facts), source, methods.mask());
            let is_new = arrived.contains(user.id.as_str());
            if is_new || status_bits(&old) != status_bits(&new) {
                status_changes.push(StatusChange {
                    user_id: user.id.clone(),
                    at: now,
                    before: (!is_new).then(|| status_bits(&old)),
                    after: status_bits(&new),
                });
            }
            if new.pack() == user.status_key {
                continue;
            }
            changed += 1;
            *deltas.entry(old).or_default() -= 1;
            *deltas.entry(new).or_default() += 1;
            set_derived(conn, std::slice::from_ref(&user.id), new, now)?;
        }
    }
    add_status_counts(conn, &deltas)?;
    record_changes(conn, &status_changes)?;
    if changed > 0 {
        touch_data_changed(conn, now)?;
    }
    Ok(changed)
}

/// A user's own facts as the directory states them; everything else about
/// the user is derived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryUser {
    pub id: String,
    pub display_name: String,
    pub user_principal_name: String,
    pub is_guest: bool,
    pub directory_role: String,
    pub is_admin: bool,
    /// `None` while no source has said.
    pub account_enabled: Option<bool>,
    /// Statuses a directory export stated ([`crate::domain::Verdicts::pack`]) and when.
    pub directory_status: Option<(i32, NaiveDateTime)>,
    /// The rest of what Graph's registration details said.
    pub mfa: MfaDetails,
    /// A later export stating verdicts did not include the user.
    pub verdicts_stale: bool,
}

/// Inserts or updates users' own facts and re-derives their status, moving
/// them between the status counts. Returns how many users were new.
pub fn put_users(
    conn: &mut DbConnection,
    policy: &SsprPolicy,
    records: &[DirectoryUser],
    now: NaiveDateTime,
) -> QueryResult<u64> {
    let mut deltas: HashMap<StatusKey, i64> = HashMap::new();
    let mut inserted = 0;
    let mut arrived: HashSet<&str> = HashSet::new();
    let mut next_search_rowid = next_search_rowid(conn)?;
    for record in records {
        let stored: Option<User> = users::table
            .find(&record.id)
            .select(User::as_select())
            .first(conn)
            .optional()?;
        let search = super::models::search_text(&record.display_name, &record.user_principal_name);
        match stored {
            Some(old) => {
                let moved = StatusKey {
                    is_guest: record.is_guest,
                    is_admin: record.is_admin,
                    account_enabled: record.account_enabled,
                    mfa_registered: record.mfa.mfa_registered,
                    default_mfa_method: record.mfa.default_code(),
                    system_preferred_method: record.mfa.system_preferred_code(),
                    stale: record.verdicts_stale,
                    role_known: !record.directory_role.is_empty(),
                    ..old.key()
                };
                *deltas.entry(old.key()).or_default() -= 1;
                *deltas.entry(moved).or_default() += 1;
                diesel::update(users::table.find(&record.id))
                    .set((
                        users::display_name.eq(&record.display_name),
                        users::user_principal_name.eq(&record.user_principal_name),
                        users::is_guest.eq(record.is_guest),
                        users::directory_role.eq(&record.directory_role),
                        users::is_admin.eq(record.is_admin),
                        users::account_enabled.eq(record.account_enabled),
                        users::directory_status.eq(record.directory_status.map(|d| d.0)),
                        users::directory_status_at.eq(record.directory_status.map(|d| d.1)),
                        users::is_mfa_registered.eq(record.mfa.mfa_registered),
                        users::default_mfa_method.eq(&record.mfa.default_mfa_method),
                        users::is_system_preferred_enabled.eq(record.mfa.system_preferred_enabled),
                        users::system_preferred_methods.eq(record.mfa.joined_system_preferred()),
                        users::user_preferred_method.eq(&record.mfa.user_preferred_method),
                        users::registration_updated_at.eq(record.mfa.updated_at),
                        users::verdicts_stale.eq(record.verdicts_stale),
                        users::status_key.eq(moved.pack()),
                        users::search_text.eq(&search),
                        users::updated_at.eq(now),
                    ))
                    .execute(conn)?;
            }
            None => {
                inserted += 1;
                arrived.insert(record.id.as_str());
                let mut row = User {
                    id: record.id.clone(),
                    display_name: record.display_name.clone(),
                    user_principal_name: record.user_principal_name.clone(),
                    is_guest: record.is_guest,
                    directory_role: record.directory_role.clone(),
                    is_admin: record.is_admin,
                    account_enabled: record.account_enabled,
                    methods_mask: 0,
                    is_registered: false,
                    is_enabled: false,
                    is_capable: false,
                    is_mfa_capable: false,
                    is_passwordless_capable: false,
                    search_text: search,
                    updated_at: now,
                    status_key: 0,
                    search_rowid: next_search_rowid,
                    directory_status: record.directory_status.map(|d| d.0),
                    directory_status_at: record.directory_status.map(|d| d.1),
                    is_mfa_registered: record.mfa.mfa_registered,
                    default_mfa_method: record.mfa.default_mfa_method.clone(),
                    is_system_preferred_enabled: record.mfa.system_preferred_enabled,
                    system_preferred_methods: record.mfa.joined_system_preferred(),
                    user_preferred_method: record.mfa.user_preferred_method.clone(),
                    registration_updated_at: record.mfa.updated_at,
                    verdicts_stale: record.verdicts_stale,
                    other_methods: None,
                };
                next_search_rowid += 1;
                row.status_key = row.key().pack();
                *deltas.entry(row.key()).or_default() += 1;
                diesel::insert_into(users::table)
                    .values(&row)
                    .execute(conn)?;
            }
        }
    }
    add_status_counts(conn, &deltas)?;
    let ids: Vec<String> = records.iter().map(|r| r.id.clone()).collect();
    refresh_users_arrived(conn, policy, &ids, &arrived, now)?;
    touch_data_changed(conn, now)?;
    Ok(inserted)
}

/// The next free key of the search index (one past the largest given).
pub fn next_search_rowid(conn: &mut DbConnection) -> QueryResult<i64> {
    let max: Option<i64> = users::table
        .select(diesel::dsl::max(users::search_rowid))
        .first(conn)?;
    Ok(max.unwrap_or(0) + 1)
}

/// Creates a group or renames it.
/// True when the database holds no users and no activities.
pub fn is_empty(conn: &mut DbConnection) -> QueryResult<bool> {
    let user: Option<String> = users::table.select(users::id).first(conn).optional()?;
    let activity: Option<String> = super::schema::activities::table
        .select(super::schema::activities::id)
        .first(conn)
        .optional()?;
    Ok(user.is_none() && activity.is_none())
}

pub fn put_group(conn: &mut DbConnection, id: &str, display_name: &str) -> QueryResult<()> {
    let exists = directory_groups::table
        .find(id)
        .select(directory_groups::id)
        .first::<String>(conn)
        .optional()?
        .is_some();
    if exists {
        diesel::update(directory_groups::table.find(id))
            .set(directory_groups::display_name.eq(display_name))
            .execute(conn)?;
    } else {
        diesel::insert_into(directory_groups::table)
            .values((
                directory_groups::id.eq(id),
                directory_groups::display_name.eq(display_name),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Makes exactly `user_ids` the members of a group and re-derives the status
/// of everyone who joined or left.
pub fn set_group_members(
    conn: &mut DbConnection,
    policy: &SsprPolicy,
    group_id: &str,
    user_ids: &[String],
    now: NaiveDateTime,
) -> QueryResult<()> {
    let before: HashSet<String> = group_members::table
        .filter(group_members::group_id.eq(group_id))
        .select(group_members::user_id)
        .load::<String>(conn)?
        .into_iter()
        .collect();
    let after: HashSet<String> = user_ids.iter().cloned().collect();
    let left: Vec<String> = before.difference(&after).cloned().collect();
    let joined: Vec<String> = after.difference(&before).cloned().collect();
    for chunk in left.chunks(ID_CHUNK) {
        diesel::delete(
            group_members::table
                .filter(group_members::group_id.eq(group_id))
                .filter(group_members::user_id.eq_any(chunk)),
        )
        .execute(conn)?;
    }
    for user_id in &joined {
        diesel::insert_into(group_members::table)
            .values((
                group_members::group_id.eq(group_id),
                group_members::user_id.eq(user_id),
            ))
            .execute(conn)?;
    }
    let mut touched = left;
    touched.extend(joined);
    refresh_users(conn, policy, &touched, now)?;
    Ok(())
}

/// Replaces a user's registered methods and re-derives the user's status.
pub fn set_user_methods(
    conn: &mut DbConnection,
    policy: &SsprPolicy,
    user_id: &str,
    methods: &[(Method, Option<NaiveDateTime>)],
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::delete(user_methods::table.filter(user_methods::user_id.eq(user_id))).execute(conn)?;
    let mut seen = MethodSet::EMPTY;
    for (method, at) in methods {
        if seen.contains(*method) {
            continue;
        }
        seen.insert(*method);
        diesel::insert_into(user_methods::table)
            .values(NewUserMethod {
                user_id: user_id.to_string(),
                method: method.code(),
                registered_at: *at,
            })
            .execute(conn)?;
    }
    refresh_users(conn, policy, &[user_id.to_string()], now)?;
    Ok(())
}

/// Every group as (id, name), by name: the policy page's choices.
/// The display name of a group, if the directory holds it.
pub fn group_name(conn: &mut DbConnection, id: &str) -> QueryResult<Option<String>> {
    directory_groups::table
        .find(id)
        .select(directory_groups::display_name)
        .first::<String>(conn)
        .optional()
}

pub fn list_groups(conn: &mut DbConnection) -> QueryResult<Vec<(String, String)>> {
    directory_groups::table
        .order((
            directory_groups::display_name.asc(),
            directory_groups::id.asc(),
        ))
        .select((directory_groups::id, directory_groups::display_name))
        .load(conn)
}
