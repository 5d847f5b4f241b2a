//! The demo tenant: consistent aggregates, every result and details value,
//! and the same tenant for the same seed.

#![allow(clippy::unwrap_used)]

mod common;

use authinsights::db::counts::rebuild_status_counts;
use authinsights::db::directory::{load_policy, refresh_users, save_policy};
use authinsights::db::overview::status_totals;
use authinsights::db::schema::{activities, activity_counts, event_counts, method_events, users};
use authinsights::db::DbConnection;
use authinsights::domain::{ActivityResult, Details, Feature, Scope};
use authinsights::ingest::demo::{generate, DemoOptions};
use chrono::NaiveDate;
use common::{Backend, TestDb};
use diesel::dsl::count_star;
use diesel::prelude::*;
use std::collections::BTreeSet;

fn options(seed: u64) -> DemoOptions {
    DemoOptions {
        users: 400,
        days: 7,
        seed,
        events_per_user_day: 3.0,
        now: NaiveDate::from_ymd_opt(2026, 11, 23)
            .unwrap()
            .and_hms_opt(12, 0, 0)
            .unwrap(),
    }
}

fn fingerprint(conn: &mut DbConnection) -> Vec<(String, String, i32, bool)> {
    users::table
        .order(users::id)
        .select((
            users::id,
            users::user_principal_name,
            users::methods_mask,
            users::is_capable,
        ))
        .load(conn)
        .unwrap()
}

async fn demo_tenant(backend: Backend) {
    let db = TestDb::new(backend);
    let mut conn = db.connect();
    let opts = options(7);
    let summary = generate(&mut conn, &opts, false).unwrap();
    assert_eq!(summary.users, 400);
    assert!(summary.method_events >= opts.target_events());
    assert!(summary.method_events < opts.target_events() + 10);

    // Aggregates equal the rows they summarise.
    let events: i64 = method_events::table.count().get_result(&mut conn).unwrap();
    let counted: i64 = event_counts::table
        .select(event_counts::event_count)
        .load::<i64>(&mut conn)
        .unwrap()
        .iter()
        .sum();
    assert_eq!(events, counted);
    let acts: i64 = activities::table.count().get_result(&mut conn).unwrap();
    let counted: i64 = activity_counts::table
        .select(activity_counts::activity_count)
        .load::<i64>(&mut conn)
        .unwrap()
        .iter()
        .sum();
    assert_eq!(acts, counted);
    let totals = status_totals(&mut conn).unwrap();
    assert_eq!(totals.users, 400);
    rebuild_status_counts(&mut conn).unwrap();
    assert_eq!(status_totals(&mut conn).unwrap(), totals);

    // Believable proportions: some of each status, guests and admins.
    assert!(totals.capable > 40 && totals.capable < 360, "{totals:?}");
    assert!(totals.enabled_not_registered > 0 && totals.registered_not_enabled > 0);
    assert!(totals.passwordless_capable > 0 && totals.disabled_accounts > 0);
    let guests: i64 = users::table
        .filter(users::is_guest.eq(true))
        .select(count_star())
        .first(&mut conn)
        .unwrap();
    let admins: i64 = users::table
        .filter(users::is_admin.eq(true))
        .select(count_star())
        .first(&mut conn)
        .unwrap();
    assert!(guests > 5, "{guests} guests");
    assert_eq!(admins, 3);

    // Every result and every details value of the seed is represented, and
    // each details value sits with the result the seed's table gives it.
    let pairs: BTreeSet<(i32, Option<i32>)> = activities::table
        .filter(activities::feature.eq(Feature::Reset.code()))
        .select((activities::result, activities::details))
        .distinct()
        .load::<(i32, Option<i32>)>(&mut conn)
        .unwrap()
        .into_iter()
        .collect();
    for d in Details::ALL {
        assert!(
            pairs.contains(&(d.result().code(), Some(d.code()))),
            "details '{}' missing",
            d.text()
        );
    }
    assert_eq!(pairs.len(), Details::ALL.len(), "no other combinations");
    let unknown: i64 = activities::table
        .filter(activities::user_id.is_null())
        .select(count_star())
        .first(&mut conn)
        .unwrap();
    assert!(unknown > 0, "some resets are for unknown user IDs");
    let failures: i64 = method_events::table
        .filter(method_events::success.eq(false))
        .filter(method_events::failure_reason.is_not_null())
        .select(count_star())
        .first(&mut conn)
        .unwrap();
    assert!(failures > 0);
    let registration_results: BTreeSet<i32> = activities::table
        .filter(activities::feature.eq(Feature::Registration.code()))
        .select(activities::result)
        .distinct()
        .load::<i32>(&mut conn)
        .unwrap()
        .into_iter()
        .collect();
    assert!(registration_results.contains(&ActivityResult::Succeeded.code()));

    // Stored statuses are what the rules give: nothing left to re-derive,
    // and a policy change recomputes consistently.
    let policy = load_policy(&mut conn).unwrap();
    let ids: Vec<String> = users::table.select(users::id).load(&mut conn).unwrap();
    let now = opts.now;
    assert_eq!(refresh_users(&mut conn, &policy, &ids, now).unwrap(), 0);
    let all = authinsights::domain::SsprPolicy::new(Scope::All, 1, policy.allowed()).unwrap();
    save_policy(&mut conn, &all, None).unwrap();
    let after = status_totals(&mut conn).unwrap();
    rebuild_status_counts(&mut conn).unwrap();
    assert_eq!(status_totals(&mut conn).unwrap(), after);
    assert!(
        after.capable > totals.capable,
        "one method and scope all: more capable users"
    );

    // A second run on a non-empty database is refused and changes nothing.
    let err = generate(&mut conn, &opts, false).unwrap_err();
    assert!(err.to_string().contains("empty database"), "{err}");
    assert_eq!(status_totals(&mut conn).unwrap().users, 400);
}
db_test!(the_demo_tenant_is_complete_and_consistent, demo_tenant);

async fn demo_is_deterministic(backend: Backend) {
    let a = TestDb::new(backend);
    let b = TestDb::new(backend);
    let c = TestDb::new(backend);
    let (mut ca, mut cb, mut cc) = (a.connect(), b.connect(), c.connect());
    generate(&mut ca, &options(42), false).unwrap();
    generate(&mut cb, &options(42), false).unwrap();
    generate(&mut cc, &options(43), false).unwrap();
    assert_eq!(
        fingerprint(&mut ca),
        fingerprint(&mut cb),
        "same seed, same tenant"
    );
    assert_ne!(
        fingerprint(&mut ca),
        fingerprint(&mut cc),
        "another seed, another tenant"
    );
}
db_test!(the_same_seed_gives_the_same_tenant, demo_is_deterministic);
