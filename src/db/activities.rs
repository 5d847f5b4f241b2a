//! The classic reports: one page of a feature's activities (registrations or
//! password resets) in a range, newest first, and how many pass the filter.
//!
//! Counts are sums of the activity aggregates, which carry the result and
//! the methods used, so every filter but the search is counted exactly
//! without reading an activity. A page is read by keyset in one of two ways,
//! chosen from those counts:
//! - a filter that many activities pass walks the feature's time index,
//!   which carries the result, methods and user, and stops after one page;
//! - a filter few pass reads one ordered stream per (result, methods used)
//!   it admits from the `(feature, result, methods_mask, occurred_at, id)`
//!   index, each cut at one page, and merges them.
//!
//! A search narrows to the users it matches and reads their activities by
//! user; resets for a user ID that matched nobody are searched by the ID
//! entered. A search that matches more users than [`SEARCH_USER_LIMIT`]
//! walks the time index checking each activity's user, and is not counted.

use super::cache::Counts;
use super::counts::{window_spans, Rollup};
use super::models::Activity;
use super::schema::{activities, activity_counts, activity_counts_daily, users};
#[cfg(doc)]
use super::timeline::EXPORT_BLOCK;
use super::timeline::{list_page, window_and_keyset, Keyset, Merger, Source};
use super::DbConnection;
use crate::domain::filter::{ActivityFilter, Cursor, PagePosition, PageSize, Search, TimeWindow};
use chrono::NaiveDateTime;
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Integer, Text};
use std::collections::HashMap;

type Db = <DbConnection as Connection>::Backend;
type Query<'a> = activities::BoxedQuery<'a, Db>;

/// A search matching up to this many users is counted exactly and read by user.
pub const SEARCH_USER_LIMIT: usize = super::events::SEARCH_USER_LIMIT;
/// The time index is walked when at least one activity in this many passes
/// the filter, so a page costs at most about `size × WALK_RATIO` entries.
const WALK_RATIO: i64 = 20;
const ID_CHUNK: usize = 500;

/// Activities of one feature with one result and set of methods used, in a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActivityKind {
    pub result: i32,
    pub methods_mask: i32,
    pub count: i64,
}

/// A feature's activities per (result, methods used) in the window, from the
/// hourly counts and their daily rollup.
pub fn activity_kinds(
    conn: &mut DbConnection,
    feature: i32,
    window: TimeWindow,
) -> QueryResult<Vec<ActivityKind>> {
    let mut sums: HashMap<(i32, i32), i64> = HashMap::new();
    for span in window_spans(window) {
        let rows: Vec<(i32, i32, i64)> = match span.rollup {
            Rollup::Hourly => {
                use activity_counts::dsl as c;
                let mut q = c::activity_counts
                    .filter(c::feature.eq(feature))
                    .filter(c::bucket.ge(span.from))
                    .group_by((c::result, c::methods_mask))
                    .select((
                        c::result,
                        c::methods_mask,
                        sql::<BigInt>("CAST(SUM(activity_count) AS BIGINT)"),
                    ))
                    .into_boxed::<Db>();
                if let Some(to) = span.to {
                    q = q.filter(c::bucket.lt(to));
                }
                q.load(conn)?
            }
            Rollup::Daily => {
                use activity_counts_daily::dsl as c;
                let mut q = c::activity_counts_daily
                    .filter(c::feature.eq(feature))
                    .filter(c::day.ge(span.from))
                    .group_by((c::result, c::methods_mask))
                    .select((
                        c::result,
                        c::methods_mask,
                        sql::<BigInt>("CAST(SUM(activity_count) AS BIGINT)"),
                    ))
                    .into_boxed::<Db>();
                if let Some(to) = span.to {
                    q = q.filter(c::day.lt(to));
                }
                q.load(conn)?
            }
        };
        for (result, mask, n) in rows {
            *sums.entry((result, mask)).or_default() += n;
        }
    }
    let mut kinds: Vec<ActivityKind> = sums
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|((result, methods_mask), count)| ActivityKind {
            result,
            methods_mask,
            count,
        })
        .collect();
    kinds.sort_by_key(|k| (k.result, k.methods_mask));
    Ok(kinds)
}

/// One row of a classic report: the activity, and the user's current name
/// and user name when the activity's user is known.
#[derive(Debug, Clone)]
pub struct ActivityRow {
    pub activity: Activity,
    pub current: Option<(String, String)>,
}

/// How many activities pass the filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActivityCount {
    Exact(i64),
    /// The search matches this many users (more than [`SEARCH_USER_LIMIT`];
    /// when more than `cap`, counted only that far): too many to count
    /// their activities without a scan.
    SearchTooBroad {
        users: i64,
        cap: i64,
    },
}

#[derive(Debug, Clone)]
pub struct ActivityPage {
    pub rows: Vec<ActivityRow>,
    pub count: ActivityCount,
    pub has_next: bool,
    pub has_prev: bool,
}

impl ActivityPage {
    pub fn cursor(row: &ActivityRow) -> Cursor {
        Cursor::for_time(row.activity.occurred_at, &row.activity.id)
    }
}

/// What a classic report asks for.
#[derive(Debug, Clone)]
pub struct ActivityQuery {
    pub filter: ActivityFilter,
    pub size: PageSize,
    pub position: PagePosition,
}

/// The result and methods conditions of the filter, as SQL on integers the
/// portal chose (never text from a request). On SQLite the columns are
/// wrapped (`+result`) so that the planner keeps to the time index.
fn kind_conditions(conn: &DbConnection, f: &ActivityFilter) -> Option<String> {
    let plus = if matches!(conn, DbConnection::Sqlite(_)) {
        "+"
    } else {
        ""
    };
    let mut terms = Vec::new();
    if let Some(result) = f.result {
        terms.push(format!("{plus}activities.result = {}", result.code()));
    }
    if let Some(bits) = f.method_bits() {
        terms.push(format!("({plus}activities.methods_mask & {bits}) <> 0"));
    }
    (!terms.is_empty()).then(|| terms.join(" AND "))
}

fn with_kind_conditions<'a>(q: Query<'a>, conditions: Option<&str>) -> Query<'a> {
    match conditions {
        Some(c) => q.filter(sql::<Bool>(c)),
        None => q,
    }
}

/// A condition on activities: the activity's user is one the search matches,
/// or (a reset for a user ID that matched nobody) the ID entered contains
/// the search.
fn user_condition(
    conn: &DbConnection,
    search: &Search,
) -> Box<dyn BoxableExpression<activities::table, Db, SqlType = Bool>> {
    let users = match conn {
        DbConnection::Sqlite(_) => "users INDEXED BY users_by_id_names",
        DbConnection::Postgresql(_) => "users",
    };
    Box::new(
        sql::<Bool>(&format!(
            "(EXISTS (SELECT 1 FROM {users} WHERE users.id = activities.user_id \
             AND users.search_text LIKE "
        ))
        .bind::<Text, _>(search.like_pattern())
        .sql(" ESCAPE '\\') OR (activities.user_id IS NULL AND ")
        .sql(unknown_user_match(conn))
        .bind::<Text, _>(search.like_pattern())
        .sql(" ESCAPE '\\'))"),
    )
}

/// The ID entered for an unknown user, compared as the lowered search is:
/// SQLite's LIKE ignores ASCII case by itself (as its lower() is ASCII only);
/// PostgreSQL's is exact, so the ID is lowered first.
fn unknown_user_match(conn: &DbConnection) -> &'static str {
    match conn {
        DbConnection::Sqlite(_) => "activities.user_principal_name LIKE ",
        DbConnection::Postgresql(_) => "lower(activities.user_principal_name) LIKE ",
    }
}

fn unknown_users_query<'a>(
    conn: &DbConnection,
    f: &ActivityFilter,
    conditions: Option<&str>,
    search: &Search,
) -> Query<'a> {
    let q = activities::table
        .filter(activities::feature.eq(f.feature.code()))
        .filter(activities::user_id.is_null())
        .into_boxed()
        .filter(
            sql::<Bool>(unknown_user_match(conn))
                .bind::<Text, _>(search.like_pattern())
                .sql(" ESCAPE '\\'"),
        );
    with_kind_conditions(q, conditions)
}

pub fn activity_page(
    conn: &mut DbConnection,
    counts: &Counts<'_>,
    q: &ActivityQuery,
) -> QueryResult<ActivityPage> {
    activity_page_with(conn, counts, q, SEARCH_USER_LIMIT)
}

/// [`activity_page`] with the number of matched users above which a search
/// is read by walking instead of by user (tests set it low to exercise both).
pub fn activity_page_with(
    conn: &mut DbConnection,
    counts: &Counts<'_>,
    q: &ActivityQuery,
    user_limit: usize,
) -> QueryResult<ActivityPage> {
    let (sources, count) = plan(conn, counts, &q.filter, user_limit)?;
    let (rows, has_prev, has_next) = list_page(conn, sources, &q.position, q.size, load_rows)?;
    Ok(ActivityPage {
        rows,
        count,
        has_next,
        has_prev,
    })
}

/// Every activity that passes the filter, newest first, for an export that
/// reads each stream `block` keys at a time ([`EXPORT_BLOCK`] in the portal).
pub fn activity_export<'a>(
    conn: &mut DbConnection,
    counts: &Counts<'_>,
    f: &'a ActivityFilter,
    block: i64,
) -> QueryResult<Merger<'a>> {
    let (sources, _) = plan(conn, counts, f, SEARCH_USER_LIMIT)?;
    Ok(Merger::new(sources, block))
}

/// The ordered streams the filter is read from, and how many activities pass it.
fn plan<'a>(
    conn: &mut DbConnection,
    counts: &Counts<'_>,
    f: &'a ActivityFilter,
    user_limit: usize,
) -> QueryResult<(Vec<Source<'a>>, ActivityCount)> {
    let all_kinds = counts.activity_kinds(conn, f.feature.code(), f.window)?;
    let total: i64 = all_kinds.iter().map(|k| k.count).sum();
    let kinds: Vec<ActivityKind> = all_kinds
        .iter()
        .copied()
        .filter(|k| f.admits(k.result, k.methods_mask))
        .collect();
    let admitted: i64 = kinds.iter().map(|k| k.count).sum();
    let conditions: Option<String> = kind_conditions(conn, f);
    let mut sources: Vec<Source<'a>> = Vec::new();
    let count = match &f.search {
        _ if admitted == 0 => ActivityCount::Exact(0),
        None if admitted * WALK_RATIO >= total => {
            sources.push(Box::new(move |conn, keyset, limit| {
                walk(conn, f, conditions.as_deref(), None, keyset, limit)
            }));
            ActivityCount::Exact(admitted)
        }
        None => {
            for k in kinds {
                sources.push(Box::new(move |conn, keyset, limit| {
                    kind_stream(conn, f, &k, keyset, limit)
                }));
            }
            ActivityCount::Exact(admitted)
        }
        Some(search) => {
            let users = super::search::count_matches(conn, search)?;
            if users as usize <= user_limit {
                let ids = matching_user_ids(conn, search, user_limit)?;
                // Read by user from the (user, time) index, which carries
                // the feature, result and methods: on SQLite the feature is
                // wrapped, as with hundreds of IDs the planner would otherwise
                // scan the feature's whole time index (99 ms against 2 ms a
                // chunk of 500 users at 100,000 users).
                let feature_column = match conn {
                    DbConnection::Sqlite(_) => "+activities.feature",
                    DbConnection::Postgresql(_) => "activities.feature",
                };
                let mut n = 0;
                for chunk in ids.chunks(ID_CHUNK) {
                    let chunk = chunk.to_vec();
                    let by_users = {
                        let conditions = conditions.clone();
                        move |chunk: &[String]| {
                            with_kind_conditions(
                                activities::table
                                    .filter(sql::<Integer>(feature_column).eq(f.feature.code()))
                                    .filter(activities::user_id.eq_any(chunk.to_vec()))
                                    .into_boxed(),
                                conditions.as_deref(),
                            )
                        }
                    };
                    n += in_window(by_users(&chunk), f.window)
                        .count()
                        .get_result::<i64>(conn)?;
                    sources.push(Box::new(move |conn, keyset, limit| {
                        let q = by_users(&chunk).select((activities::occurred_at, activities::id));
                        window_and_keyset!(q, activities, f.window, keyset, limit).load(conn)
                    }));
                }
                n += in_window(
                    unknown_users_query(conn, f, conditions.as_deref(), search),
                    f.window,
                )
                .count()
                .get_result::<i64>(conn)?;
                sources.push(Box::new(move |conn, keyset, limit| {
                    let q = unknown_users_query(conn, f, conditions.as_deref(), search)
                        .select((activities::occurred_at, activities::id));
                    window_and_keyset!(q, activities, f.window, keyset, limit).load(conn)
                }));
                ActivityCount::Exact(n)
            } else {
                sources.push(Box::new(move |conn, keyset, limit| {
                    walk(conn, f, conditions.as_deref(), Some(search), keyset, limit)
                }));
                let cap = super::search::count_cap(conn, search);
                ActivityCount::SearchTooBroad { users, cap }
            }
        }
    };
    Ok((sources, count))
}

fn in_window(mut q: Query<'_>, window: TimeWindow) -> Query<'_> {
    q = q.filter(activities::occurred_at.ge(window.start));
    if let Some(end) = window.end {
        q = q.filter(activities::occurred_at.lt(end));
    }
    q
}

/// Walks the feature's time index, checking result, methods and (for a
/// broad search) the user of each activity from the index entry.
fn walk(
    conn: &mut DbConnection,
    f: &ActivityFilter,
    conditions: Option<&str>,
    search: Option<&Search>,
    keyset: &Keyset,
    limit: i64,
) -> QueryResult<Vec<(NaiveDateTime, String)>> {
    let mut q = with_kind_conditions(
        activities::table
            .filter(activities::feature.eq(f.feature.code()))
            .into_boxed(),
        conditions,
    );
    if let Some(search) = search {
        q = q.filter(user_condition(conn, search));
    }
    let q = q.select((activities::occurred_at, activities::id));
    window_and_keyset!(q, activities, f.window, keyset, limit).load(conn)
}

/// The activities of one (result, methods used), newest first.
fn kind_stream(
    conn: &mut DbConnection,
    f: &ActivityFilter,
    k: &ActivityKind,
    keyset: &Keyset,
    limit: i64,
) -> QueryResult<Vec<(NaiveDateTime, String)>> {
    let q = activities::table
        .filter(activities::feature.eq(f.feature.code()))
        .filter(activities::result.eq(k.result))
        .filter(activities::methods_mask.eq(k.methods_mask))
        .select((activities::occurred_at, activities::id))
        .into_boxed::<Db>();
    window_and_keyset!(q, activities, f.window, keyset, limit).load(conn)
}

fn matching_user_ids(
    conn: &mut DbConnection,
    search: &Search,
    limit: usize,
) -> QueryResult<Vec<String>> {
    let condition = super::search::condition(conn, search);
    users::table
        .into_boxed()
        .filter(condition)
        .select(users::id)
        .limit(limit as i64 + 1)
        .load(conn)
}

/// The rows of one page, in the order of `keys`.
pub fn load_rows(
    conn: &mut DbConnection,
    keys: &[(NaiveDateTime, String)],
) -> QueryResult<Vec<ActivityRow>> {
    let ids: Vec<&str> = keys.iter().map(|k| k.1.as_str()).collect();
    let mut rows: Vec<ActivityRow> = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(ID_CHUNK) {
        let found: Vec<Activity> = activities::table
            .filter(activities::id.eq_any(chunk))
            .select(Activity::as_select())
            .load(conn)?;
        let user_ids: Vec<&str> = found.iter().filter_map(|a| a.user_id.as_deref()).collect();
        let names = super::users::current_names(conn, &user_ids)?;
        rows.extend(found.into_iter().map(|activity| {
            ActivityRow {
                current: activity
                    .user_id
                    .as_ref()
                    .and_then(|id| names.get(id))
                    .cloned(),
                activity,
            }
        }));
    }
    let order: HashMap<&str, usize> = ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
    rows.sort_by_key(|r| {
        order
            .get(r.activity.id.as_str())
            .copied()
            .unwrap_or(usize::MAX)
    });
    Ok(rows)
}
