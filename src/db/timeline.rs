//! Newest-first keyset paging over `(occurred_at, id)`, shared by the lists
//! of events and activities: each reads one or more ordered streams of keys,
//! cut at one page, and merges them here.

use super::DbConnection;
use crate::domain::filter::{Cursor, PagePosition, PageSize};
use chrono::NaiveDateTime;
use diesel::QueryResult;
use std::collections::BinaryHeap;

/// The keyset: newest first; `after` goes back in time, `before` forward.
pub struct Keyset {
    pub at: Option<(NaiveDateTime, String)>,
    /// Reading toward older events.
    pub backwards_in_time: bool,
}

impl Keyset {
    pub fn new(position: &PagePosition) -> QueryResult<Keyset> {
        let parse = |c: &Cursor, param: &str| {
            c.time(param)
                .map(|t| (t, c.id.clone()))
                .map_err(|e| diesel::result::Error::QueryBuilderError(Box::new(e)))
        };
        Ok(match position {
            PagePosition::First => Keyset {
                at: None,
                backwards_in_time: true,
            },
            PagePosition::After(c) => Keyset {
                at: Some(parse(c, "after")?),
                backwards_in_time: true,
            },
            PagePosition::Before(c) => Keyset {
                at: Some(parse(c, "before")?),
                backwards_in_time: false,
            },
        })
    }
}

/// Adds the window, the keyset condition, the newest-first order (oldest
/// first when reading backwards) and the limit to a query of table `$t`.
macro_rules! window_and_keyset {
    ($q:expr, $t:ident, $window:expr, $keyset:expr, $limit:expr) => {{
        let mut q = $q.filter($t::occurred_at.ge($window.start));
        if let Some(end) = $window.end {
            q = q.filter($t::occurred_at.lt(end));
        }
        if let Some((t, id)) = &$keyset.at {
            q = if $keyset.backwards_in_time {
                q.filter(
                    $t::occurred_at
                        .le(*t)
                        .and($t::occurred_at.lt(*t).or($t::id.lt(id.clone()))),
                )
            } else {
                q.filter(
                    $t::occurred_at
                        .ge(*t)
                        .and($t::occurred_at.gt(*t).or($t::id.gt(id.clone()))),
                )
            };
        }
        q = if $keyset.backwards_in_time {
            q.order_by(($t::occurred_at.desc(), $t::id.desc()))
        } else {
            q.order_by(($t::occurred_at.asc(), $t::id.asc()))
        };
        q.limit($limit)
    }};
}

pub(crate) use window_and_keyset;

/// Checks the cursors before any reading, so a forged one is a 400, not a 500.
pub fn validate_position(
    position: &PagePosition,
) -> Result<(), crate::domain::filter::FilterError> {
    match position {
        PagePosition::First => Ok(()),
        PagePosition::After(c) => c.time("after").map(|_| ()),
        PagePosition::Before(c) => c.time("before").map(|_| ()),
    }
}

/// Keeps the first page of the merged streams in display order (newest first).
fn merge(
    mut keys: Vec<(NaiveDateTime, String)>,
    keyset: &Keyset,
    limit: i64,
) -> (Vec<(NaiveDateTime, String)>, bool) {
    keys.sort_unstable();
    keys.dedup();
    if keyset.backwards_in_time {
        keys.reverse();
    }
    let size = (limit - 1) as usize;
    let more = keys.len() > size;
    keys.truncate(size);
    if !keyset.backwards_in_time {
        keys.reverse();
    }
    (keys, more)
}

/// Keys an export reads from each source at a time.
pub const EXPORT_BLOCK: i64 = 5_000;

/// (has previous, has next) of a page read at `position` that found `more`
/// keys past its end.
pub fn page_flags(position: &PagePosition, more: bool) -> (bool, bool) {
    match position {
        PagePosition::First => (false, more),
        PagePosition::After(_) => (true, more),
        PagePosition::Before(_) => (more, true),
    }
}

/// A key of the timeline: time and id.
pub type Key = (NaiveDateTime, String);

/// One ordered stream of keys a list reads: up to `limit` keys past the
/// keyset, in its direction. A list is the merge of its sources.
pub type Source<'a> =
    Box<dyn FnMut(&mut DbConnection, &Keyset, i64) -> QueryResult<Vec<Key>> + Send + 'a>;

/// One page of the merged sources: each read for one page and cut, the
/// union kept in display order. Also says whether more follow.
fn read_page(
    conn: &mut DbConnection,
    sources: &mut [Source<'_>],
    keyset: &Keyset,
    limit: i64,
) -> QueryResult<(Vec<Key>, bool)> {
    let mut keys = Vec::new();
    for source in sources.iter_mut() {
        keys.extend(source(conn, keyset, limit)?);
    }
    Ok(merge(keys, keyset, limit))
}

/// One page of a list read from its sources at `position`: the rows `load`
/// gives for the page's keys, in display order, with (has previous, has next).
pub fn list_page<R>(
    conn: &mut DbConnection,
    mut sources: Vec<Source<'_>>,
    position: &PagePosition,
    size: PageSize,
    load: impl FnOnce(&mut DbConnection, &[Key]) -> QueryResult<Vec<R>>,
) -> QueryResult<(Vec<R>, bool, bool)> {
    let keyset = Keyset::new(position)?;
    let limit = i64::from(size.get()) + 1;
    let (keys, more) = read_page(conn, &mut sources, &keyset, limit)?;
    let rows = load(conn, &keys)?;
    let (has_prev, has_next) = page_flags(position, more);
    Ok((rows, has_prev, has_next))
}

/// Every key of the merged sources, newest first, read lazily: each source
/// is read a block at a time and only when its block is used up, so an
/// export reads each row once however many sources there are.
pub struct Merger<'a> {
    sources: Vec<Source<'a>>,
    blocks: Vec<std::collections::VecDeque<Key>>,
    exhausted: Vec<bool>,
    heap: BinaryHeap<(Key, usize)>,
    block: i64,
    started: bool,
}

impl<'a> Merger<'a> {
    pub fn new(sources: Vec<Source<'a>>, block: i64) -> Merger<'a> {
        let n = sources.len();
        Merger {
            sources,
            blocks: vec![Default::default(); n],
            exhausted: vec![false; n],
            heap: BinaryHeap::new(),
            block,
            started: false,
        }
    }

    /// Reads source `i`'s next block after `last` and queues its head.
    fn refill(&mut self, conn: &mut DbConnection, i: usize, last: Option<Key>) -> QueryResult<()> {
        let keyset = Keyset {
            at: last,
            backwards_in_time: true,
        };
        let keys = (self.sources[i])(conn, &keyset, self.block)?;
        self.exhausted[i] = (keys.len() as i64) < self.block;
        self.blocks[i] = keys.into();
        if let Some(head) = self.blocks[i].front() {
            self.heap.push((head.clone(), i));
        }
        Ok(())
    }

    /// Up to `n` next keys, newest first; fewer only at the end.
    pub fn next_keys(&mut self, conn: &mut DbConnection, n: usize) -> QueryResult<Vec<Key>> {
        if !self.started {
            self.started = true;
            for i in 0..self.sources.len() {
                self.refill(conn, i, None)?;
            }
        }
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            let Some((_, i)) = self.heap.pop() else {
                break;
            };
            let key = self.blocks[i]
                .pop_front()
                .expect("a queued source has a key in its block");
            match self.blocks[i].front() {
                Some(head) => self.heap.push((head.clone(), i)),
                None if !self.exhausted[i] => self.refill(conn, i, Some(key.clone()))?,
                None => {}
            }
            if out.last() != Some(&key) {
                out.push(key);
            }
        }
        Ok(out)
    }
}
