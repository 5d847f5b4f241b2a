//! The portal's own import format (documented in `docs/import-format.md`):
//! users, groups, members, methods and activities, as CSV with a header row or
//! as JSON lines, chosen by the file's extension.
//!
//! Each file is read one record at a time and handed on at once; the only
//! state kept across records is what a rule needs (the rows of the user or
//! group being read, the activity being assembled from CSV rows).

use super::records::{
    ActivityRecord, GroupRecord, Identity, ImportError, ImportWarning, LineLimit, Located,
    Location, MemberRecord, MethodsRecord, Position, Record, SignInDayRecord, SignInMethodRecord,
    Sink, Stop, UserRecord, MAX_LINE_BYTES,
};
use crate::db::models::{Activity, MethodEvent};
use crate::domain::sign_in::SignInMethod;
use crate::domain::{ActivityResult, Details, Feature, Method, MethodSet};
use chrono::{DateTime, NaiveDateTime, Utc};
use serde_json::{Map, Value};
use std::io::BufRead;

/// The record kinds of our format (`import KIND FILE…`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Users,
    Groups,
    Members,
    Methods,
    Activities,
    /// Daily sign-ins by authentication requirement.
    SignIns,
    /// Daily sign-ins per authentication method.
    SignInMethods,
}

impl FileKind {
    pub const ALL: [FileKind; 7] = [
        FileKind::Users,
        FileKind::Groups,
        FileKind::Members,
        FileKind::Methods,
        FileKind::Activities,
        FileKind::SignIns,
        FileKind::SignInMethods,
    ];

    pub fn key(self) -> &'static str {
        match self {
            FileKind::Users => "users",
            FileKind::Groups => "groups",
            FileKind::Members => "members",
            FileKind::Methods => "methods",
            FileKind::Activities => "activities",
            FileKind::SignIns => "sign-ins",
            FileKind::SignInMethods => "sign-in-methods",
        }
    }

    pub fn from_key(key: &str) -> Option<FileKind> {
        FileKind::ALL.into_iter().find(|k| k.key() == key)
    }

    /// Every field a record of this kind may have, required ones first.
    pub fn fields(self) -> &'static [&'static str] {
        match self {
            FileKind::Users => &[
                "id",
                "display_name",
                "user_principal_name",
                "user_type",
                "is_admin",
                "directory_role",
                "account_enabled",
            ],
            FileKind::Groups => &["id", "display_name"],
            FileKind::Members => &["group_id", "user_id"],
            FileKind::Methods => &["user_id", "method", "registered_at"],
            FileKind::Activities => ACTIVITY_FIELDS,
            FileKind::SignIns => &["day", "single_factor", "multi_factor", "total"],
            FileKind::SignInMethods => &["day", "method", "sign_ins"],
        }
    }
}

const ACTIVITY_FIELDS: &[&str] = &[
    "id",
    "user_id",
    "user_principal_name",
    "user_display_name",
    "user_role",
    "feature",
    "result",
    "details",
    "occurred_at",
    "methods",
    "events",
    // CSV only: one row per method event (CSV_EVENT_COLUMNS).
    "event_id",
    "method",
    "success",
    "failure_reason",
    "event_occurred_at",
];
/// The columns of an activities CSV row that hold its method event, in the
/// order of [`event_fields`]' names.
const CSV_EVENT_COLUMNS: [&str; 5] = [
    "event_id",
    "method",
    "success",
    "failure_reason",
    "event_occurred_at",
];
const EVENT_FIELDS: &[&str] = &["id", "method", "success", "failure_reason", "occurred_at"];

/// CSV or JSON lines, by the file name's extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syntax {
    Csv,
    JsonLines,
}

impl Syntax {
    pub fn of(file_name: &str) -> Option<Syntax> {
        let lower = file_name.to_ascii_lowercase();
        if lower.ends_with(".csv") {
            Some(Syntax::Csv)
        } else if lower.ends_with(".jsonl") || lower.ends_with(".ndjson") {
            Some(Syntax::JsonLines)
        } else {
            None
        }
    }
}

/// One record's fields, from a CSV row or a JSON object.
enum Fields<'a> {
    Csv {
        headers: &'a [String],
        row: &'a csv::StringRecord,
    },
    Json(&'a Map<String, Value>),
}

type FieldResult<T> = Result<T, (String, String)>;

fn field_error<T>(field: &str, reason: impl Into<String>) -> FieldResult<T> {
    Err((field.to_string(), reason.into()))
}

impl Fields<'_> {
    /// A text field; empty text counts as absent.
    fn text(&self, field: &str) -> FieldResult<Option<String>> {
        match self {
            Fields::Csv { headers, row } => Ok(headers
                .iter()
                .position(|h| h == field)
                .and_then(|i| row.get(i))
                .filter(|v| !v.is_empty())
                .map(str::to_string)),
            Fields::Json(map) => match map.get(field) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) if s.is_empty() => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(other) => field_error(field, format!("expected text, got {}", kind_of(other))),
            },
        }
    }

    fn required(&self, field: &str) -> FieldResult<String> {
        match self.text(field)? {
            Some(v) if v.trim().is_empty() => field_error(field, "must not be blank"),
            Some(v) => Ok(v),
            None => field_error(field, "missing required field"),
        }
    }

    fn boolean(&self, field: &str) -> FieldResult<Option<bool>> {
        let text = match self {
            Fields::Json(map) => match map.get(field) {
                None | Some(Value::Null) => return Ok(None),
                Some(Value::Bool(b)) => return Ok(Some(*b)),
                Some(Value::String(s)) if s.is_empty() => return Ok(None),
                Some(other) => {
                    return field_error(
                        field,
                        format!("expected true or false, got {}", shown(other)),
                    )
                }
            },
            Fields::Csv { .. } => match self.text(field)? {
                Some(t) => t,
                None => return Ok(None),
            },
        };
        match text.as_str() {
            "true" | "TRUE" | "True" => Ok(Some(true)),
            "false" | "FALSE" | "False" => Ok(Some(false)),
            other => field_error(field, format!("expected true or false, got \"{other}\"")),
        }
    }

    /// A count: a whole number from 0 (a JSON number, or text in CSV).
    fn count(&self, field: &str) -> FieldResult<Option<i64>> {
        let text = match self {
            Fields::Json(map) => match map.get(field) {
                None | Some(Value::Null) => return Ok(None),
                Some(Value::Number(n)) => n.to_string(),
                Some(Value::String(s)) if s.is_empty() => return Ok(None),
                Some(Value::String(s)) => s.clone(),
                Some(other) => {
                    return field_error(field, format!("expected a count, got {}", shown(other)))
                }
            },
            Fields::Csv { .. } => match self.text(field)? {
                Some(t) => t,
                None => return Ok(None),
            },
        };
        match text.trim().parse::<i64>() {
            Ok(n) if n >= 0 => Ok(Some(n)),
            _ => field_error(
                field,
                format!("expected a count (a whole number from 0), got \"{text}\""),
            ),
        }
    }

    fn required_count(&self, field: &str) -> FieldResult<i64> {
        self.count(field)?
            .map_or_else(|| field_error(field, "missing required field"), Ok)
    }

    /// A day, `YYYY-MM-DD`.
    fn day(&self, field: &str) -> FieldResult<chrono::NaiveDate> {
        let text = self.required(field)?;
        chrono::NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").map_err(|_| {
            (
                field.to_string(),
                format!("\"{text}\" is not a day (YYYY-MM-DD)"),
            )
        })
    }

    fn time(&self, field: &str) -> FieldResult<Option<NaiveDateTime>> {
        match self.text(field)? {
            None => Ok(None),
            Some(t) => parse_time(&t).map(Some).map_err(|r| (field.to_string(), r)),
        }
    }

    /// A list of text values: a JSON array, or `;`-separated in CSV.
    fn list(&self, field: &str) -> FieldResult<Vec<String>> {
        match self {
            Fields::Json(map) => match map.get(field) {
                None | Some(Value::Null) => Ok(Vec::new()),
                Some(Value::Array(items)) => items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| match v {
                        Value::String(s) => Ok(s.clone()),
                        other => field_error(
                            &format!("{field}[{i}]"),
                            format!("expected text, got {}", kind_of(other)),
                        ),
                    })
                    .collect(),
                Some(other) => {
                    field_error(field, format!("expected a list, got {}", kind_of(other)))
                }
            },
            Fields::Csv { .. } => Ok(self
                .text(field)?
                .map(|t| {
                    t.split(';')
                        .map(|s| s.trim().to_string())
                        .filter(|s| !s.is_empty())
                        .collect()
                })
                .unwrap_or_default()),
        }
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "true/false",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn shown(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 40 {
        format!("{}…", s.chars().take(40).collect::<String>())
    } else {
        s
    }
}

/// RFC 3339 (`2026-11-20T08:15:00Z`, any offset, any fraction), stored as UTC.
pub fn parse_time(text: &str) -> Result<NaiveDateTime, String> {
    DateTime::parse_from_rfc3339(text.trim())
        .map(|t| super::records::to_micros(t.with_timezone(&Utc).naive_utc()))
        .map_err(|_| {
            format!("\"{text}\" is not a date and time in RFC 3339 form, e.g. 2026-11-20T08:15:00Z")
        })
}

pub fn parse_method(field: &str, key: &str) -> FieldResult<Method> {
    Method::from_key(key).ok_or_else(|| {
        (
            field.to_string(),
            format!(
                "unknown method \"{key}\"; known: {}",
                Method::ALL.map(Method::key).join(", ")
            ),
        )
    })
}

fn parse_feature(field: &str, key: &str) -> FieldResult<Feature> {
    Feature::from_key(key).ok_or_else(|| {
        (
            field.to_string(),
            format!("unknown feature \"{key}\"; known: {}", Feature::keys_text()),
        )
    })
}

fn parse_result(field: &str, key: &str) -> FieldResult<ActivityResult> {
    ActivityResult::from_key(key).ok_or_else(|| {
        (
            field.to_string(),
            format!(
                "unknown result \"{key}\"; known: {}",
                ActivityResult::ALL.map(ActivityResult::key).join(", ")
            ),
        )
    })
}

fn parse_details(field: &str, text: &str) -> FieldResult<Details> {
    Details::from_key(text)
        .or_else(|| Details::from_text(text))
        .ok_or_else(|| {
            (
                field.to_string(),
                format!(
                    "unknown details \"{text}\"; give a key such as \"succeeded\" or \"blocked_sms_codes\" (docs/import-format.md lists all {}) or the seed's text",
                    Details::ALL.len()
                ),
            )
        })
}

/// Reads one file of our format and hands its records to `sink`.
pub fn read_file(
    kind: FileKind,
    name: &str,
    reader: impl BufRead,
    sink: &mut Sink<'_>,
) -> Result<(), Stop> {
    let Some(syntax) = Syntax::of(name) else {
        return Err(ImportError::new(
            Location {
                file: name.to_string(),
                position: Position::File,
            },
            None,
            "unknown file type: name it .csv (CSV with a header row) or .jsonl (JSON lines)",
        )
        .into());
    };
    let mut parser = Parser::new(kind, name);
    let reader = LineLimit::new(reader, MAX_LINE_BYTES);
    match syntax {
        Syntax::Csv => read_csv(&mut parser, reader, sink)?,
        Syntax::JsonLines => read_json_lines(&mut parser, reader, sink)?,
    }
    parser.finish(sink)
}

fn read_csv(parser: &mut Parser, reader: impl BufRead, sink: &mut Sink<'_>) -> Result<(), Stop> {
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(reader);
    let headers: Vec<String> = match csv.headers() {
        Ok(h) => h.iter().map(|s| s.trim().to_string()).collect(),
        Err(e) => return Err(parser.error(Position::Line(1), None, csv_reason(&e)).into()),
    };
    if headers.iter().all(String::is_empty) {
        return Err(parser
            .error(
                Position::Line(1),
                None,
                "the file is empty: a header row is required",
            )
            .into());
    }
    let known = parser.kind.fields();
    for (i, h) in headers.iter().enumerate() {
        if !known.contains(&h.as_str()) || (parser.kind == FileKind::Activities && h == "events") {
            return Err(parser
                .error(
                    Position::Line(1),
                    Some(h),
                    format!(
                        "unknown column; columns of {} files: {}",
                        parser.kind.key(),
                        csv_columns(parser.kind)
                    ),
                )
                .into());
        }
        if headers[..i].contains(h) {
            return Err(parser
                .error(Position::Line(1), Some(h), "column given twice")
                .into());
        }
    }
    let mut row = csv::StringRecord::new();
    loop {
        match csv.read_record(&mut row) {
            Ok(false) => return Ok(()),
            Ok(true) => {
                let line = row.position().map_or(0, |p| p.line());
                let fields = Fields::Csv {
                    headers: &headers,
                    row: &row,
                };
                parser.record(Position::Line(line), &fields, sink)?;
            }
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                return Err(parser
                    .error(Position::Line(line), None, csv_reason(&e))
                    .into());
            }
        }
    }
}

/// The columns of a CSV file of `kind`, in the order `export` writes them.
pub fn csv_header(kind: FileKind) -> Vec<&'static str> {
    kind.fields()
        .iter()
        .filter(|f| **f != "events")
        .copied()
        .collect()
}

fn csv_columns(kind: FileKind) -> String {
    csv_header(kind).join(", ")
}

fn csv_reason(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("the row has {len} fields; the header has {expected_len}"),
        csv::ErrorKind::Utf8 { .. } => "the file is not valid UTF-8".to_string(),
        csv::ErrorKind::Io(io) => format!("could not read the file: {io}"),
        _ => format!("not valid CSV: {e}"),
    }
}

fn read_json_lines(
    parser: &mut Parser,
    mut reader: impl BufRead,
    sink: &mut Sink<'_>,
) -> Result<(), Stop> {
    let mut buf = String::new();
    let mut line = 0u64;
    loop {
        buf.clear();
        line += 1;
        let read = reader.read_line(&mut buf).map_err(|e| {
            let reason = if e.kind() == std::io::ErrorKind::InvalidData {
                "the file is not valid UTF-8".to_string()
            } else {
                format!("could not read the file: {e}")
            };
            parser.error(Position::Line(line), None, reason)
        })?;
        if read == 0 {
            return Ok(());
        }
        let text = buf.trim().trim_start_matches('\u{feff}');
        if text.is_empty() {
            continue;
        }
        let value: Value = serde_json::from_str(text).map_err(|e| {
            parser.error(Position::Line(line), None, format!("not valid JSON: {e}"))
        })?;
        let Value::Object(map) = value else {
            return Err(parser
                .error(
                    Position::Line(line),
                    None,
                    format!("expected a JSON object, got {}", kind_of(&value)),
                )
                .into());
        };
        if let Err((field, reason)) = check_json_fields(parser.kind, &map) {
            return Err(parser
                .error(Position::Line(line), Some(&field), reason)
                .into());
        }
        parser.record(Position::Line(line), &Fields::Json(&map), sink)?;
    }
}

/// Every field of a JSON record must be one of its kind's.
fn check_json_fields(kind: FileKind, map: &Map<String, Value>) -> FieldResult<()> {
    for key in map.keys() {
        let known = kind.fields().contains(&key.as_str())
            && !(kind == FileKind::Activities && CSV_EVENT_COLUMNS.contains(&key.as_str()));
        if !known {
            return field_error(
                key,
                format!(
                    "unknown field; fields of {} records: {}",
                    kind.key(),
                    json_fields(kind)
                ),
            );
        }
    }
    Ok(())
}

/// One activity object as JSON lines and the ingest API give it, checked
/// whole; an error names the field (`events[1].method`) and the reason.
pub fn activity_from_json(value: &Value) -> Result<ActivityRecord, (String, String)> {
    let Value::Object(map) = value else {
        return field_error(
            "",
            format!("expected a JSON object, got {}", kind_of(value)),
        );
    };
    check_json_fields(FileKind::Activities, map)?;
    let fields = Fields::Json(map);
    let id = fields.required("id")?;
    activity_json(&id, &fields, map)
}

fn json_fields(kind: FileKind) -> String {
    match kind {
        FileKind::Activities => ACTIVITY_FIELDS[..11].join(", "),
        other => other.fields().join(", "),
    }
}

/// One user's registered methods with their registration times.
type MethodList = Vec<(Method, Option<NaiveDateTime>)>;

/// Rows that must arrive together: one user's methods, one group's members,
/// one activity's CSV rows.
struct Pending<T> {
    key: String,
    at: Position,
    value: T,
}

struct Parser {
    kind: FileKind,
    file: String,
    methods: Option<Pending<MethodList>>,
    members: Option<Pending<()>>,
    activity: Option<Pending<ActivityRecord>>,
    /// Users and groups whose rows are complete, so a later row for one is an
    /// error rather than a silent second list.
    done: std::collections::HashSet<String>,
}

impl Parser {
    fn new(kind: FileKind, file: &str) -> Parser {
        Parser {
            kind,
            file: file.to_string(),
            methods: None,
            members: None,
            activity: None,
            done: std::collections::HashSet::new(),
        }
    }

    fn at(&self, position: Position) -> Location {
        Location {
            file: self.file.clone(),
            position,
        }
    }

    fn error(
        &self,
        position: Position,
        field: Option<&str>,
        reason: impl Into<String>,
    ) -> ImportError {
        ImportError::new(self.at(position), field, reason)
    }

    fn emit(&self, position: Position, record: Record, sink: &mut Sink<'_>) -> Result<(), Stop> {
        sink(Located {
            at: self.at(position),
            record,
        })
    }

    fn record(
        &mut self,
        at: Position,
        fields: &Fields<'_>,
        sink: &mut Sink<'_>,
    ) -> Result<(), Stop> {
        let outcome = match self.kind {
            FileKind::Users => user(fields).map(|r| Some(Record::User(r))),
            FileKind::Groups => group(fields).map(|r| Some(Record::Group(r))),
            FileKind::Members => return self.member(at, fields, sink),
            FileKind::Methods => return self.method(at, fields, sink),
            FileKind::Activities => return self.activity(at, fields, sink),
            FileKind::SignIns => sign_in_day(fields).map(|r| Some(Record::SignInDay(r))),
            FileKind::SignInMethods => {
                return match sign_in_method(fields) {
                    Ok((record, unknown)) => {
                        self.emit(at, Record::SignInMethod(record), sink)?;
                        match unknown {
                            Some(name) => self.emit(
                                at,
                                Record::Warning(ImportWarning::new(
                                    self.at(at),
                                    "method",
                                    &name,
                                    "as an other method",
                                    Some(&format!(
                                        "Not a sign-in method this portal knows; known: {}",
                                        SignInMethod::keys_text()
                                    )),
                                )),
                                sink,
                            ),
                            None => Ok(()),
                        }
                    }
                    Err((field, reason)) => Err(self.error(at, Some(&field), reason).into()),
                };
            }
        };
        match outcome {
            Ok(Some(record)) => self.emit(at, record, sink),
            Ok(None) => Ok(()),
            Err((field, reason)) => Err(self.error(at, Some(&field), reason).into()),
        }
    }

    /// Starts a new run of rows for `key`, or reports that `key` had its
    /// run already.
    fn check_run(&mut self, at: Position, field: &str, key: &str, noun: &str) -> Result<(), Stop> {
        if self.done.contains(key) {
            return Err(self
                .error(
                    at,
                    Some(field),
                    format!("rows of {noun} \"{key}\" were given earlier in this file, apart from these: keep each {noun}'s rows together (the file states each {noun}'s complete list)"),
                )
                .into());
        }
        Ok(())
    }

    fn member(
        &mut self,
        at: Position,
        fields: &Fields<'_>,
        sink: &mut Sink<'_>,
    ) -> Result<(), Stop> {
        let parsed = (|| Ok((fields.required("group_id")?, fields.required("user_id")?)))();
        let (group_id, user_id) =
            parsed.map_err(|(f, r): (String, String)| self.error(at, Some(&f), r))?;
        if self.members.as_ref().is_none_or(|p| p.key != group_id) {
            self.finish_members();
            self.check_run(at, "group_id", &group_id, "group")?;
            self.members = Some(Pending {
                key: group_id.clone(),
                at,
                value: (),
            });
        }
        self.emit(
            at,
            Record::Member(MemberRecord {
                group_id,
                user_id,
                paged: false,
            }),
            sink,
        )
    }

    fn finish_members(&mut self) {
        if let Some(p) = self.members.take() {
            self.done.insert(p.key);
        }
    }

    fn method(
        &mut self,
        at: Position,
        fields: &Fields<'_>,
        sink: &mut Sink<'_>,
    ) -> Result<(), Stop> {
        let parsed = (|| {
            let user_id = fields.required("user_id")?;
            let method = match fields.text("method")? {
                Some(key) => Some(parse_method("method", &key)?),
                None => None,
            };
            let registered_at = fields.time("registered_at")?;
            Ok((user_id, method, registered_at))
        })();
        let (user_id, method, registered_at) =
            parsed.map_err(|(f, r): (String, String)| self.error(at, Some(&f), r))?;
        if self.methods.as_ref().is_none_or(|p| p.key != user_id) {
            self.flush_methods(sink)?;
            self.check_run(at, "user_id", &user_id, "user")?;
            self.methods = Some(Pending {
                key: user_id.clone(),
                at,
                value: Vec::new(),
            });
        }
        if let (Some(pending), Some(method)) = (self.methods.as_mut(), method) {
            if pending.value.iter().any(|(m, _)| *m == method) {
                return Err(self
                    .error(
                        at,
                        Some("method"),
                        format!("{} is given twice for this user", method.key()),
                    )
                    .into());
            }
            pending.value.push((method, registered_at));
        }
        Ok(())
    }

    fn flush_methods(&mut self, sink: &mut Sink<'_>) -> Result<(), Stop> {
        if let Some(p) = self.methods.take() {
            self.done.insert(p.key.clone());
            let record = Record::Methods(MethodsRecord {
                user_id: p.key,
                methods: p.value,
                complete: true,
                // This format names only the catalogue's methods.
                other_names: Vec::new(),
            });
            self.emit(p.at, record, sink)?;
        }
        Ok(())
    }

    fn activity(
        &mut self,
        at: Position,
        fields: &Fields<'_>,
        sink: &mut Sink<'_>,
    ) -> Result<(), Stop> {
        let id = fields
            .required("id")
            .map_err(|(f, r)| self.error(at, Some(&f), r))?;
        match fields {
            Fields::Json(map) => {
                let record = activity_json(&id, fields, map)
                    .map_err(|(f, r)| self.error(at, Some(&f), r))?;
                self.emit(at, Record::Activity(record, Identity::Given), sink)
            }
            Fields::Csv { .. } => {
                let continues = self.activity.as_ref().is_some_and(|p| p.key == id);
                if continues {
                    let pending = self.activity.as_mut().map(|p| &mut p.value);
                    let Some(record) = pending else { return Ok(()) };
                    let same = activity_head(&id, fields)
                        .and_then(|mut head| {
                            // The methods used grow with each row's event.
                            head.methods_mask = record.activity.methods_mask;
                            if head == record.activity {
                                Ok(())
                            } else {
                                Err((
                                    "id".to_string(),
                                    "rows of one activity must agree on the activity's fields (user, feature, result, details, occurred_at)".to_string(),
                                ))
                            }
                        });
                    let event = same.and_then(|()| csv_event(fields, &record.activity));
                    match event {
                        Ok(Some(e)) => {
                            record.events.push(e);
                            Ok(())
                        }
                        Ok(None) => Err(self
                            .error(
                                at,
                                Some("event_id"),
                                "a further row of an activity must describe a method event",
                            )
                            .into()),
                        Err((f, r)) => Err(self.error(at, Some(&f), r).into()),
                    }
                } else {
                    self.flush_activity(sink)?;
                    let parsed = activity_head(&id, fields).and_then(|activity| {
                        let event = csv_event(fields, &activity)?;
                        Ok(ActivityRecord {
                            activity,
                            events: event.into_iter().collect(),
                        })
                    });
                    let record = parsed.map_err(|(f, r)| self.error(at, Some(&f), r))?;
                    self.activity = Some(Pending {
                        key: id,
                        at,
                        value: record,
                    });
                    Ok(())
                }
            }
        }
    }

    fn flush_activity(&mut self, sink: &mut Sink<'_>) -> Result<(), Stop> {
        if let Some(mut p) = self.activity.take() {
            methods_used(&mut p.value);
            check_activity(&p.value, |_| "event_id".into())
                .map_err(|(f, r)| self.error(p.at, Some(&f), r))?;
            self.emit(p.at, Record::Activity(p.value, Identity::Given), sink)?;
        }
        Ok(())
    }

    fn finish(&mut self, sink: &mut Sink<'_>) -> Result<(), Stop> {
        self.finish_members();
        self.flush_methods(sink)?;
        self.flush_activity(sink)
    }
}

/// A user's own facts. An optional column or field that is absent leaves
/// the stored value as it is (a new user gets the defaults: member, not an
/// administrator, account state and role unknown); a `directory_role` alone
/// makes an administrator.
fn user(f: &Fields<'_>) -> FieldResult<UserRecord> {
    let is_guest = match f.text("user_type")?.as_deref() {
        None => None,
        Some("member") => Some(false),
        Some("guest") => Some(true),
        Some(other) => {
            return field_error(
                "user_type",
                format!("unknown user type \"{other}\"; known: member, guest"),
            )
        }
    };
    let directory_role = f.text("directory_role")?;
    let is_admin = f
        .boolean("is_admin")?
        .or_else(|| directory_role.as_ref().map(|_| true));
    Ok(UserRecord {
        id: f.required("id")?,
        display_name: f.required("display_name")?,
        user_principal_name: f.required("user_principal_name")?,
        is_guest,
        is_admin,
        directory_role,
        account_enabled: f.boolean("account_enabled")?,
        verdicts: None,
        mfa: None,
        listing: "users",
    })
}

fn group(f: &Fields<'_>) -> FieldResult<GroupRecord> {
    Ok(GroupRecord {
        id: f.required("id")?,
        display_name: f.required("display_name")?,
    })
}

/// One day's sign-ins by requirement; `total` defaults to the sum.
fn sign_in_day(f: &Fields<'_>) -> FieldResult<SignInDayRecord> {
    let single_factor = f.required_count("single_factor")?;
    let multi_factor = f.required_count("multi_factor")?;
    let total = match f.count("total")? {
        Some(total) => total,
        None => single_factor + multi_factor,
    };
    Ok(SignInDayRecord {
        day: f.day("day")?,
        total,
        single_factor,
        multi_factor,
    })
}

/// One day's sign-ins with one method (our key or Graph's name); an unknown
/// name is kept as an other method, returned for the warning.
fn sign_in_method(f: &Fields<'_>) -> FieldResult<(SignInMethodRecord, Option<String>)> {
    let day = f.day("day")?;
    let name = f.required("method")?;
    let sign_ins = f.required_count("sign_ins")?;
    let (method, kept, unknown) = match SignInMethod::parse(&name) {
        Some(m) => (m, String::new(), None),
        None => (SignInMethod::Other, name.clone(), Some(name)),
    };
    Ok((
        SignInMethodRecord {
            day,
            method,
            name: kept,
            sign_ins,
        },
        unknown,
    ))
}

/// The activity's own fields (CSV rows repeat them on every row).
fn activity_head(id: &str, f: &Fields<'_>) -> FieldResult<Activity> {
    let feature = parse_feature("feature", &f.required("feature")?)?;
    let details = match f.text("details")? {
        Some(text) => Some(parse_details("details", &text)?),
        None => None,
    };
    let result = match (f.text("result")?, details) {
        (Some(key), _) => parse_result("result", &key)?,
        (None, Some(d)) => d.result(),
        (None, None) => {
            return field_error(
                "result",
                "missing required field (or give `details`, which implies it)",
            )
        }
    };
    if let Some(d) = details {
        if feature == Feature::Registration {
            return field_error(
                "details",
                "details describe password resets; a registration has none",
            );
        }
        if d.result() != result {
            return field_error(
                "details",
                format!(
                    "\"{}\" means the result {}, not {}",
                    d.key(),
                    d.result().key(),
                    result.key()
                ),
            );
        }
    }
    let mut methods_mask = MethodSet::EMPTY;
    for (i, key) in f.list("methods")?.iter().enumerate() {
        methods_mask.insert(parse_method(&format!("methods[{i}]"), key)?);
    }
    let occurred_at = f
        .time("occurred_at")?
        .map_or_else(|| field_error("occurred_at", "missing required field"), Ok)?;
    Ok(Activity {
        id: id.to_string(),
        user_id: f.text("user_id")?,
        // What the user typed, for a reset by an unknown user; may be empty.
        user_principal_name: f.text("user_principal_name")?.unwrap_or_default(),
        user_display_name: f.text("user_display_name")?.unwrap_or_default(),
        user_role: f.text("user_role")?.unwrap_or_default(),
        feature: feature.code(),
        methods_mask: methods_mask.mask(),
        result: result.code(),
        details: details.map(Details::code),
        occurred_at,
    })
}

/// A method event's fields, named as `names` = (id, method, success,
/// failure_reason, occurred_at).
fn event_fields(f: &Fields<'_>, names: [&str; 5], activity: &Activity) -> FieldResult<MethodEvent> {
    let [id_f, method_f, success_f, reason_f, time_f] = names;
    let id = f.required(id_f)?;
    let method = parse_method(method_f, &f.required(method_f)?)?;
    let success = f
        .boolean(success_f)?
        .map_or_else(|| field_error(success_f, "missing required field"), Ok)?;
    let failure_reason = f.text(reason_f)?;
    if success && failure_reason.is_some() {
        return field_error(reason_f, "a successful event has no failure reason");
    }
    let Some(user_id) = activity.user_id.clone() else {
        return field_error(
            "user_id",
            "method events need a known user: an activity without user_id has none",
        );
    };
    Ok(MethodEvent {
        id,
        activity_id: Some(activity.id.clone()),
        user_id,
        feature: activity.feature,
        method: method.code(),
        success,
        failure_reason,
        occurred_at: f.time(time_f)?.unwrap_or(activity.occurred_at),
        method_name: None,
    })
}

fn csv_event(f: &Fields<'_>, activity: &Activity) -> FieldResult<Option<MethodEvent>> {
    let any = CSV_EVENT_COLUMNS
        .iter()
        .map(|n| f.text(n))
        .collect::<FieldResult<Vec<_>>>()?
        .iter()
        .any(Option::is_some);
    if !any {
        return Ok(None);
    }
    event_fields(f, CSV_EVENT_COLUMNS, activity).map(Some)
}

fn activity_json(
    id: &str,
    f: &Fields<'_>,
    map: &Map<String, Value>,
) -> FieldResult<ActivityRecord> {
    let activity = activity_head(id, f)?;
    let mut events = Vec::new();
    match map.get("events") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                let Value::Object(e) = item else {
                    return field_error(
                        &format!("events[{i}]"),
                        format!("expected an object, got {}", kind_of(item)),
                    );
                };
                if let Some(unknown) = e.keys().find(|k| !EVENT_FIELDS.contains(&k.as_str())) {
                    return field_error(
                        &format!("events[{i}].{unknown}"),
                        format!(
                            "unknown field; fields of an event: {}",
                            EVENT_FIELDS.join(", ")
                        ),
                    );
                }
                let event = event_fields(
                    &Fields::Json(e),
                    ["id", "method", "success", "failure_reason", "occurred_at"],
                    &activity,
                )
                .map_err(|(field, reason)| (format!("events[{i}].{field}"), reason))?;
                events.push(event);
            }
        }
        Some(other) => {
            return field_error("events", format!("expected a list, got {}", kind_of(other)))
        }
    }
    let mut record = ActivityRecord { activity, events };
    methods_used(&mut record);
    check_activity(&record, |i| format!("events[{i}].id"))?;
    Ok(record)
}

/// The methods an activity used (Methods Used, Data Registered): the
/// `methods` given, or else the methods of its events.
fn methods_used(record: &mut ActivityRecord) {
    if record.activity.methods_mask == 0 {
        record.activity.methods_mask = record
            .events
            .iter()
            .filter_map(|e| Method::from_code(e.method))
            .fold(0, |mask, m| mask | m.bit());
    }
}

/// Rules over the whole activity: event ids are distinct. `field` names
/// the i-th event's id as the syntax does (`event_id`, `events[1].id`).
fn check_activity(record: &ActivityRecord, field: impl Fn(usize) -> String) -> FieldResult<()> {
    for (i, e) in record.events.iter().enumerate() {
        if record.events[..i].iter().any(|o| o.id == e.id) {
            return field_error(
                &field(i),
                format!("event id \"{}\" is given twice in this activity", e.id),
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(kind: FileKind, name: &str, text: &str) -> Result<Vec<Located>, Stop> {
        let mut out = Vec::new();
        read_file(kind, name, text.as_bytes(), &mut |r| {
            out.push(r);
            Ok(())
        })?;
        Ok(out)
    }

    fn error(kind: FileKind, name: &str, text: &str) -> String {
        match read(kind, name, text) {
            Err(Stop::Invalid(e)) => e.to_string(),
            other => panic!("expected an import error, got {other:?}"),
        }
    }

    #[test]
    fn users_from_csv_and_json_lines_agree() {
        let csv = read(
            FileKind::Users,
            "u.csv",
            "id,display_name,user_principal_name,user_type,is_admin,directory_role,account_enabled\n\
             u1,Ana,ana@x.test,member,false,,true\n\
             u2,Dee,dee@x.test,guest,,,\n",
        )
        .unwrap();
        let json = read(
            FileKind::Users,
            "u.jsonl",
            "{\"id\":\"u1\",\"display_name\":\"Ana\",\"user_principal_name\":\"ana@x.test\",\"user_type\":\"member\",\"is_admin\":false,\"account_enabled\":true}\n\n\
             {\"id\":\"u2\",\"display_name\":\"Dee\",\"user_principal_name\":\"dee@x.test\",\"user_type\":\"guest\"}\n",
        )
        .unwrap();
        let records = |v: Vec<Located>| v.into_iter().map(|l| l.record).collect::<Vec<_>>();
        assert_eq!(records(csv), records(json.clone()));
        assert_eq!(json[1].at.position, Position::Line(3));
    }

    #[test]
    fn a_directory_role_makes_an_administrator_unless_told_otherwise() {
        let got = read(
            FileKind::Users,
            "u.csv",
            "id,display_name,user_principal_name,directory_role\nu1,Fay,fay@x.test,Global Administrator\n",
        )
        .unwrap();
        let Record::User(u) = &got[0].record else {
            panic!()
        };
        assert_eq!(u.is_admin, Some(true));
    }

    #[test]
    fn methods_are_one_complete_list_per_user() {
        let got = read(
            FileKind::Methods,
            "m.csv",
            "user_id,method,registered_at\nu1,email,2026-11-01T10:00:00Z\nu1,mobile_sms,\nu2,,\n",
        )
        .unwrap();
        assert_eq!(got.len(), 2);
        let Record::Methods(m) = &got[0].record else {
            panic!()
        };
        assert_eq!(m.methods.len(), 2);
        assert!(m.complete);
        let Record::Methods(none) = &got[1].record else {
            panic!()
        };
        assert!(
            none.methods.is_empty(),
            "a row without a method states no methods"
        );

        let err = error(
            FileKind::Methods,
            "m.csv",
            "user_id,method\nu1,email\nu2,email\nu1,mobile_sms\n",
        );
        assert!(
            err.starts_with("m.csv, line 4, field `user_id`: rows of user \"u1\""),
            "{err}"
        );
    }

    #[test]
    fn activities_from_csv_rows_and_json_lines_agree() {
        let csv = read(
            FileKind::Activities,
            "a.csv",
            "id,user_id,user_principal_name,feature,details,occurred_at,event_id,method,success,failure_reason\n\
             a1,u1,ana@x.test,reset,succeeded,2026-11-20T08:00:00Z,e1,mobile_sms,true,\n\
             a1,u1,ana@x.test,reset,succeeded,2026-11-20T08:00:00Z,e2,email,false,Code expired\n\
             a2,,bob@x.test,reset,abandoned_after_user_id,2026-11-20T09:00:00+01:00,,,,\n",
        )
        .unwrap();
        let json = read(
            FileKind::Activities,
            "a.jsonl",
            r#"{"id":"a1","user_id":"u1","user_principal_name":"ana@x.test","feature":"reset","result":"succeeded","details":"succeeded","occurred_at":"2026-11-20T08:00:00Z","events":[{"id":"e1","method":"mobile_sms","success":true},{"id":"e2","method":"email","success":false,"failure_reason":"Code expired"}]}
{"id":"a2","user_principal_name":"bob@x.test","feature":"reset","details":"User abandoned after entering their user ID","occurred_at":"2026-11-20T08:00:00Z"}
"#,
        )
        .unwrap();
        let records = |v: Vec<Located>| v.into_iter().map(|l| l.record).collect::<Vec<_>>();
        assert_eq!(records(csv.clone()), records(json));
        let Record::Activity(a, _) = &csv[0].record else {
            panic!()
        };
        assert_eq!(a.events.len(), 2);
        assert_eq!(a.activity.result, ActivityResult::Succeeded.code());
        assert_eq!(
            a.activity.methods_mask,
            Method::MobileSms.bit() | Method::Email.bit()
        );
        let Record::Activity(unknown, _) = &csv[1].record else {
            panic!()
        };
        assert_eq!(unknown.activity.user_id, None);
        assert_eq!(
            unknown.activity.details,
            Some(Details::AbandonedAfterUserId.code())
        );
    }

    #[test]
    fn bad_values_name_file_line_field_and_reason() {
        let cases = [
            (FileKind::Users, "u.jsonl", "{\"id\":\"u1\",\"display_name\":\"A\"", "u.jsonl, line 1: not valid JSON"),
            (FileKind::Users, "u.jsonl", "{\"id\":\"u1\",\"display_name\":\"A\",\"user_principal_name\":\"a@x\",\"is_admin\":\"yes\"}", "u.jsonl, line 1, field `is_admin`: expected true or false, got \"yes\""),
            (FileKind::Users, "u.jsonl", "{\"id\":7,\"display_name\":\"A\",\"user_principal_name\":\"a@x\"}", "field `id`: expected text, got a number"),
            (FileKind::Users, "u.csv", "id,display_name\nu1,\n", "u.csv, line 2, field `display_name`: missing required field"),
            (FileKind::Users, "u.csv", "id,display_name,upn\n", "u.csv, line 1, field `upn`: unknown column"),
            (FileKind::Users, "u.csv", "id,display_name,user_principal_name\nu1,A\n", "u.csv, line 2: the row has 2 fields; the header has 3"),
            (FileKind::Methods, "m.csv", "user_id,method\nu1,carrier_pigeon\n", "m.csv, line 2, field `method`: unknown method \"carrier_pigeon\""),
            (FileKind::Activities, "a.csv", "id,user_principal_name,feature,result,occurred_at\na1,x@y,reset,maybe,2026-11-20T08:00:00Z\n", "field `result`: unknown result \"maybe\""),
            (FileKind::Activities, "a.csv", "id,user_principal_name,feature,result,occurred_at\na1,x@y,reset,failed,yesterday\n", "field `occurred_at`: \"yesterday\" is not a date and time"),
            (FileKind::Activities, "a.csv", "id,user_principal_name,feature,result,details,occurred_at\na1,x@y,reset,failed,succeeded,2026-11-20T08:00:00Z\n", "field `details`: \"succeeded\" means the result succeeded, not failed"),
            (FileKind::Activities, "a.jsonl", r#"{"id":"a1","user_id":"u1","user_principal_name":"x@y","feature":"reset","details":"succeeded","occurred_at":"2026-11-20T08:00:00Z","events":[{"id":"e1","method":"sms","success":true}]}"#, "field `events[0].method`: unknown method \"sms\""),
            (FileKind::Users, "u.txt", "", "u.txt: unknown file type"),
        ];
        for (kind, name, text, expected) in cases {
            let err = error(kind, name, text);
            assert!(
                err.contains(expected),
                "{name}: {text}\n got: {err}\n want: {expected}"
            );
        }
    }
}
