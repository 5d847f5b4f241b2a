//! Reading Graph files: pages and JSON lines as a stream, recognising
//! which resource a file holds, and positions for every problem.

use super::*;

/// Reads Graph exports file by file; audit entries wait in memory (only
/// those of password reset and registration) until [`GraphImport::finish`]
/// groups them into activities.
pub struct GraphImport {
    pub(super) flows: HashMap<(Flow, String), Vec<AuditEntry>>,
    /// When this import began: the date of verdicts an export does not date.
    pub(super) read_at: NaiveDateTime,
    /// Audit entries read so far, to keep their order where times tie.
    pub(super) entries_read: u64,
    /// Refuse unknown values instead of keeping them with a warning.
    pub(super) strict: bool,
    /// The last registration-details file read, and whether it ends its
    /// export (no `@odata.nextLink`; a JSON-lines file always does).
    pub(super) registration_listing: Option<(String, bool)>,
    /// The group read last (`GET /groups/{id}`): the group whose members the
    /// `directoryObjects` pages after it list.
    pub(super) current_group: Option<String>,
    /// The group whose member pages are being read, the file of the last
    /// one, and whether that page ends the list (no `@odata.nextLink`).
    pub(super) member_listing: Option<(String, String, bool)>,
    /// Audit flows that began before this are left out: an incremental pull
    /// of the audit log sees only their tail (see [`GraphImport::flows_from`]).
    pub(super) flows_from: Option<NaiveDateTime>,
}

impl Default for GraphImport {
    fn default() -> Self {
        GraphImport::new()
    }
}

impl GraphImport {
    pub fn new() -> GraphImport {
        GraphImport {
            flows: HashMap::new(),
            read_at: chrono::Utc::now().naive_utc().trunc_subsecs(0),
            entries_read: 0,
            strict: false,
            registration_listing: None,
            current_group: None,
            member_listing: None,
            flows_from: None,
        }
    }

    /// An import that refuses a value it does not know (`--strict`) instead
    /// of keeping it with a warning.
    pub fn strict(mut self, strict: bool) -> GraphImport {
        self.strict = strict;
        self
    }

    /// Leaves out the audit flows (password resets and registrations) whose
    /// first entry is older than `from`. An incremental pull asks for the
    /// entries from somewhat before `from`, so that every flow that began
    /// at `from` or later is read whole, while one that began earlier (the
    /// previous pull stored it whole) is not replaced by its tail.
    pub fn flows_from(mut self, from: Option<NaiveDateTime>) -> GraphImport {
        self.flows_from = from;
        self
    }

    /// Reads one file: either a Graph page `{"@odata.context": "...",
    /// "value": [ ... ], "@odata.nextLink": "..."}` or JSON lines (one Graph
    /// record object per line; blank lines ignored). Recognises the resource
    /// from `@odata.context` (when present) or else from each record's
    /// fields. Pushes records to `sink` as they are read, holding one record
    /// at a time.
    pub fn read_file(
        &mut self,
        name: &str,
        reader: impl BufRead,
        sink: &mut Sink<'_>,
    ) -> Result<(), Stop> {
        let mut input = Counted {
            inner: reader,
            newlines: 0,
        };
        let file_error = |reason: String| {
            Stop::from(ImportError::new(
                Location {
                    file: name.to_string(),
                    position: Position::File,
                },
                None,
                reason,
            ))
        };
        input
            .skip_byte_order_mark()
            .map_err(|e| file_error(e.to_string()))?;
        let mut state = FileState {
            import: self,
            file: name.to_string(),
            sink,
            resource: None,
            stop: None,
            values: 0,
            start_line: 1,
            after_page: false,
        };
        loop {
            let more = input
                .skip_whitespace()
                .map_err(|e| file_error(format!("could not be read: {e}")))?;
            if !more {
                if !state.after_page && state.resource == Some(Resource::UserRegistrationDetails) {
                    state.import.registration_listing = Some((name.to_string(), true));
                }
                return Ok(());
            }
            state.start_line = input.newlines + 1;
            if state.after_page {
                return Err(state
                    .error(
                        Position::Line(state.start_line),
                        None,
                        "unexpected text after the page: a file holds one Graph page or one record per line",
                    )
                    .into());
            }
            let mut de = serde_json::Deserializer::from_reader(&mut input);
            match (TopSeed { state: &mut state }).deserialize(&mut de) {
                Ok(Top::Page) => state.after_page = true,
                Ok(Top::Record(fields)) => {
                    let line = Position::Line(state.start_line);
                    state.record(Value::Object(fields), line)?;
                }
                Err(err) => {
                    return Err(match state.stop.take() {
                        Some(stop) => stop,
                        None => json_error(name, state.start_line, &err).into(),
                    })
                }
            }
            state.values += 1;
        }
    }

    /// Emits what needs the whole data set: directoryAudits entries grouped
    /// by correlationId into activities, in order of time.
    pub fn finish(self, sink: &mut Sink<'_>) -> Result<(), Stop> {
        if let Some((group, file, false)) = &self.member_listing {
            return Err(ImportError::new(
                Location {
                    file: file.clone(),
                    position: Position::File,
                },
                Some("@odata.nextLink"),
                format!(
                    "the members of group \"{group}\" stop at a page that links to a next one: \
                     give every page, since a group's member list replaces the stored one"
                ),
            )
            .into());
        }
        if let Some((file, complete)) = &self.registration_listing {
            sink(Located {
                at: Location {
                    file: file.clone(),
                    position: Position::File,
                },
                record: Record::Listing {
                    complete: *complete,
                },
            })?;
        }
        let mut flows: Vec<(Flow, String, Vec<AuditEntry>)> = self
            .flows
            .into_iter()
            .map(|((flow, correlation), mut entries)| {
                entries.sort_by(|a, b| {
                    a.time
                        .cmp(&b.time)
                        .then(step_rank(&a.step).cmp(&step_rank(&b.step)))
                        .then(a.order.cmp(&b.order))
                });
                (flow, flow.activity_id(&correlation), entries)
            })
            .collect();
        // In order of time, so that the output (and the first error) does not
        // depend on hashing.
        flows.sort_by(|(_, a_id, a), (_, b_id, b)| {
            let first = |entries: &[AuditEntry]| entries.first().map(|e| e.time);
            first(a).cmp(&first(b)).then_with(|| a_id.cmp(b_id))
        });
        for (flow, id, entries) in flows {
            if let (Some(from), Some(first)) = (self.flows_from, entries.first()) {
                if first.time < from {
                    continue;
                }
            }
            let built = match flow {
                Flow::Reset => Some(reset_activity(id, &entries)?),
                Flow::Registration => registration_activity(id, &entries),
            };
            if let Some(located) = built {
                sink(located)?;
            }
        }
        Ok(())
    }

    pub(super) fn buffer_audit(&mut self, rec: &Rec<'_>) -> Result<(), ImportError> {
        let service = rec.text("loggedByService")?.unwrap_or("");
        let name = rec.text("activityDisplayName")?.unwrap_or("");
        let Some(activity) = AUDIT_ACTIVITIES
            .iter()
            .find(|(s, a, _)| s.eq_ignore_ascii_case(service) && a.eq_ignore_ascii_case(name))
            .map(|(_, _, activity)| *activity)
        else {
            return Ok(());
        };
        let id = rec.required_text("id")?;
        let time = rec.required_time("activityDateTime")?;
        let success = match rec.required_text("result")? {
            "success" => true,
            "failure" | "timeout" => false,
            other => {
                return Err(rec.error(
                    "result",
                    format!("unknown result {other:?}; known: success, failure, timeout"),
                ))
            }
        };
        let reason = rec.text("resultReason")?.unwrap_or("").trim();
        let step =
            audit_step(activity, success, reason).map_err(|why| rec.error("resultReason", why))?;
        let correlation = rec.text("correlationId")?.unwrap_or(id).to_string();
        let user = audit_user(rec)?;
        let failure_reason = failure_reason(rec)?;
        let flow = step.flow();
        self.entries_read += 1;
        let entries = self.flows.entry((flow, correlation)).or_default();
        if entries.iter().any(|e| e.id == id) {
            return Ok(()); // the same entry in two overlapping exports
        }
        entries.push(AuditEntry {
            id: id.to_string(),
            at: rec.at.clone(),
            time,
            order: self.entries_read,
            step,
            reason: reason.to_string(),
            success,
            failure_reason,
            user,
        });
        Ok(())
    }
}

/// The failure reason an entry's `additionalDetails` give, if any.
fn failure_reason(rec: &Rec<'_>) -> Result<Option<String>, ImportError> {
    let Some(details) = rec.list("additionalDetails")? else {
        return Ok(None);
    };
    for (i, value) in details.iter().enumerate() {
        let detail = rec.nested(value, rec.field(&format!("additionalDetails[{i}]")))?;
        if detail
            .text("key")?
            .is_some_and(|k| k.eq_ignore_ascii_case(FAILURE_REASON_KEY))
        {
            return Ok(detail.text("value")?.map(str::to_string));
        }
    }
    Ok(None)
}

/// The resources this import reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Resource {
    UserRegistrationDetails,
    CredentialUserRegistrationDetails,
    UserCredentialUsageDetails,
    UserEventsSummary,
    DirectoryAudits,
    /// `GET /users?$select=id,displayName,userPrincipalName,accountEnabled,userType`.
    Users,
    /// `GET /groups/{id}`: the group whose members follow.
    Groups,
    /// `GET /groups/{id}/members`: pages of `directoryObjects`.
    GroupMembers,
    /// Beta `reports/authenticationMethods/userMfaSignInSummary`: a day's
    /// single-factor and multifactor sign-ins.
    UserMfaSignInSummary,
    /// Beta `reports/authenticationMethods/userSignInsByAuthMethodSummary(period='d1')`:
    /// `userSignInUsageByAuthMethodActivity` records, successful sign-ins
    /// per method over the period, undated.
    UserSignInsByAuthMethodSummary,
}

impl Resource {
    pub(super) fn name(self) -> &'static str {
        match self {
            Resource::UserRegistrationDetails => "userRegistrationDetails",
            Resource::CredentialUserRegistrationDetails => "credentialUserRegistrationDetails",
            Resource::UserCredentialUsageDetails => "userCredentialUsageDetails",
            Resource::UserEventsSummary => "userEventsSummary",
            Resource::DirectoryAudits => "directoryAudits",
            Resource::Users => "users",
            Resource::Groups => "groups",
            Resource::GroupMembers => "directoryObjects",
            Resource::UserMfaSignInSummary => "userMfaSignInSummary",
            Resource::UserSignInsByAuthMethodSummary => "userSignInsByAuthMethodSummary",
        }
    }
}

/// The names `@odata.context` (its last path segment, or the type inside
/// `Collection(…)`) and `@odata.type` give each resource, compared ignoring
/// case. The beta usage report names its collection
/// `getUserCredentialUsageDetails`.
pub(super) const RESOURCE_NAMES: &[(&str, Resource)] = &[
    ("userRegistrationDetails", Resource::UserRegistrationDetails),
    (
        "credentialUserRegistrationDetails",
        Resource::CredentialUserRegistrationDetails,
    ),
    (
        "userCredentialUsageDetails",
        Resource::UserCredentialUsageDetails,
    ),
    (
        "getUserCredentialUsageDetails",
        Resource::UserCredentialUsageDetails,
    ),
    ("userEventsSummary", Resource::UserEventsSummary),
    ("directoryAudits", Resource::DirectoryAudits),
    ("directoryAudit", Resource::DirectoryAudits),
    ("users", Resource::Users),
    ("user", Resource::Users),
    ("groups", Resource::Groups),
    ("group", Resource::Groups),
    ("directoryObjects", Resource::GroupMembers),
    ("userMfaSignInSummary", Resource::UserMfaSignInSummary),
    (
        "userSignInsByAuthMethodSummary",
        Resource::UserSignInsByAuthMethodSummary,
    ),
    (
        "userSignInUsageByAuthMethodActivity",
        Resource::UserSignInsByAuthMethodSummary,
    ),
];

pub(super) const READABLE: &str = "userRegistrationDetails, credentialUserRegistrationDetails, \
     userCredentialUsageDetails, userEventsSummary, directoryAudits, userMfaSignInSummary, \
     userSignInsByAuthMethodSummary, users, groups, and a group's members (directoryObjects)";

pub(super) fn resource_named(name: &str) -> Option<Resource> {
    RESOURCE_NAMES
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, r)| *r)
}

/// The resource an `@odata.context` URL names; `Err` holds the name found.
pub(super) fn resource_from_context(context: &str) -> Result<Resource, String> {
    let fragment = context.split_once('#').map_or(context, |(_, f)| f);
    let fragment = fragment.split_once('?').map_or(fragment, |(f, _)| f);
    let fragment = fragment.trim_end_matches('/');
    let fragment = fragment.strip_suffix("/$entity").unwrap_or(fragment);
    let fragment = match fragment.get(..11) {
        Some(head) if head.eq_ignore_ascii_case("Collection(") => {
            fragment[11..].trim_end_matches(')')
        }
        _ => fragment,
    };
    let last = fragment.rsplit('/').next().unwrap_or(fragment);
    let last = last.split_once('(').map_or(last, |(n, _)| n);
    let last = last.rsplit('.').next().unwrap_or(last);
    resource_named(last).ok_or_else(|| last.to_string())
}

/// What a record's fields say about its resource.
pub(super) enum Guess {
    One(Resource),
    /// userCredentialUsageDetails and userEventsSummary share their fields.
    UsageOrEvents,
    Unknown,
}

pub(super) fn guess_from_fields(obj: &Map<String, Value>) -> Guess {
    let has = |k: &str| obj.contains_key(k);
    if has("methodsRegistered") {
        Guess::One(Resource::UserRegistrationDetails)
    } else if has("authMethods") {
        Guess::One(Resource::CredentialUserRegistrationDetails)
    } else if has("correlationId") && has("activityDisplayName") {
        Guess::One(Resource::DirectoryAudits)
    } else if has("multiFactorSignIns") && has("singleFactorSignIns") {
        Guess::One(Resource::UserMfaSignInSummary)
    } else if has("authenticationMethod") && has("successActivityCount") {
        Guess::One(Resource::UserSignInsByAuthMethodSummary)
    } else if has("authMethod") && has("feature") {
        Guess::UsageOrEvents
    } else {
        Guess::Unknown
    }
}

/// One file being read.
pub(super) struct FileState<'s, 'k> {
    pub(super) import: &'s mut GraphImport,
    pub(super) file: String,
    pub(super) sink: &'s mut Sink<'k>,
    pub(super) resource: Option<Resource>,
    /// Why the deserializer was stopped from inside (a bad record or a
    /// failing sink), to return in place of serde's error.
    pub(super) stop: Option<Stop>,
    /// Top-level JSON values read so far.
    pub(super) values: u64,
    /// Line on which the current top-level value begins.
    pub(super) start_line: u64,
    pub(super) after_page: bool,
}

impl FileState<'_, '_> {
    pub(super) fn location(&self, position: Position) -> Location {
        Location {
            file: self.file.clone(),
            position,
        }
    }

    pub(super) fn error(
        &self,
        position: Position,
        field: Option<&str>,
        reason: &str,
    ) -> ImportError {
        ImportError::new(self.location(position), field, reason)
    }

    /// Stops the deserializer: serde only carries its own errors.
    pub(super) fn halt<E: de::Error>(&mut self, stop: Stop) -> E {
        self.stop = Some(stop);
        E::custom("import stopped")
    }

    /// A page begins: its context (read before `value`, where Graph writes
    /// it) names the resource of the whole file.
    pub(super) fn begin_page(&mut self, context: Option<&Value>) -> Result<(), ImportError> {
        if self.values > 0 {
            return Err(self.error(
                Position::Line(self.start_line),
                None,
                "a Graph page after records: a file holds one Graph page or one record per line",
            ));
        }
        if let Some(context) = context {
            let resource = self.context_resource(context, Position::File)?;
            self.resource = Some(resource);
        }
        Ok(())
    }

    pub(super) fn context_resource(
        &self,
        context: &Value,
        position: Position,
    ) -> Result<Resource, ImportError> {
        let field = Some("@odata.context");
        let Value::String(context) = context else {
            return Err(self.error(
                position,
                field,
                &format!("expected text, got {}", describe(context)),
            ));
        };
        resource_from_context(context).map_err(|found| {
            self.error(
                position,
                field,
                &format!("{found:?} is not a resource this import reads ({READABLE})"),
            )
        })
    }

    /// The resource of one record, which must be the file's.
    pub(super) fn resolve(
        &mut self,
        obj: &Map<String, Value>,
        position: Position,
    ) -> Result<Resource, ImportError> {
        // A member list's records are typed by what each member is (a user,
        // a group, a device): the page's context decides.
        if self.resource == Some(Resource::GroupMembers) {
            return Ok(Resource::GroupMembers);
        }
        let stated = if let Some(context) = obj.get("@odata.context") {
            Some(self.context_resource(context, position)?)
        } else if let Some(kind) = obj.get("@odata.type") {
            let Value::String(kind) = kind else {
                return Err(self.error(
                    position,
                    Some("@odata.type"),
                    &format!("expected text, got {}", describe(kind)),
                ));
            };
            let name = kind.rsplit('.').next().unwrap_or(kind);
            Some(resource_named(name).ok_or_else(|| {
                self.error(
                    position,
                    Some("@odata.type"),
                    &format!("{kind:?} is not a resource this import reads ({READABLE})"),
                )
            })?)
        } else {
            None
        };
        let guess = match stated {
            Some(resource) => Guess::One(resource),
            None => guess_from_fields(obj),
        };
        match (self.resource, guess) {
            (Some(file), Guess::One(found)) if found != file => Err(self.error(
                position,
                None,
                &format!(
                    "a {} record in a file of {}: a file holds one resource",
                    found.name(),
                    file.name()
                ),
            )),
            (Some(file), Guess::UsageOrEvents)
                if !matches!(
                    file,
                    Resource::UserCredentialUsageDetails | Resource::UserEventsSummary
                ) =>
            {
                Err(self.error(
                    position,
                    None,
                    &format!(
                        "a usage record in a file of {}: a file holds one resource",
                        file.name()
                    ),
                ))
            }
            (Some(file), _) => Ok(file),
            (None, Guess::One(found)) => {
                self.resource = Some(found);
                Ok(found)
            }
            (None, Guess::UsageOrEvents) => Err(self.error(
                Position::File,
                None,
                "userCredentialUsageDetails and userEventsSummary records have the same fields, \
                 so which of them this file holds cannot be told: keep the page's \
                 @odata.context, or an @odata.type on each record",
            )),
            (None, Guess::Unknown) => Err(self.error(
                Position::File,
                None,
                &format!(
                    "not a Graph export this import reads: no @odata.context, and the first \
                     record's fields are not those of {READABLE}"
                ),
            )),
        }
    }

    /// Reads one record and hands on what it becomes.
    pub(super) fn record(&mut self, value: Value, position: Position) -> Result<(), Stop> {
        let Value::Object(obj) = value else {
            return Err(self
                .error(
                    position,
                    None,
                    &format!(
                        "expected a Graph record (a JSON object), got {}",
                        describe(&value)
                    ),
                )
                .into());
        };
        let resource = self.resolve(&obj, position)?;
        let at = self.location(position);
        let warnings = RefCell::new(Vec::new());
        let rec = Rec {
            obj: &obj,
            at: &at,
            path: String::new(),
            warnings: &warnings,
            strict: self.import.strict,
        };
        match resource {
            Resource::UserRegistrationDetails => {
                let (user, methods) = user_registration(&rec, self.import.read_at)?;
                self.emit(&at, Record::User(user))?;
                if let Some(methods) = methods {
                    self.emit(&at, Record::Methods(methods))?;
                }
            }
            Resource::CredentialUserRegistrationDetails => {
                let (user, methods) = credential_registration(&rec, self.import.read_at)?;
                self.emit(&at, Record::User(user))?;
                if let Some(methods) = methods {
                    self.emit(&at, Record::Methods(methods))?;
                }
            }
            Resource::UserCredentialUsageDetails => {
                let record = usage_event(&rec)?;
                self.emit(&at, record)?;
            }
            Resource::UserEventsSummary => {
                let record = summary_event(&rec)?;
                self.emit(&at, record)?;
            }
            Resource::DirectoryAudits => self.import.buffer_audit(&rec)?,
            Resource::Users => {
                let user = directory_user(&rec)?;
                self.emit(&at, Record::User(user))?;
            }
            Resource::Groups => {
                let id = rec.required_text("id")?.to_string();
                let display_name = rec.text("displayName")?.unwrap_or("").to_string();
                self.import.current_group = Some(id.clone());
                self.emit(&at, Record::Group(GroupRecord { id, display_name }))?;
            }
            Resource::UserMfaSignInSummary => {
                let record = mfa_sign_in_summary(&rec)?;
                self.emit(&at, Record::SignInDay(record))?;
            }
            Resource::UserSignInsByAuthMethodSummary => {
                let record = sign_ins_by_method(&rec, self.import.read_at.date())?;
                self.emit(&at, Record::SignInMethod(record))?;
            }
            Resource::GroupMembers => {
                if let Some(user_id) = member_user(&rec)? {
                    let group_id = self.listed_group(position)?;
                    self.emit(
                        &at,
                        Record::Member(MemberRecord {
                            group_id,
                            user_id: user_id.to_string(),
                            paged: true,
                        }),
                    )?;
                }
            }
        }
        for warning in warnings.into_inner() {
            self.emit(&at, Record::Warning(warning))?;
        }
        Ok(())
    }

    /// The group a member page lists: the one read before it.
    fn listed_group(&self, position: Position) -> Result<String, ImportError> {
        self.import.current_group.clone().ok_or_else(|| {
            self.error(
                position,
                None,
                "a page of group members (directoryObjects) without its group: put the group \
                 (GET /groups/{id}) before its member pages, in the same import",
            )
        })
    }

    /// A page of a group's members begins: the first one starts the list
    /// (which may be empty).
    pub(super) fn begin_member_page(&mut self) -> Result<(), Stop> {
        let group = self.listed_group(Position::File)?;
        let listing = &mut self.import.member_listing;
        match listing {
            Some((listed, _, _)) if *listed == group => {}
            _ => {
                *listing = Some((group.clone(), self.file.clone(), false));
                let at = self.location(Position::File);
                self.emit(&at, Record::GroupListed { group_id: group })?;
            }
        }
        Ok(())
    }

    pub(super) fn emit(&mut self, at: &Location, record: Record) -> Result<(), Stop> {
        (self.sink)(Located {
            at: at.clone(),
            record,
        })
    }
}

/// What a top-level JSON value turned out to be.
pub(super) enum Top {
    /// A page (or a bare array), its records already handed on.
    Page,
    /// One record of a JSON-lines file.
    Record(Map<String, Value>),
}

pub(super) struct TopSeed<'a, 's, 'k> {
    pub(super) state: &'a mut FileState<'s, 'k>,
}

impl<'de> DeserializeSeed<'de> for TopSeed<'_, '_, '_> {
    type Value = Top;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Top, D::Error> {
        d.deserialize_any(TopVisitor { state: self.state })
    }
}

pub(super) struct TopVisitor<'a, 's, 'k> {
    pub(super) state: &'a mut FileState<'s, 'k>,
}

impl<'de> Visitor<'de> for TopVisitor<'_, '_, '_> {
    type Value = Top;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a Graph page, or one Graph record (a JSON object) per line")
    }

    /// A page's `value` is streamed; its other members (and the fields of a
    /// record, which is small) are collected.
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Top, A::Error> {
        let mut fields = Map::new();
        let mut page = false;
        while let Some(key) = map.next_key::<String>()? {
            if key == "value" && !page {
                page = true;
                if let Err(err) = self.state.begin_page(fields.get("@odata.context")) {
                    return Err(self.state.halt(err.into()));
                }
                if self.state.resource == Some(Resource::GroupMembers) {
                    if let Err(stop) = self.state.begin_member_page() {
                        return Err(self.state.halt(stop));
                    }
                }
                map.next_value_seed(RecordsSeed {
                    state: &mut *self.state,
                })?;
            } else {
                let value = map.next_value::<Value>()?;
                fields.insert(key, value);
            }
        }
        if page && self.state.resource == Some(Resource::UserRegistrationDetails) {
            let complete = !fields.contains_key("@odata.nextLink");
            self.state.import.registration_listing = Some((self.state.file.clone(), complete));
        }
        if page && self.state.resource == Some(Resource::GroupMembers) {
            let complete = !fields.contains_key("@odata.nextLink");
            if let Some(listing) = self.state.import.member_listing.as_mut() {
                listing.1 = self.state.file.clone();
                listing.2 = complete;
            }
        }
        Ok(if page { Top::Page } else { Top::Record(fields) })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Top, A::Error> {
        if let Err(err) = self.state.begin_page(None) {
            return Err(self.state.halt(err.into()));
        }
        RecordsVisitor { state: self.state }.visit_seq(seq)?;
        Ok(Top::Page)
    }
}

pub(super) struct RecordsSeed<'a, 's, 'k> {
    pub(super) state: &'a mut FileState<'s, 'k>,
}

impl<'de> DeserializeSeed<'de> for RecordsSeed<'_, '_, '_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(RecordsVisitor { state: self.state })
    }
}

pub(super) struct RecordsVisitor<'a, 's, 'k> {
    pub(super) state: &'a mut FileState<'s, 'k>,
}

impl<'de> Visitor<'de> for RecordsVisitor<'_, '_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of Graph records")
    }

    /// One element at a time: each is read, turned into records and
    /// dropped before the next.
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut n = 0;
        while let Some(value) = seq.next_element::<Value>()? {
            n += 1;
            if let Err(stop) = self.state.record(value, Position::Record(n)) {
                return Err(self.state.halt(stop));
            }
        }
        Ok(())
    }
}

/// The input with the lines consumed so far counted, so that records and
/// JSON errors can be placed on their line of the file. serde_json reads
/// a reader byte by byte, so nothing past a value is consumed.
pub(super) struct Counted<R> {
    pub(super) inner: R,
    pub(super) newlines: u64,
}

impl<R: BufRead> Counted<R> {
    pub(super) fn skip_byte_order_mark(&mut self) -> io::Result<()> {
        let buf = self.inner.fill_buf()?;
        if buf.starts_with(&[0xEF, 0xBB, 0xBF]) {
            self.inner.consume(3);
        } else if buf.starts_with(&[0xFF, 0xFE]) || buf.starts_with(&[0xFE, 0xFF]) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "the file is UTF-16 text (as Windows PowerShell's Out-File writes it): \
                 save it as UTF-8, e.g. with Out-File -Encoding utf8",
            ));
        }
        Ok(())
    }

    /// Skips JSON whitespace; `false` at the end of the input.
    pub(super) fn skip_whitespace(&mut self) -> io::Result<bool> {
        loop {
            let buf = self.inner.fill_buf()?;
            if buf.is_empty() {
                return Ok(false);
            }
            let n = buf
                .iter()
                .take_while(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
                .count();
            let newlines = buf[..n].iter().filter(|b| **b == b'\n').count() as u64;
            let more = n < buf.len();
            self.inner.consume(n);
            self.newlines += newlines;
            if more {
                return Ok(true);
            }
        }
    }
}

impl<R: BufRead> Read for Counted<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let buf = self.inner.fill_buf()?;
        let n = buf.len().min(out.len());
        out[..n].copy_from_slice(&buf[..n]);
        self.newlines += buf[..n].iter().filter(|b| **b == b'\n').count() as u64;
        self.inner.consume(n);
        Ok(n)
    }
}

/// serde_json's error, placed on its line of the file (its own line count
/// starts with the value).
pub(super) fn json_error(file: &str, start_line: u64, err: &serde_json::Error) -> ImportError {
    // Column 0 is just past a line's end, where serde_json stands after
    // peeking the newline that ended a value.
    let relative = if err.column() == 0 {
        err.line().saturating_sub(1)
    } else {
        err.line()
    };
    let line = start_line + (relative as u64).saturating_sub(1);
    let text = err.to_string();
    let message = text
        .rfind(" at line ")
        .map_or(text.as_str(), |i| &text[..i]);
    let reason = match err.classify() {
        serde_json::error::Category::Io => format!("could not be read: {message}"),
        serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
            format!("not valid JSON: {message}")
        }
        serde_json::error::Category::Data => {
            format!("not a Graph page or record: {message}")
        }
    };
    ImportError::new(
        Location {
            file: file.to_string(),
            position: Position::Line(line),
        },
        None,
        reason,
    )
}

/// A JSON value as an error message shows it.
pub(super) fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) if s.chars().count() > 60 => {
            let head: String = s.chars().take(60).collect();
            format!("{head:?}…")
        }
        Value::String(s) => format!("{s:?}"),
        Value::Array(_) => "a list".to_string(),
        Value::Object(_) => "an object".to_string(),
    }
}
