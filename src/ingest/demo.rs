//! The demo-tenant generator: a deterministic, realistic directory (members and
//! guests, a handful of administrators, groups, a policy scoped to a pilot
//! group, a believable mix of methods) and its registration and reset activity
//! over a number of days, with every result and details value represented.
//!
//! The generator runs on its own thread and hands batches to the writer, so a
//! 1,000,000-user, 10,000,000-event tenant loads in a few minutes on SQLite.

use crate::db::bulk;
use crate::db::counts::{
    add_activity_counts, add_event_counts, rebuild_status_counts, touch_data_changed,
    ActivityBucket, EventBucket,
};
use crate::db::directory::store_policy;
use crate::db::events::tally;
use crate::db::models::{
    search_text, Activity, MethodEvent, NewMember, NewUserMethod, StatusKey, User,
};
use crate::db::trends::{record_changes, replace_history, status_bits, StatusChange};
use crate::db::{self, accounts::format_guid, DbConnection};
use crate::domain::second_factor::MfaDetails;
use crate::domain::{
    evaluate, ActivityResult, Details, Feature, Method, MethodSet, PolicyMethod, Scope, SsprPolicy,
    UserFacts, UserStatus,
};
use anyhow::{bail, Context};
use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, SubsecRound, Timelike, Weekday};
use indicatif::{ProgressBar, ProgressStyle};
use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::mpsc::sync_channel;
use std::sync::Arc;
use std::time::Instant;

/// What a registration-details export would say of a demo user's second
/// factor, derived from the methods alone (no draw, so the rest of the demo
/// stays as it was): the strongest method is the system's preference, the
/// most familiar one the default.
fn demo_mfa_details(methods: MethodSet, now: NaiveDateTime) -> MfaDetails {
    let pick = |table: &[(Method, &str)]| {
        table
            .iter()
            .find(|(m, _)| methods.contains(*m))
            .map(|(_, name)| name.to_string())
    };
    let default = pick(&[
        (Method::AppNotification, "microsoftAuthenticatorPush"),
        (Method::AppCode, "softwareOneTimePasscode"),
        (Method::MobileSms, "mobilePhone"),
        (Method::MobileCall, "mobilePhone"),
        (Method::OfficeCall, "officePhone"),
    ]);
    let system = pick(&[
        (Method::Passkey, "passkey"),
        (Method::Fido2, "fido2"),
        (Method::WindowsHello, "windowsHelloForBusiness"),
        (Method::AppNotification, "push"),
        (Method::AppCode, "oath"),
        (Method::HardwareOtp, "hardwareOath"),
        (Method::MobileSms, "sms"),
        (Method::MobileCall, "voiceMobile"),
        (Method::OfficeCall, "voiceOffice"),
    ]);
    MfaDetails {
        mfa_registered: Some(methods.iter().any(Method::is_mfa_capable)),
        user_preferred_method: pick(&[
            (Method::AppNotification, "push"),
            (Method::AppCode, "oath"),
            (Method::MobileSms, "sms"),
            (Method::MobileCall, "voiceMobile"),
            (Method::OfficeCall, "voiceOffice"),
        ]),
        default_mfa_method: Some(default.unwrap_or_else(|| "none".to_string())),
        system_preferred_enabled: Some(true),
        system_preferred_methods: Some(system.into_iter().collect()),
        // To the second, as both backends keep it alike.
        updated_at: Some(now.trunc_subsecs(0)),
    }
}

/// What to generate.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    pub users: u64,
    pub days: u32,
    pub seed: u64,
    pub events_per_user_day: f64,
    /// The end of the generated window.
    pub now: NaiveDateTime,
}

impl DemoOptions {
    pub fn validate(&self) -> anyhow::Result<()> {
        if !(1..=5_000_000).contains(&self.users) {
            bail!(
                "--users must be between 1 and 5,000,000, not {}",
                self.users
            );
        }
        if !(1..=365).contains(&self.days) {
            bail!("--days must be between 1 and 365, not {}", self.days);
        }
        if !(0.0..=50.0).contains(&self.events_per_user_day) {
            bail!(
                "--events-per-user-day must be between 0 and 50, not {}",
                self.events_per_user_day
            );
        }
        Ok(())
    }

    pub fn target_events(&self) -> u64 {
        (self.users as f64 * f64::from(self.days) * self.events_per_user_day).round() as u64
    }
}

#[derive(Debug, Clone, Default)]
pub struct DemoSummary {
    pub users: u64,
    pub groups: u64,
    pub memberships: u64,
    pub methods: u64,
    pub activities: u64,
    pub method_events: u64,
    pub seconds: f64,
}

impl fmt::Display for DemoSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "demo tenant: {} users, {} groups, {} memberships, {} registered methods, {} activities, {} method events in {:.1} s",
            self.users, self.groups, self.memberships, self.methods, self.activities, self.method_events, self.seconds
        )
    }
}

pub const POLICY_GROUP_ID: &str = "0c5b3a1e-7d2f-4a8e-9b61-5f0d2c8e4a01";
pub const POLICY_GROUP_NAME: &str = "SSPR pilot";
const DEPARTMENTS: [(&str, &str); 6] = [
    ("0c5b3a1e-7d2f-4a8e-9b61-5f0d2c8e4a02", "Finance"),
    ("0c5b3a1e-7d2f-4a8e-9b61-5f0d2c8e4a03", "Engineering"),
    ("0c5b3a1e-7d2f-4a8e-9b61-5f0d2c8e4a04", "Sales"),
    ("0c5b3a1e-7d2f-4a8e-9b61-5f0d2c8e4a05", "Operations"),
    ("0c5b3a1e-7d2f-4a8e-9b61-5f0d2c8e4a06", "Human Resources"),
    ("0c5b3a1e-7d2f-4a8e-9b61-5f0d2c8e4a07", "Legal & Compliance"),
];

/// (display form, ASCII form for the user name). A few names carry
/// apostrophes and letters outside ASCII, so escaping is exercised everywhere.
const FIRST_NAMES: &[(&str, &str)] = &[
    ("Ana", "ana"),
    ("Ben", "ben"),
    ("Chloé", "chloe"),
    ("Daniel", "daniel"),
    ("Elif", "elif"),
    ("Farah", "farah"),
    ("Grace", "grace"),
    ("Hiroshi", "hiroshi"),
    ("Ines", "ines"),
    ("Jonas", "jonas"),
    ("Kwame", "kwame"),
    ("Lena", "lena"),
    ("Mateo", "mateo"),
    ("Nadia", "nadia"),
    ("Oskar", "oskar"),
    ("Priya", "priya"),
    ("Quentin", "quentin"),
    ("Rosa", "rosa"),
    ("Søren", "soren"),
    ("Tomás", "tomas"),
    ("Uma", "uma"),
    ("Victor", "victor"),
    ("Wei", "wei"),
    ("Ximena", "ximena"),
    ("Yusuf", "yusuf"),
    ("Zoë", "zoe"),
    ("Aiko", "aiko"),
    ("Björn", "bjorn"),
    ("Camille", "camille"),
    ("Dmitri", "dmitri"),
    ("Emeka", "emeka"),
    ("Fatima", "fatima"),
    ("Giulia", "giulia"),
    ("Hannah", "hannah"),
    ("Ivan", "ivan"),
    ("José", "jose"),
    ("Kira", "kira"),
    ("Łukasz", "lukasz"),
    ("Maya", "maya"),
    ("Noah", "noah"),
    ("Olivia", "olivia"),
    ("Pablo", "pablo"),
    ("Renée", "renee"),
    ("Sanjay", "sanjay"),
    ("Thandiwe", "thandiwe"),
    ("Ulrich", "ulrich"),
    ("Valentina", "valentina"),
    ("William", "william"),
    ("Yara", "yara"),
    ("Zainab", "zainab"),
];
const LAST_NAMES: &[(&str, &str)] = &[
    ("Silva", "silva"),
    ("Okafor", "okafor"),
    ("Müller", "muller"),
    ("Tanaka", "tanaka"),
    ("O'Brien", "obrien"),
    ("García", "garcia"),
    ("Kowalski", "kowalski"),
    ("Nguyễn", "nguyen"),
    ("Johansson", "johansson"),
    ("Rossi", "rossi"),
    ("Smith", "smith"),
    ("Haddad", "haddad"),
    ("Patel", "patel"),
    ("Dubois", "dubois"),
    ("Yılmaz", "yilmaz"),
    ("Kim", "kim"),
    ("Andersen", "andersen"),
    ("Mensah", "mensah"),
    ("Novak", "novak"),
    ("Ferreira", "ferreira"),
    ("Chen", "chen"),
    ("Ivanova", "ivanova"),
    ("Brown", "brown"),
    ("Schmidt", "schmidt"),
    ("Costa", "costa"),
    ("Walsh", "walsh"),
    ("Hernández", "hernandez"),
    ("Lindqvist", "lindqvist"),
    ("Adeyemi", "adeyemi"),
    ("Moreau", "moreau"),
    ("Sato", "sato"),
    ("Kaur", "kaur"),
    ("Fischer", "fischer"),
    ("López", "lopez"),
    ("Jensen", "jensen"),
    ("Abara", "abara"),
    ("Petrov", "petrov"),
    ("Wilson", "wilson"),
    ("Bianchi", "bianchi"),
    ("Nowak", "nowak"),
];
const PARTNER_DOMAINS: &[&str] = &[
    "fabrikam.com",
    "northwind.example",
    "tailspin.example",
    "wingtip.example",
];
const ADMIN_ROLES: &[&str] = &[
    "Global Administrator",
    "Security Administrator",
    "Helpdesk Administrator",
    "Authentication Administrator",
    "User Administrator",
    "Password Administrator",
];

/// The demo tenant's policy: the worked example of docs/design.md.
pub fn demo_policy() -> SsprPolicy {
    SsprPolicy::new(
        Scope::Selected {
            group_id: POLICY_GROUP_ID.into(),
        },
        2,
        [
            PolicyMethod::AppNotification,
            PolicyMethod::AppCode,
            PolicyMethod::MobilePhone,
            PolicyMethod::Email,
        ]
        .into_iter()
        .collect(),
    )
    .expect("the demo policy is valid")
}

/// One generated user.
struct DemoUser {
    id: String,
    upn: String,
    name: String,
    role: &'static str,
    is_admin: bool,
    is_guest: bool,
    account_enabled: bool,
    in_pilot: bool,
    department: Option<&'static str>,
    methods: MethodSet,
    /// When each of `methods` was registered, in the set's order.
    registered_at: Vec<NaiveDateTime>,
    status: UserStatus,
}

struct Batch {
    activities: Vec<Activity>,
    events: Vec<MethodEvent>,
}

fn bar(visible: bool, len: u64, prefix: &'static str) -> ProgressBar {
    if !visible {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new(len).with_prefix(prefix);
    if let Ok(style) = ProgressStyle::with_template(
        "{prefix:>14} [{bar:40.cyan/blue}] {human_pos}/{human_len} {per_sec:>12} eta {eta}",
    ) {
        pb.set_style(style.progress_chars("=> "));
    }
    pb
}

/// Fills an empty database with a tenant. All of it is one transaction.
pub fn generate(
    conn: &mut DbConnection,
    opts: &DemoOptions,
    show_progress: bool,
) -> anyhow::Result<DemoSummary> {
    opts.validate()?;
    if !db::directory::is_empty(conn)? {
        bail!("the database already holds users or activities: the demo tenant needs an empty database");
    }
    let started = Instant::now();
    db::begin_generated_load(conn)?;
    let result = db::transaction(conn, |conn| {
        let indexes = bulk::drop_secondary_indexes(conn)?;
        let summary = load(conn, opts, show_progress)?;
        let phase = Instant::now();
        bulk::recreate_indexes(conn, &indexes)?;
        tracing::info!(
            "demo: indexes rebuilt in {:.1} s",
            phase.elapsed().as_secs_f64()
        );
        Ok::<_, anyhow::Error>(summary)
    });
    db::end_generated_load(conn)?;
    tracing::info!(
        "demo: committed after {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let mut summary = result?;
    // Fresh statistics for the query planner (sampled: seconds, not minutes).
    db::analyze(conn).context("analysing the new tables")?;
    summary.seconds = started.elapsed().as_secs_f64();
    Ok(summary)
}

fn load(
    conn: &mut DbConnection,
    opts: &DemoOptions,
    show_progress: bool,
) -> anyhow::Result<DemoSummary> {
    let mut summary = DemoSummary::default();
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
    let policy = demo_policy();

    let mut groups = vec![(POLICY_GROUP_ID, POLICY_GROUP_NAME)];
    groups.extend(DEPARTMENTS);
    for (id, name) in &groups {
        db::directory::put_group(conn, id, name)?;
    }
    summary.groups = groups.len() as u64;
    store_policy(conn, &policy, Some("demo generator"), opts.now)?;

    let phase = Instant::now();
    let people = generate_users(conn, opts, &policy, &mut rng, show_progress, &mut summary)?;
    tracing::info!(
        "demo: {} users written in {:.1} s",
        summary.users,
        phase.elapsed().as_secs_f64()
    );
    let history = DemoHistory::of(opts, &policy, &people);
    let phase = Instant::now();
    generate_activity(
        conn,
        opts,
        &policy,
        people,
        &mut rng,
        show_progress,
        &mut summary,
    )?;
    tracing::info!(
        "demo: {} activities and {} method events written in {:.1} s",
        summary.activities,
        summary.method_events,
        phase.elapsed().as_secs_f64()
    );
    let phase = Instant::now();
    rebuild_status_counts(conn)?;
    history.write(conn)?;
    tracing::info!(
        "demo: status counts and trend history written in {:.1} s",
        phase.elapsed().as_secs_f64()
    );
    generate_sign_ins(conn, opts)?;
    touch_data_changed(conn, opts.now)?;
    Ok(summary)
}

/// The trend history of the demo tenant: every user was in the directory
/// before the window began, with the methods registered by then; each
/// registration within the window that changed a user's statuses is a
/// change on its day.
struct DemoHistory {
    /// Users per day and status bits (the day before the window: everyone).
    changes: BTreeMap<(NaiveDate, i32), i64>,
    users: Vec<StatusChange>,
}

impl DemoHistory {
    fn of(opts: &DemoOptions, policy: &SsprPolicy, people: &[DemoUser]) -> DemoHistory {
        let start = opts.now - Duration::days(i64::from(opts.days));
        let before_window = start.date() - Duration::days(1);
        let mut history = DemoHistory {
            changes: BTreeMap::new(),
            users: Vec::new(),
        };
        for p in people {
            let bits = |methods: MethodSet| {
                let facts = UserFacts {
                    is_guest: p.is_guest,
                    is_admin: p.is_admin,
                    in_policy_group: p.in_pilot,
                    methods,
                };
                status_bits(&StatusKey {
                    status: evaluate(policy, &facts),
                    ..StatusKey::default()
                })
            };
            let mut registrations: Vec<(NaiveDateTime, Method)> = p
                .registered_at
                .iter()
                .copied()
                .zip(p.methods.iter())
                .collect();
            registrations.sort_unstable();
            let mut methods: MethodSet = registrations
                .iter()
                .filter(|(at, _)| *at < start)
                .map(|(_, m)| *m)
                .collect();
            let mut now = bits(methods);
            *history.changes.entry((before_window, now)).or_default() += 1;
            for (at, method) in registrations.into_iter().filter(|(at, _)| *at >= start) {
                methods.insert(method);
                let after = bits(methods);
                if after != now {
                    *history.changes.entry((at.date(), now)).or_default() -= 1;
                    *history.changes.entry((at.date(), after)).or_default() += 1;
                    history.users.push(StatusChange {
                        user_id: p.id.clone(),
                        at,
                        before: Some(now),
                        after,
                    });
                    now = after;
                }
            }
        }
        history.users.sort_by_key(|c| c.at);
        history
    }

    fn write(&self, conn: &mut DbConnection) -> anyhow::Result<()> {
        replace_history(conn, &self.changes)?;
        record_changes(conn, &self.users)?;
        Ok(())
    }
}

/// Days of daily sign-in summaries the demo tenant has.
pub const SIGN_IN_DAYS: i64 = 30;

/// Thirty days of sign-in summaries up to today: about two sign-ins per
/// user and working day (a third of that at weekends), seven in ten of
/// them multifactor, and the methods in the shares a tenant rolling out
/// passwordless sees. From a generator of its own, so the rest of the
/// tenant stays as it was for a seed.
fn generate_sign_ins(conn: &mut DbConnection, opts: &DemoOptions) -> anyhow::Result<()> {
    use crate::domain::sign_in::{SignInDayRecord, SignInMethod, SignInMethodRecord};
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed ^ 0x5167_6e49_6e73);
    let shares: [(SignInMethod, f64); 9] = [
        (SignInMethod::Password, 0.52),
        (SignInMethod::AppNotification, 0.21),
        (SignInMethod::WindowsHelloForBusiness, 0.11),
        (SignInMethod::PasskeyDeviceBound, 0.05),
        (SignInMethod::Sms, 0.04),
        (SignInMethod::AuthenticatorPasswordless, 0.03),
        (SignInMethod::Fido2SecurityKey, 0.02),
        (SignInMethod::OneTimePasscode, 0.015),
        (SignInMethod::TemporaryAccessPass, 0.005),
    ];
    let today = opts.now.date();
    for back in (0..SIGN_IN_DAYS).rev() {
        let day = today - Duration::days(back);
        let weekend = matches!(day.weekday(), chrono::Weekday::Sat | chrono::Weekday::Sun);
        let per_user = if weekend { 0.7 } else { 2.1 } * rng.random_range(0.9..1.1);
        // Today is under way: part of a day's sign-ins.
        let part = if back == 0 {
            f64::from(opts.now.num_seconds_from_midnight()) / 86_400.0
        } else {
            1.0
        };
        let total = (opts.users as f64 * per_user * part).round() as i64;
        // The multifactor share grows slowly over the month.
        let mfa = 0.66 + 0.002 * (SIGN_IN_DAYS - back) as f64 + rng.random_range(-0.02..0.02);
        let multi_factor = (total as f64 * mfa).round() as i64;
        db::sign_ins::put_day(
            conn,
            &SignInDayRecord {
                day,
                total,
                single_factor: total - multi_factor,
                multi_factor,
            },
            opts.now,
        )?;
        for (method, share) in shares {
            let n = (total as f64 * share * rng.random_range(0.85..1.15)).round() as i64;
            db::sign_ins::put_method(
                conn,
                &SignInMethodRecord {
                    day,
                    method,
                    name: String::new(),
                    sign_ins: n,
                },
            )?;
        }
    }
    Ok(())
}

fn draw_methods(rng: &mut ChaCha8Rng, is_admin: bool, is_guest: bool) -> MethodSet {
    use Method::*;
    let mut m = MethodSet::EMPTY;
    if is_admin {
        // Most administrators follow the rules; a few (like Gus in the worked example of docs/design.md) do not.
        if rng.random_bool(0.8) {
            m.insert(AppNotification);
            m.insert(AppCode);
            m.insert(MobileSms);
        } else {
            m.insert(Email);
            m.insert(SecurityQuestions);
        }
        if rng.random_bool(0.3) {
            m.insert(Fido2);
        }
        return m;
    }
    if rng.random_bool(if is_guest { 0.45 } else { 0.12 }) {
        return m;
    }
    if rng.random_bool(0.68) {
        m.insert(MobileSms);
        if rng.random_bool(0.6) {
            m.insert(MobileCall);
        }
    }
    if rng.random_bool(0.55) {
        m.insert(Email);
    }
    if rng.random_bool(0.45) {
        m.insert(AppNotification);
        if rng.random_bool(0.85) {
            m.insert(AppCode);
        }
        if rng.random_bool(0.1) {
            m.insert(AuthenticatorPasswordless);
        }
    } else if rng.random_bool(0.06) {
        m.insert(AppCode);
    }
    for (method, p) in [
        (OfficeCall, 0.08),
        (SecurityQuestions, 0.14),
        (WindowsHello, 0.12),
        (Passkey, 0.05),
        (Fido2, 0.04),
        (HardwareOtp, 0.01),
        (TemporaryAccessPass, 0.005),
    ] {
        if rng.random_bool(p) {
            m.insert(method);
        }
    }
    m
}

fn random_guid(rng: &mut ChaCha8Rng) -> String {
    let mut b = [0u8; 16];
    rng.fill_bytes(&mut b);
    format_guid(b)
}

fn generate_users(
    conn: &mut DbConnection,
    opts: &DemoOptions,
    policy: &SsprPolicy,
    rng: &mut ChaCha8Rng,
    show_progress: bool,
    summary: &mut DemoSummary,
) -> anyhow::Result<Vec<DemoUser>> {
    const CHUNK: usize = 20_000;
    let n = opts.users;
    let admins = (n / 2_000).clamp(3, 250).min(n);
    let admin_stride = (n / admins).max(1);
    let pb = bar(show_progress, n, "users");

    let mut people = Vec::with_capacity(n as usize);
    for i in 0..n {
        let is_admin = i % admin_stride == 0 && i / admin_stride < admins;
        let is_guest = !is_admin && rng.random_bool(0.07);
        let account_enabled = !rng.random_bool(0.03);
        let (first, first_ascii) = FIRST_NAMES[rng.random_range(0..FIRST_NAMES.len())];
        let (last, last_ascii) = LAST_NAMES[rng.random_range(0..LAST_NAMES.len())];
        let upn = if is_guest {
            let domain = PARTNER_DOMAINS[rng.random_range(0..PARTNER_DOMAINS.len())];
            format!("{first_ascii}.{last_ascii}{i}_{domain}#EXT#@contoso.example")
        } else {
            format!("{first_ascii}.{last_ascii}{i}@contoso.example")
        };
        let role = if is_admin {
            ADMIN_ROLES[(i / admin_stride) as usize % ADMIN_ROLES.len()]
        } else if is_guest {
            "Guest"
        } else {
            "User"
        };
        let methods = draw_methods(rng, is_admin, is_guest);
        // Registrations over two years, and a campaign: about one in seven
        // within the generated window, so the trends have a story to tell.
        let window_seconds = i64::from(opts.days) * 86_400;
        let registered_at = methods
            .iter()
            .map(|_| {
                let ago: i64 = rng.random_range(0..720 * 86_400);
                let ago = if ago % 7 == 0 {
                    ago % window_seconds
                } else {
                    ago
                };
                opts.now - Duration::seconds(ago)
            })
            .collect();
        let in_pilot = rng.random_bool(if is_guest { 0.35 } else { 0.6 });
        let department = (!is_guest).then(|| DEPARTMENTS[rng.random_range(0..DEPARTMENTS.len())].0);
        let status = evaluate(
            policy,
            &UserFacts {
                is_guest,
                is_admin,
                in_policy_group: in_pilot,
                methods,
            },
        );
        people.push(DemoUser {
            id: random_guid(rng),
            upn,
            name: format!("{first} {last}"),
            role,
            is_admin,
            is_guest,
            account_enabled,
            in_pilot,
            department,
            methods,
            registered_at,
            status,
        });
    }
    // Writing in id order appends to every index keyed by the user id.
    people.sort_unstable_by(|a, b| a.id.cmp(&b.id));

    for (c, chunk) in people.chunks(CHUNK).enumerate() {
        let rows: Vec<User> = chunk
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let mfa = demo_mfa_details(p.methods, opts.now);
                User {
                    search_rowid: (c * CHUNK + i + 1) as i64,
                    directory_status: None,
                    directory_status_at: None,
                    is_mfa_registered: mfa.mfa_registered,
                    default_mfa_method: mfa.default_mfa_method.clone(),
                    is_system_preferred_enabled: mfa.system_preferred_enabled,
                    system_preferred_methods: mfa.joined_system_preferred(),
                    user_preferred_method: mfa.user_preferred_method.clone(),
                    registration_updated_at: mfa.updated_at,
                    verdicts_stale: false,
                    other_methods: None,
                    id: p.id.clone(),
                    search_text: search_text(&p.name, &p.upn),
                    display_name: p.name.clone(),
                    user_principal_name: p.upn.clone(),
                    is_guest: p.is_guest,
                    directory_role: p.role.to_string(),
                    is_admin: p.is_admin,
                    account_enabled: Some(p.account_enabled),
                    methods_mask: p.methods.mask(),
                    is_registered: p.status.registered,
                    is_enabled: p.status.enabled,
                    is_capable: p.status.capable,
                    is_mfa_capable: p.status.mfa_capable,
                    is_passwordless_capable: p.status.passwordless_capable,
                    updated_at: opts.now,
                    status_key: StatusKey {
                        status: p.status,
                        is_guest: p.is_guest,
                        is_admin: p.is_admin,
                        account_enabled: Some(p.account_enabled),
                        mfa_registered: mfa.mfa_registered,
                        default_mfa_method: mfa.default_code(),
                        system_preferred_method: mfa.system_preferred_code(),
                        disagrees: false,
                        stale: false,
                        role_known: true,
                        methods_mask: p.methods.mask(),
                    }
                    .pack(),
                }
            })
            .collect();
        summary.users += bulk::insert_users(conn, &rows)? as u64;
        let methods: Vec<NewUserMethod> = chunk
            .iter()
            .flat_map(|p| {
                p.methods
                    .iter()
                    .zip(&p.registered_at)
                    .map(|(m, at)| NewUserMethod {
                        user_id: p.id.clone(),
                        method: m.code(),
                        registered_at: Some(*at),
                    })
            })
            .collect();
        summary.methods += bulk::insert_user_methods(conn, &methods)? as u64;
        let members: Vec<NewMember> = chunk
            .iter()
            .flat_map(|p| {
                let pilot = p.in_pilot.then_some(POLICY_GROUP_ID);
                pilot
                    .into_iter()
                    .chain(p.department)
                    .map(|group_id| NewMember {
                        group_id: group_id.to_string(),
                        user_id: p.id.clone(),
                    })
            })
            .collect();
        summary.memberships += bulk::insert_members(conn, &members)? as u64;
        pb.inc(chunk.len() as u64);
    }
    pb.finish_and_clear();
    Ok(people)
}

/// Relative activity by hour of day and weekday: busy office hours, quiet
/// nights and weekends.
fn hour_weight(t: NaiveDateTime) -> f64 {
    let day = match t.weekday() {
        Weekday::Sat | Weekday::Sun => 0.35,
        _ => 1.0,
    };
    let hour = match t.hour() {
        0..=5 => 0.15,
        6..=7 => 0.6,
        8..=17 => 1.0,
        18..=21 => 0.5,
        _ => 0.25,
    };
    day * hour
}

fn pick<T: Copy>(rng: &mut ChaCha8Rng, items: &[(T, f64)]) -> T {
    let total: f64 = items.iter().map(|(_, w)| w).sum();
    let mut x = rng.random::<f64>() * total;
    for (item, w) in items {
        if x < *w {
            return *item;
        }
        x -= w;
    }
    items[items.len() - 1].0
}

#[allow(clippy::too_many_arguments)]
fn generate_activity(
    conn: &mut DbConnection,
    opts: &DemoOptions,
    policy: &SsprPolicy,
    people: Vec<DemoUser>,
    rng: &mut ChaCha8Rng,
    show_progress: bool,
    summary: &mut DemoSummary,
) -> anyhow::Result<()> {
    let target = opts.target_events();
    let pb = bar(show_progress, target, "method events");
    let seed = rng.next_u64();
    let opts = opts.clone();
    let policy = policy.clone();
    let people = Arc::new(people);
    let (tx, rx) = sync_channel::<Batch>(4);

    let generator = std::thread::spawn(move || {
        let mut g = ActivityGenerator::new(&opts, &policy, &people, seed);
        g.run(target, |batch| tx.send(batch).is_ok());
    });

    let mut event_counts: HashMap<EventBucket, i64> = HashMap::new();
    let mut activity_counts: HashMap<ActivityBucket, i64> = HashMap::new();
    let mut written = Ok(());
    for batch in rx {
        if written.is_err() {
            continue; // drain, so the generator can finish
        }
        tally(
            &mut activity_counts,
            &mut event_counts,
            &batch.activities,
            &batch.events,
        );
        written = bulk::insert_activities(conn, &batch.activities)
            .and_then(|a| Ok((a, bulk::insert_method_events(conn, &batch.events)?)))
            .map(|(a, e)| {
                summary.activities += a as u64;
                summary.method_events += e as u64;
                pb.inc(e as u64);
            });
    }
    generator
        .join()
        .map_err(|_| anyhow::anyhow!("the demo generator thread panicked"))?;
    written?;
    pb.finish_and_clear();
    add_event_counts(conn, &event_counts)?;
    add_activity_counts(conn, &activity_counts)?;
    Ok(())
}

/// Makes activities hour by hour through the window, in time order.
struct ActivityGenerator<'a> {
    rng: ChaCha8Rng,
    policy: &'a SsprPolicy,
    people: &'a [DemoUser],
    start: NaiveDateTime,
    now: NaiveDateTime,
    hours: i64,
    /// Indexes of users by the situation a reset result needs.
    capable: Vec<usize>,
    not_enabled: Vec<usize>,
    enabled_not_registered: Vec<usize>,
    enabled: Vec<usize>,
    next_activity: u64,
    next_event: u64,
}

impl<'a> ActivityGenerator<'a> {
    fn new(opts: &DemoOptions, policy: &'a SsprPolicy, people: &'a [DemoUser], seed: u64) -> Self {
        let mut capable = Vec::new();
        let mut not_enabled = Vec::new();
        let mut enabled_not_registered = Vec::new();
        let mut enabled = Vec::new();
        for (i, p) in people.iter().enumerate() {
            if p.status.capable {
                capable.push(i);
            }
            if p.status.enabled {
                enabled.push(i);
                if !p.status.registered {
                    enabled_not_registered.push(i);
                }
            } else {
                not_enabled.push(i);
            }
        }
        let hours = i64::from(opts.days) * 24;
        ActivityGenerator {
            rng: ChaCha8Rng::seed_from_u64(seed),
            policy,
            people,
            start: opts.now - Duration::hours(hours),
            now: opts.now,
            hours,
            capable,
            not_enabled,
            enabled_not_registered,
            enabled,
            next_activity: 0,
            next_event: 0,
        }
    }

    fn run(&mut self, target: u64, mut send: impl FnMut(Batch) -> bool) {
        const BATCH_EVENTS: usize = 40_000;
        let weights: Vec<f64> = (0..self.hours)
            .map(|h| hour_weight(self.start + Duration::hours(h)))
            .collect();
        let total_weight: f64 = weights.iter().sum();
        let mut cumulative = 0.0;
        let mut produced = 0u64;
        let mut batch = Batch {
            activities: Vec::new(),
            events: Vec::new(),
        };
        for (h, w) in weights.iter().enumerate() {
            cumulative += w;
            let due = ((target as f64) * cumulative / total_weight).round() as u64;
            let slot_start = self.start + Duration::hours(h as i64);
            let mut slot: Vec<(NaiveDateTime, Activity, Vec<MethodEvent>)> = Vec::new();
            while produced < due {
                let at = slot_start + Duration::milliseconds(self.rng.random_range(0..3_600_000));
                let (activity, events) = self.activity(at);
                produced += events.len() as u64;
                slot.push((at, activity, events));
            }
            slot.sort_by_key(|(at, _, _)| *at);
            for (_, mut activity, mut events) in slot {
                activity.id = format!("ac-{:010}", self.next_activity);
                self.next_activity += 1;
                for e in &mut events {
                    e.id = format!("ev-{:010}", self.next_event);
                    self.next_event += 1;
                    e.activity_id = Some(activity.id.clone());
                }
                batch.activities.push(activity);
                batch.events.extend(events);
            }
            if batch.events.len() >= BATCH_EVENTS {
                let full = std::mem::replace(
                    &mut batch,
                    Batch {
                        activities: Vec::new(),
                        events: Vec::new(),
                    },
                );
                if !send(full) {
                    return;
                }
            }
        }
        if !batch.activities.is_empty() {
            send(batch);
        }
    }

    fn pick_from(&mut self, pool: &[usize]) -> usize {
        if pool.is_empty() {
            self.rng.random_range(0..self.people.len())
        } else {
            pool[self.rng.random_range(0..pool.len())]
        }
    }

    fn activity(&mut self, at: NaiveDateTime) -> (Activity, Vec<MethodEvent>) {
        if self.rng.random_bool(0.28) {
            self.registration(at)
        } else {
            self.reset(at)
        }
    }

    fn base(&self, user: Option<&DemoUser>, feature: Feature, at: NaiveDateTime) -> Activity {
        Activity {
            id: String::new(),
            user_id: user.map(|u| u.id.clone()),
            user_principal_name: user.map(|u| u.upn.clone()).unwrap_or_default(),
            user_display_name: user.map(|u| u.name.clone()).unwrap_or_default(),
            user_role: user.map(|u| u.role.to_string()).unwrap_or_default(),
            feature: feature.code(),
            methods_mask: 0,
            result: ActivityResult::Succeeded.code(),
            details: None,
            occurred_at: at,
        }
    }

    fn event(
        &mut self,
        user: &DemoUser,
        feature: Feature,
        method: Method,
        failure: Option<&str>,
        at: NaiveDateTime,
    ) -> MethodEvent {
        MethodEvent {
            id: String::new(),
            activity_id: None,
            user_id: user.id.clone(),
            feature: feature.code(),
            method: method.code(),
            success: failure.is_none(),
            failure_reason: failure.map(str::to_string),
            occurred_at: at.min(self.now),
            method_name: None,
        }
    }

    /// A usage method that exercises `info`, as a user would pick it.
    fn usage_method(&mut self, user: &DemoUser, info: PolicyMethod) -> Method {
        match info {
            PolicyMethod::AppNotification => Method::AppNotification,
            PolicyMethod::AppCode => Method::AppCode,
            PolicyMethod::MobilePhone => {
                if user.methods.contains(Method::MobileCall)
                    && (!user.methods.contains(Method::MobileSms) || self.rng.random_bool(0.3))
                {
                    Method::MobileCall
                } else {
                    Method::MobileSms
                }
            }
            PolicyMethod::OfficePhone => Method::OfficeCall,
            PolicyMethod::Email => Method::Email,
            PolicyMethod::SecurityQuestions => Method::SecurityQuestions,
        }
    }

    /// The methods a reset of this user passes through, as many as required.
    fn gates(&mut self, user: &DemoUser) -> Vec<Method> {
        let req = self.policy.requirement_for(user.is_admin);
        let usable: Vec<PolicyMethod> = user
            .methods
            .policy_methods()
            .intersection(req.allowed)
            .iter()
            .collect();
        let mut chosen: Vec<PolicyMethod> = Vec::new();
        let mut pool = if usable.is_empty() {
            req.allowed.iter().collect::<Vec<_>>()
        } else {
            usable
        };
        while chosen.len() < req.methods_required as usize && !pool.is_empty() {
            let i = self.rng.random_range(0..pool.len());
            chosen.push(pool.swap_remove(i));
        }
        chosen
            .into_iter()
            .map(|p| self.usage_method(user, p))
            .collect()
    }

    fn registration(&mut self, at: NaiveDateTime) -> (Activity, Vec<MethodEvent>) {
        let idx = self.rng.random_range(0..self.people.len());
        let people = self.people;
        let user = &people[idx];
        let mut activity = self.base(Some(user), Feature::Registration, at);
        let mut candidates: Vec<Method> = user
            .methods
            .iter()
            .filter(|m| m.policy_method().is_some())
            .collect();
        if candidates.is_empty() {
            candidates = vec![Method::MobileSms, Method::Email, Method::AppNotification];
        }
        let count = if candidates.len() > 1 && self.rng.random_bool(0.5) {
            2
        } else {
            1
        };
        let mut events = Vec::new();
        let mut registered = MethodSet::EMPTY;
        let mut t = at;
        for _ in 0..count {
            let i = self.rng.random_range(0..candidates.len());
            let method = candidates.swap_remove(i);
            if self.rng.random_bool(0.09) {
                let reason = registration_failure(method);
                events.push(self.event(user, Feature::Registration, method, Some(reason), t));
                t += Duration::seconds(self.rng.random_range(20..120));
                if self.rng.random_bool(0.4) {
                    continue; // gave up on this method
                }
            }
            events.push(self.event(user, Feature::Registration, method, None, t));
            registered.insert(method);
            t += Duration::seconds(self.rng.random_range(15..90));
        }
        let attempted: MethodSet = events
            .iter()
            .filter_map(|e| Method::from_code(e.method))
            .collect();
        activity.methods_mask = if registered.is_empty() {
            attempted
        } else {
            registered
        }
        .mask();
        activity.result = if registered.is_empty() {
            ActivityResult::Failed
        } else {
            ActivityResult::Succeeded
        }
        .code();
        (activity, events)
    }

    fn reset(&mut self, at: NaiveDateTime) -> (Activity, Vec<MethodEvent>) {
        use Details::*;
        // Someone types a user ID that matches nobody.
        if self.rng.random_bool(0.012) {
            let mut activity = self.base(None, Feature::Reset, at);
            let (first, _) = FIRST_NAMES[self.rng.random_range(0..FIRST_NAMES.len())];
            activity.user_principal_name =
                format!("{}@contoso.example", first.to_lowercase().replace(' ', "."));
            activity.result = ActivityResult::Abandoned.code();
            activity.details = Some(AbandonedAfterUserId.code());
            return (activity, Vec::new());
        }
        let result = pick(
            &mut self.rng,
            &[
                (ActivityResult::Succeeded, 0.58),
                (ActivityResult::Abandoned, 0.20),
                (ActivityResult::Failed, 0.08),
                (ActivityResult::Cancelled, 0.06),
                (ActivityResult::ContactedAdmin, 0.05),
                (ActivityResult::Blocked, 0.03),
            ],
        );
        let options: Vec<Details> = Details::for_result(result).collect();
        let details = options[self.rng.random_range(0..options.len())];
        let idx = match details {
            Succeeded
            | AbandonedBeforeNewPassword
            | AbandonedWhileNewPassword
            | CancelledBeforeNewPassword => {
                let pool = std::mem::take(&mut self.capable);
                let i = self.pick_from(&pool);
                self.capable = pool;
                i
            }
            FailedNotEnabled | FailedNotInGroup => {
                let pool = std::mem::take(&mut self.not_enabled);
                let i = self.pick_from(&pool);
                self.not_enabled = pool;
                i
            }
            FailedInsufficientMethods => {
                let pool = std::mem::take(&mut self.enabled_not_registered);
                let i = self.pick_from(&pool);
                self.enabled_not_registered = pool;
                i
            }
            _ => {
                let pool = std::mem::take(&mut self.enabled);
                let i = self.pick_from(&pool);
                self.enabled = pool;
                i
            }
        };
        let people = self.people;
        let user = &people[idx];
        // About one in six self-service operations that verify the user and
        // then end (or are cancelled early) is an account unlock rather than
        // a new password. Chosen from the time, not the generator, so the
        // rest of the tenant stays as it was for a seed.
        let unlock = matches!(details, Succeeded | CancelledBeforeMethods)
            && at.and_utc().timestamp_subsec_millis().is_multiple_of(6);
        let feature = if unlock {
            Feature::Unlock
        } else {
            Feature::Reset
        };
        let mut activity = self.base(Some(user), feature, at);
        activity.result = details.result().code();
        // A successful unlock has no reset detail (as the audit log's).
        activity.details = (!(unlock && details == Succeeded)).then(|| details.code());

        let mut plan: Vec<(Method, Option<&'static str>)> = Vec::new();
        let fail = |n: usize, m: Method, why: &'static str| vec![(m, Some(why)); n];
        match details {
            AbandonedAfterEmailCompleted => plan.push((Method::Email, None)),
            AbandonedAfterSmsCompleted => plan.push((Method::MobileSms, None)),
            AbandonedAfterMobileCallCompleted => plan.push((Method::MobileCall, None)),
            AbandonedAfterOfficeCallCompleted => plan.push((Method::OfficeCall, None)),
            AbandonedAfterSecurityQuestionsCompleted => {
                plan.push((Method::SecurityQuestions, None))
            }
            AbandonedAfterEmailStarted => {
                plan.push((Method::Email, Some("Verification not completed")))
            }
            AbandonedAfterSmsStarted => {
                plan.push((Method::MobileSms, Some("Verification not completed")))
            }
            AbandonedAfterMobileCallStarted => {
                plan.push((Method::MobileCall, Some("Verification not completed")))
            }
            AbandonedAfterOfficeCallStarted => {
                plan.push((Method::OfficeCall, Some("Verification not completed")))
            }
            AbandonedAfterSecurityQuestionsStarted => plan.push((
                Method::SecurityQuestions,
                Some("Verification not completed"),
            )),
            AbandonedAfterUserId
            | FailedNotEnabled
            | FailedNoLicense
            | FailedNoCookies
            | FailedInsufficientMethods
            | FailedNotInGroup
            | FailedDisabledForTenant => {}
            Succeeded => {
                let gates = self.gates(user);
                if self.rng.random_bool(0.12) {
                    if let Some(first) = gates.first() {
                        plan.push((*first, Some("Invalid verification code")));
                    }
                }
                plan.extend(gates.into_iter().map(|m| (m, None)));
            }
            AbandonedBeforeNewPassword
            | AbandonedWhileNewPassword
            | CancelledBeforeNewPassword
            | FailedManagedOnPremises
            | FailedOnPremisesUnreachable
            | FailedOnPremisesProblem => {
                let gates = self.gates(user);
                plan.extend(gates.into_iter().map(|m| (m, None)));
            }
            BlockedSmsCodes => {
                let n = self.rng.random_range(3..=5);
                plan.extend(fail(n, Method::MobileSms, "Invalid verification code"));
            }
            BlockedMobileCall => {
                let n = self.rng.random_range(3..=5);
                plan.extend(fail(n, Method::MobileCall, "Call not answered"));
            }
            BlockedOfficeCall => {
                let n = self.rng.random_range(3..=5);
                plan.extend(fail(n, Method::OfficeCall, "Call not answered"));
            }
            BlockedSecurityQuestions => {
                let n = self.rng.random_range(3..=5);
                plan.extend(fail(n, Method::SecurityQuestions, "Incorrect answers"));
            }
            BlockedPhoneVerification => {
                let n = self.rng.random_range(3..=5);
                for k in 0..n {
                    let m = if k % 2 == 0 {
                        Method::MobileSms
                    } else {
                        Method::MobileCall
                    };
                    plan.push((m, Some("Too many verification attempts")));
                }
            }
            CancelledBeforeMethods => {
                if self.rng.random_bool(0.5) {
                    if let Some(first) = self.gates(user).first() {
                        plan.push((*first, Some("Verification not completed")));
                    }
                }
            }
            ContactedAdminAfterEmail => plan.push((Method::Email, Some("Code not received"))),
            ContactedAdminAfterSms => plan.push((Method::MobileSms, Some("Code not received"))),
            ContactedAdminAfterMobileCall => {
                plan.push((Method::MobileCall, Some("Call not answered")))
            }
            ContactedAdminAfterOfficeCall => {
                plan.push((Method::OfficeCall, Some("Call not answered")))
            }
            ContactedAdminAfterSecurityQuestions => {
                plan.push((Method::SecurityQuestions, Some("Incorrect answers")))
            }
        }
        let mut events = Vec::with_capacity(plan.len());
        let mut t = at;
        let mut used = MethodSet::EMPTY;
        for (method, failure) in plan {
            events.push(self.event(user, feature, method, failure, t));
            used.insert(method);
            t += Duration::seconds(self.rng.random_range(10..75));
        }
        activity.methods_mask = used.mask();
        (activity, events)
    }
}

fn registration_failure(method: Method) -> &'static str {
    match method {
        Method::MobileSms => "SMS could not be delivered",
        Method::MobileCall | Method::OfficeCall => "Call not answered",
        Method::Email => "Code not received",
        Method::SecurityQuestions => "Answers did not meet the requirements",
        _ => "Invalid verification code",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::PolicyMethodSet;

    #[test]
    fn the_demo_policy_is_the_worked_example() {
        let p = demo_policy();
        assert_eq!(p.methods_required(), 2);
        assert_eq!(p.scope.group_id(), Some(POLICY_GROUP_ID));
        let allowed: PolicyMethodSet = p.allowed();
        assert!(!allowed.contains(PolicyMethod::OfficePhone));
        assert!(!allowed.contains(PolicyMethod::SecurityQuestions));
        assert_eq!(allowed.len(), 4);
    }

    #[test]
    fn options_are_bounded() {
        let ok = DemoOptions {
            users: 10,
            days: 30,
            seed: 1,
            events_per_user_day: 0.5,
            now: chrono::Utc::now().naive_utc(),
        };
        assert!(ok.validate().is_ok());
        assert_eq!(ok.target_events(), 150);
        assert!(DemoOptions {
            users: 0,
            ..ok.clone()
        }
        .validate()
        .is_err());
        assert!(DemoOptions {
            days: 0,
            ..ok.clone()
        }
        .validate()
        .is_err());
        assert!(DemoOptions {
            events_per_user_day: -1.0,
            ..ok
        }
        .validate()
        .is_err());
    }
}
