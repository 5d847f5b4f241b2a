//! Activities and method events: recording them with their aggregates, the
//! chart figures, and reset details (one page of method events).
//!
//! Chart figures and list counts are sums of the hourly aggregate. A page is
//! read as one ordered stream per (feature, method, status) the filter admits,
//! each from the `(feature, method, success, occurred_at, id)` index and cut
//! at one page, merged here: a page costs at most 28 short index reads, however
//! rare or common the events asked for. A search narrows to the users it
//! matches and reads their events by user; a search that matches more users
//! than [`SEARCH_USER_LIMIT`] walks the time index instead and cannot be
//! counted exactly without scanning, which the page says.

use super::cache::Counts;
use super::counts::{
    add_activity_counts, add_event_counts, touch_data_changed, window_spans, ActivityBucket,
    EventBucket, Rollup,
};
use super::models::{Activity, MethodEvent};
use super::schema::{event_counts, event_counts_daily, method_events, users};
#[cfg(doc)]
use super::timeline::EXPORT_BLOCK;
use super::timeline::{list_page, window_and_keyset, Keyset, Merger, Source};
use super::DbConnection;
use crate::domain::filter::{
    Cursor, EventFilter, PagePosition, PageSize, Search, TimeWindow, Tristate,
};
use crate::domain::{Feature, Method};
use chrono::NaiveDateTime;
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Integer, Nullable, Text};
use std::collections::HashMap;

type Db = <DbConnection as Connection>::Backend;

/// A search matching up to this many users is counted exactly and read by user.
pub const SEARCH_USER_LIMIT: usize = 5_000;
const ID_CHUNK: usize = 500;

/// Adds a batch of new activities and events to aggregate deltas.
pub fn tally(
    a_counts: &mut HashMap<ActivityBucket, i64>,
    e_counts: &mut HashMap<EventBucket, i64>,
    activities: &[Activity],
    events: &[MethodEvent],
) {
    activities.iter().for_each(|a| tally_activity(a_counts, a));
    events.iter().for_each(|e| tally_event(e_counts, e));
}

/// Adds one new activity to the aggregate deltas.
pub fn tally_activity(counts: &mut HashMap<ActivityBucket, i64>, a: &Activity) {
    *counts
        .entry(ActivityBucket::new(
            a.occurred_at,
            a.feature,
            a.result,
            a.methods_mask,
        ))
        .or_default() += 1;
}

/// Adds one new method event to the aggregate deltas.
pub fn tally_event(counts: &mut HashMap<EventBucket, i64>, e: &MethodEvent) {
    *counts
        .entry(EventBucket::new(
            e.occurred_at,
            e.feature,
            e.method,
            e.success,
        ))
        .or_default() += 1;
}

/// Stores new activities and their method events and moves the aggregates
/// with them, in one transaction.
pub fn record(
    conn: &mut DbConnection,
    activities: &[Activity],
    events: &[MethodEvent],
    now: NaiveDateTime,
) -> QueryResult<()> {
    super::write(conn, |conn| {
        super::bulk::insert_activities(conn, activities)?;
        super::bulk::insert_method_events(conn, events)?;
        let (mut a_counts, mut e_counts) = (HashMap::new(), HashMap::new());
        tally(&mut a_counts, &mut e_counts, activities, events);
        add_activity_counts(conn, &a_counts)?;
        add_event_counts(conn, &e_counts)?;
        touch_data_changed(conn, now)
    })
}

/// Method events of one kind in a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KindCount {
    pub feature: Feature,
    pub method: Method,
    pub success: bool,
    pub count: i64,
}

type KindSums = Vec<(i32, i32, bool, i64)>;

/// Hourly sums in `[from, to)` (no `to`: no upper bound).
fn hourly_sums(
    conn: &mut DbConnection,
    from: NaiveDateTime,
    to: Option<NaiveDateTime>,
) -> QueryResult<KindSums> {
    use event_counts::dsl as c;
    let mut q = c::event_counts
        .filter(c::bucket.ge(from))
        .group_by((c::feature, c::method, c::success))
        .select((
            c::feature,
            c::method,
            c::success,
            // SUM of a BIGINT is NUMERIC on PostgreSQL; both agree on BIGINT.
            sql::<BigInt>("CAST(SUM(event_count) AS BIGINT)"),
        ))
        .into_boxed::<Db>();
    if let Some(to) = to {
        q = q.filter(c::bucket.lt(to));
    }
    q.load(conn)
}

/// Daily sums of the days in `[from, to)`, both midnights.
fn daily_sums(
    conn: &mut DbConnection,
    from: NaiveDateTime,
    to: Option<NaiveDateTime>,
) -> QueryResult<KindSums> {
    use event_counts_daily::dsl as c;
    let mut q = c::event_counts_daily
        .filter(c::day.ge(from))
        .group_by((c::feature, c::method, c::success))
        .select((
            c::feature,
            c::method,
            c::success,
            sql::<BigInt>("CAST(SUM(event_count) AS BIGINT)"),
        ))
        .into_boxed::<Db>();
    if let Some(to) = to {
        q = q.filter(c::day.lt(to));
    }
    q.load(conn)
}

/// Method events per (feature, method, status) in the window, from the
/// maintained counts ([`window_spans`]).
pub fn kind_counts(conn: &mut DbConnection, window: TimeWindow) -> QueryResult<Vec<KindCount>> {
    let mut parts: KindSums = Vec::new();
    for span in window_spans(window) {
        parts.extend(match span.rollup {
            Rollup::Hourly => hourly_sums(conn, span.from, span.to)?,
            Rollup::Daily => daily_sums(conn, span.from, span.to)?,
        });
    }
    let mut sums: HashMap<(i32, i32, bool), i64> = HashMap::new();
    for (f, m, success, n) in parts {
        *sums.entry((f, m, success)).or_default() += n;
    }
    let mut out: Vec<KindCount> = sums
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .filter_map(|((f, m, success), count)| {
            Some(KindCount {
                feature: Feature::from_code(f)?,
                method: Method::from_code(m)?,
                success,
                count,
            })
        })
        .collect();
    out.sort_by_key(|k| (k.feature.code(), k.method.code(), !k.success));
    Ok(out)
}

/// One row of reset details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRow {
    pub id: String,
    pub occurred_at: NaiveDateTime,
    pub feature: i32,
    pub method: i32,
    pub success: bool,
    pub failure_reason: Option<String>,
    pub user_id: String,
    /// The user's names now; `None` when the user is not in the directory.
    pub display_name: Option<String>,
    pub user_principal_name: Option<String>,
    /// For a user not in the directory, the names the event's source gave.
    pub named: Option<(String, String)>,
    /// The source's name of a method this portal does not know.
    pub method_name: Option<String>,
}

/// How many events pass the filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventCount {
    Exact(i64),
    /// The search matches this many users (more than
    /// [`SEARCH_USER_LIMIT`]; when more than `cap`, counted only that far):
    /// too many to count their events without a scan.
    SearchTooBroad {
        users: i64,
        cap: i64,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventPage {
    pub rows: Vec<EventRow>,
    pub count: EventCount,
    pub has_next: bool,
    pub has_prev: bool,
}

impl EventPage {
    pub fn cursor(row: &EventRow) -> Cursor {
        Cursor::for_time(row.occurred_at, &row.id)
    }
}

/// What reset details asks for.
#[derive(Debug, Clone)]
pub struct EventQuery {
    pub filter: EventFilter,
    pub size: PageSize,
    pub position: PagePosition,
}

pub fn event_page(
    conn: &mut DbConnection,
    counts: &Counts<'_>,
    q: &EventQuery,
) -> QueryResult<EventPage> {
    event_page_with(conn, counts, q, SEARCH_USER_LIMIT)
}

/// [`event_page`] with the number of matched users above which a search is
/// read by walking instead of by user (tests set it low to exercise both).
pub fn event_page_with(
    conn: &mut DbConnection,
    counts: &Counts<'_>,
    q: &EventQuery,
    user_limit: usize,
) -> QueryResult<EventPage> {
    let (sources, count) = plan(conn, counts, &q.filter, user_limit)?;
    let (rows, has_prev, has_next) = list_page(conn, sources, &q.position, q.size, load_rows)?;
    Ok(EventPage {
        rows,
        count,
        has_next,
        has_prev,
    })
}

/// Every event that passes the filter, newest first, for an export that
/// reads each stream `block` keys at a time ([`EXPORT_BLOCK`] in the portal).
pub fn event_export<'a>(
    conn: &mut DbConnection,
    counts: &Counts<'_>,
    f: &'a EventFilter,
    block: i64,
) -> QueryResult<Merger<'a>> {
    let (sources, _) = plan(conn, counts, f, SEARCH_USER_LIMIT)?;
    Ok(Merger::new(sources, block))
}

/// The ordered streams the filter is read from, and how many events pass it.
fn plan<'a>(
    conn: &mut DbConnection,
    counts: &Counts<'_>,
    f: &'a EventFilter,
    user_limit: usize,
) -> QueryResult<(Vec<Source<'a>>, EventCount)> {
    let all_kinds = counts.event_kinds(conn, f.window)?;
    let total: i64 = all_kinds.iter().map(|k| k.count).sum();
    let kinds: Vec<KindCount> = all_kinds
        .iter()
        .copied()
        .filter(|k| f.admits_kind(k.feature, k.method, k.success))
        .collect();
    let admitted: i64 = kinds.iter().map(|k| k.count).sum();
    let mut sources: Vec<Source<'a>> = Vec::new();
    if f.in_directory == Tristate::No {
        // Events of users not in the directory: few, read from an index of
        // their own, and counted there.
        let n = if admitted == 0 {
            0
        } else {
            outside_count(conn, f)?
        };
        sources.push(Box::new(move |conn, keyset, limit| {
            outside_stream(conn, f, keyset, limit)
        }));
        return Ok((sources, EventCount::Exact(n)));
    }
    let count = match &f.search {
        None => {
            let in_directory = f.in_directory == Tristate::Yes;
            if !in_directory && kinds.len() > 1 && kinds.len() == all_kinds.len() {
                // Every kind: one walk of the time index, not a stream per kind.
                sources.push(Box::new(move |conn, keyset, limit| {
                    time_stream(conn, f.window, keyset, limit)
                }));
            } else {
                for k in kinds {
                    sources.push(Box::new(move |conn, keyset, limit| {
                        kind_stream(conn, f.window, &k, in_directory, keyset, limit)
                    }));
                }
            }
            if in_directory && admitted > 0 {
                EventCount::Exact(admitted - outside_count(conn, f)?)
            } else {
                EventCount::Exact(admitted)
            }
        }
        Some(_) if admitted == 0 => EventCount::Exact(0),
        Some(search) => {
            let users = count_users(conn, search)?;
            let count = if users as usize <= user_limit {
                let ids = matching_user_ids(conn, search)?;
                let mut n = 0;
                for chunk in ids.chunks(ID_CHUNK) {
                    n += count_for_users(conn, f, chunk)?;
                    let chunk = chunk.to_vec();
                    sources.push(Box::new(move |conn, keyset, limit| {
                        users_stream(conn, f, &chunk, keyset, limit)
                    }));
                }
                EventCount::Exact(n)
            } else {
                if admitted * 20 >= total {
                    sources.push(Box::new(move |conn, keyset, limit| {
                        search_walk(conn, f, search, keyset, limit)
                    }));
                } else {
                    // Rare kinds of event: their streams read side by side,
                    // a slice of time at a time, checking the user of each
                    // event, until the slices hold a page of matches.
                    let directory_users: i64 =
                        counts.status_rows(conn)?.iter().map(|r| r.users).sum();
                    let expected = admitted as f64 * users as f64 / directory_users.max(1) as f64;
                    sources.push(Box::new(move |conn, keyset, limit| {
                        sliced_search_stream(
                            conn, f.window, &kinds, search, expected, keyset, limit,
                        )
                    }));
                }
                let cap = super::search::count_cap(conn, search);
                EventCount::SearchTooBroad { users, cap }
            };
            // A search finds users not in the directory by the names their
            // events carry, too.
            if f.in_directory == Tristate::All {
                let outside = outside_count(conn, f)?;
                if outside > 0 {
                    sources.push(Box::new(move |conn, keyset, limit| {
                        outside_stream(conn, f, keyset, limit)
                    }));
                }
                match count {
                    EventCount::Exact(n) => EventCount::Exact(n + outside),
                    broad => broad,
                }
            } else {
                count
            }
        }
    };
    Ok((sources, count))
}

define_sql_function! {
    /// Lower case, for a search among the names events carry.
    fn lower(text: Nullable<Text>) -> Nullable<Text>;
}

/// The events of users not in the directory that pass the filter (the
/// search looks in the names the events carry). They are few and have an
/// index of their own, which SQLite's planner is kept to by wrapping the
/// kind columns (with an equality on all three it would otherwise read
/// every event of the kind).
fn outside_events<'a>(conn: &DbConnection, f: &EventFilter) -> method_events::BoxedQuery<'a, Db> {
    let mut q = unindexed_kind_filter(
        conn,
        method_events::table
            .filter(method_events::user_principal_name.is_not_null())
            .into_boxed(),
        f,
    );
    if let Some(search) = &f.search {
        let pattern = search.like_pattern();
        q = q.filter(
            lower(method_events::user_principal_name)
                .like(pattern.clone())
                .escape('\\')
                .or(lower(method_events::user_display_name)
                    .like(pattern)
                    .escape('\\')),
        );
    }
    q
}

fn outside_count(conn: &mut DbConnection, f: &EventFilter) -> QueryResult<i64> {
    let mut q = outside_events(conn, f).filter(method_events::occurred_at.ge(f.window.start));
    if let Some(end) = f.window.end {
        q = q.filter(method_events::occurred_at.lt(end));
    }
    q.count().get_result(conn)
}

fn outside_stream(
    conn: &mut DbConnection,
    f: &EventFilter,
    keyset: &Keyset,
    limit: i64,
) -> QueryResult<Vec<(NaiveDateTime, String)>> {
    let q = outside_events(conn, f).select((method_events::occurred_at, method_events::id));
    window_and_keyset!(q, method_events, f.window, keyset, limit).load(conn)
}

/// Every event in the window, from the time index.
fn time_stream(
    conn: &mut DbConnection,
    window: TimeWindow,
    keyset: &Keyset,
    limit: i64,
) -> QueryResult<Vec<(NaiveDateTime, String)>> {
    let q = method_events::table
        .select((method_events::occurred_at, method_events::id))
        .into_boxed::<Db>();
    window_and_keyset!(q, method_events, window, keyset, limit).load(conn)
}

fn kind_stream(
    conn: &mut DbConnection,
    window: TimeWindow,
    k: &KindCount,
    in_directory: bool,
    keyset: &Keyset,
    limit: i64,
) -> QueryResult<Vec<(NaiveDateTime, String)>> {
    let mut q = method_events::table
        .filter(method_events::feature.eq(k.feature.code()))
        .filter(method_events::method.eq(k.method.code()))
        .filter(method_events::success.eq(k.success))
        .select((method_events::occurred_at, method_events::id))
        .into_boxed::<Db>();
    if in_directory {
        q = q.filter(method_events::user_principal_name.is_null());
    }
    window_and_keyset!(q, method_events, window, keyset, limit).load(conn)
}

/// [`with_kind_filter`] that keeps SQLite's planner off the kind index
/// (`+feature`), for a walk of another index in its order.
fn unindexed_kind_filter<'a>(
    conn: &DbConnection,
    mut q: method_events::BoxedQuery<'a, Db>,
    f: &EventFilter,
) -> method_events::BoxedQuery<'a, Db> {
    if !matches!(conn, DbConnection::Sqlite(_)) {
        return with_kind_filter(q, f);
    }
    if let Some(feature) = f.feature {
        q = q.filter(sql::<Integer>("+method_events.feature").eq(feature.code()));
    }
    if let Some(method) = f.method {
        q = q.filter(sql::<Integer>("+method_events.method").eq(method.code()));
    }
    if let Some(outcome) = f.outcome {
        q = q.filter(sql::<Bool>("+method_events.success").eq(outcome.is_success()));
    }
    q
}

fn with_kind_filter<'a>(
    mut q: method_events::BoxedQuery<'a, Db>,
    f: &EventFilter,
) -> method_events::BoxedQuery<'a, Db> {
    if let Some(feature) = f.feature {
        q = q.filter(method_events::feature.eq(feature.code()));
    }
    if let Some(method) = f.method {
        q = q.filter(method_events::method.eq(method.code()));
    }
    if let Some(outcome) = f.outcome {
        q = q.filter(method_events::success.eq(outcome.is_success()));
    }
    q
}

fn count_for_users(conn: &mut DbConnection, f: &EventFilter, ids: &[String]) -> QueryResult<i64> {
    let mut q = with_kind_filter(method_events::table.into_boxed(), f)
        .filter(method_events::user_id.eq_any(ids))
        .filter(method_events::occurred_at.ge(f.window.start));
    if let Some(end) = f.window.end {
        q = q.filter(method_events::occurred_at.lt(end));
    }
    q.count().get_result(conn)
}

fn users_stream(
    conn: &mut DbConnection,
    f: &EventFilter,
    ids: &[String],
    keyset: &Keyset,
    limit: i64,
) -> QueryResult<Vec<(NaiveDateTime, String)>> {
    let q = with_kind_filter(method_events::table.into_boxed(), f)
        .filter(method_events::user_id.eq_any(ids))
        .select((method_events::occurred_at, method_events::id));
    window_and_keyset!(q, method_events, f.window, keyset, limit).load(conn)
}

/// Walks the time index, checking each event's kind and user: for a search
/// that matches many users and kinds that are common. On SQLite the kind
/// columns are wrapped (`+feature`) so the planner keeps to the time order.
fn search_walk(
    conn: &mut DbConnection,
    f: &EventFilter,
    search: &Search,
    keyset: &Keyset,
    limit: i64,
) -> QueryResult<Vec<(NaiveDateTime, String)>> {
    let q = method_events::table
        .into_boxed()
        .filter(super::search::event_user_condition(conn, search));
    let q =
        unindexed_kind_filter(conn, q, f).select((method_events::occurred_at, method_events::id));
    window_and_keyset!(q, method_events, f.window, keyset, limit).load(conn)
}

/// The events of `kinds` whose user the search matches, up to `limit` past
/// the keyset. Reading each kind's stream to `limit` matches would check
/// about `limit / share` events per kind; the streams are read side by side
/// instead, one slice of time at a time (each slice sized from the matches
/// `expected` in the window, the next one twice as long), until the slices
/// read hold `limit` matches: every event before the last slice's far edge
/// has then been seen, so the first `limit` in reading order are the page.
fn sliced_search_stream(
    conn: &mut DbConnection,
    window: TimeWindow,
    kinds: &[KindCount],
    search: &Search,
    expected: f64,
    keyset: &Keyset,
    limit: i64,
) -> QueryResult<Vec<(NaiveDateTime, String)>> {
    let of_kind = |k: &KindCount| {
        method_events::table
            .filter(method_events::feature.eq(k.feature.code()))
            .filter(method_events::method.eq(k.method.code()))
            .filter(method_events::success.eq(k.success))
            .into_boxed::<Db>()
    };
    // The newest and oldest events of these kinds in the window bound the
    // walk (a MIN or a MAX alone is one seek in the kind index; both in one
    // query would read the whole range).
    let (mut newest, mut oldest): (Option<NaiveDateTime>, Option<NaiveDateTime>) = (None, None);
    for k in kinds {
        let in_window = || {
            let mut q = of_kind(k).filter(method_events::occurred_at.ge(window.start));
            if let Some(end) = window.end {
                q = q.filter(method_events::occurred_at.lt(end));
            }
            q
        };
        let first: Option<NaiveDateTime> = in_window()
            .select(diesel::dsl::min(method_events::occurred_at))
            .first(conn)?;
        let last: Option<NaiveDateTime> = in_window()
            .select(diesel::dsl::max(method_events::occurred_at))
            .first(conn)?;
        oldest = oldest.into_iter().chain(first).min();
        newest = newest.into_iter().chain(last).max();
    }
    let (Some(oldest), Some(newest)) = (oldest, newest) else {
        return Ok(Vec::new());
    };
    let backwards = keyset.backwards_in_time;
    let mut edge = match &keyset.at {
        Some((t, _)) => *t,
        None if backwards => newest,
        None => oldest,
    };
    let length = (newest - oldest).num_milliseconds().max(1) as f64;
    let share = (2.0 * limit as f64 / expected.max(1.0)).min(1.0);
    let mut span = chrono::Duration::milliseconds((length * share).max(60_000.0) as i64);
    let mut found: Vec<(NaiveDateTime, String)> = Vec::new();
    let mut first = true;
    loop {
        // The slice: from the edge (inclusive the first time, where the
        // keyset decides the ties) a span further in the reading direction.
        let far = if backwards { edge - span } else { edge + span };
        for k in kinds {
            let mut q = of_kind(k).filter(super::search::event_user_condition(conn, search));
            q = if backwards {
                let q = q.filter(method_events::occurred_at.ge(far));
                if first {
                    q
                } else {
                    q.filter(method_events::occurred_at.lt(edge))
                }
            } else {
                let q = q.filter(method_events::occurred_at.lt(far));
                if first {
                    q
                } else {
                    q.filter(method_events::occurred_at.ge(edge))
                }
            };
            let q = q.select((method_events::occurred_at, method_events::id));
            found.extend(
                window_and_keyset!(q, method_events, window, keyset, limit).load::<(
                    NaiveDateTime,
                    String,
                )>(
                    conn
                )?,
            );
        }
        first = false;
        let done = if backwards {
            far <= oldest
        } else {
            far > newest
        };
        if found.len() as i64 >= limit || done {
            break;
        }
        edge = far;
        span = span * 2;
    }
    found.sort_unstable();
    if backwards {
        found.reverse();
    }
    found.truncate(limit as usize);
    Ok(found)
}

fn matching_user_ids(conn: &mut DbConnection, search: &Search) -> QueryResult<Vec<String>> {
    let condition = super::search::condition(conn, search);
    users::table
        .into_boxed()
        .filter(condition)
        .select(users::id)
        .limit(SEARCH_USER_LIMIT as i64 + 1)
        .load(conn)
}

fn count_users(conn: &mut DbConnection, search: &Search) -> QueryResult<i64> {
    super::search::count_matches(conn, search)
}

/// The rows of one page, in the order of `keys`.
pub fn load_rows(
    conn: &mut DbConnection,
    keys: &[(NaiveDateTime, String)],
) -> QueryResult<Vec<EventRow>> {
    let ids: Vec<&str> = keys.iter().map(|k| k.1.as_str()).collect();
    let mut rows: Vec<EventRow> = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(ID_CHUNK) {
        type Found = (MethodEvent, Option<String>, Option<String>);
        let found: Vec<Found> = method_events::table
            .filter(method_events::id.eq_any(chunk))
            .select((
                MethodEvent::as_select(),
                method_events::user_principal_name,
                method_events::user_display_name,
            ))
            .load(conn)?;
        let user_ids: Vec<&str> = found.iter().map(|(e, _, _)| e.user_id.as_str()).collect();
        let names = super::users::current_names(conn, &user_ids)?;
        rows.extend(found.into_iter().map(|(e, named_upn, named_name)| {
            let user = names.get(&e.user_id);
            EventRow {
                id: e.id,
                occurred_at: e.occurred_at,
                feature: e.feature,
                method: e.method,
                success: e.success,
                failure_reason: e.failure_reason,
                user_id: e.user_id,
                named: match (&user, named_upn) {
                    (None, Some(upn)) => Some((upn, named_name.unwrap_or_default())),
                    _ => None,
                },
                display_name: user.map(|u| u.0.clone()),
                user_principal_name: user.map(|u| u.1.clone()),
                method_name: e.method_name,
            }
        }));
    }
    let order: HashMap<&str, usize> = ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
    rows.sort_by_key(|r| order.get(r.id.as_str()).copied().unwrap_or(usize::MAX));
    Ok(rows)
}
