//! The maintained counts a list reads besides its rows — users per status,
//! events per kind in a window, activities per kind in a window — kept in
//! memory per data version.
//!
//! A request reads the data version first ([`CountCache::read`], one row) and
//! uses only entries made for that version, so no instance lists counts older
//! than the data it reads: every writer raises the version in its own
//! transaction. A change committed between reading the version and loading
//! the counts leaves newer counts under the older version, which the next
//! request (reading the new version) replaces.

use super::activities::ActivityKind;
use super::counts::data_state;
use super::events::KindCount;
use super::models::StatusKey;
use super::DbConnection;
use crate::domain::filter::TimeWindow;
use chrono::NaiveDateTime;
use diesel::QueryResult;
use std::sync::{Arc, Mutex};

/// One row of the users-per-status aggregate, unpacked once per version.
#[derive(Debug, Clone, Copy)]
pub struct StatusCount {
    pub key: StatusKey,
    /// [`StatusKey::pack`], as the user rows carry it.
    pub packed: i64,
    pub users: i64,
}

/// Values of a few recent (data version, key) pairs.
struct Slots<K, V> {
    entries: Mutex<Vec<(i64, K, Arc<V>)>>,
    capacity: usize,
}

impl<K: PartialEq + Copy, V> Slots<K, V> {
    fn new(capacity: usize) -> Self {
        Slots {
            entries: Mutex::new(Vec::with_capacity(capacity)),
            capacity,
        }
    }

    fn get_or_load(
        &self,
        version: i64,
        key: K,
        load: impl FnOnce() -> QueryResult<V>,
    ) -> QueryResult<Arc<V>> {
        let found = self.entries.lock().ok().and_then(|entries| {
            entries
                .iter()
                .find(|(v, k, _)| *v == version && *k == key)
                .map(|(_, _, value)| value.clone())
        });
        if let Some(value) = found {
            return Ok(value);
        }
        let value = Arc::new(load()?);
        if let Ok(mut entries) = self.entries.lock() {
            // Older versions are of no use to anyone once a newer one is read.
            entries.retain(|(v, k, _)| *v > version || (*v == version && *k != key));
            if entries.iter().all(|(v, _, _)| *v <= version) {
                if entries.len() >= self.capacity {
                    entries.remove(0);
                }
                entries.push((version, key, value.clone()));
            }
        }
        Ok(value)
    }
}

/// The counts of recent data versions, shared by every request of an instance.
pub struct CountCache {
    status: Slots<(), Vec<StatusCount>>,
    events: Slots<TimeWindow, Vec<KindCount>>,
    activities: Slots<(i32, TimeWindow), Vec<ActivityKind>>,
}

impl Default for CountCache {
    fn default() -> Self {
        CountCache {
            status: Slots::new(1),
            // The three ranges and a few custom ones, across an hour's turn.
            events: Slots::new(16),
            activities: Slots::new(16),
        }
    }
}

impl std::fmt::Debug for CountCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CountCache")
    }
}

impl CountCache {
    /// The counts as of the data version now stored.
    pub fn read(&self, conn: &mut DbConnection) -> QueryResult<Counts<'_>> {
        let (refreshed, version) = data_state(conn)?;
        Ok(Counts {
            cache: Some((self, version)),
            refreshed,
        })
    }
}

/// The counts one request (or one download) reads, at one data version.
pub struct Counts<'a> {
    cache: Option<(&'a CountCache, i64)>,
    /// The data's "Last refreshed" time at that version.
    pub refreshed: NaiveDateTime,
}

impl Counts<'static> {
    /// Counts loaded from the database on every use (tools and tests).
    pub fn uncached() -> Counts<'static> {
        Counts {
            cache: None,
            refreshed: NaiveDateTime::default(),
        }
    }
}

impl Counts<'_> {
    /// Every row of the users-per-status aggregate.
    pub fn status_rows(&self, conn: &mut DbConnection) -> QueryResult<Arc<Vec<StatusCount>>> {
        let mut load = || {
            let rows = super::counts::status_count_rows(conn)?;
            Ok(rows
                .iter()
                .map(|r| StatusCount {
                    key: r.key(),
                    packed: r.status_key,
                    users: r.user_count,
                })
                .collect())
        };
        match self.cache {
            Some((cache, version)) => cache.status.get_or_load(version, (), load),
            None => load().map(Arc::new),
        }
    }

    /// Method events per kind in the window.
    pub fn event_kinds(
        &self,
        conn: &mut DbConnection,
        window: TimeWindow,
    ) -> QueryResult<Arc<Vec<KindCount>>> {
        let mut load = || super::events::kind_counts(conn, window);
        match self.cache {
            Some((cache, version)) => cache.events.get_or_load(version, window, load),
            None => load().map(Arc::new),
        }
    }

    /// A feature's activities per kind in the window.
    pub fn activity_kinds(
        &self,
        conn: &mut DbConnection,
        feature: i32,
        window: TimeWindow,
    ) -> QueryResult<Arc<Vec<ActivityKind>>> {
        let mut load = || super::activities::activity_kinds(conn, feature, window);
        match self.cache {
            Some((cache, version)) => {
                cache
                    .activities
                    .get_or_load(version, (feature, window), load)
            }
            None => load().map(Arc::new),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_serves_only_its_version_and_key() {
        let slots: Slots<u8, u32> = Slots::new(2);
        let loads = std::cell::Cell::new(0);
        let get = |version, key, value| {
            slots
                .get_or_load(version, key, || {
                    loads.set(loads.get() + 1);
                    Ok(value)
                })
                .map(|v| *v)
        };
        assert_eq!(get(1, 0, 10), Ok(10));
        // Cached: the loader's value is not asked for.
        assert_eq!(get(1, 0, 11), Ok(10));
        assert_eq!(get(1, 1, 20), Ok(20));
        // A new version loads again and drops the older entries.
        assert_eq!(get(2, 0, 30), Ok(30));
        assert_eq!(get(1, 0, 12), Ok(12));
        assert_eq!(get(2, 0, 31), Ok(30));
        assert_eq!(loads.get(), 4);
        // The reader of an older version did not displace the newer entry.
        assert!(slots
            .entries
            .lock()
            .is_ok_and(|e| e.iter().all(|(v, _, _)| *v == 2)));
    }
}
