//! Registration details: one page of users that pass a filter, and how many
//! pass it.
//!
//! Counts come from the users-per-status aggregate (every filter but the
//! search is a set of status keys), never from counting rows. A page is read
//! by keyset, in one of two ways chosen from that count:
//! - a filter that many users pass walks the name (or user name) index and
//!   stops after one page;
//! - a filter few users pass seeks the status keys it admits in the
//!   `(status_key, name, id)` index and sorts that small set.
//!
//! A search is counted from the search index first (`db::search`); up to
//! [`SEARCH_SORT_LIMIT`] matches are collected with their sort values from a
//! covering index and paged in memory, more walk the ordered index checking
//! each row's text.

use super::cache::Counts;
use super::models::ListUser;
use super::schema::users;
use super::search::{self, count_matches};
use super::DbConnection;
use crate::domain::filter::{
    Cursor, LastUpdated, PagePosition, PageSize, RegistrationFilter, Search, Sort, SortField,
    Stated, Tristate, UserType,
};
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::Bool;

type Db = <DbConnection as Connection>::Backend;
type Query<'a> = users::BoxedQuery<'a, Db>;

/// A walk is chosen when at least one user in this many passes the filter,
/// so a page costs at most about `size × SEEK_RATIO` index entries.
const SEEK_RATIO: i64 = 50;
/// Search matches up to this many are sorted and paged in memory ...
pub const SEARCH_SORT_LIMIT: usize = 5_000;
/// ... or up to this many when status filters narrow them further (walking
/// the name index with both a search and a status filter can be long).
pub const SEARCH_FILTER_LIMIT: usize = 50_000;
/// A search (with its filter) that at least one user in this many passes is
/// read by walking the name index rather than by collecting its matches.
const SEARCH_WALK_RATIO: i64 = 400;
/// A status filter admitting up to this many users is checked against the
/// search user by user.
pub const SEARCH_KEYS_LIMIT: usize = 25_000;

/// Ids per `IN (…)` list.
const ID_CHUNK: usize = 500;

/// What the page asks for.
#[derive(Debug, Clone, Default)]
pub struct RegistrationQuery {
    pub filter: RegistrationFilter,
    pub sort: Sort,
    pub size: PageSize,
    pub position: PagePosition,
}

/// One page of users, in display order.
#[derive(Debug, Clone, Default)]
pub struct RegistrationPage {
    pub users: Vec<ListUser>,
    /// Users passing the filter, on every page.
    pub count: i64,
    /// True when a broad search matched more users than it is counted for
    /// ([`search::count_cap`]), and `count` is that cap.
    pub count_capped: bool,
    pub has_next: bool,
    pub has_prev: bool,
}

impl RegistrationPage {
    /// The cursor of a row for `sort`.
    pub fn cursor(user: &ListUser, sort: Sort) -> Cursor {
        Cursor {
            value: sort_value(user, sort).to_string(),
            id: user.id.clone(),
        }
    }
}

fn sort_value(user: &ListUser, sort: Sort) -> &str {
    match sort.field {
        SortField::Name => &user.display_name,
        SortField::UserName => &user.user_principal_name,
    }
}

/// The packed status keys the filter admits, and how many users have them.
fn admitted_keys(
    conn: &mut DbConnection,
    counts: &Counts<'_>,
    filter: &RegistrationFilter,
) -> QueryResult<(Vec<i64>, i64, i64)> {
    let mut keys = Vec::new();
    let (mut admitted, mut total) = (0, 0);
    for row in counts.status_rows(conn)?.iter() {
        total += row.users;
        if filter.admits(&row.key) {
            keys.push(row.packed);
            admitted += row.users;
        }
    }
    Ok((keys, admitted, total))
}

/// One page of users, counted from `counts`.
pub fn registration_page(
    conn: &mut DbConnection,
    counts: &Counts<'_>,
    q: &RegistrationQuery,
) -> QueryResult<RegistrationPage> {
    let (keys, admitted, total) = admitted_keys(conn, counts, &q.filter)?;
    if admitted == 0 {
        return Ok(RegistrationPage::default());
    }
    let status = q
        .filter
        .narrows_by_key()
        .then(|| Status::new(&q.filter, keys));
    let keys = status.as_ref();
    if let Some(updated) = q.filter.last_updated {
        return updated_page(conn, q, keys, updated);
    }
    match &q.filter.search {
        None => {
            let seek = keys.is_some() && admitted * SEEK_RATIO <= total;
            let mut page = read_page(conn, q, keys, seek, None)?;
            page.count = admitted;
            Ok(page)
        }
        Some(search) => {
            let cap = search::count_cap(conn, search);
            let matched = count_matches(conn, search)?;
            if matched == 0 {
                return Ok(RegistrationPage::default());
            }
            // Collect and sort in memory what is small enough: the users of
            // a selective status filter checked against the search, or the
            // few matches of a narrow search checked against the filter.
            if keys.is_some() && admitted as usize <= SEARCH_KEYS_LIMIT {
                let matches = search_matches(conn, search, keys, q.sort, Driver::Keys)?;
                return page_in_memory(conn, q, matches);
            }
            // A page larger than a person asks for (a CSV download's block)
            // would walk far for each block: collecting the matches once per
            // block is cheaper.
            let collect_limit = if keys.is_some() || q.size.get() > PageSize::MAX {
                SEARCH_FILTER_LIMIT as i64
            } else {
                SEARCH_SORT_LIMIT as i64
            };
            // The name indexes carry the search text and the status key, so
            // a walk checks both from the index alone: where matches are
            // dense enough that a page is met within about
            // `size × SEARCH_WALK_RATIO` entries, walking beats collecting.
            let dense = matched * admitted * SEARCH_WALK_RATIO >= total * total;
            if !dense && matched <= cap.min(collect_limit) {
                let matches = search_matches(conn, search, keys, q.sort, Driver::Search)?;
                return page_in_memory(conn, q, matches);
            }
            // Otherwise walk the ordered index for the page, and count: from
            // the search index joined with the status keys while the search
            // is countable, else row by row up to the cap.
            let count = match keys {
                None => matched,
                Some(_) if matched <= cap => count_search(conn, search, keys)?,
                Some(_) => count_search_capped(conn, search, keys, cap)?,
            };
            let mut page = read_page(conn, q, keys, false, Some(search))?;
            page.count = count.min(cap);
            page.count_capped = count > cap;
            Ok(page)
        }
    }
}

/// Which index a collection of search matches starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Driver {
    Keys,
    Search,
}

/// What the filter asks of a user's status key, in two forms: the keys it
/// admits (to seek in the key index) and bit tests on the key (to check rows
/// met in another index's order, without a list of thousands of keys).
pub struct Status {
    keys: Vec<i64>,
    tests: String,
}

impl Status {
    fn new(filter: &RegistrationFilter, keys: Vec<i64>) -> Status {
        use crate::domain::status::bits;
        // Each test: the key's bits under `mask` equal `value`.
        let mut tests: Vec<(i64, i64)> = Vec::new();
        let mut flag = |t: Tristate, bit: i64| match t {
            Tristate::All => {}
            Tristate::Yes => tests.push((bit, bit)),
            Tristate::No => tests.push((bit, 0)),
        };
        flag(filter.registered, bits::REGISTERED);
        flag(filter.enabled, bits::ENABLED);
        flag(filter.capable, bits::CAPABLE);
        flag(filter.mfa_capable, bits::MFA_CAPABLE);
        flag(filter.passwordless_capable, bits::PASSWORDLESS_CAPABLE);
        flag(
            match filter.user_type {
                None => Tristate::All,
                Some(UserType::Guest) => Tristate::Yes,
                Some(UserType::Member) => Tristate::No,
            },
            bits::GUEST,
        );
        flag(filter.admin, bits::ADMIN);
        flag(filter.verdicts_disagree, bits::DISAGREES);
        flag(filter.verdicts_stale, bits::STALE);
        flag(filter.role_known, bits::ROLE_KNOWN);
        let mut stated = |s: Stated, bit: i64, known: i64| match s {
            Stated::All => {}
            Stated::Yes => tests.push((bit | known, bit | known)),
            Stated::No => tests.push((bit | known, known)),
            Stated::Unknown => tests.push((known, 0)),
        };
        stated(
            filter.account_enabled,
            bits::ACCOUNT_ENABLED,
            bits::ACCOUNT_ENABLED_KNOWN,
        );
        stated(
            filter.mfa_registered,
            bits::MFA_REGISTERED,
            bits::MFA_REGISTERED_KNOWN,
        );
        for (code, shift) in [
            (filter.default_mfa_method, bits::DEFAULT_MFA_SHIFT),
            (filter.system_preferred_method, bits::SYSTEM_PREFERRED_SHIFT),
        ] {
            if let Some(code) = code {
                tests.push((bits::CODE << shift, i64::from(code) << shift));
            }
        }
        let mut terms: Vec<String> = tests
            .into_iter()
            .map(|(mask, value)| format!("(status_key & {mask}) = {value}"))
            .collect();
        if !filter.methods.is_empty() {
            terms.push(format!("(status_key & {}) <> 0", filter.methods.mask()));
        }
        Status {
            keys,
            tests: if terms.is_empty() {
                "1 = 1".to_string()
            } else {
                terms.join(" AND ")
            },
        }
    }
}

/// The status condition: seeking uses the key index; checking rows met in
/// another order tests the key's bits, which no index serves, so the planner
/// keeps to the order asked for.
fn with_keys<'a>(q: Query<'a>, status: Option<&'a Status>, seek: bool) -> Query<'a> {
    match status {
        None => q,
        Some(s) if seek => q.filter(users::status_key.eq_any(&s.keys)),
        Some(s) => q.filter(sql::<Bool>(&s.tests)),
    }
}

/// Adds the keyset condition and order for `sort` and `position`; returns
/// whether the rows come back reversed (a "previous" page reads backwards).
fn with_keyset<'a>(
    mut q: Query<'a>,
    sort: Sort,
    position: &PagePosition,
    limit: i64,
) -> (Query<'a>, bool) {
    let (cursor, forward) = match position {
        PagePosition::First => (None, true),
        PagePosition::After(c) => (Some(c.clone()), true),
        PagePosition::Before(c) => (Some(c.clone()), false),
    };
    // Reading order: ascending unless (descending sort) xor (reading backwards).
    let ascending = sort.descending != forward;
    macro_rules! keyset {
        ($col:expr) => {{
            if let Some(c) = cursor {
                q = if ascending {
                    q.filter(
                        $col.ge(c.value.clone())
                            .and($col.gt(c.value).or(users::id.gt(c.id))),
                    )
                } else {
                    q.filter(
                        $col.le(c.value.clone())
                            .and($col.lt(c.value).or(users::id.lt(c.id))),
                    )
                };
            }
            q = if ascending {
                q.order_by(($col.asc(), users::id.asc()))
            } else {
                q.order_by(($col.desc(), users::id.desc()))
            };
        }};
    }
    match sort.field {
        SortField::Name => keyset!(users::display_name),
        SortField::UserName => keyset!(users::user_principal_name),
    }
    (q.limit(limit), !forward)
}

fn read_page(
    conn: &mut DbConnection,
    q: &RegistrationQuery,
    keys: Option<&Status>,
    seek: bool,
    search: Option<&Search>,
) -> QueryResult<RegistrationPage> {
    let mut query = with_keys(users::table.into_boxed(), keys, seek);
    if let Some(search) = search {
        query = query.filter(search::row_condition(search));
    }
    keyset_page(conn, q, query)
}

/// The page of `query`'s rows at the query's position and order.
fn keyset_page(
    conn: &mut DbConnection,
    q: &RegistrationQuery,
    query: Query<'_>,
) -> QueryResult<RegistrationPage> {
    let size = i64::from(q.size.get());
    let (query, reversed) = with_keyset(query, q.sort, &q.position, size + 1);
    let mut rows: Vec<ListUser> = query.select(ListUser::as_select()).load(conn)?;
    let more = rows.len() as i64 > size;
    rows.truncate(size as usize);
    if reversed {
        rows.reverse();
    }
    Ok(paged(rows, &q.position, more))
}

/// The condition on Graph's `lastUpdatedDateTime`, relative to now.
fn updated_condition<'a>(q: Query<'a>, updated: LastUpdated) -> Query<'a> {
    let now = chrono::Utc::now().naive_utc();
    let days = |d: u16| now - chrono::Duration::days(i64::from(d));
    match updated {
        LastUpdated::Within(d) => q.filter(users::registration_updated_at.ge(days(d))),
        LastUpdated::Over(d) => q.filter(users::registration_updated_at.lt(days(d))),
        LastUpdated::NotStated => q.filter(users::registration_updated_at.is_null()),
    }
}

/// A page filtered by the last update, which no index serves: the rows are
/// walked in the order asked for with every condition checked on each, and
/// counted the same way.
fn updated_page(
    conn: &mut DbConnection,
    q: &RegistrationQuery,
    keys: Option<&Status>,
    updated: LastUpdated,
) -> QueryResult<RegistrationPage> {
    let filtered = || {
        let mut query =
            updated_condition(with_keys(users::table.into_boxed(), keys, false), updated);
        if let Some(search) = &q.filter.search {
            query = query.filter(search::row_condition(search));
        }
        query
    };
    let count: i64 = filtered().count().get_result(conn)?;
    let mut page = keyset_page(conn, q, filtered())?;
    page.count = count;
    Ok(page)
}

/// Sets the paging flags from whether a row beyond the page was found.
fn paged(users: Vec<ListUser>, position: &PagePosition, more: bool) -> RegistrationPage {
    let (has_prev, has_next) = super::timeline::page_flags(position, more);
    RegistrationPage {
        users,
        count: 0,
        count_capped: false,
        has_next,
        has_prev,
    }
}

/// (sort value, id) of every user the search matches among those the status
/// keys admit (the caller knows the set is small), starting from the driver's
/// index: on SQLite the key index, or the trigram index and a covering index.
fn search_matches(
    conn: &mut DbConnection,
    search: &Search,
    keys: Option<&Status>,
    sort: Sort,
    driver: Driver,
) -> QueryResult<Vec<(String, String)>> {
    let query = match driver {
        Driver::Keys => {
            with_keys(users::table.into_boxed(), keys, true).filter(search::row_condition(search))
        }
        Driver::Search => {
            let condition = search::condition(conn, search);
            with_keys(users::table.into_boxed(), keys, false).filter(condition)
        }
    };
    match sort.field {
        SortField::Name => query.select((users::display_name, users::id)).load(conn),
        SortField::UserName => query
            .select((users::user_principal_name, users::id))
            .load(conn),
    }
}

/// Users passing both the search and the status keys, exactly, driven by the
/// search index.
fn count_search(
    conn: &mut DbConnection,
    search: &Search,
    keys: Option<&Status>,
) -> QueryResult<i64> {
    let condition = search::condition(conn, search);
    with_keys(users::table.into_boxed(), keys, false)
        .filter(condition)
        .count()
        .get_result(conn)
}

/// Users passing both the search and the status keys, counted up to one past
/// `cap` by checking rows in turn.
fn count_search_capped(
    conn: &mut DbConnection,
    search: &Search,
    keys: Option<&Status>,
    cap: i64,
) -> QueryResult<i64> {
    let found: Vec<String> = with_keys(users::table.into_boxed(), keys, false)
        .filter(search::row_condition(search))
        .select(users::id)
        .limit(cap + 1)
        .load(conn)?;
    Ok(found.len() as i64)
}

/// Sorts a bounded set of matches, cuts the page out by keyset and loads its rows.
fn page_in_memory(
    conn: &mut DbConnection,
    q: &RegistrationQuery,
    mut matches: Vec<(String, String)>,
) -> QueryResult<RegistrationPage> {
    let count = matches.len() as i64;
    // Byte order, as both backends compare these columns (COLLATE "C").
    matches.sort_unstable();
    if q.sort.descending {
        matches.reverse();
    }
    let size = q.size.get() as usize;
    let before_cursor = |m: &(String, String), c: &Cursor| {
        let key = (m.0.as_str(), m.1.as_str());
        let at = (c.value.as_str(), c.id.as_str());
        if q.sort.descending {
            key > at
        } else {
            key < at
        }
    };
    let (slice, more) = match &q.position {
        PagePosition::First => (&matches[..size.min(matches.len())], matches.len() > size),
        PagePosition::After(c) => {
            // First match strictly past the cursor in display order.
            let start =
                matches.partition_point(|m| before_cursor(m, c) || (m.0 == c.value && m.1 == c.id));
            let end = (start + size).min(matches.len());
            (&matches[start..end], matches.len() > end)
        }
        PagePosition::Before(c) => {
            let end = matches.partition_point(|m| before_cursor(m, c));
            let start = end.saturating_sub(size);
            (&matches[start..end], start > 0)
        }
    };
    let ids: Vec<&str> = slice.iter().map(|m| m.1.as_str()).collect();
    let mut rows: Vec<ListUser> = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(ID_CHUNK) {
        rows.extend(
            users::table
                .filter(users::id.eq_any(chunk))
                .select(ListUser::as_select())
                .load::<ListUser>(conn)?,
        );
    }
    let order: std::collections::HashMap<&str, usize> =
        ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
    rows.sort_by_key(|u| order.get(u.id.as_str()).copied().unwrap_or(usize::MAX));
    let mut page = paged(rows, &q.position, more);
    page.count = count;
    Ok(page)
}
