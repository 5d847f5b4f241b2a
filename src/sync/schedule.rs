//! Syncs run by the portal itself: every `serve --sync-every` (or the
//! interval an administrator set on Admin › Data sources), and at once when
//! an administrator presses Sync now. Several portals on one database each
//! keep the schedule; the sync lock lets exactly one of them run it, and the
//! others, finding the run done, skip it.

use super::lock::SyncLock;
use super::run::{sync, Quiet, SyncOptions, SyncResource};
use super::{GraphClient, GraphSettings};
use crate::db::syncs;
use crate::db::{DatabaseUrl, Pool};
use crate::metrics::{self, Runs};
use chrono::{Duration, NaiveDateTime, Utc};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

/// The longest the scheduler sleeps before it looks at the setting again.
const LOOK_AGAIN: std::time::Duration = std::time::Duration::from_secs(30);

/// What the Data sources page shows of the schedule.
#[derive(Debug, Clone, Default)]
pub struct ScheduleStatus {
    pub running: bool,
    /// When the next scheduled sync is due.
    pub next_run: Option<NaiveDateTime>,
}

#[derive(Default)]
struct State {
    running: bool,
    /// An administrator asked for a sync now.
    requested_by: Option<String>,
    next_run: Option<NaiveDateTime>,
}

/// The portal's syncs. Without a connection (`settings` is `None`) it
/// only reports that none is configured.
pub struct Scheduler {
    settings: Option<GraphSettings>,
    url: DatabaseUrl,
    pool: Pool,
    /// `serve --sync-every`.
    every_flag: Option<Duration>,
    state: Mutex<State>,
    wake: Condvar,
    /// The runs of this portal, for its metrics.
    runs: Runs,
}

/// Why Sync now did not start a sync.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotStarted {
    NotConnected,
    AlreadyRunning,
}

impl Scheduler {
    pub fn new(
        settings: Option<GraphSettings>,
        url: DatabaseUrl,
        pool: Pool,
        every_flag: Option<Duration>,
        runs: Runs,
    ) -> Arc<Scheduler> {
        let scheduler = Arc::new(Scheduler {
            settings,
            url,
            pool,
            every_flag,
            state: Mutex::new(State::default()),
            wake: Condvar::new(),
            runs,
        });
        if scheduler.settings.is_some() {
            let worker = scheduler.clone();
            std::thread::Builder::new()
                .name("graph-sync".into())
                .spawn(move || worker.run())
                .map_err(|e| tracing::error!("the sync schedule cannot start: {e}"))
                .ok();
        }
        scheduler
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn settings(&self) -> Option<&GraphSettings> {
        self.settings.as_ref()
    }

    pub fn status(&self) -> ScheduleStatus {
        let state = self.state();
        ScheduleStatus {
            running: state.running,
            next_run: state.next_run,
        }
    }

    /// The interval from `serve --sync-every`.
    pub fn every_flag(&self) -> Option<Duration> {
        self.every_flag
    }

    /// Asks for a sync now, on behalf of `actor`.
    pub fn sync_now(&self, actor: &str) -> Result<(), NotStarted> {
        if self.settings.is_none() {
            return Err(NotStarted::NotConnected);
        }
        let mut state = self.state();
        if state.running || state.requested_by.is_some() {
            return Err(NotStarted::AlreadyRunning);
        }
        state.requested_by = Some(actor.to_string());
        self.wake.notify_all();
        Ok(())
    }

    /// The interval setting changed: look at it again.
    pub fn setting_changed(&self) {
        self.wake.notify_all();
    }

    fn run(&self) {
        loop {
            let every = match self.read_interval() {
                Ok(found) => found,
                Err(e) => {
                    tracing::warn!("sync schedule: the database did not answer: {e}");
                    self.sleep(LOOK_AGAIN);
                    continue;
                }
            };
            let now = Utc::now().naive_utc();
            let due = match every {
                None => None,
                Some(every) => match self.last_start() {
                    Ok(Some(last)) => Some(last + every),
                    Ok(None) => Some(now),
                    Err(e) => {
                        tracing::warn!("sync schedule: the database did not answer: {e}");
                        self.sleep(LOOK_AGAIN);
                        continue;
                    }
                },
            };
            let requested = {
                let mut state = self.state();
                state.next_run = due;
                state.requested_by.clone()
            };
            match (requested, due) {
                (Some(actor), _) => self.attempt(&actor, None),
                (None, Some(due)) if due <= now => self.attempt("schedule", every),
                (None, Some(due)) => {
                    let wait = (due - now).to_std().unwrap_or_default().min(LOOK_AGAIN);
                    self.sleep(wait);
                }
                (None, None) => self.sleep(LOOK_AGAIN),
            }
        }
    }

    /// Waits `wait`, or less when woken.
    fn sleep(&self, wait: std::time::Duration) {
        let state = self.state();
        if state.requested_by.is_some() {
            return;
        }
        let _ = self.wake.wait_timeout(state, wait);
    }

    /// The interval in force: the one set on Admin › Data sources (0: off),
    /// else `--sync-every`.
    fn read_interval(&self) -> anyhow::Result<Option<Duration>> {
        let mut conn = self.pool.get()?;
        Ok(match syncs::sync_every_minutes(&mut conn)? {
            Some(m) if m > 0 => Some(Duration::minutes(m)),
            Some(_) => None,
            None => self.every_flag,
        })
    }

    fn last_start(&self) -> anyhow::Result<Option<NaiveDateTime>> {
        let mut conn = self.pool.get()?;
        Ok(syncs::latest_run(&mut conn)?.map(|r| r.started_at))
    }

    /// Runs a sync when this portal gets the lock; a scheduled one only if
    /// no other portal ran it meanwhile.
    fn attempt(&self, trigger: &str, every: Option<Duration>) {
        let Some(settings) = self.settings.clone() else {
            return;
        };
        let lock = match SyncLock::try_acquire(&self.url) {
            Ok(Some(lock)) => lock,
            Ok(None) => {
                tracing::info!("sync: another portal or command is syncing; this one skips");
                self.state().requested_by = None;
                self.sleep(LOOK_AGAIN.min(std::time::Duration::from_secs(5)));
                return;
            }
            Err(e) => {
                tracing::warn!("sync: the lock cannot be taken: {e}");
                self.state().requested_by = None;
                self.sleep(LOOK_AGAIN);
                return;
            }
        };
        if let Some(every) = every {
            // Another portal may have run it between our look and the lock.
            match self.last_start() {
                Ok(Some(last)) if last + every > Utc::now().naive_utc() => return,
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!("sync schedule: the database did not answer: {e}");
                    return;
                }
            }
        }
        {
            let mut state = self.state();
            state.running = true;
            state.requested_by = None;
        }
        let outcome = (|| -> anyhow::Result<()> {
            let mut conn = self.pool.get()?;
            let mut client = GraphClient::new(settings);
            let options = SyncOptions {
                resources: SyncResource::ALL.to_vec(),
                since: None,
                dry_run: false,
                trigger: trigger.to_string(),
            };
            let report = sync(&mut conn, &mut client, &options, &mut Quiet)?;
            let stored: u64 = report
                .resources
                .iter()
                .filter(|r| r.outcome == super::run::Outcome::Stored)
                .map(|r| r.records)
                .sum();
            if report.succeeded() {
                self.runs.record(metrics::Outcome::Success, stored);
                tracing::info!(
                    "sync ({trigger}) done: {}",
                    report.to_string().replace('\n', "; ")
                );
            } else {
                self.runs.record(metrics::Outcome::Failed, stored);
                tracing::warn!(
                    "sync ({trigger}) did not store everything: {}",
                    report.problems()
                );
            }
            Ok(())
        })();
        drop(lock);
        self.state().running = false;
        if let Err(e) = outcome {
            self.runs.record(metrics::Outcome::Failed, 0);
            tracing::error!("sync ({trigger}) stopped: {e}");
            // Not again at once: the database is what failed.
            self.sleep(LOOK_AGAIN);
        }
    }
}
