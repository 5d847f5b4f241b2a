//! Stores import records inside the import's one transaction: checks what
//! only the database can tell (unknown users and groups, an id given twice in
//! one import), upserts directory facts, adds events once, and moves the
//! per-user status and the event aggregates with them.
//!
//! Records arrive one at a time and are written in batches, so memory stays
//! flat whatever the size of the files; the only sets kept whole are the ids
//! of users, groups and method lists seen, which a directory bounds.

use super::records::{
    ActivityRecord, GroupRecord, Identity, ImportError, ImportWarning, Located, Location,
    MemberRecord, MethodsRecord, NamedUser, Record, Stop, UserKey, UserRecord, Warnings,
};
use crate::db::counts::{add_activity_counts, add_event_counts, ActivityBucket, EventBucket};
use crate::db::directory::{
    mark_stale_verdicts, put_group, put_users, refresh_users, DirectoryUser,
};
use crate::db::import_rows::{self, outside_user_key, Stored, ID_CHUNK};
use crate::db::models::Activity;
use crate::db::models::{
    ImportedActivity, ImportedEvent, MethodEvent, NewMember, NewUserMethod, User,
};
use crate::db::{self, indexes, DbConnection};
use crate::domain::activity::SAME_VERIFICATION_SECONDS;
use crate::domain::{Feature, Method, SsprPolicy, Verification};
use chrono::NaiveDateTime;
use std::collections::{HashMap, HashSet};
use std::fmt;

/// Records written per batch.
const BATCH: usize = 5_000;

/// What happened to the records of one kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub inserted: u64,
    pub updated: u64,
    /// Removed from a list the import restated (members, methods).
    pub removed: u64,
    /// Already stored as given: unchanged directory facts, events stored by
    /// an earlier import.
    pub skipped: u64,
}

impl Tally {
    fn is_empty(&self) -> bool {
        *self == Tally::default()
    }
}

/// What one import did, per kind of record.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    pub users: Tally,
    pub groups: Tally,
    pub members: Tally,
    pub methods: Tally,
    pub activities: Tally,
    pub events: Tally,
    /// Days of sign-ins by authentication requirement (replaced by day).
    pub sign_in_days: Tally,
    /// Days × methods of sign-ins (replaced by day and method).
    pub sign_in_methods: Tally,
    /// Method events stored although their user is not in the directory.
    pub events_outside_directory: u64,
    /// Stored method events of users not in the directory whose users this
    /// import brought: they now belong to them.
    pub events_attached: u64,
    /// Verifications a usage report and an audit flow both reported, kept
    /// once (as the flow's event): skipped or removed.
    pub events_in_both: u64,
    /// Users with verdicts of an earlier export whom this import's verdicts
    /// did not include: their verdicts are now marked stale.
    pub verdicts_stale: u64,
}

impl Summary {
    pub fn rows(&self) -> [(&'static str, Tally); 8] {
        [
            ("users", self.users),
            ("groups", self.groups),
            ("group members", self.members),
            ("registered methods", self.methods),
            ("activities", self.activities),
            ("method events", self.events),
            ("sign-in days", self.sign_in_days),
            ("sign-in days per method", self.sign_in_methods),
        ]
    }

    pub fn totals(&self) -> Tally {
        self.rows()
            .iter()
            .fold(Tally::default(), |t, (_, r)| Tally {
                inserted: t.inserted + r.inserted,
                updated: t.updated + r.updated,
                removed: t.removed + r.removed,
                skipped: t.skipped + r.skipped,
            })
    }

    /// What the import did beyond the records of [`Summary::rows`], in
    /// sentences.
    pub fn notes(&self) -> Vec<String> {
        let mut notes = Vec::new();
        if self.events_outside_directory > 0 {
            notes.push(format!(
                "{} of the new method events belong to users not in the directory: kept with the names their source gave, shown as not in the directory until an import brings the users",
                self.events_outside_directory
            ));
        }
        if self.events_in_both > 0 {
            notes.push(format!(
                "{} verifications were reported both by a usage report and by the audit log: each is one method event, the audit flow's",
                self.events_in_both
            ));
        }
        if self.events_attached > 0 {
            notes.push(format!(
                "{} method events of users not in the directory now belong to users this import brought",
                self.events_attached
            ));
        }
        if self.verdicts_stale > 0 {
            notes.push(format!(
                "{} users with statuses from an earlier directory export are not in this one: their statuses are marked stale",
                self.verdicts_stale
            ));
        }
        notes
    }

    /// Whether the import changed anything stored.
    pub fn changed(&self) -> bool {
        let t = self.totals();
        t.inserted + t.updated + t.removed > 0
    }
}

impl fmt::Display for Summary {
    /// One line per kind that had records: "users: 3 inserted, 1 updated, 0 skipped as duplicates".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut any = false;
        for (name, t) in self.rows() {
            if t.is_empty() {
                continue;
            }
            any = true;
            write!(f, "{name}: {} inserted, {} updated", t.inserted, t.updated)?;
            if t.removed > 0 {
                write!(f, ", {} removed", t.removed)?;
            }
            writeln!(f, ", {} skipped as duplicates", t.skipped)?;
        }
        if !any {
            writeln!(f, "no records")?;
        }
        for note in self.notes() {
            writeln!(f, "{note}")?;
        }
        Ok(())
    }
}

/// How a writer may go about its work.
#[derive(Debug, Clone, Copy, Default)]
pub struct WriterOptions {
    /// On SQLite, when the event tables are empty, drop their secondary
    /// indexes for the load and build them once at the end.
    pub bulk: bool,
    /// A successful registration event registers its method for the user
    /// (live ingest: events are newer than any directory export).
    pub register_on_success: bool,
}

/// A run of members of one group, applied as the group's complete list.
struct MemberRun {
    group_id: String,
    at: Location,
    users: Vec<(String, Location)>,
    /// Listed over several files (Graph's pages); see [`MemberRecord::paged`].
    paged: bool,
}

pub struct Writer<'c> {
    conn: &'c mut DbConnection,
    policy: SsprPolicy,
    now: NaiveDateTime,
    import_id: i64,
    options: WriterOptions,
    batch: Vec<Located>,
    summary: Summary,
    activity_counts: HashMap<ActivityBucket, i64>,
    event_counts: HashMap<EventBucket, i64>,
    /// (listing, user id) of every user given so far.
    users_seen: HashSet<(&'static str, String)>,
    /// The users of the batch not yet written: a user given again (by
    /// another list) is written after the batch, so that it merges with
    /// what the first list said.
    batch_users: HashSet<String>,
    /// Users whose verdicts this import states.
    verdicts_stated: HashSet<String>,
    /// The import holds a whole registration-details export.
    whole_listing: bool,
    groups_seen: HashSet<String>,
    member_groups_seen: HashSet<String>,
    method_users_seen: HashSet<String>,
    /// Users found stored, so that each is looked up once per import.
    known_users: HashSet<String>,
    /// Whether `known_users` holds every stored user (a bulk load reads
    /// them all at once rather than a batch at a time).
    all_users_known: bool,
    members: Option<MemberRun>,
    /// Definitions of indexes dropped for a bulk load, rebuilt at the end.
    dropped_indexes: Option<Vec<String>>,
    records: u64,
    started: std::time::Instant,
    /// Whether events have been written (the bulk-load check is made once).
    events_begun: bool,
    warnings: Warnings,
    /// The `user_id`s of stored events whose user is not in the directory,
    /// read when the first new user may claim some.
    outside_users: Option<HashSet<String>>,
    /// Whether stored method events belong to activities (`.0`) and stand
    /// alone (`.1`), once asked.
    events_exist: (Option<bool>, Option<bool>),
}

fn invalid(at: &Location, field: &str, reason: impl Into<String>) -> Stop {
    Stop::Invalid(ImportError::new(at.clone(), Some(field), reason))
}

fn unknown_user(id: &str, at: &Location) -> Stop {
    invalid(
        at,
        "user_id",
        format!("unknown user \"{id}\": import the user first (a users file, or earlier in this import)"),
    )
}

impl<'c> Writer<'c> {
    pub fn new(
        conn: &'c mut DbConnection,
        policy: SsprPolicy,
        import_id: i64,
        now: NaiveDateTime,
        options: WriterOptions,
    ) -> Writer<'c> {
        Writer {
            conn,
            policy,
            now,
            import_id,
            options,
            batch: Vec::with_capacity(BATCH),
            summary: Summary::default(),
            activity_counts: HashMap::new(),
            event_counts: HashMap::new(),
            users_seen: HashSet::new(),
            batch_users: HashSet::new(),
            verdicts_stated: HashSet::new(),
            whole_listing: false,
            groups_seen: HashSet::new(),
            member_groups_seen: HashSet::new(),
            method_users_seen: HashSet::new(),
            known_users: HashSet::new(),
            all_users_known: false,
            members: None,
            dropped_indexes: None,
            records: 0,
            started: std::time::Instant::now(),
            events_begun: false,
            warnings: Warnings::default(),
            outside_users: None,
            events_exist: (None, None),
        }
    }

    /// A file ended: a group's member rows do not run on into the next
    /// file, unless the source pages them.
    pub fn end_file(&mut self) -> Result<(), Stop> {
        if self.members.as_ref().is_some_and(|run| run.paged) {
            return Ok(());
        }
        self.end_member_run()
    }

    /// Records taken so far.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// The values kept although unknown, so far.
    pub fn warnings(&self) -> &Warnings {
        &self.warnings
    }

    /// Takes one record; writes when a batch is full.
    pub fn push(&mut self, located: Located) -> Result<(), Stop> {
        if let Record::Warning(w) = located.record {
            self.warnings.push(w);
            return Ok(());
        }
        if let Record::Listing { complete } = located.record {
            self.whole_listing = complete;
            return Ok(());
        }
        self.records += 1;
        // Sign-in summaries are a few rows a day, apart from everything
        // else: stored as they come.
        if let Record::SignInDay(r) = &located.record {
            let put = crate::db::sign_ins::put_day(self.conn, r, self.now)?;
            count_put(&mut self.summary.sign_in_days, put);
            return Ok(());
        }
        if let Record::SignInMethod(r) = &located.record {
            let put = crate::db::sign_ins::put_method(self.conn, r)?;
            count_put(&mut self.summary.sign_in_methods, put);
            return Ok(());
        }
        if let Record::GroupListed { group_id } = located.record {
            return self.begin_member_run(group_id, true, located.at);
        }
        if let Record::Member(m) = located.record {
            return self.member(m, located.at);
        }
        self.end_member_run()?;
        let kind = batch_class(&located.record);
        let repeated = match &located.record {
            Record::User(u) => !self.batch_users.insert(u.id.clone()),
            _ => false,
        };
        if repeated
            || self
                .batch
                .last()
                .is_some_and(|last| batch_class(&last.record) != kind)
        {
            self.flush()?;
            if let Record::User(u) = &located.record {
                self.batch_users.insert(u.id.clone());
            }
        }
        self.batch.push(located);
        if self.batch.len() >= BATCH {
            self.flush()?;
        }
        Ok(())
    }

    /// Writes what is left and the aggregates; returns what the import did.
    pub fn finish(mut self) -> Result<Summary, Stop> {
        self.end_member_run()?;
        self.flush()?;
        tracing::info!(
            "import: {} records stored in {:.1} s",
            self.records,
            self.started.elapsed().as_secs_f64()
        );
        if self.whole_listing && !self.verdicts_stated.is_empty() {
            self.summary.verdicts_stale =
                mark_stale_verdicts(self.conn, &self.verdicts_stated, self.now)?;
        }
        let conn = &mut *self.conn;
        add_activity_counts(conn, &self.activity_counts)?;
        add_event_counts(conn, &self.event_counts)?;
        if let Some(definitions) = self.dropped_indexes.take() {
            let started = std::time::Instant::now();
            indexes::create(conn, &definitions)?;
            tracing::info!(
                "import: {} event indexes rebuilt in {:.1} s",
                definitions.len(),
                started.elapsed().as_secs_f64()
            );
        }
        Ok(self.summary)
    }

    fn flush(&mut self) -> Result<(), Stop> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let batch = std::mem::take(&mut self.batch);
        self.batch_users.clear();
        let mut users = Vec::new();
        let mut groups = Vec::new();
        let mut methods = Vec::new();
        let mut activities = Vec::new();
        let mut events = Vec::new();
        for Located { at, record } in batch {
            match record {
                Record::User(r) => users.push((r, at)),
                Record::Group(r) => groups.push((r, at)),
                Record::Methods(r) => methods.push((r, at)),
                Record::Activity(r, identity) => activities.push((r, identity, at)),
                Record::Event {
                    event,
                    identity,
                    user_key,
                    named,
                } => events.push((event, identity, user_key, named, at)),
                Record::Member(_) | Record::GroupListed { .. } => {
                    unreachable!("members are written by runs")
                }
                Record::Warning(_)
                | Record::Listing { .. }
                | Record::SignInDay(_)
                | Record::SignInMethod(_) => {
                    unreachable!("warnings, listings and sign-ins are taken as they come")
                }
            }
        }
        self.users(users)?;
        self.groups(groups)?;
        self.methods(methods)?;
        if !activities.is_empty() || !events.is_empty() {
            self.begin_events()?;
        }
        self.activities(activities)?;
        self.events(events)?;
        self.batch = Vec::with_capacity(BATCH);
        Ok(())
    }

    /// Before the first events: on SQLite with empty event tables, drop
    /// their secondary indexes for a bulk load.
    fn begin_events(&mut self) -> Result<(), Stop> {
        if !self.options.bulk || self.events_begun {
            return Ok(());
        }
        self.events_begun = true;
        if !db::is_sqlite(self.conn) {
            return Ok(());
        }
        if import_rows::event_tables_empty(self.conn)? {
            let found = indexes::secondary(self.conn, "'activities', 'method_events'")?;
            self.dropped_indexes = Some(indexes::drop(self.conn, found)?);
        }
        Ok(())
    }

    fn users(&mut self, records: Vec<(UserRecord, Location)>) -> Result<(), Stop> {
        if records.is_empty() {
            return Ok(());
        }
        for (r, at) in &records {
            if !self.users_seen.insert((r.listing, r.id.clone())) {
                return Err(invalid(
                    at,
                    "id",
                    format!("user id \"{}\" is given twice in this import", r.id),
                ));
            }
        }
        let mut stored: HashMap<String, User> = HashMap::new();
        for chunk in records.chunks(ID_CHUNK) {
            let ids: Vec<&str> = chunk.iter().map(|(r, _)| r.id.as_str()).collect();
            let found = import_rows::users_by_id(self.conn, &ids)?;
            stored.extend(found.into_iter().map(|u| (u.id.clone(), u)));
        }
        let mut changed = Vec::new();
        for (r, _) in records {
            if r.verdicts.is_some() {
                self.verdicts_stated.insert(r.id.clone());
            }
            let old = stored.get(&r.id);
            let merged = merge_user(r, old);
            match old {
                None => self.summary.users.inserted += 1,
                Some(old) if same_user(old, &merged) => {
                    self.summary.users.skipped += 1;
                    continue;
                }
                Some(_) => self.summary.users.updated += 1,
            }
            changed.push(merged);
        }
        if !changed.is_empty() {
            let arrived: Vec<(String, String)> = changed
                .iter()
                .filter(|u| !stored.contains_key(&u.id))
                .map(|u| (u.id.clone(), u.user_principal_name.clone()))
                .collect();
            put_users(self.conn, &self.policy, &changed, self.now)?;
            self.known_users.extend(changed.into_iter().map(|u| u.id));
            self.attach_events(&arrived)?;
        }
        Ok(())
    }

    /// Users now in the directory claim the events kept for them while they
    /// were not: by their id, or by their user principal name.
    fn attach_events(&mut self, arrived: &[(String, String)]) -> Result<(), Stop> {
        if arrived.is_empty() {
            return Ok(());
        }
        let mut outside = match self.outside_users.take() {
            Some(set) => set,
            None => import_rows::outside_event_users(self.conn)?,
        };
        if !outside.is_empty() {
            for (id, upn) in arrived {
                for key in [id.clone(), outside_user_key(upn)] {
                    if outside.remove(&key) {
                        let moved = import_rows::attach_outside_events(self.conn, &key, id)?;
                        self.summary.events_attached += moved as u64;
                    }
                }
            }
        }
        self.outside_users = Some(outside);
        Ok(())
    }

    fn groups(&mut self, records: Vec<(GroupRecord, Location)>) -> Result<(), Stop> {
        for (r, at) in records {
            if !self.groups_seen.insert(r.id.clone()) {
                return Err(invalid(
                    &at,
                    "id",
                    format!("group id \"{}\" is given twice in this import", r.id),
                ));
            }
            let stored = import_rows::group_name(self.conn, &r.id)?;
            match stored {
                Some(name) if name == r.display_name => self.summary.groups.skipped += 1,
                Some(_) => self.summary.groups.updated += 1,
                None => self.summary.groups.inserted += 1,
            }
            put_group(self.conn, &r.id, &r.display_name)?;
        }
        Ok(())
    }

    fn member(&mut self, m: MemberRecord, at: Location) -> Result<(), Stop> {
        if self
            .members
            .as_ref()
            .is_none_or(|run| run.group_id != m.group_id)
        {
            self.begin_member_run(m.group_id, m.paged, at.clone())?;
        }
        if let Some(run) = self.members.as_mut() {
            run.users.push((m.user_id, at));
        }
        Ok(())
    }

    /// A group's complete member list begins.
    fn begin_member_run(
        &mut self,
        group_id: String,
        paged: bool,
        at: Location,
    ) -> Result<(), Stop> {
        self.end_member_run()?;
        self.flush()?;
        if !self.member_groups_seen.insert(group_id.clone()) {
            return Err(invalid(
                &at,
                "group_id",
                format!(
                    "the members of group \"{group_id}\" were given earlier in this import; give each group's complete list once"
                ),
            ));
        }
        self.members = Some(MemberRun {
            group_id,
            at,
            users: Vec::new(),
            paged,
        });
        Ok(())
    }

    /// Applies the group's complete member list once its rows end.
    fn end_member_run(&mut self) -> Result<(), Stop> {
        let Some(run) = self.members.take() else {
            return Ok(());
        };
        if import_rows::group_name(self.conn, &run.group_id)?.is_none() {
            return Err(invalid(
                &run.at,
                "group_id",
                format!(
                    "unknown group \"{}\": import it with the groups first",
                    run.group_id
                ),
            ));
        }
        let mut run = run;
        if run.paged {
            // Graph lists a user created after the directory was read: leave
            // them out until the next sync brings both.
            let missing = self.missing_users(run.users.iter().map(|(id, _)| id.as_str()))?;
            if !missing.is_empty() {
                let mut kept = Vec::with_capacity(run.users.len());
                for (user_id, at) in run.users {
                    if missing.contains(&user_id) {
                        self.warnings.push(ImportWarning::new(
                            at,
                            "id",
                            &user_id,
                            "nowhere: a member the directory's users do not include",
                            Some(
                                "The member is added when the users and the members are read again",
                            ),
                        ));
                    } else {
                        kept.push((user_id, at));
                    }
                }
                run.users = kept;
            }
        }
        let mut given = HashSet::new();
        for (user_id, at) in &run.users {
            if !given.insert(user_id.as_str()) {
                return Err(invalid(
                    at,
                    "user_id",
                    format!(
                        "user \"{user_id}\" is given twice as a member of \"{}\"",
                        run.group_id
                    ),
                ));
            }
        }
        if !run.paged {
            self.check_users_exist(run.users.iter().map(|(id, at)| (id.as_str(), at)))?;
        }
        let before = import_rows::group_member_ids(self.conn, &run.group_id)?;
        let joined: Vec<&str> = run
            .users
            .iter()
            .map(|(id, _)| id.as_str())
            .filter(|id| !before.contains(*id))
            .collect();
        let left: Vec<String> = before
            .iter()
            .filter(|id| !given.contains(id.as_str()))
            .cloned()
            .collect();
        self.summary.members.inserted += joined.len() as u64;
        self.summary.members.removed += left.len() as u64;
        self.summary.members.skipped += (run.users.len() - joined.len()) as u64;
        if joined.is_empty() && left.is_empty() {
            return Ok(());
        }
        import_rows::remove_members(self.conn, &run.group_id, &left)?;
        let rows: Vec<NewMember> = joined
            .iter()
            .map(|user_id| NewMember {
                group_id: run.group_id.clone(),
                user_id: user_id.to_string(),
            })
            .collect();
        crate::db::bulk::insert_members(self.conn, &rows)?;
        if self.policy.scope.group_id() == Some(run.group_id.as_str()) {
            let mut touched: Vec<String> = joined.iter().map(|s| s.to_string()).collect();
            touched.extend(left);
            refresh_users(self.conn, &self.policy, &touched, self.now)?;
        }
        Ok(())
    }

    /// Fails on the first user id that is not stored.
    fn check_users_exist<'a>(
        &mut self,
        refs: impl Iterator<Item = (&'a str, &'a Location)>,
    ) -> Result<(), Stop> {
        let refs: Vec<(&str, &Location)> = refs.collect();
        let missing = self.missing_users(refs.iter().map(|(id, _)| *id))?;
        if let Some((id, at)) = refs.iter().find(|(id, _)| missing.contains(*id)) {
            return Err(unknown_user(id, at));
        }
        Ok(())
    }

    /// Of `ids`, those no stored user has.
    fn missing_users<'a>(
        &mut self,
        ids: impl Iterator<Item = &'a str>,
    ) -> Result<HashSet<String>, Stop> {
        if self.options.bulk && !self.all_users_known {
            // A bulk load refers to most of the directory: one scan of the
            // user ids costs less than a lookup per batch.
            let ids = import_rows::all_user_ids(self.conn)?;
            self.known_users.extend(ids);
            self.all_users_known = true;
        }
        let mut missing = HashSet::new();
        let mut ask: Vec<&str> = Vec::new();
        let mut asked = HashSet::new();
        for id in ids {
            if self.known_users.contains(id) || !asked.insert(id) {
                continue;
            }
            if self.all_users_known {
                missing.insert(id.to_string());
            } else {
                ask.push(id);
            }
        }
        for chunk in ask.chunks(ID_CHUNK) {
            let found = import_rows::existing_user_ids(self.conn, chunk)?;
            missing.extend(
                chunk
                    .iter()
                    .filter(|id| !found.contains(**id))
                    .map(|id| id.to_string()),
            );
            self.known_users.extend(found);
        }
        Ok(missing)
    }

    fn methods(&mut self, records: Vec<(MethodsRecord, Location)>) -> Result<(), Stop> {
        if records.is_empty() {
            return Ok(());
        }
        for (r, at) in &records {
            if r.complete && !self.method_users_seen.insert(r.user_id.clone()) {
                return Err(invalid(
                    at,
                    "user_id",
                    format!(
                        "the methods of user \"{}\" were given earlier in this import; give each user's complete list once",
                        r.user_id
                    ),
                ));
            }
        }
        self.check_users_exist(records.iter().map(|(r, at)| (r.user_id.as_str(), at)))?;
        let mut changed = Vec::new();
        for chunk in records.chunks(ID_CHUNK) {
            let ids: Vec<&str> = chunk.iter().map(|(r, _)| r.user_id.as_str()).collect();
            let stored = import_rows::methods_of(self.conn, &ids)?;
            let mut by_user: HashMap<&str, Vec<(i32, Option<NaiveDateTime>)>> = HashMap::new();
            for (user_id, method, at) in &stored {
                by_user
                    .entry(user_id.as_str())
                    .or_default()
                    .push((*method, *at));
            }
            let named: HashMap<String, String> = import_rows::other_methods_of(self.conn, &ids)?
                .into_iter()
                .collect();
            let mut inserts = Vec::new();
            for (r, _) in chunk {
                if r.complete {
                    let names = (!r.other_names.is_empty()).then(|| r.other_names.join(","));
                    if named.get(&r.user_id) != names.as_ref() {
                        import_rows::set_other_methods(self.conn, &r.user_id, names.as_deref())?;
                    }
                }
                let before = by_user.get(r.user_id.as_str()).cloned().unwrap_or_default();
                let mut wanted: Vec<(i32, Option<NaiveDateTime>)> = Vec::new();
                for (m, at) in &r.methods {
                    if !wanted.iter().any(|(c, _)| *c == m.code()) {
                        let at = at.or_else(|| {
                            before
                                .iter()
                                .find(|(c, _)| *c == m.code())
                                .and_then(|(_, t)| *t)
                        });
                        wanted.push((m.code(), at));
                    }
                }
                if !r.complete {
                    for kept in &before {
                        if !wanted.iter().any(|(c, _)| *c == kept.0) {
                            wanted.push(*kept);
                        }
                    }
                }
                let added: Vec<_> = wanted.iter().filter(|w| !before.contains(w)).collect();
                let removed = before.iter().filter(|b| !wanted.contains(b)).count();
                let same = wanted.len() - added.len();
                self.summary.methods.skipped += same as u64;
                if added.is_empty() && removed == 0 {
                    continue;
                }
                // A changed registration time counts as an update, not as a
                // removal and an insertion.
                let retimed = added
                    .iter()
                    .filter(|(c, _)| before.iter().any(|(b, _)| b == c))
                    .count();
                self.summary.methods.inserted += (added.len() - retimed) as u64;
                self.summary.methods.updated += retimed as u64;
                self.summary.methods.removed += (removed - retimed) as u64;
                import_rows::clear_methods(self.conn, &r.user_id)?;
                for (code, at) in wanted {
                    inserts.push((r.user_id.clone(), code, at));
                }
                changed.push(r.user_id.clone());
            }
            let rows: Vec<NewUserMethod> = inserts
                .into_iter()
                .map(|(user_id, method, registered_at)| NewUserMethod {
                    user_id,
                    method,
                    registered_at,
                })
                .collect();
            crate::db::bulk::insert_user_methods(self.conn, &rows)?;
        }
        refresh_users(self.conn, &self.policy, &changed, self.now)?;
        Ok(())
    }

    fn activities(
        &mut self,
        records: Vec<(ActivityRecord, Identity, Location)>,
    ) -> Result<(), Stop> {
        if records.is_empty() {
            return Ok(());
        }
        let mut records = records;
        // A flow of Graph's audit log whose user the directory does not hold
        // (deleted since, or not read yet) is kept as an unknown user's, with
        // a warning: the audit log outlives the users it names.
        let flow_users: Vec<&str> = records
            .iter()
            .filter(|(_, identity, _)| *identity == Identity::Flow)
            .filter_map(|(r, _, _)| r.activity.user_id.as_deref())
            .collect();
        if !flow_users.is_empty() {
            let missing = self.missing_users(flow_users.into_iter())?;
            if !missing.is_empty() {
                for (r, identity, at) in &mut records {
                    let gone = *identity == Identity::Flow
                        && r.activity
                            .user_id
                            .as_ref()
                            .is_some_and(|id| missing.contains(id));
                    if gone {
                        let id = r.activity.user_id.take().unwrap_or_default();
                        for e in &mut r.events {
                            e.user_id = String::new();
                        }
                        self.warnings.push(ImportWarning::new(
                            at.clone(),
                            "targetResources",
                            &id,
                            "as an activity of an unknown user: the directory does not hold this user",
                            Some("The user was deleted, or is newer than the users read; the activity still counts"),
                        ));
                    }
                }
            }
        }
        self.check_users_exist(
            records
                .iter()
                .filter_map(|(r, _, at)| r.activity.user_id.as_deref().map(|id| (id, at))),
        )?;
        let import_id = self.import_id;
        let mut rows = Vec::with_capacity(records.len());
        let mut rest = Vec::with_capacity(records.len());
        for (r, identity, at) in records {
            rows.push(ImportedActivity::new(r.activity, import_id));
            rest.push((r.events, identity, at));
        }
        let inserted = import_rows::insert_new_activities(self.conn, &rows)?;
        // An activity rebuilt from a source's flow (Graph's audit entries of
        // one correlationId) that is stored already: a later export of the
        // same flow may know more (a reset in progress then, done now).
        let rebuilt: Vec<usize> = inserted
            .iter()
            .enumerate()
            .filter(|(i, is_new)| !**is_new && rest[*i].1 == Identity::Flow)
            .map(|(i, _)| i)
            .collect();
        let flow_rows: HashSet<usize> = rest
            .iter()
            .enumerate()
            .filter(|(_, r)| r.1 == Identity::Flow)
            .map(|(i, _)| i)
            .collect();
        let mut inserted = inserted;
        let updated: HashSet<usize> = self
            .update_flows(&rows, &rest, &rebuilt)?
            .into_iter()
            .collect();
        for &i in &updated {
            // Counted and its events stored below, as a new one's are.
            inserted[i] = true;
            self.summary.activities.updated += 1;
        }
        // The new activities' events, each with the index of its activity.
        let mut new_events: Vec<(ImportedEvent, usize)> = Vec::new();
        let mut locations = Vec::with_capacity(rest.len());
        let mut repeated = Vec::new();
        for (i, ((events, identity, at), is_new)) in rest.into_iter().zip(&inserted).enumerate() {
            if *is_new {
                if !updated.contains(&i) {
                    self.summary.activities.inserted += 1;
                }
                let a = &rows[i];
                *self
                    .activity_counts
                    .entry(ActivityBucket::new(
                        a.occurred_at.at,
                        a.feature,
                        a.result,
                        a.methods_mask,
                    ))
                    .or_default() += 1;
                new_events.extend(
                    events
                        .into_iter()
                        .map(|event| (ImportedEvent::new(event, import_id), i)),
                );
            } else {
                repeated.push((i, identity));
                self.summary.activities.skipped += 1;
                self.summary.events.skipped += events.len() as u64;
            }
            locations.push(at);
        }
        let repeated: Vec<(&str, Identity, &Location)> = repeated
            .into_iter()
            .map(|(i, identity)| (rows[i].id.as_str(), identity, &locations[i]))
            .collect();
        self.check_repeats(Stored::Activities, &repeated, "activity")?;
        let (new_events, origins): (Vec<ImportedEvent>, Vec<usize>) =
            new_events.into_iter().unzip();
        let stored = import_rows::insert_new_events(self.conn, &new_events)?;
        let mut clash = None;
        for ((row, origin), is_new) in new_events.iter().zip(&origins).zip(&stored) {
            if *is_new {
                self.summary.events.inserted += 1;
                self.tally_event(row);
            } else if clash.is_none() {
                clash = Some((row.id.as_str(), &locations[*origin]));
            }
        }
        if let Some((id, at)) = clash {
            let this_import = self.stored_import_ids(Stored::MethodEvents, &[id])?;
            let reason = if this_import.contains_key(id) {
                format!("method event id \"{id}\" is given twice in this import")
            } else {
                format!("method event id \"{id}\" is already stored, for another activity")
            };
            return Err(invalid(at, "events.id", reason));
        }
        let new: Vec<&ImportedEvent> = new_events.iter().collect();
        self.register_methods(&new)?;
        // A flow's events supersede the same verifications a usage report
        // brought before.
        let flow_events: Vec<MethodEvent> = new_events
            .iter()
            .zip(&origins)
            .filter(|(_, origin)| flow_rows.contains(*origin))
            .map(|(e, _)| e.as_event())
            .collect();
        if !new_events.is_empty() {
            self.events_exist.0 = Some(true);
        }
        self.remove_reported_alone(&flow_events)?;
        Ok(())
    }

    /// Of the activities `rebuilt` (indexes into `rows`), those whose stored
    /// row or events differ from what this import rebuilt: their rows take
    /// the new facts, their stored events are removed (the caller stores
    /// the new ones), and the counts move from the old to the new. Returns
    /// their indexes; the caller counts them and stores their events as a
    /// new activity's.
    fn update_flows(
        &mut self,
        rows: &[ImportedActivity],
        rest: &[(Vec<MethodEvent>, Identity, Location)],
        rebuilt: &[usize],
    ) -> Result<Vec<usize>, Stop> {
        if rebuilt.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<&str> = rebuilt.iter().map(|i| rows[*i].id.as_str()).collect();
        let mut stored: HashMap<String, Activity> = HashMap::new();
        let mut stored_events: HashMap<String, Vec<MethodEvent>> = HashMap::new();
        for chunk in ids.chunks(ID_CHUNK) {
            for a in import_rows::activities_by_id(self.conn, chunk)? {
                stored.insert(a.id.clone(), a);
            }
            for e in import_rows::events_of_activities(self.conn, chunk)? {
                let key = e.activity_id.clone().unwrap_or_default();
                stored_events.entry(key).or_default().push(e);
            }
        }
        let mut changed = Vec::new();
        for &i in rebuilt {
            let row = &rows[i];
            let Some(old) = stored.get(&row.id) else {
                continue;
            };
            let new = Activity {
                id: row.id.clone(),
                user_id: row.user_id.clone(),
                user_principal_name: row.user_principal_name.clone(),
                user_display_name: row.user_display_name.clone(),
                user_role: row.user_role.clone(),
                feature: row.feature,
                methods_mask: row.methods_mask,
                result: row.result,
                details: row.details,
                occurred_at: row.occurred_at.at,
            };
            let mut old_events = stored_events.remove(&row.id).unwrap_or_default();
            old_events.sort_by(|a, b| a.id.cmp(&b.id));
            let mut new_events = rest[i].0.clone();
            new_events.sort_by(|a, b| a.id.cmp(&b.id));
            if *old == new && old_events == new_events {
                continue;
            }
            // The old facts leave the counts; the caller counts the new.
            *self
                .activity_counts
                .entry(ActivityBucket::new(
                    old.occurred_at,
                    old.feature,
                    old.result,
                    old.methods_mask,
                ))
                .or_default() -= 1;
            for e in &old_events {
                self.untally_event(e);
                self.summary.events.removed += 1;
            }
            import_rows::replace_activity(self.conn, row)?;
            changed.push(i);
        }
        Ok(changed)
    }

    /// Whether stored method events belong to activities (`in_flows`) or
    /// stand alone.
    fn events_exist(&mut self, in_flows: bool) -> Result<bool, Stop> {
        let known = if in_flows {
            self.events_exist.0
        } else {
            self.events_exist.1
        };
        let exist = match known {
            Some(exist) => exist,
            None => import_rows::any_events(self.conn, in_flows)?,
        };
        if in_flows {
            self.events_exist.0 = Some(exist);
        } else {
            self.events_exist.1 = Some(exist);
        }
        Ok(exist)
    }

    /// The stored events (in activities, or standing alone) that may be
    /// one of `events`: of their users, near their times.
    fn stored_near<'e>(
        &mut self,
        events: impl Iterator<Item = Verification<'e>>,
        in_flows: bool,
    ) -> Result<HashMap<String, Vec<MethodEvent>>, Stop> {
        let mut users: Vec<&str> = Vec::new();
        let mut span: Option<(NaiveDateTime, NaiveDateTime)> = None;
        for v in events {
            users.push(v.user_id);
            span = Some(match span {
                None => (v.at, v.at),
                Some((from, to)) => (from.min(v.at), to.max(v.at)),
            });
        }
        let mut near: HashMap<String, Vec<MethodEvent>> = HashMap::new();
        let Some((from, to)) = span else {
            return Ok(near);
        };
        users.sort_unstable();
        users.dedup();
        let slack = chrono::Duration::seconds(SAME_VERIFICATION_SECONDS);
        for chunk in users.chunks(ID_CHUNK) {
            for e in import_rows::events_near(self.conn, chunk, from - slack, to + slack, in_flows)?
            {
                near.entry(e.user_id.clone()).or_default().push(e);
            }
        }
        Ok(near)
    }

    /// Drops the usage reports' events that an audit flow stored already
    /// reports: one verification is one event, the flow's.
    fn drop_reported_in_flows(
        &mut self,
        records: &mut Vec<(MethodEvent, Identity, UserKey, Option<NamedUser>, Location)>,
    ) -> Result<(), Stop> {
        if records.is_empty() || !self.events_exist(true)? {
            return Ok(());
        }
        let flows = self.stored_near(records.iter().map(|r| verification(&r.0)), true)?;
        if flows.is_empty() {
            return Ok(());
        }
        records.retain(|(e, ..)| {
            let v = verification(e);
            !flows
                .get(&e.user_id)
                .is_some_and(|stored| stored.iter().any(|f| verification(f).is_same_as(&v)))
        });
        Ok(())
    }

    /// Removes the stored usage-report events that the flows' events just
    /// stored report again, taking them out of the counts.
    fn remove_reported_alone(&mut self, flow_events: &[MethodEvent]) -> Result<(), Stop> {
        if flow_events.is_empty() || !self.events_exist(false)? {
            return Ok(());
        }
        let alone = self.stored_near(flow_events.iter().map(verification), false)?;
        let mut gone: Vec<&MethodEvent> = Vec::new();
        for f in flow_events {
            let v = verification(f);
            if let Some(stored) = alone.get(&f.user_id) {
                gone.extend(stored.iter().filter(|e| verification(e).is_same_as(&v)));
            }
        }
        let mut ids: Vec<&str> = gone.iter().map(|e| e.id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        if ids.is_empty() {
            return Ok(());
        }
        let removed = import_rows::delete_events(self.conn, &ids)?;
        let mut counted = HashSet::new();
        for e in gone {
            if counted.insert(e.id.as_str()) {
                self.untally_event(e);
            }
        }
        self.summary.events.removed += removed as u64;
        self.summary.events_in_both += removed as u64;
        Ok(())
    }

    fn events(
        &mut self,
        records: Vec<(MethodEvent, Identity, UserKey, Option<NamedUser>, Location)>,
    ) -> Result<(), Stop> {
        if records.is_empty() {
            return Ok(());
        }
        let mut records = records;
        // Resolve user principal names to ids.
        let names: Vec<&str> = records
            .iter()
            .filter(|(_, _, key, _, _)| *key == UserKey::PrincipalName)
            .map(|(e, _, _, _, _)| e.user_id.as_str())
            .collect();
        let mut by_name: HashMap<String, String> = HashMap::new();
        for chunk in names.chunks(ID_CHUNK) {
            let found = import_rows::user_ids_by_principal_name(self.conn, chunk)?;
            by_name.extend(found);
        }
        for (e, _, key, named, at) in &mut records {
            if *key == UserKey::PrincipalName {
                match by_name.get(&e.user_id) {
                    Some(id) => {
                        e.user_id = id.clone();
                        *named = None;
                    }
                    // Kept for a user not in the directory, under a key the
                    // user claims when an import brings them.
                    None if named.is_some() => e.user_id = outside_user_key(&e.user_id),
                    None => {
                        return Err(invalid(
                            at,
                            "userPrincipalName",
                            format!(
                                "unknown user \"{}\": import the users (a registration details export) first",
                                e.user_id
                            ),
                        ))
                    }
                }
            }
        }
        // Events by user id: a source that names its users keeps those of
        // users not in the directory; any other refuses them.
        let missing = self.missing_users(
            records
                .iter()
                .filter(|(_, _, key, _, _)| *key == UserKey::Id)
                .map(|(e, _, _, _, _)| e.user_id.as_str()),
        )?;
        for (e, _, key, named, at) in &mut records {
            if *key == UserKey::Id {
                if !missing.contains(&e.user_id) {
                    *named = None;
                } else if named.is_none() {
                    return Err(unknown_user(&e.user_id, at));
                }
            }
        }
        let before = records.len();
        self.drop_reported_in_flows(&mut records)?;
        let dropped = (before - records.len()) as u64;
        self.summary.events.skipped += dropped;
        self.summary.events_in_both += dropped;
        // The same derived event twice in one batch is one event.
        let mut keep = Vec::with_capacity(records.len());
        {
            let mut seen: HashSet<&str> = HashSet::new();
            for (e, identity, _, _, at) in &records {
                let first = seen.insert(e.id.as_str());
                if !first && *identity == Identity::Given {
                    return Err(invalid(
                        at,
                        "id",
                        format!("method event id \"{}\" is given twice in this import", e.id),
                    ));
                }
                keep.push(first);
            }
        }
        let import_id = self.import_id;
        let mut rows = Vec::with_capacity(records.len());
        let mut kept = Vec::with_capacity(records.len());
        let mut named_of = Vec::with_capacity(records.len());
        for ((event, identity, _, named, at), first) in records.into_iter().zip(keep) {
            if first {
                rows.push(ImportedEvent::new(event, import_id));
                kept.push((identity, at));
                named_of.push(named);
            } else {
                self.summary.events.skipped += 1;
            }
        }
        let stored = import_rows::insert_new_events(self.conn, &rows)?;
        let mut repeated = Vec::new();
        let mut new = Vec::new();
        let mut outside: Vec<(&str, &str, &str)> = Vec::new();
        for (((row, (identity, at)), is_new), named) in
            rows.iter().zip(&kept).zip(&stored).zip(&named_of)
        {
            if *is_new {
                self.summary.events.inserted += 1;
                self.tally_event(row);
                new.push(row);
                if let Some(n) = named {
                    outside.push((
                        row.id.as_str(),
                        n.user_principal_name.as_str(),
                        n.display_name.as_str(),
                    ));
                    if let Some(users) = self.outside_users.as_mut() {
                        users.insert(row.user_id.clone());
                    }
                }
            } else {
                self.summary.events.skipped += 1;
                repeated.push((row.id.as_str(), *identity, at));
            }
        }
        if !new.is_empty() {
            self.events_exist.1 = Some(true);
        }
        self.summary.events_outside_directory += outside.len() as u64;
        import_rows::name_outside_events(self.conn, &outside)?;
        self.check_repeats(Stored::MethodEvents, &repeated, "method event")?;
        self.register_methods(&new)?;
        Ok(())
    }

    /// Ids already stored: skipped as duplicates when an earlier import
    /// stored them; an error when this import did (a given id twice).
    fn check_repeats(
        &mut self,
        table: Stored,
        repeated: &[(&str, Identity, &Location)],
        noun: &str,
    ) -> Result<(), Stop> {
        let given: Vec<&str> = repeated
            .iter()
            .filter(|(_, identity, _)| *identity == Identity::Given)
            .map(|(id, _, _)| *id)
            .collect();
        if given.is_empty() {
            return Ok(());
        }
        let this_import = self.stored_import_ids(table, &given)?;
        if let Some((id, _, at)) = repeated
            .iter()
            .find(|(id, identity, _)| *identity == Identity::Given && this_import.contains_key(*id))
        {
            return Err(invalid(
                at,
                "id",
                format!("{noun} id \"{id}\" is given twice in this import"),
            ));
        }
        Ok(())
    }

    /// Of `ids`, those this import stored.
    fn stored_import_ids(
        &mut self,
        table: Stored,
        ids: &[&str],
    ) -> Result<HashMap<String, i64>, Stop> {
        let mut out = HashMap::new();
        for chunk in ids.chunks(ID_CHUNK) {
            for (id, import_id) in import_rows::import_ids(self.conn, table, chunk)? {
                if import_id == self.import_id {
                    out.insert(id, import_id);
                }
            }
        }
        Ok(out)
    }

    /// Live ingest: a successful registration registers its method.
    fn tally_event(&mut self, e: &ImportedEvent) {
        *self
            .event_counts
            .entry(EventBucket::new(
                e.occurred_at.at,
                e.feature,
                e.method,
                e.success,
            ))
            .or_default() += 1;
    }

    /// A stored event this import removes leaves the counts.
    fn untally_event(&mut self, e: &MethodEvent) {
        *self
            .event_counts
            .entry(EventBucket::new(
                e.occurred_at,
                e.feature,
                e.method,
                e.success,
            ))
            .or_default() -= 1;
    }

    fn register_methods(&mut self, events: &[&ImportedEvent]) -> Result<(), Stop> {
        if !self.options.register_on_success {
            return Ok(());
        }
        let mut wanted: HashMap<&str, Vec<(i32, NaiveDateTime)>> = HashMap::new();
        for e in events {
            if e.success && e.feature == Feature::Registration.code() {
                wanted
                    .entry(e.user_id.as_str())
                    .or_default()
                    .push((e.method, e.occurred_at.at));
            }
        }
        if wanted.is_empty() {
            return Ok(());
        }
        let ids: Vec<&str> = wanted.keys().copied().collect();
        let mut have: HashSet<(String, i32)> = HashSet::new();
        for chunk in ids.chunks(ID_CHUNK) {
            have.extend(
                import_rows::methods_of(self.conn, chunk)?
                    .into_iter()
                    .map(|(user, method, _)| (user, method)),
            );
        }
        let mut changed = Vec::new();
        for (user_id, methods) in wanted {
            let mut added = false;
            for (method, at) in methods {
                let codes: Vec<i32> = match Method::from_code(method) {
                    // A verified phone serves both SMS and calls.
                    Some(Method::MobileSms | Method::MobileCall) => {
                        vec![Method::MobileSms.code(), Method::MobileCall.code()]
                    }
                    _ => vec![method],
                };
                for code in codes {
                    if have.insert((user_id.to_string(), code)) {
                        let row = NewUserMethod {
                            user_id: user_id.to_string(),
                            method: code,
                            registered_at: Some(at),
                        };
                        import_rows::add_method(self.conn, &row)?;
                        self.summary.methods.inserted += 1;
                        added = true;
                    }
                }
            }
            if added {
                changed.push(user_id.to_string());
            }
        }
        refresh_users(self.conn, &self.policy, &changed, self.now)?;
        Ok(())
    }
}

/// A stored or imported event as the rule of [`Verification::is_same_as`]
/// sees it.
fn verification(e: &MethodEvent) -> Verification<'_> {
    Verification {
        user_id: &e.user_id,
        feature: e.feature,
        method: e.method,
        success: e.success,
        at: e.occurred_at,
    }
}

/// Which records may share a batch (a batch is written in dependency
/// order: users before their methods, activities before loose events).
fn batch_class(record: &Record) -> u8 {
    match record {
        Record::User(_) | Record::Methods(_) => 0,
        Record::Group(_) => 1,
        Record::Member(_) | Record::GroupListed { .. } => 2,
        Record::Activity(..) | Record::Event { .. } => 3,
        Record::Warning(_)
        | Record::Listing { .. }
        | Record::SignInDay(_)
        | Record::SignInMethod(_) => 4,
    }
}

/// The stored user with the record's facts over it; a new user gets the
/// defaults for what the record leaves open.
fn merge_user(r: UserRecord, old: Option<&User>) -> DirectoryUser {
    let directory_status = match (r.verdicts, old) {
        // The same verdicts again keep the date they were first stated for,
        // so re-importing an export (dated or not) changes nothing.
        (Some((v, _)), Some(old)) if old.directory_status == Some(v.pack()) => {
            old.directory_status.zip(old.directory_status_at)
        }
        (Some((v, at)), _) => Some((v.pack(), at)),
        (None, Some(old)) => old.directory_status.zip(old.directory_status_at),
        (None, None) => None,
    };
    DirectoryUser {
        verdicts_stale: match (&r.verdicts, old) {
            (Some(_), _) | (None, None) => false,
            (None, Some(old)) => old.verdicts_stale,
        },
        is_guest: r.is_guest.or(old.map(|o| o.is_guest)).unwrap_or(false),
        is_admin: r.is_admin.or(old.map(|o| o.is_admin)).unwrap_or(false),
        directory_role: r
            .directory_role
            .or_else(|| old.map(|o| o.directory_role.clone()))
            .unwrap_or_default(),
        account_enabled: r.account_enabled.or(old.and_then(|o| o.account_enabled)),
        mfa: r
            .mfa
            .or_else(|| old.map(User::mfa_details))
            .unwrap_or_default(),
        id: r.id,
        display_name: r.display_name,
        user_principal_name: r.user_principal_name,
        directory_status,
    }
}

fn same_user(old: &User, new: &DirectoryUser) -> bool {
    old.display_name == new.display_name
        && old.user_principal_name == new.user_principal_name
        && old.is_guest == new.is_guest
        && old.is_admin == new.is_admin
        && old.directory_role == new.directory_role
        && old.account_enabled == new.account_enabled
        && old.directory_status.zip(old.directory_status_at) == new.directory_status
        && old.mfa_details() == new.mfa
        && old.verdicts_stale == new.verdicts_stale
}

fn count_put(tally: &mut Tally, put: crate::db::sign_ins::Put) {
    use crate::db::sign_ins::Put;
    match put {
        Put::Inserted => tally.inserted += 1,
        Put::Updated => tally.updated += 1,
        Put::Unchanged => tally.skipped += 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Verdicts;

    #[test]
    fn the_summary_names_each_kind_with_records() {
        let mut s = Summary::default();
        s.users.inserted = 3;
        s.users.skipped = 1;
        s.events.inserted = 10;
        let text = s.to_string();
        assert_eq!(
            text,
            "users: 3 inserted, 0 updated, 1 skipped as duplicates\nmethod events: 10 inserted, 0 updated, 0 skipped as duplicates\n"
        );
        assert!(s.changed());
        assert_eq!(Summary::default().to_string(), "no records\n");
    }

    #[test]
    fn verdicts_of_a_new_record_replace_stored_ones() {
        let at = chrono::DateTime::from_timestamp(0, 0).unwrap().naive_utc();
        let r = UserRecord {
            id: "u".into(),
            display_name: "U".into(),
            user_principal_name: "u@x".into(),
            is_guest: None,
            is_admin: None,
            directory_role: None,
            account_enabled: None,
            mfa: None,
            verdicts: Some((
                Verdicts {
                    registered: Some(true),
                    ..Verdicts::default()
                },
                at,
            )),
            listing: "users",
        };
        let merged = merge_user(r, None);
        assert!(!merged.is_guest && !merged.is_admin);
        assert_eq!(merged.account_enabled, None, "nothing said it");
        assert_eq!(merged.directory_role, "", "nor the role");
        assert_eq!(
            merged
                .directory_status
                .map(|d| Verdicts::unpack(d.0).registered),
            Some(Some(true))
        );
    }
}
