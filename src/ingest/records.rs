//! What every import source turns into: directory facts and events in the
//! portal's own terms, each with the place in its file it came from, so that
//! a bad value can be reported by file, line or record, and field.

use crate::db::models::{Activity, MethodEvent};
use crate::domain::second_factor::MfaDetails;
pub use crate::domain::sign_in::{SignInDayRecord, SignInMethodRecord};
use crate::domain::{Method, Verdicts};
use chrono::NaiveDateTime;
use std::fmt;
use std::io;

/// Where a record came from: the file's name and a line (CSV, JSON lines)
/// or a record index inside a JSON document (Graph's `value` array, from 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: String,
    pub position: Position,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    /// A line of the file, from 1.
    Line(u64),
    /// The n-th record (from 1) of a JSON document's `value` array.
    Record(u64),
    /// The file as a whole (it could not be read or recognised).
    File,
}

impl Location {
    /// Where in the file, without its name: "line 3", "record 2", "the whole file".
    pub fn position_text(&self) -> String {
        match self.position {
            Position::Line(n) => format!("line {n}"),
            Position::Record(n) => format!("record {n}"),
            Position::File => "the whole file".into(),
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.position {
            Position::Line(n) => write!(f, "{}, line {n}", self.file),
            Position::Record(n) => write!(f, "{}, record {n}", self.file),
            Position::File => f.write_str(&self.file),
        }
    }
}

/// Why an import stopped: where, which field (when one is to blame) and why.
/// Nothing of the import is stored when it stops.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportError {
    pub at: Location,
    pub field: Option<String>,
    pub reason: String,
}

impl ImportError {
    /// An error; a quoted value in `reason` longer than [`QUOTE_CHARS`] is
    /// cut there (a 50 MB field is not echoed back on the error page).
    pub fn new(at: Location, field: Option<&str>, reason: impl Into<String>) -> ImportError {
        ImportError {
            at,
            field: field.map(|f| clip(f, QUOTE_CHARS)),
            reason: clip_quoted(&reason.into()),
        }
    }
}

/// The most characters of an input value an error message quotes.
pub const QUOTE_CHARS: usize = 200;

/// `text` cut to `max` characters, saying how much was left out.
pub fn clip(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_string(),
        Some((at, _)) => format!(
            "{}… ({} more characters)",
            &text[..at],
            text[at..].chars().count()
        ),
    }
}

/// Every run between double quotes cut to [`QUOTE_CHARS`] characters, and the
/// whole message to a few times that.
fn clip_quoted(reason: &str) -> String {
    let mut out = String::with_capacity(reason.len().min(4 * QUOTE_CHARS));
    for (i, part) in reason.split('"').enumerate() {
        if i > 0 {
            out.push('"');
        }
        if i % 2 == 1 {
            out.push_str(&clip(part, QUOTE_CHARS));
        } else {
            out.push_str(part);
        }
    }
    clip(&out, 4 * QUOTE_CHARS)
}

/// A line-based file (CSV, JSON lines) read through this refuses a line
/// longer than `max` bytes as it reads it, so one enormous line cannot fill
/// the memory before it is found to be wrong.
pub struct LineLimit<R> {
    inner: R,
    max: usize,
    /// Bytes since the last line break.
    run: usize,
}

/// The longest line an import file may have.
pub const MAX_LINE_BYTES: usize = 1024 * 1024;

impl<R: io::BufRead> LineLimit<R> {
    pub fn new(inner: R, max: usize) -> Self {
        LineLimit { inner, max, run: 0 }
    }

    fn too_long(&self) -> io::Error {
        let size = if self.max >= 1024 * 1024 {
            format!("{} MiB", self.max / (1024 * 1024))
        } else {
            format!("{} KiB", self.max / 1024)
        };
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "a line is longer than {size}; records are far shorter, so the file is not in the import format"
            ),
        )
    }
}

impl<R: io::BufRead> io::Read for LineLimit<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let available = io::BufRead::fill_buf(self)?;
        let n = available.len().min(buf.len());
        buf[..n].copy_from_slice(&available[..n]);
        io::BufRead::consume(self, n);
        Ok(n)
    }
}

impl<R: io::BufRead> io::BufRead for LineLimit<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        let max = self.max;
        let run = self.run;
        let error = self.too_long();
        let available = self.inner.fill_buf()?;
        // Hand out at most the rest of the allowance of the current line.
        let allowed = match available.iter().position(|b| *b == b'\n') {
            Some(_) => available.len(),
            None if run + available.len() > max => {
                if run >= max {
                    return Err(error);
                }
                max - run
            }
            None => available.len(),
        };
        Ok(&available[..allowed.min(available.len())])
    }

    fn consume(&mut self, amount: usize) {
        // The inner buffer still holds what is consumed: scan it in place.
        self.run = match self.inner.fill_buf() {
            Ok(buf) => {
                let part = &buf[..amount.min(buf.len())];
                match part.iter().rposition(|b| *b == b'\n') {
                    Some(at) => part.len() - at - 1,
                    None => self.run + part.len(),
                }
            }
            Err(_) => self.run + amount,
        };
        self.inner.consume(amount);
    }
}

impl fmt::Display for ImportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.field {
            Some(field) => write!(f, "{}, field `{field}`: {}", self.at, self.reason),
            None => write!(f, "{}: {}", self.at, self.reason),
        }
    }
}

impl std::error::Error for ImportError {}

/// A value the import kept although it does not know it: where, which field,
/// the value as the file gave it, and how it was stored. An import with
/// warnings succeeds; with `--strict` each would have stopped it instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportWarning {
    pub at: Location,
    pub field: String,
    pub value: String,
    /// How the value was stored ("as an other method").
    pub stored_as: String,
    /// What the administrator can do about it, when there is something.
    pub hint: Option<String>,
}

impl ImportWarning {
    pub fn new(
        at: Location,
        field: &str,
        value: &str,
        stored_as: impl Into<String>,
        hint: Option<&str>,
    ) -> ImportWarning {
        ImportWarning {
            at,
            field: clip(field, QUOTE_CHARS),
            value: clip(value, QUOTE_CHARS),
            stored_as: stored_as.into(),
            hint: hint.map(str::to_string),
        }
    }

    /// The warning as the error `--strict` makes of it.
    pub fn refusal(&self) -> ImportError {
        ImportError::new(
            self.at.clone(),
            Some(&self.field),
            format!(
                "unknown value \"{}\" (without --strict it would be stored {}){}",
                self.value,
                self.stored_as,
                self.hint
                    .as_deref()
                    .map(|h| format!(". {h}"))
                    .unwrap_or_default()
            ),
        )
    }
}

impl fmt::Display for ImportWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}, field `{}`: unknown value {:?}, stored {}",
            self.at, self.field, self.value, self.stored_as
        )?;
        if let Some(hint) = &self.hint {
            write!(f, ". {hint}")?;
        }
        Ok(())
    }
}

/// The warnings of one import: the first [`Warnings::KEPT`] in full, and how
/// many there were in all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Warnings {
    pub first: Vec<ImportWarning>,
    pub total: u64,
}

impl Warnings {
    /// Warnings kept word for word; the rest are counted.
    pub const KEPT: usize = 100;

    pub fn push(&mut self, warning: ImportWarning) {
        self.total += 1;
        if self.first.len() < Self::KEPT {
            self.first.push(warning);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// "3 warnings" and each kept warning on a line of its own.
    pub fn report(&self) -> String {
        let mut out = format!(
            "{} warning{}: values this portal does not know, kept as described",
            self.total,
            if self.total == 1 { "" } else { "s" }
        );
        for w in &self.first {
            out.push_str(&format!("\n  {w}"));
        }
        if self.total > self.first.len() as u64 {
            out.push_str(&format!(
                "\n  … and {} more",
                self.total - self.first.len() as u64
            ));
        }
        out
    }
}

/// A time cut to whole microseconds, the precision both databases store:
/// Graph writes seven fractional digits, and a time kept finer than the
/// database keeps would never compare equal to its stored self.
pub fn to_micros(t: NaiveDateTime) -> NaiveDateTime {
    use chrono::Timelike;
    t.with_nanosecond(t.nanosecond() / 1_000 * 1_000)
        .unwrap_or(t)
}

/// Why records stop flowing: bad input (reported to the user; nothing of the
/// import is stored) or a database failure.
#[derive(Debug, thiserror::Error)]
pub enum Stop {
    #[error("{0}")]
    Invalid(#[from] ImportError),
    #[error("database error: {0}")]
    Database(#[from] crate::db::DbError),
    /// The other side of an import stopped first (and reports why).
    #[error("the import was stopped")]
    Cancelled,
}

/// Where a parser hands each record as soon as it is read, so no file is
/// held in memory whole.
pub type Sink<'a> = dyn FnMut(Located) -> Result<(), Stop> + 'a;

/// A user's own facts. `None` leaves a stored value as it is (a new user gets
/// the default: member, not an administrator, account enabled and role
/// unknown).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub id: String,
    pub display_name: String,
    pub user_principal_name: String,
    pub is_guest: Option<bool>,
    pub is_admin: Option<bool>,
    /// The admin role's name ("Global Administrator"); empty for none.
    pub directory_role: Option<String>,
    pub account_enabled: Option<bool>,
    /// Statuses stated by a directory export, with the time it states them for.
    pub verdicts: Option<(Verdicts, NaiveDateTime)>,
    /// The rest of a registration-details record; it replaces what an
    /// earlier one said, whole.
    pub mfa: Option<MfaDetails>,
    /// The list that gives the user ("users", "userRegistrationDetails"):
    /// one list gives a user once, while two lists of one import may each
    /// give the same user (Graph's users and their registration details).
    pub listing: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRecord {
    pub id: String,
    pub display_name: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberRecord {
    pub group_id: String,
    pub user_id: String,
    /// The source lists one group's members over several files (Graph's
    /// pages): the list goes on past the end of a file, and a member the
    /// directory does not hold (created after the users were read) is left
    /// out with a warning rather than refused.
    pub paged: bool,
}

/// Registered methods of one user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MethodsRecord {
    pub user_id: String,
    pub methods: Vec<(Method, Option<NaiveDateTime>)>,
    /// The record is the user's complete list (a directory export): methods
    /// not in it are removed. Otherwise the methods are added.
    pub complete: bool,
    /// The source's names of the methods stored as [`Method::Other`], in its
    /// order (a complete list replaces the stored names).
    pub other_names: Vec<String>,
}

/// One activity with its method events. The events' `user_id` and `feature`
/// are the activity's, and so is their `activity_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivityRecord {
    pub activity: Activity,
    pub events: Vec<MethodEvent>,
}

/// How an event's id was obtained, which decides what a repeat means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Identity {
    /// The source gives the id: the same id twice in one import is an error.
    Given,
    /// Derived from the event's content (user, feature, method, time,
    /// outcome): the same id twice is the same event, skipped as a duplicate.
    Derived,
    /// The id of a flow the source groups (Graph's audit entries of one
    /// `correlationId`): a later export of the same flow may know more (a
    /// reset in progress then, finished now), so the stored activity takes
    /// what it says; the same export again changes nothing.
    Flow,
}

/// One record of any import, with where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    User(UserRecord),
    Group(GroupRecord),
    Member(MemberRecord),
    Methods(MethodsRecord),
    Activity(ActivityRecord, Identity),
    /// A method event outside any activity (Graph's usage details).
    Event {
        event: MethodEvent,
        identity: Identity,
        user_key: UserKey,
        /// The user as the event's source names them, for a source whose
        /// events are kept when their user is not in the directory (Graph's
        /// usage reports); `None` where such an event is refused (our
        /// format, live ingest: send the users first).
        named: Option<NamedUser>,
    },
    /// A group's complete member list begins here, paged as Graph pages it
    /// ([`MemberRecord::paged`]); it may have no members at all.
    GroupListed {
        group_id: String,
    },
    /// A value kept although the import does not know it.
    Warning(ImportWarning),
    /// A daily sign-in summary (written at once: small, replaced by day).
    SignInDay(SignInDayRecord),
    SignInMethod(SignInMethodRecord),
    /// The import's registration details (Graph's `userRegistrationDetails`)
    /// are a whole export (`complete`: its last page carries no
    /// `@odata.nextLink`): the verdicts of users it does not list are stale.
    Listing {
        complete: bool,
    },
}

/// A user as an event's source names them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedUser {
    pub user_principal_name: String,
    pub display_name: String,
}

/// What an event's `user_id` holds: the user's id, or (where the source only
/// names the user, as `userCredentialUsageDetails` does) the user principal
/// name, which the import resolves to the stored user's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserKey {
    Id,
    PrincipalName,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    pub at: Location,
    pub record: Record,
}

#[cfg(test)]
mod line_limit_tests {
    use super::*;
    use std::io::{BufRead, Read};

    #[test]
    fn lines_within_the_limit_read_whole() {
        let text = "a,b\n".repeat(10_000);
        let mut out = String::new();
        LineLimit::new(io::BufReader::with_capacity(7, text.as_bytes()), 8)
            .read_to_string(&mut out)
            .unwrap();
        assert_eq!(out, text);
        let lines: Vec<String> = LineLimit::new(text.as_bytes(), 8)
            .lines()
            .map(Result::unwrap)
            .collect();
        assert_eq!(lines.len(), 10_000);
    }

    #[test]
    fn a_long_line_is_refused_before_it_is_read_whole() {
        let text = format!("ok\n{}\nafter\n", "x".repeat(100_000));
        let mut reader = LineLimit::new(io::BufReader::with_capacity(64, text.as_bytes()), 1024);
        let mut first = String::new();
        reader.read_line(&mut first).unwrap();
        assert_eq!(first, "ok\n");
        let mut second = String::new();
        let e = reader.read_line(&mut second).unwrap_err();
        assert!(e.to_string().contains("a line is longer than 1 KiB"), "{e}");
        assert!(
            second.len() <= 1024 + 64,
            "read {} bytes of it",
            second.len()
        );
    }

    #[test]
    fn quoted_values_in_errors_are_cut() {
        let long = "y".repeat(50_000);
        let e = ImportError::new(
            Location {
                file: "users.csv".into(),
                position: Position::Line(2),
            },
            None,
            format!("unknown role \"{long}\"; give User or Admin"),
        );
        assert!(e.reason.len() < 1_000, "{}", e.reason.len());
        assert!(e.reason.contains("(49800 more characters)"), "{}", e.reason);
        assert!(e.reason.ends_with("; give User or Admin"), "{}", e.reason);
    }
}
