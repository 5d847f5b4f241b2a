//! One user with everything the user page explains: the stored statuses,
//! the policy they were derived from, methods, groups and recent activities.

use super::directory::{group_name, load_policy, PolicyLoadError};
use super::models::{Activity, User};
use super::schema::{activities, directory_groups, group_members, user_methods, users};
use super::DbConnection;
use crate::domain::VerdictSource;
use crate::domain::{assess, Assessment, Method, SsprPolicy, UserFacts};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use std::collections::HashMap;

/// Recent activities shown on the user page.
pub const RECENT_ACTIVITIES: i64 = 20;

#[derive(Debug, Clone)]
pub struct UserDetail {
    pub user: User,
    /// Registered methods in catalogue order, with when they were registered.
    pub methods: Vec<(Method, Option<NaiveDateTime>)>,
    /// (id, display name) of the user's groups, by name.
    pub groups: Vec<(String, String)>,
    pub policy: SsprPolicy,
    /// Display name of the group the policy is scoped to, if any.
    pub policy_group_name: Option<String>,
    /// The rules applied now to the stored facts.
    pub assessment: Assessment,
    pub activities: Vec<Activity>,
    /// Which statuses the portal shows where an export stated verdicts.
    pub source: VerdictSource,
}

pub fn user_detail(
    conn: &mut DbConnection,
    id: &str,
) -> Result<Option<UserDetail>, PolicyLoadError> {
    let Some(user) = users::table
        .find(id)
        .select(User::as_select())
        .first(conn)
        .optional()?
    else {
        return Ok(None);
    };
    let policy = load_policy(conn)?;

    let mut methods: Vec<(Method, Option<NaiveDateTime>)> = user_methods::table
        .filter(user_methods::user_id.eq(id))
        .select((user_methods::method, user_methods::registered_at))
        .load::<(i32, Option<NaiveDateTime>)>(conn)?
        .into_iter()
        .filter_map(|(code, at)| Some((Method::from_code(code)?, at)))
        .collect();
    methods.sort_by_key(|(m, _)| m.code());

    let groups: Vec<(String, String)> = group_members::table
        .inner_join(directory_groups::table.on(directory_groups::id.eq(group_members::group_id)))
        .filter(group_members::user_id.eq(id))
        .order_by((directory_groups::display_name, directory_groups::id))
        .select((directory_groups::id, directory_groups::display_name))
        .load(conn)?;

    let policy_group_name = match policy.scope.group_id() {
        Some(group) => group_name(conn, group)?,
        None => None,
    };
    let in_policy_group = policy
        .scope
        .group_id()
        .is_some_and(|g| groups.iter().any(|(id, _)| id == g));
    let assessment = assess(
        &policy,
        &UserFacts {
            is_guest: user.is_guest,
            is_admin: user.is_admin,
            in_policy_group,
            methods: methods.iter().map(|(m, _)| *m).collect(),
        },
    );

    let activities: Vec<Activity> = activities::table
        .filter(activities::user_id.eq(id))
        .order_by((activities::occurred_at.desc(), activities::id.desc()))
        .limit(RECENT_ACTIVITIES)
        .select(Activity::as_select())
        .load(conn)?;

    Ok(Some(UserDetail {
        user,
        methods,
        groups,
        policy,
        policy_group_name,
        assessment,
        activities,
        source: super::directory::verdict_source(conn)?,
    }))
}

/// Which of `ids` are stored users.
pub fn existing_ids(
    conn: &mut DbConnection,
    ids: &[&str],
) -> QueryResult<std::collections::HashSet<String>> {
    let mut found = std::collections::HashSet::new();
    for chunk in ids.chunks(500) {
        found.extend(
            users::table
                .filter(users::id.eq_any(chunk))
                .select(users::id)
                .load::<String>(conn)?,
        );
    }
    Ok(found)
}

#[derive(QueryableByName)]
struct Names {
    #[diesel(sql_type = diesel::sql_types::Text)]
    id: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    display_name: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    user_principal_name: String,
}

/// The names now of those of `ids` who are in the directory: (display name,
/// user principal name) by id. The rows of a page or a download of events
/// name their users in random order; on SQLite each is read from the
/// `users_by_id_names` index alone (one b-tree descent, where the table
/// costs two), which the planner is told, since without fresh statistics
/// it picks the key's index and the row.
pub fn current_names(
    conn: &mut DbConnection,
    ids: &[&str],
) -> QueryResult<HashMap<String, (String, String)>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let found: Vec<Names> = match conn {
        DbConnection::Sqlite(c) => {
            let list = serde_json::to_string(ids)
                .map_err(|e| diesel::result::Error::SerializationError(Box::new(e)))?;
            diesel::sql_query(
                "SELECT users.id, users.display_name, users.user_principal_name \
                 FROM json_each(?) AS wanted \
                 JOIN users INDEXED BY users_by_id_names ON users.id = wanted.value",
            )
            .bind::<diesel::sql_types::Text, _>(list)
            .load(c)?
        }
        DbConnection::Postgresql(c) => diesel::sql_query(
            "SELECT id, display_name, user_principal_name FROM users WHERE id = ANY($1)",
        )
        .bind::<diesel::sql_types::Array<diesel::sql_types::Text>, _>(ids)
        .load(c)?,
    };
    Ok(found
        .into_iter()
        .map(|n| (n.id, (n.display_name, n.user_principal_name)))
        .collect())
}
