//! Microsoft Graph exports, as an administrator saves them, read into the
//! portal's records ([`Located`]) one at a time.
//!
//! # Files
//!
//! A file is either one Graph page — `{"@odata.context": "…", "value": […],
//! "@odata.nextLink": "…"}`, one file per page of a paged export — or JSON
//! lines, one Graph record per line (blank lines are ignored). A bare JSON
//! array of records is read like a page without a context. Pages are read as
//! a stream: `value` is walked one element at a time, so a page of millions
//! of records is never held in memory. A UTF-8 byte-order mark is skipped; a
//! UTF-16 file is refused with a hint to save it as UTF-8.
//!
//! Problems are reported at the record of a page (`Position::Record`, from 1),
//! the line of a JSON-lines file (`Position::Line`, also for text that is not
//! valid JSON) or the file as a whole (`Position::File`: unreadable or not
//! recognised), naming the JSON field (`methodsRegistered[2]`, list indexes
//! from 0; nested fields with dots, `initiatedBy.user.id`).
//!
//! # Which resource a file holds
//!
//! From `@odata.context` when the page (or a single-entity record) has one:
//! the part after `$metadata#`, ignoring the version, `/$entity`, `$select`
//! lists in parentheses, a query and letter case; `Collection(microsoft.graph.X)`
//! (the form the beta report pages use) names the type X. Otherwise from each
//! record's `@odata.type`, or else its fields: `methodsRegistered` →
//! userRegistrationDetails, `authMethods` → credentialUserRegistrationDetails,
//! `correlationId` with `activityDisplayName` → directoryAudits. Records of
//! userCredentialUsageDetails and userEventsSummary have the same fields, so
//! those files need a context or `@odata.type`. One file holds one resource.
//!
//! # Mapping
//!
//! | resource | becomes |
//! | --- | --- |
//! | `userRegistrationDetails` | [`Record::User`] with the export's verdicts (`isSsprRegistered`, `isSsprEnabled`, `isSsprCapable`, `isMfaCapable`, `isPasswordlessCapable`) as of `lastUpdatedDateTime`, then a complete [`Record::Methods`] from `methodsRegistered` |
//! | `credentialUserRegistrationDetails` | the same from `isRegistered`, `isEnabled`, `isCapable` and `authMethods` (no MFA or passwordless verdict: its `isMfaRegistered` does not require the method to be allowed, so it is not `isMfaCapable`) |
//! | `userCredentialUsageDetails` | [`Record::Event`] with Graph's event `id`, keyed by user principal name |
//! | `userEventsSummary` | [`Record::Event`] keyed by the user's id (its `id` is the user's), with an id derived from the content: see [`events_summary_id`] |
//! | `directoryAudits` | one [`Record::Activity`] per password-reset flow or registration (entries grouped by `correlationId`), emitted by [`GraphImport::finish`] |
//!
//! Text Graph leaves empty (`""`, or `null`) counts as absent. Booleans must
//! be JSON booleans. When a registration export does not say when its
//! verdicts were computed (no `lastUpdatedDateTime`, as in every
//! credentialUserRegistrationDetails record), they are dated at the moment
//! the import began: the statuses were true no later than that. A methods
//! list that is absent (rather than empty) leaves the user's stored methods
//! as they are.
//!
//! Method names ([`GRAPH_METHODS`]) are matched exactly; a registered mobile
//! phone serves both SMS and calls, while an alternate mobile phone serves
//! calls only (Graph's usage enumeration has `alternateMobileCall` but no
//! alternate SMS, and its phone method documentation gives SMS to the primary
//! mobile only). A usage event must name one method, so `mobilePhone` there
//! is refused. Any other name is reported, never guessed.
//!
//! # Audit entries
//!
//! Only entries of the services and activities in [`AUDIT_ACTIVITIES`] are
//! kept; everything else in an audit export is skipped silently.
//!
//! A password reset flow (service "Self-service Password Management") is
//! every entry of one `correlationId`. It becomes one reset activity, id
//! `aud-<correlationId>`, at the time of its earliest entry, for the user
//! named by the entries' `targetResources` (the entry of type User) or else
//! `initiatedBy.user` (an empty or all-zero id is an unknown user). The steps,
//! from each entry's `resultReason`:
//!
//! | activity / resultReason | step |
//! | --- | --- |
//! | "User submitted their user ID", "User was presented with verification options" | progress before any method |
//! | "User started the *option* verification option" | a method started (*option* in [`VERIFICATION_OPTIONS`]) |
//! | "User completed the *option* verification option" | that method verified |
//! | any text of the seed's details table, or its first sentence ("Password reset is not enabled for this user") | the flow's outcome: that detail |
//! | "Reset password (self-service)" or "Unlock user account (self-service)", result success | outcome: succeeded |
//! | the same, failure with a banned-password reason ([`NEW_PASSWORD_REJECTED`]) | the new password was refused (the flow goes on) |
//! | the same, failure with a details text | outcome: that detail |
//! | "Blocked from self-service password reset" | outcome: blocked; the detail from its reason, else from an earlier blocked detail of the flow, else from the method last tried ([`BLOCKED_AT`]) |
//!
//! The last outcome (by time) decides the result and details. A flow without
//! one was abandoned: the detail follows its last step ([`ABANDONED_AFTER`];
//! after a refused new password, "abandoned while selecting a new password";
//! before any method, "after entering their user ID"). The seed's table has
//! no abandoned detail for the app methods: such a flow is Abandoned with no
//! detail. Each method started (once, however often restarted before it is
//! completed) or completed is one method event (id `<activity id>-<n>`, in
//! the order first tried, at the time it was completed or else started): a
//! success when completed, else a failure whose reason is the flow's detail
//! ("Verification not completed" when the flow succeeded by another method
//! or has no detail).
//!
//! A registration (service "Authentication Methods", or the legacy "User
//! registered for self-service password reset") is also every entry of one
//! `correlationId`: a registration activity, id `aud-reg-<correlationId>`,
//! Succeeded when any entry registered security info, else Failed. Its
//! method events come from `resultReason`: "User registered *info*" (a
//! success), "User failed to register *info*" (a failure) and "User started
//! the registration for *info*" (unless later registered, a failure with
//! the reason "Registration not completed"), *info* from [`SECURITY_INFO`]. Its methods are the methods registered, or when
//! none was, the methods tried (as the classic report's "Data Registered").
//! Entries that change or delete security info are recognised but register
//! nothing; a correlation of only those yields no activity.
//!
//! A `resultReason` of a kept entry that none of these tables knows is an
//! error naming the file, record and field.

use crate::db::models::{Activity, MethodEvent};
use crate::domain::{ActivityResult, Details, Feature, Method, MethodSet, Verdicts};
use crate::ingest::records::{
    ActivityRecord, Identity, ImportError, Located, Location, MethodsRecord, Position, Record,
    Sink, Stop, UserKey, UserRecord,
};
use chrono::{NaiveDateTime, SubsecRound};
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fmt;
use std::io::{self, BufRead, Read};

/// Graph's method names — `methodsRegistered` of userRegistrationDetails,
/// `registrationAuthMethod` of credentialUserRegistrationDetails and
/// `usageAuthMethod` of the usage reports — and the catalogue methods each
/// stands for.
pub const GRAPH_METHODS: &[(&str, &[Method])] = &[
    ("microsoftAuthenticatorPush", &[Method::AppNotification]),
    ("appNotification", &[Method::AppNotification]),
    ("softwareOneTimePasscode", &[Method::AppCode]),
    ("appCode", &[Method::AppCode]),
    ("mobilePhone", &[Method::MobileSms, Method::MobileCall]),
    ("alternateMobilePhone", &[Method::MobileCall]),
    ("mobileSMS", &[Method::MobileSms]),
    ("sms", &[Method::MobileSms]),
    ("mobileCall", &[Method::MobileCall]),
    ("alternateMobileCall", &[Method::MobileCall]),
    ("officePhone", &[Method::OfficeCall]),
    ("email", &[Method::Email]),
    ("securityQuestion", &[Method::SecurityQuestions]),
    ("fido2", &[Method::Fido2]),
    ("fido", &[Method::Fido2]),
    ("fido2SecurityKey", &[Method::Fido2]),
    ("passKeyDeviceBound", &[Method::Passkey]),
    ("passKeyDeviceBoundAuthenticator", &[Method::Passkey]),
    ("passKeyDeviceBoundWindowsHello", &[Method::Passkey]),
    ("passKeySynced", &[Method::Passkey]),
    ("windowsHelloForBusiness", &[Method::WindowsHello]),
    ("hardwareOneTimePasscode", &[Method::HardwareOtp]),
    ("temporaryAccessPass", &[Method::TemporaryAccessPass]),
    (
        "microsoftAuthenticatorPasswordless",
        &[Method::AuthenticatorPasswordless],
    ),
];

/// The service names of the audit entries this import reads.
pub const SSPR_SERVICE: &str = "Self-service Password Management";
pub const AUTHENTICATION_METHODS_SERVICE: &str = "Authentication Methods";

/// What an audit entry is to this import.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditActivity {
    /// One step of a password reset flow.
    ResetProgress,
    /// The end of a reset flow: "Reset password (self-service)" and the
    /// account unlock that stands in for it.
    ResetDone,
    /// The user was blocked from password reset for 24 hours.
    Blocked,
    /// The user began registering one piece of security info.
    RegistrationStarted,
    /// The user registered (or failed to register) one piece of security info.
    Registered,
    /// The user registered everything the policy requires.
    RegisteredAll,
    /// A change or deletion of security info: part of a registration
    /// session, but it registers nothing.
    RegistrationOther,
}

/// Audit entries kept, by (`loggedByService`, `activityDisplayName`),
/// compared ignoring case. Every other entry is skipped.
pub const AUDIT_ACTIVITIES: &[(&str, &str, AuditActivity)] = &[
    (
        SSPR_SERVICE,
        "Self-service password reset flow activity progress",
        AuditActivity::ResetProgress,
    ),
    (
        SSPR_SERVICE,
        "Reset password (self-service)",
        AuditActivity::ResetDone,
    ),
    (
        SSPR_SERVICE,
        "Unlock user account (self-service)",
        AuditActivity::ResetDone,
    ),
    (
        SSPR_SERVICE,
        "Unlock a user account (self-service)",
        AuditActivity::ResetDone,
    ),
    (
        SSPR_SERVICE,
        "Blocked from self-service password reset",
        AuditActivity::Blocked,
    ),
    (
        SSPR_SERVICE,
        "User registered for self-service password reset",
        AuditActivity::RegisteredAll,
    ),
    (
        AUTHENTICATION_METHODS_SERVICE,
        "User started security info registration",
        AuditActivity::RegistrationStarted,
    ),
    (
        AUTHENTICATION_METHODS_SERVICE,
        "User registered security info",
        AuditActivity::Registered,
    ),
    (
        AUTHENTICATION_METHODS_SERVICE,
        "User registered all required security info",
        AuditActivity::RegisteredAll,
    ),
    (
        AUTHENTICATION_METHODS_SERVICE,
        "User changed default security info",
        AuditActivity::RegistrationOther,
    ),
    (
        AUTHENTICATION_METHODS_SERVICE,
        "User deleted security info",
        AuditActivity::RegistrationOther,
    ),
    (
        AUTHENTICATION_METHODS_SERVICE,
        "User updated security info",
        AuditActivity::RegistrationOther,
    ),
];

/// Progress texts of a reset flow that come before any method.
pub const USER_ID_STEPS: &[&str] = &[
    "User submitted their user ID",
    "User was presented with verification options",
];

/// The verification options as reset progress texts name them: "User
/// started the mobile SMS verification option", "User completed the email
/// verification option" (the seed also writes "the security questions
/// option").
pub const VERIFICATION_OPTIONS: &[(&str, Method)] = &[
    ("email", Method::Email),
    ("mobile SMS", Method::MobileSms),
    ("mobile voice call", Method::MobileCall),
    ("office voice call", Method::OfficeCall),
    ("security questions", Method::SecurityQuestions),
    ("security question", Method::SecurityQuestions),
    ("mobile app notification", Method::AppNotification),
    ("mobile app code", Method::AppCode),
];

/// Failure reasons of "Reset password (self-service)" that refuse the new
/// password (banned-password detection) without ending the flow.
pub const NEW_PASSWORD_REJECTED: &[&str] = &[
    "FuzzyPolicyViolationInvalidPassword",
    "PasswordDoesnotComplyFuzzyPolicy",
];

/// The abandoned detail after a method's last step: (method, after starting
/// it, after completing it).
pub const ABANDONED_AFTER: &[(Method, Details, Details)] = &[
    (
        Method::Email,
        Details::AbandonedAfterEmailStarted,
        Details::AbandonedAfterEmailCompleted,
    ),
    (
        Method::MobileSms,
        Details::AbandonedAfterSmsStarted,
        Details::AbandonedAfterSmsCompleted,
    ),
    (
        Method::MobileCall,
        Details::AbandonedAfterMobileCallStarted,
        Details::AbandonedAfterMobileCallCompleted,
    ),
    (
        Method::OfficeCall,
        Details::AbandonedAfterOfficeCallStarted,
        Details::AbandonedAfterOfficeCallCompleted,
    ),
    (
        Method::SecurityQuestions,
        Details::AbandonedAfterSecurityQuestionsStarted,
        Details::AbandonedAfterSecurityQuestionsCompleted,
    ),
];

/// The blocked detail when a block entry gives no reason: the method the
/// user last tried.
pub const BLOCKED_AT: &[(Method, Details)] = &[
    (Method::MobileSms, Details::BlockedSmsCodes),
    (Method::MobileCall, Details::BlockedMobileCall),
    (Method::OfficeCall, Details::BlockedOfficeCall),
    (Method::SecurityQuestions, Details::BlockedSecurityQuestions),
];

/// Security info as registration audit texts name it ("User registered
/// Mobile Phone SMS"), compared ignoring case.
pub const SECURITY_INFO: &[(&str, &[Method])] = &[
    (
        "Authenticator App with Notification and Code",
        &[Method::AppNotification, Method::AppCode],
    ),
    (
        "Authenticator App with Notification",
        &[Method::AppNotification],
    ),
    ("Authenticator App with Code", &[Method::AppCode]),
    ("Software OATH token", &[Method::AppCode]),
    ("Hardware OATH token", &[Method::HardwareOtp]),
    (
        "Mobile Phone Call and SMS",
        &[Method::MobileSms, Method::MobileCall],
    ),
    ("Mobile Phone SMS", &[Method::MobileSms]),
    ("Mobile Phone Call", &[Method::MobileCall]),
    ("Mobile Phone", &[Method::MobileSms, Method::MobileCall]),
    ("Alternate Mobile Phone", &[Method::MobileCall]),
    ("Alternate Mobile Phone Call", &[Method::MobileCall]),
    ("Office Phone", &[Method::OfficeCall]),
    ("Office Phone Call", &[Method::OfficeCall]),
    ("Email", &[Method::Email]),
    ("Alternate Email", &[Method::Email]),
    ("Security Questions", &[Method::SecurityQuestions]),
    ("Fido", &[Method::Fido2]),
    ("FIDO2 Security Key", &[Method::Fido2]),
    ("Windows Hello for Business", &[Method::WindowsHello]),
    ("Temporary Access Pass", &[Method::TemporaryAccessPass]),
];

const REGISTERED_PREFIX: &str = "User registered ";
const REGISTER_FAILED_PREFIX: &str = "User failed to register ";
const REGISTRATION_STARTED_PREFIX: &str = "User started the registration for ";
const REGISTERED_ALL_REASON: &str = "User registered all required security info";

/// Failure reason of a verification started but never completed.
const NOT_VERIFIED: &str = "Verification not completed";
/// Failure reason of a registration started but never completed.
const NOT_REGISTERED: &str = "Registration not completed";

/// Reads Graph exports file by file; audit entries wait in memory (only
/// those of password reset and registration) until [`GraphImport::finish`]
/// groups them into activities.
pub struct GraphImport {
    flows: HashMap<(Flow, String), Vec<AuditEntry>>,
    /// When this import began: the date of verdicts an export does not date.
    read_at: NaiveDateTime,
    /// Audit entries read so far, to keep their order where times tie.
    entries_read: u64,
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
        }
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
        let mut flows: Vec<(Flow, String, Vec<AuditEntry>)> = self
            .flows
            .into_iter()
            .map(|((flow, correlation), mut entries)| {
                entries.sort_by(|a, b| a.time.cmp(&b.time).then(a.order.cmp(&b.order)));
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

    fn buffer_audit(&mut self, rec: &Rec<'_>) -> Result<(), ImportError> {
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
            user,
        });
        Ok(())
    }
}

/// The resources this import reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Resource {
    UserRegistrationDetails,
    CredentialUserRegistrationDetails,
    UserCredentialUsageDetails,
    UserEventsSummary,
    DirectoryAudits,
}

impl Resource {
    fn name(self) -> &'static str {
        match self {
            Resource::UserRegistrationDetails => "userRegistrationDetails",
            Resource::CredentialUserRegistrationDetails => "credentialUserRegistrationDetails",
            Resource::UserCredentialUsageDetails => "userCredentialUsageDetails",
            Resource::UserEventsSummary => "userEventsSummary",
            Resource::DirectoryAudits => "directoryAudits",
        }
    }
}

/// The names `@odata.context` (its last path segment, or the type inside
/// `Collection(…)`) and `@odata.type` give each resource, compared ignoring
/// case. The beta usage report names its collection
/// `getUserCredentialUsageDetails`.
const RESOURCE_NAMES: &[(&str, Resource)] = &[
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
];

const READABLE: &str = "userRegistrationDetails, credentialUserRegistrationDetails, \
     userCredentialUsageDetails, userEventsSummary, directoryAudits";

fn resource_named(name: &str) -> Option<Resource> {
    RESOURCE_NAMES
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, r)| *r)
}

/// The resource an `@odata.context` URL names; `Err` holds the name found.
fn resource_from_context(context: &str) -> Result<Resource, String> {
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
enum Guess {
    One(Resource),
    /// userCredentialUsageDetails and userEventsSummary share their fields.
    UsageOrEvents,
    Unknown,
}

fn guess_from_fields(obj: &Map<String, Value>) -> Guess {
    let has = |k: &str| obj.contains_key(k);
    if has("methodsRegistered") {
        Guess::One(Resource::UserRegistrationDetails)
    } else if has("authMethods") {
        Guess::One(Resource::CredentialUserRegistrationDetails)
    } else if has("correlationId") && has("activityDisplayName") {
        Guess::One(Resource::DirectoryAudits)
    } else if has("authMethod") && has("feature") {
        Guess::UsageOrEvents
    } else {
        Guess::Unknown
    }
}

/// One file being read.
struct FileState<'s, 'k> {
    import: &'s mut GraphImport,
    file: String,
    sink: &'s mut Sink<'k>,
    resource: Option<Resource>,
    /// Why the deserializer was stopped from inside (a bad record or a
    /// failing sink), to return in place of serde's error.
    stop: Option<Stop>,
    /// Top-level JSON values read so far.
    values: u64,
    /// Line on which the current top-level value begins.
    start_line: u64,
    after_page: bool,
}

impl FileState<'_, '_> {
    fn location(&self, position: Position) -> Location {
        Location {
            file: self.file.clone(),
            position,
        }
    }

    fn error(&self, position: Position, field: Option<&str>, reason: &str) -> ImportError {
        ImportError::new(self.location(position), field, reason)
    }

    /// Stops the deserializer: serde only carries its own errors.
    fn halt<E: de::Error>(&mut self, stop: Stop) -> E {
        self.stop = Some(stop);
        E::custom("import stopped")
    }

    /// A page begins: its context (read before `value`, where Graph writes
    /// it) names the resource of the whole file.
    fn begin_page(&mut self, context: Option<&Value>) -> Result<(), ImportError> {
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

    fn context_resource(
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
    fn resolve(
        &mut self,
        obj: &Map<String, Value>,
        position: Position,
    ) -> Result<Resource, ImportError> {
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
    fn record(&mut self, value: Value, position: Position) -> Result<(), Stop> {
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
        let rec = Rec {
            obj: &obj,
            at: &at,
            path: String::new(),
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
        }
        Ok(())
    }

    fn emit(&mut self, at: &Location, record: Record) -> Result<(), Stop> {
        (self.sink)(Located {
            at: at.clone(),
            record,
        })
    }
}

/// What a top-level JSON value turned out to be.
enum Top {
    /// A page (or a bare array), its records already handed on.
    Page,
    /// One record of a JSON-lines file.
    Record(Map<String, Value>),
}

struct TopSeed<'a, 's, 'k> {
    state: &'a mut FileState<'s, 'k>,
}

impl<'de> DeserializeSeed<'de> for TopSeed<'_, '_, '_> {
    type Value = Top;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Top, D::Error> {
        d.deserialize_any(TopVisitor { state: self.state })
    }
}

struct TopVisitor<'a, 's, 'k> {
    state: &'a mut FileState<'s, 'k>,
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
                map.next_value_seed(RecordsSeed {
                    state: &mut *self.state,
                })?;
            } else {
                let value = map.next_value::<Value>()?;
                fields.insert(key, value);
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

struct RecordsSeed<'a, 's, 'k> {
    state: &'a mut FileState<'s, 'k>,
}

impl<'de> DeserializeSeed<'de> for RecordsSeed<'_, '_, '_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(RecordsVisitor { state: self.state })
    }
}

struct RecordsVisitor<'a, 's, 'k> {
    state: &'a mut FileState<'s, 'k>,
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
struct Counted<R> {
    inner: R,
    newlines: u64,
}

impl<R: BufRead> Counted<R> {
    fn skip_byte_order_mark(&mut self) -> io::Result<()> {
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
    fn skip_whitespace(&mut self) -> io::Result<bool> {
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
fn json_error(file: &str, start_line: u64, err: &serde_json::Error) -> ImportError {
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
fn describe(value: &Value) -> String {
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

/// One record's fields, read with errors that name the field.
struct Rec<'v> {
    obj: &'v Map<String, Value>,
    at: &'v Location,
    /// Where this object sits in the record ("initiatedBy.user"), for
    /// field names in errors.
    path: String,
}

impl<'v> Rec<'v> {
    fn field(&self, name: &str) -> String {
        if self.path.is_empty() {
            name.to_string()
        } else {
            format!("{}.{name}", self.path)
        }
    }

    fn error(&self, name: &str, reason: impl Into<String>) -> ImportError {
        ImportError::new(self.at.clone(), Some(&self.field(name)), reason)
    }

    /// A field's value; `null` is absent.
    fn get(&self, name: &str) -> Option<&'v Value> {
        self.obj.get(name).filter(|v| !v.is_null())
    }

    fn text(&self, name: &str) -> Result<Option<&'v str>, ImportError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(self.error(name, format!("expected text, got {}", describe(other)))),
        }
    }

    fn required_text(&self, name: &str) -> Result<&'v str, ImportError> {
        self.text(name)?
            .ok_or_else(|| self.error(name, "missing required field"))
    }

    fn bool(&self, name: &str) -> Result<Option<bool>, ImportError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(other) => Err(self.error(
                name,
                format!("expected true or false, got {}", describe(other)),
            )),
        }
    }

    fn required_bool(&self, name: &str) -> Result<bool, ImportError> {
        self.bool(name)?
            .ok_or_else(|| self.error(name, "missing required field"))
    }

    fn time(&self, name: &str) -> Result<Option<NaiveDateTime>, ImportError> {
        let Some(text) = self.text(name)? else {
            return Ok(None);
        };
        chrono::DateTime::parse_from_rfc3339(text)
            .map(|t| Some(super::records::to_micros(t.naive_utc())))
            .map_err(|_| {
                self.error(
                    name,
                    format!("expected a date and time such as 2024-05-01T08:30:00Z, got {text:?}"),
                )
            })
    }

    fn required_time(&self, name: &str) -> Result<NaiveDateTime, ImportError> {
        self.time(name)?
            .ok_or_else(|| self.error(name, "missing required field"))
    }

    fn list(&self, name: &str) -> Result<Option<&'v Vec<Value>>, ImportError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Array(list)) => Ok(Some(list)),
            Some(other) => {
                Err(self.error(name, format!("expected a list, got {}", describe(other))))
            }
        }
    }

    fn object(&self, name: &str) -> Result<Option<Rec<'v>>, ImportError> {
        match self.get(name) {
            None => Ok(None),
            Some(value) => self.nested(value, self.field(name)).map(Some),
        }
    }

    fn nested(&self, value: &'v Value, path: String) -> Result<Rec<'v>, ImportError> {
        match value {
            Value::Object(obj) => Ok(Rec {
                obj,
                at: self.at,
                path,
            }),
            other => Err(ImportError::new(
                self.at.clone(),
                Some(&path),
                format!("expected an object, got {}", describe(other)),
            )),
        }
    }

    fn feature(&self, name: &str) -> Result<Feature, ImportError> {
        let text = self.required_text(name)?;
        Feature::from_key(text).ok_or_else(|| {
            self.error(
                name,
                format!("unknown feature {text:?}; known: registration, reset"),
            )
        })
    }

    /// A registered-methods list: the distinct catalogue methods, in
    /// catalogue order.
    fn methods(&self, name: &str) -> Result<Option<MethodSet>, ImportError> {
        let Some(list) = self.list(name)? else {
            return Ok(None);
        };
        let mut set = MethodSet::EMPTY;
        for (i, value) in list.iter().enumerate() {
            let field = format!("{name}[{i}]");
            let graph_name = match value {
                Value::String(s) if s.is_empty() => continue,
                Value::String(s) => s,
                other => {
                    return Err(
                        self.error(&field, format!("expected text, got {}", describe(other)))
                    )
                }
            };
            for method in graph_methods(graph_name).map_err(|why| self.error(&field, why))? {
                set.insert(*method);
            }
        }
        Ok(Some(set))
    }

    /// The one method a usage event names.
    fn usage_method(&self, name: &str) -> Result<Method, ImportError> {
        let graph_name = self.required_text(name)?;
        match graph_methods(graph_name).map_err(|why| self.error(name, why))? {
            [method] => Ok(*method),
            _ => Err(self.error(
                name,
                format!(
                    "{graph_name:?} names a phone, not whether a text or a call was used; \
                     an event needs one method (mobileSMS, mobileCall, …)"
                ),
            )),
        }
    }
}

/// The catalogue methods of a Graph method name, or why there are none.
fn graph_methods(name: &str) -> Result<&'static [Method], String> {
    if let Some((_, methods)) = GRAPH_METHODS.iter().find(|(n, _)| *n == name) {
        return Ok(methods);
    }
    let mut known: Vec<&str> = GRAPH_METHODS.iter().map(|(n, _)| *n).collect();
    known.sort_unstable_by_key(|n| n.to_lowercase());
    let hint = nearest(name, &known)
        .map(|n| format!(" (did you mean {n:?}?)"))
        .unwrap_or_default();
    Err(format!(
        "unknown authentication method {name:?}{hint}; known: {}",
        known.join(", ")
    ))
}

/// The known name closest to `name` (ignoring case), when it is close.
fn nearest<'a>(name: &str, known: &[&'a str]) -> Option<&'a str> {
    let wanted: Vec<char> = name.to_lowercase().chars().collect();
    known
        .iter()
        .map(|k| {
            (
                edit_distance(&wanted, &k.to_lowercase().chars().collect::<Vec<_>>()),
                *k,
            )
        })
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

fn edit_distance(a: &[char], b: &[char]) -> usize {
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

fn user_registration(
    rec: &Rec<'_>,
    read_at: NaiveDateTime,
) -> Result<(UserRecord, Option<MethodsRecord>), ImportError> {
    let id = rec.required_text("id")?;
    let is_guest = match rec.text("userType")? {
        None => None,
        Some("member") => Some(false),
        Some("guest") => Some(true),
        Some(other) => {
            return Err(rec.error(
                "userType",
                format!("unknown user type {other:?}; known: member, guest"),
            ))
        }
    };
    let verdicts = Verdicts {
        registered: rec.bool("isSsprRegistered")?,
        enabled: rec.bool("isSsprEnabled")?,
        capable: rec.bool("isSsprCapable")?,
        mfa_capable: rec.bool("isMfaCapable")?,
        passwordless_capable: rec.bool("isPasswordlessCapable")?,
    };
    let stated_at = rec.time("lastUpdatedDateTime")?.unwrap_or(read_at);
    let user = UserRecord {
        id: id.to_string(),
        display_name: rec.text("userDisplayName")?.unwrap_or("").to_string(),
        user_principal_name: rec.required_text("userPrincipalName")?.to_string(),
        is_guest,
        is_admin: rec.bool("isAdmin")?,
        directory_role: None,
        account_enabled: None,
        verdicts: (verdicts != Verdicts::default()).then_some((verdicts, stated_at)),
    };
    let methods = rec
        .methods("methodsRegistered")?
        .map(|set| complete_methods(id, set));
    Ok((user, methods))
}

fn credential_registration(
    rec: &Rec<'_>,
    read_at: NaiveDateTime,
) -> Result<(UserRecord, Option<MethodsRecord>), ImportError> {
    let id = rec.required_text("id")?;
    let verdicts = Verdicts {
        registered: rec.bool("isRegistered")?,
        enabled: rec.bool("isEnabled")?,
        capable: rec.bool("isCapable")?,
        mfa_capable: None,
        passwordless_capable: None,
    };
    rec.bool("isMfaRegistered")?;
    let user = UserRecord {
        id: id.to_string(),
        display_name: rec.text("userDisplayName")?.unwrap_or("").to_string(),
        user_principal_name: rec.required_text("userPrincipalName")?.to_string(),
        is_guest: None,
        is_admin: None,
        directory_role: None,
        account_enabled: None,
        verdicts: (verdicts != Verdicts::default()).then_some((verdicts, read_at)),
    };
    let methods = rec
        .methods("authMethods")?
        .map(|set| complete_methods(id, set));
    Ok((user, methods))
}

fn complete_methods(user_id: &str, set: MethodSet) -> MethodsRecord {
    MethodsRecord {
        user_id: user_id.to_string(),
        methods: set.iter().map(|m| (m, None)).collect(),
        complete: true,
    }
}

/// The fields both usage reports share.
struct Usage<'v> {
    id: &'v str,
    feature: Feature,
    method: Method,
    success: bool,
    failure_reason: Option<String>,
    occurred_at: NaiveDateTime,
}

fn usage_fields<'v>(rec: &Rec<'v>) -> Result<Usage<'v>, ImportError> {
    let id = rec.required_text("id")?;
    rec.required_text("userPrincipalName")?;
    rec.text("userDisplayName")?;
    let feature = rec.feature("feature")?;
    let success = rec.required_bool("isSuccess")?;
    let method = rec.usage_method("authMethod")?;
    let failure_reason = rec.text("failureReason")?;
    let occurred_at = rec.required_time("eventDateTime")?;
    Ok(Usage {
        id,
        feature,
        method,
        success,
        failure_reason: failure_reason.filter(|_| !success).map(str::to_string),
        occurred_at,
    })
}

fn usage_event(rec: &Rec<'_>) -> Result<Record, ImportError> {
    let usage = usage_fields(rec)?;
    Ok(Record::Event {
        event: MethodEvent {
            id: usage.id.to_string(),
            activity_id: None,
            user_id: rec.required_text("userPrincipalName")?.to_string(),
            feature: usage.feature.code(),
            method: usage.method.code(),
            success: usage.success,
            failure_reason: usage.failure_reason,
            occurred_at: usage.occurred_at,
        },
        identity: Identity::Given,
        user_key: UserKey::PrincipalName,
    })
}

fn summary_event(rec: &Rec<'_>) -> Result<Record, ImportError> {
    let usage = usage_fields(rec)?;
    let id = events_summary_id(
        usage.id,
        usage.feature,
        usage.method,
        usage.occurred_at,
        usage.success,
        usage.failure_reason.as_deref(),
    );
    Ok(Record::Event {
        event: MethodEvent {
            id,
            activity_id: None,
            user_id: usage.id.to_string(),
            feature: usage.feature.code(),
            method: usage.method.code(),
            success: usage.success,
            failure_reason: usage.failure_reason,
            occurred_at: usage.occurred_at,
        },
        identity: Identity::Derived,
        user_key: UserKey::Id,
    })
}

/// The id of a userEventsSummary event, whose Graph `id` is its user's:
/// "ues-" and the first 32 hex digits of the SHA-256 of user id, feature
/// key, method key (the portal's: `app_notification`), time in UTC
/// (`2025-05-15T16:19:18Z`, with a fraction only when there is one:
/// chrono's `%Y-%m-%dT%H:%M:%S%.fZ`), "success" or "failure", and the
/// failure reason kept (empty for a success), joined by U+001F. The same
/// event exported twice gets the same id.
pub fn events_summary_id(
    user_id: &str,
    feature: Feature,
    method: Method,
    occurred_at: NaiveDateTime,
    success: bool,
    failure_reason: Option<&str>,
) -> String {
    let time = occurred_at.format("%Y-%m-%dT%H:%M:%S%.fZ").to_string();
    let canonical = [
        user_id,
        feature.key(),
        method.key(),
        time.as_str(),
        if success { "success" } else { "failure" },
        failure_reason.unwrap_or(""),
    ]
    .join("\u{1f}");
    let digest = Sha256::digest(canonical.as_bytes());
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("ues-{hex}")
}

/// Audit entries group into one of two kinds of activity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Flow {
    Reset,
    Registration,
}

/// What one kept audit entry says.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    /// Progress before any method (user ID entered, options shown).
    UserId,
    Started(Method),
    Completed(Method),
    NewPasswordRejected,
    Outcome(Details),
    /// Blocked, with the detail when the entry gives it.
    Blocked(Option<Details>),
    RegistrationStarted(MethodSet),
    Registered(MethodSet),
    RegistrationFailed(MethodSet),
    RegisteredAll {
        success: bool,
    },
    RegistrationOther,
}

impl Flow {
    fn activity_id(self, correlation: &str) -> String {
        match self {
            Flow::Reset => format!("aud-{correlation}"),
            Flow::Registration => format!("aud-reg-{correlation}"),
        }
    }
}

impl Step {
    fn flow(&self) -> Flow {
        match self {
            Step::UserId
            | Step::Started(_)
            | Step::Completed(_)
            | Step::NewPasswordRejected
            | Step::Outcome(_)
            | Step::Blocked(_) => Flow::Reset,
            _ => Flow::Registration,
        }
    }
}

/// A kept audit entry, waiting for the rest of its flow.
struct AuditEntry {
    id: String,
    at: Location,
    time: NaiveDateTime,
    order: u64,
    step: Step,
    reason: String,
    user: AuditUser,
}

#[derive(Debug, Clone, Default)]
struct AuditUser {
    id: Option<String>,
    principal_name: Option<String>,
    display_name: Option<String>,
}

impl AuditUser {
    /// Takes what is still missing from `other`.
    fn fill(&mut self, other: &AuditUser) {
        if self.id.is_none() {
            self.id.clone_from(&other.id);
        }
        if self.principal_name.is_none() {
            self.principal_name.clone_from(&other.principal_name);
        }
        if self.display_name.is_none() {
            self.display_name.clone_from(&other.display_name);
        }
    }
}

fn user_fields(rec: &Rec<'_>) -> Result<AuditUser, ImportError> {
    let id = rec
        .text("id")?
        .filter(|id| !id.chars().all(|c| c == '0' || c == '-'));
    Ok(AuditUser {
        id: id.map(str::to_string),
        principal_name: rec.text("userPrincipalName")?.map(str::to_string),
        display_name: rec.text("displayName")?.map(str::to_string),
    })
}

/// The entry's user: the target of type User, completed from the initiator.
fn audit_user(rec: &Rec<'_>) -> Result<AuditUser, ImportError> {
    let mut user = AuditUser::default();
    if let Some(targets) = rec.list("targetResources")? {
        for (i, value) in targets.iter().enumerate() {
            let target = rec.nested(value, rec.field(&format!("targetResources[{i}]")))?;
            let kind = match target.text("type")? {
                Some(kind) => Some(kind),
                None => target.text("Type")?,
            };
            if kind.is_some_and(|k| k.eq_ignore_ascii_case("user")) {
                user = user_fields(&target)?;
                break;
            }
        }
    }
    if let Some(initiator) = rec.object("initiatedBy")? {
        if let Some(by) = initiator.object("user")? {
            user.fill(&user_fields(&by)?);
        }
    }
    Ok(user)
}

/// Text compared as audit logs vary it: case, surrounding space, a final
/// full stop.
fn same_text(a: &str, b: &str) -> bool {
    let norm = |s: &str| s.trim().trim_end_matches('.').trim_end().to_lowercase();
    norm(a) == norm(b)
}

/// The seed's detail a text names: the whole text, or its first sentence
/// (audit logs leave out the advice the seed adds).
fn details_from_text(text: &str) -> Option<Details> {
    Details::from_text(text).or_else(|| {
        let wanted = text.trim().trim_end_matches('.').to_lowercase();
        if wanted.is_empty() {
            return None;
        }
        Details::ALL.iter().copied().find(|d| {
            d.text()
                .to_lowercase()
                .strip_prefix(&wanted)
                .is_some_and(|rest| rest.starts_with(". "))
        })
    })
}

/// "User started the mobile SMS verification option" → (started, SMS).
fn verification_step(reason: &str) -> Option<Step> {
    let lower = reason.trim().trim_end_matches('.').to_lowercase();
    let (started, rest) = if let Some(rest) = lower.strip_prefix("user started the ") {
        (true, rest)
    } else if let Some(rest) = lower.strip_prefix("user completed the ") {
        (false, rest)
    } else {
        return None;
    };
    let option = rest
        .strip_suffix(" verification option")
        .or_else(|| rest.strip_suffix(" option"))?;
    let (_, method) = VERIFICATION_OPTIONS
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(option))?;
    Some(if started {
        Step::Started(*method)
    } else {
        Step::Completed(*method)
    })
}

/// The methods of security info named after `prefix` in `reason`:
/// `None` when the text does not begin with the prefix.
fn security_info(reason: &str, prefix: &str) -> Option<Result<MethodSet, String>> {
    let head = reason.get(..prefix.len())?;
    if !head.eq_ignore_ascii_case(prefix) {
        return None;
    }
    let info = reason[prefix.len()..].trim().trim_end_matches('.');
    Some(
        SECURITY_INFO
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(info))
            .map(|(_, methods)| methods.iter().copied().collect())
            .ok_or_else(|| {
                let known: Vec<&str> = SECURITY_INFO.iter().map(|(n, _)| *n).collect();
                format!(
                    "unknown security info {info:?} in {reason:?}; known: {}",
                    known.join(", ")
                )
            }),
    )
}

/// What a kept entry's activity, result and reason amount to.
fn audit_step(activity: AuditActivity, success: bool, reason: &str) -> Result<Step, String> {
    let unknown_step = || {
        format!(
            "unknown step of a password reset {reason:?}; known: \"User submitted their user ID\", \
             \"User was presented with verification options\", \"User started/completed the \
             <option> verification option\" (options: email, mobile SMS, mobile voice call, \
             office voice call, security questions, mobile app notification, mobile app code) \
             and the texts of the password reset details table"
        )
    };
    match activity {
        AuditActivity::ResetProgress => {
            if USER_ID_STEPS.iter().any(|s| same_text(s, reason)) {
                Ok(Step::UserId)
            } else if let Some(step) = verification_step(reason) {
                Ok(step)
            } else if let Some(details) = details_from_text(reason) {
                Ok(Step::Outcome(details))
            } else {
                Err(unknown_step())
            }
        }
        AuditActivity::ResetDone if success => Ok(Step::Outcome(Details::Succeeded)),
        AuditActivity::ResetDone => {
            if NEW_PASSWORD_REJECTED.iter().any(|s| same_text(s, reason)) {
                Ok(Step::NewPasswordRejected)
            } else if let Some(details) = details_from_text(reason) {
                Ok(Step::Outcome(details))
            } else {
                Err(format!(
                    "unknown reason why a password reset failed {reason:?}; known: {} and the \
                     texts of the password reset details table",
                    NEW_PASSWORD_REJECTED.join(", ")
                ))
            }
        }
        AuditActivity::Blocked if reason.is_empty() => Ok(Step::Blocked(None)),
        AuditActivity::Blocked => match details_from_text(reason) {
            Some(details) if details.result() == ActivityResult::Blocked => {
                Ok(Step::Blocked(Some(details)))
            }
            _ => Err(format!(
                "unknown reason for a block {reason:?}; known: the blocked texts of the \
                 password reset details table"
            )),
        },
        AuditActivity::RegistrationStarted => {
            if reason.is_empty() {
                return Ok(Step::RegistrationStarted(MethodSet::EMPTY));
            }
            match security_info(reason, REGISTRATION_STARTED_PREFIX) {
                Some(methods) => methods.map(Step::RegistrationStarted),
                None => Err(format!(
                    "unknown registration step {reason:?}; known: \
                     \"{REGISTRATION_STARTED_PREFIX}<security info>\""
                )),
            }
        }
        AuditActivity::Registered | AuditActivity::RegisteredAll
            if same_text(reason, REGISTERED_ALL_REASON) =>
        {
            Ok(Step::RegisteredAll { success })
        }
        AuditActivity::RegisteredAll => Ok(Step::RegisteredAll { success }),
        AuditActivity::Registered if reason.is_empty() => Ok(if success {
            Step::Registered(MethodSet::EMPTY)
        } else {
            Step::RegistrationFailed(MethodSet::EMPTY)
        }),
        AuditActivity::Registered => {
            if let Some(methods) = security_info(reason, REGISTER_FAILED_PREFIX) {
                return methods.map(Step::RegistrationFailed);
            }
            match security_info(reason, REGISTERED_PREFIX) {
                Some(methods) if success => methods.map(Step::Registered),
                Some(methods) => methods.map(Step::RegistrationFailed),
                // A failure explains itself; which info it was is not said.
                None if !success => Ok(Step::RegistrationFailed(MethodSet::EMPTY)),
                None => Err(format!(
                    "unknown registration {reason:?}; known: \"{REGISTERED_PREFIX}<security info>\""
                )),
            }
        }
        AuditActivity::RegistrationOther => Ok(Step::RegistrationOther),
    }
}

/// One method's verification (or registration) inside an activity.
struct PendingEvent {
    method: Method,
    time: NaiveDateTime,
    /// `None` while started and not yet settled.
    success: Option<bool>,
    failure_reason: Option<String>,
}

/// Method events in the order first tried; a method started and not yet
/// settled is open until completed.
#[derive(Default)]
struct EventLog {
    events: Vec<PendingEvent>,
}

impl EventLog {
    fn open(&self, method: Method) -> Option<usize> {
        self.events
            .iter()
            .rposition(|e| e.method == method && e.success.is_none())
    }

    fn start(&mut self, method: Method, time: NaiveDateTime) {
        if self.open(method).is_none() {
            self.events.push(PendingEvent {
                method,
                time,
                success: None,
                failure_reason: None,
            });
        }
    }

    fn settle(
        &mut self,
        method: Method,
        time: NaiveDateTime,
        success: bool,
        failure_reason: Option<&str>,
    ) {
        let failure_reason = failure_reason.map(str::to_string);
        match self.open(method) {
            Some(i) => {
                let event = &mut self.events[i];
                event.time = time;
                event.success = Some(success);
                event.failure_reason = failure_reason;
            }
            None => self.events.push(PendingEvent {
                method,
                time,
                success: Some(success),
                failure_reason,
            }),
        }
    }

    fn into_events(
        self,
        activity: &Activity,
        unsettled_reason: &str,
    ) -> (Vec<MethodEvent>, MethodSet, MethodSet) {
        let mut all = MethodSet::EMPTY;
        let mut succeeded = MethodSet::EMPTY;
        let events = self
            .events
            .into_iter()
            .enumerate()
            .map(|(i, e)| {
                let success = e.success.unwrap_or(false);
                all.insert(e.method);
                if success {
                    succeeded.insert(e.method);
                }
                MethodEvent {
                    id: format!("{}-{}", activity.id, i + 1),
                    activity_id: Some(activity.id.clone()),
                    user_id: activity.user_id.clone().unwrap_or_default(),
                    feature: activity.feature,
                    method: e.method.code(),
                    success,
                    failure_reason: match (success, e.failure_reason) {
                        (true, _) => None,
                        (false, Some(reason)) => Some(reason),
                        (false, None) => Some(unsettled_reason.to_string()),
                    },
                    occurred_at: e.time,
                }
            })
            .collect();
        (events, all, succeeded)
    }
}

fn flow_user(entries: &[AuditEntry]) -> AuditUser {
    let mut user = AuditUser::default();
    for entry in entries {
        user.fill(&entry.user);
    }
    user
}

fn activity_base(id: String, entries: &[AuditEntry], feature: Feature) -> Activity {
    let user = flow_user(entries);
    Activity {
        id,
        user_id: user.id,
        user_principal_name: user.principal_name.unwrap_or_default(),
        user_display_name: user.display_name.unwrap_or_default(),
        user_role: String::new(),
        feature: feature.code(),
        methods_mask: 0,
        result: ActivityResult::Succeeded.code(),
        details: None,
        occurred_at: entries.first().map_or(NaiveDateTime::MIN, |e| e.time),
    }
}

fn first_location(entries: &[AuditEntry]) -> Location {
    entries.first().map_or(
        Location {
            file: String::new(),
            position: Position::File,
        },
        |e| e.at.clone(),
    )
}

/// The detail of a flow that ended with no outcome, from its last step.
fn abandoned_detail(entries: &[AuditEntry]) -> Option<Details> {
    let last = entries.iter().rev().find_map(|e| match e.step {
        Step::UserId | Step::NewPasswordRejected | Step::Started(_) | Step::Completed(_) => {
            Some(&e.step)
        }
        _ => None,
    });
    let after = |method: Method, completed: bool| {
        ABANDONED_AFTER
            .iter()
            .find(|(m, _, _)| *m == method)
            .map(|(_, started, done)| if completed { *done } else { *started })
    };
    match last {
        None | Some(Step::UserId) => Some(Details::AbandonedAfterUserId),
        Some(Step::NewPasswordRejected) => Some(Details::AbandonedWhileNewPassword),
        Some(Step::Started(m)) => after(*m, false),
        Some(Step::Completed(m)) => after(*m, true),
        Some(_) => None,
    }
}

/// The detail of a block whose entry gives none.
fn blocked_detail(entries: &[AuditEntry], block: &AuditEntry) -> Result<Details, ImportError> {
    let stated = entries.iter().rev().find_map(|e| match e.step {
        Step::Outcome(d) | Step::Blocked(Some(d)) if d.result() == ActivityResult::Blocked => {
            Some(d)
        }
        _ => None,
    });
    if let Some(details) = stated {
        return Ok(details);
    }
    let tried = entries.iter().rev().find_map(|e| match e.step {
        Step::Started(m) | Step::Completed(m) => Some(m),
        _ => None,
    });
    tried
        .and_then(|m| BLOCKED_AT.iter().find(|(b, _)| *b == m).map(|(_, d)| *d))
        .ok_or_else(|| {
            ImportError::new(
                block.at.clone(),
                Some("resultReason"),
                "cannot tell why the user was blocked: the entry gives no reason and no SMS, \
                 call or security questions step of the flow precedes it",
            )
        })
}

fn reset_activity(id: String, entries: &[AuditEntry]) -> Result<Located, Stop> {
    let mut activity = activity_base(id, entries, Feature::Reset);
    let ending = entries
        .iter()
        .rev()
        .find(|e| matches!(e.step, Step::Outcome(_) | Step::Blocked(_)));
    let details = match ending.map(|e| (e, &e.step)) {
        Some((_, Step::Outcome(d))) => Some(*d),
        Some((_, Step::Blocked(Some(d)))) => Some(*d),
        Some((block, _)) => Some(blocked_detail(entries, block)?),
        None => abandoned_detail(entries),
    };
    let result = details.map_or(ActivityResult::Abandoned, Details::result);
    let mut log = EventLog::default();
    for entry in entries {
        match entry.step {
            Step::Started(m) => log.start(m, entry.time),
            Step::Completed(m) => log.settle(m, entry.time, true, None),
            _ => {}
        }
    }
    let unsettled = match details {
        Some(d) if result != ActivityResult::Succeeded => d.text(),
        _ => NOT_VERIFIED,
    };
    activity.result = result.code();
    activity.details = details.map(Details::code);
    let (events, methods, _) = log.into_events(&activity, unsettled);
    activity.methods_mask = methods.mask();
    Ok(Located {
        at: first_location(entries),
        record: Record::Activity(ActivityRecord { activity, events }, Identity::Given),
    })
}

fn registration_activity(id: String, entries: &[AuditEntry]) -> Option<Located> {
    if entries
        .iter()
        .all(|e| matches!(e.step, Step::RegistrationOther))
    {
        return None;
    }
    let mut activity = activity_base(id, entries, Feature::Registration);
    let mut log = EventLog::default();
    let mut registered = false;
    for entry in entries {
        match &entry.step {
            Step::RegistrationStarted(methods) => {
                for m in methods.iter() {
                    log.start(m, entry.time);
                }
            }
            Step::Registered(methods) => {
                registered = true;
                for m in methods.iter() {
                    log.settle(m, entry.time, true, None);
                }
            }
            Step::RegistrationFailed(methods) => {
                for m in methods.iter() {
                    log.settle(m, entry.time, false, Some(&entry.reason));
                }
            }
            Step::RegisteredAll { success } => registered |= *success,
            _ => {}
        }
    }
    activity.result = if registered {
        ActivityResult::Succeeded
    } else {
        ActivityResult::Failed
    }
    .code();
    let (events, tried, succeeded) = log.into_events(&activity, NOT_REGISTERED);
    activity.methods_mask = if succeeded.is_empty() {
        tried
    } else {
        succeeded
    }
    .mask();
    Some(Located {
        at: first_location(entries),
        record: Record::Activity(ActivityRecord { activity, events }, Identity::Given),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;
    use std::rc::Rc;

    const ADELE: &str = "3b09d766-9c46-4e3b-8714-bea012dfd494";
    const ALEX: &str = "2b64e613-fcd9-46b5-b4ea-8a96f1d38c6b";
    const MEGAN: &str = "d9fafcd9-2aea-4b67-82f5-ba33488140ed";
    const BIANCA: &str = "0c359533-f728-40a7-9415-c5a84c61819e";
    const LEE: &str = "0e0dcbc8-29fa-4262-891f-c8596aa5b554";
    const ISAIAH: &str = "adcb01c9-e906-4494-9732-c71e62081f66";
    const JOHANNA: &str = "311e41a2-9921-4662-b0c2-b4ed38422645";
    const LYNNE: &str = "e1c85602-a07a-4013-aad2-b8741f0d61d1";
    const NESTOR: &str = "f0c66c7e-4694-4e88-b8cf-1a4f55c30963";
    const PRADEEP: &str = "969c8dc4-1abc-4889-9eef-4c140a5c16be";
    const HENRIETTA: &str = "d25fe64d-7aa6-41cb-9607-984bf28a3a0f";

    fn t(text: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f").unwrap()
    }

    fn fixture(name: &str) -> String {
        let path = format!("{}/tests/fixtures/graph/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(path).unwrap()
    }

    /// An import dated at a fixed moment, so undated verdicts can be asserted.
    fn import() -> GraphImport {
        GraphImport {
            read_at: t("2025-06-01T00:00:00"),
            ..GraphImport::new()
        }
    }

    /// Reads the files in order and finishes, collecting every record.
    fn run(files: &[(&str, &str)]) -> Result<Vec<Located>, Stop> {
        let mut out = Vec::new();
        let mut sink = |l: Located| {
            out.push(l);
            Ok(())
        };
        let mut graph = import();
        for (name, text) in files {
            graph.read_file(name, text.as_bytes(), &mut sink)?;
        }
        graph.finish(&mut sink)?;
        Ok(out)
    }

    fn fixtures(names: &[&str]) -> Vec<Located> {
        let texts: Vec<(&str, String)> = names.iter().map(|n| (*n, fixture(n))).collect();
        let files: Vec<(&str, &str)> = texts.iter().map(|(n, t)| (*n, t.as_str())).collect();
        run(&files).unwrap()
    }

    fn invalid(result: Result<Vec<Located>, Stop>) -> ImportError {
        match result {
            Err(Stop::Invalid(e)) => e,
            Err(other) => panic!("expected an import error, got {other}"),
            Ok(records) => panic!("expected an import error, got {} records", records.len()),
        }
    }

    fn one(name: &str, text: &str) -> ImportError {
        invalid(run(&[(name, text)]))
    }

    fn at(file: &str, position: Position) -> Location {
        Location {
            file: file.to_string(),
            position,
        }
    }

    fn users(records: &[Located]) -> Vec<&UserRecord> {
        records
            .iter()
            .filter_map(|l| match &l.record {
                Record::User(u) => Some(u),
                _ => None,
            })
            .collect()
    }

    fn methods_of(records: &[Located], user: &str) -> Vec<Method> {
        records
            .iter()
            .find_map(|l| match &l.record {
                Record::Methods(m) if m.user_id == user => Some(m),
                _ => None,
            })
            .unwrap()
            .methods
            .iter()
            .map(|(m, at)| {
                assert_eq!(*at, None);
                *m
            })
            .collect()
    }

    fn events(records: &[Located]) -> Vec<(&MethodEvent, Identity, UserKey)> {
        records
            .iter()
            .filter_map(|l| match &l.record {
                Record::Event {
                    event,
                    identity,
                    user_key,
                } => Some((event, *identity, *user_key)),
                _ => None,
            })
            .collect()
    }

    fn activities(records: &[Located]) -> Vec<&ActivityRecord> {
        records
            .iter()
            .filter_map(|l| match &l.record {
                Record::Activity(a, Identity::Given) => Some(a),
                _ => None,
            })
            .collect()
    }

    fn verdicts(r: bool, e: bool, c: bool, m: bool, p: bool) -> Verdicts {
        Verdicts {
            registered: Some(r),
            enabled: Some(e),
            capable: Some(c),
            mfa_capable: Some(m),
            passwordless_capable: Some(p),
        }
    }

    #[test]
    fn a_registration_details_page_gives_users_with_verdicts_and_complete_methods() {
        let file = "user-registration-details.json";
        let records = fixtures(&[file]);
        assert_eq!(records.len(), 12);
        assert_eq!(
            records[0],
            Located {
                at: at(file, Position::Record(1)),
                record: Record::User(UserRecord {
                    id: ADELE.to_string(),
                    display_name: "Adele Vance".to_string(),
                    user_principal_name: "AdeleV@contoso.com".to_string(),
                    is_guest: Some(false),
                    is_admin: Some(false),
                    directory_role: None,
                    account_enabled: None,
                    verdicts: Some((
                        verdicts(true, true, true, true, false),
                        t("2025-05-19T23:10:41.619583")
                    )),
                }),
            }
        );
        assert_eq!(
            records[1],
            Located {
                at: at(file, Position::Record(1)),
                record: Record::Methods(MethodsRecord {
                    user_id: ADELE.to_string(),
                    methods: vec![
                        (Method::MobileCall, None),
                        (Method::MobileSms, None),
                        (Method::Email, None)
                    ],
                    complete: true,
                }),
            }
        );
        let users = users(&records);
        let ids: Vec<&str> = users.iter().map(|u| u.id.as_str()).collect();
        assert_eq!(ids, [ADELE, ALEX, MEGAN, BIANCA, LEE, ISAIAH]);
        let megan = users[2];
        assert_eq!(megan.is_admin, Some(true));
        assert_eq!(
            megan.verdicts.unwrap().0,
            verdicts(true, true, true, true, true)
        );
        let bianca = users[3];
        assert_eq!(bianca.is_guest, Some(true));
        assert_eq!(
            bianca.user_principal_name,
            "bianca.pisani_fabrikam.com#EXT#@contoso.onmicrosoft.com"
        );
        // No lastUpdatedDateTime: the verdicts hold as of the import.
        let lee = users[4];
        assert_eq!(
            lee.verdicts,
            Some((
                verdicts(false, false, false, false, false),
                t("2025-06-01T00:00:00")
            ))
        );
        assert_eq!(
            users[5].verdicts.unwrap().0,
            verdicts(false, true, false, true, false)
        );
        assert_eq!(
            methods_of(&records, ALEX),
            [Method::AppNotification, Method::AppCode]
        );
        assert_eq!(
            methods_of(&records, MEGAN),
            [
                Method::AppNotification,
                Method::Email,
                Method::Fido2,
                Method::WindowsHello
            ]
        );
        assert_eq!(methods_of(&records, BIANCA), [Method::Email]);
        assert_eq!(methods_of(&records, LEE), []);
        assert_eq!(
            methods_of(&records, ISAIAH),
            [Method::OfficeCall, Method::SecurityQuestions]
        );
        let positions: Vec<Position> = records.iter().map(|l| l.at.position).collect();
        assert_eq!(positions[10..], [Position::Record(6), Position::Record(6)]);
    }

    #[test]
    fn a_paged_export_reads_page_by_page() {
        let records = fixtures(&[
            "user-registration-details-page1.json",
            "user-registration-details-page2.json",
        ]);
        let placed: Vec<(&str, Position, &str)> = users(&records)
            .iter()
            .zip(records.iter().step_by(2))
            .map(|(u, l)| (l.at.file.as_str(), l.at.position, u.display_name.as_str()))
            .collect();
        assert_eq!(
            placed,
            [
                (
                    "user-registration-details-page1.json",
                    Position::Record(1),
                    "Johanna Lorenz"
                ),
                (
                    "user-registration-details-page1.json",
                    Position::Record(2),
                    "Joni Sherman"
                ),
                (
                    "user-registration-details-page2.json",
                    Position::Record(1),
                    "Lynne Robbins"
                ),
                (
                    "user-registration-details-page2.json",
                    Position::Record(2),
                    "Nestor Wilke"
                ),
            ]
        );
        // A mobile phone serves texts and calls; an alternate one calls only.
        assert_eq!(
            methods_of(&records, JOHANNA),
            [Method::MobileCall, Method::MobileSms]
        );
        assert_eq!(
            methods_of(&records, LYNNE),
            [Method::HardwareOtp, Method::TemporaryAccessPass]
        );
        assert_eq!(
            methods_of(&records, NESTOR),
            [
                Method::MobileCall,
                Method::MobileSms,
                Method::Passkey,
                Method::AuthenticatorPasswordless
            ]
        );
    }

    #[test]
    fn json_lines_are_placed_by_line_and_blank_lines_ignored() {
        let file = "user-registration-details.jsonl";
        let records = fixtures(&[file]);
        let placed: Vec<(Position, &str)> = records
            .iter()
            .map(|l| match &l.record {
                Record::User(u) => (l.at.position, u.id.as_str()),
                Record::Methods(m) => (l.at.position, m.user_id.as_str()),
                other => panic!("{other:?}"),
            })
            .collect();
        let grady = "d99ed7fb-354f-40ae-8621-6fafbeb78bff";
        assert_eq!(
            placed,
            [
                (Position::Line(1), PRADEEP),
                (Position::Line(1), PRADEEP),
                (Position::Line(3), grady),
                (Position::Line(3), grady),
            ]
        );
        assert_eq!(
            methods_of(&records, PRADEEP),
            [Method::Email, Method::SecurityQuestions]
        );
        assert_eq!(users(&records)[1].is_guest, Some(true));
    }

    #[test]
    fn credential_registration_details_give_sspr_verdicts_only() {
        let file = "credential-user-registration-details.json";
        let records = fixtures(&[file]);
        assert_eq!(records.len(), 6);
        assert_eq!(
            records[0].record,
            Record::User(UserRecord {
                id: HENRIETTA.to_string(),
                display_name: "Henrietta Mueller".to_string(),
                user_principal_name: "HenriettaM@contoso.com".to_string(),
                is_guest: None,
                is_admin: None,
                directory_role: None,
                account_enabled: None,
                verdicts: Some((
                    Verdicts {
                        registered: Some(true),
                        enabled: Some(true),
                        capable: Some(true),
                        mfa_capable: None,
                        passwordless_capable: None,
                    },
                    t("2025-06-01T00:00:00")
                )),
            })
        );
        assert_eq!(
            methods_of(&records, HENRIETTA),
            [Method::MobileCall, Method::MobileSms, Method::Email]
        );
        assert_eq!(
            methods_of(&records, "a5934928-5d81-4b29-8137-04dffe8feaa0"),
            [Method::AppNotification, Method::AppCode]
        );
        let patti = users(&records)[2];
        assert_eq!(patti.verdicts.unwrap().0.registered, Some(false));
        assert_eq!(records[5].at, at(file, Position::Record(3)));
    }

    #[test]
    fn usage_details_give_events_keyed_by_principal_name() {
        let file = "user-credential-usage-details.json";
        let records = fixtures(&[file]);
        let events = events(&records);
        assert_eq!(events.len(), 7);
        assert_eq!(
            events[0],
            (
                &MethodEvent {
                    id: "58a4408d-ceed-4231-b119-7b81aff197e6".to_string(),
                    activity_id: None,
                    user_id: "AdeleV@contoso.com".to_string(),
                    feature: Feature::Reset.code(),
                    method: Method::MobileSms.code(),
                    success: true,
                    failure_reason: None,
                    occurred_at: t("2025-05-18T09:14:02"),
                },
                Identity::Given,
                UserKey::PrincipalName
            )
        );
        let isaiah = events[3].0;
        assert_eq!(isaiah.method, Method::OfficeCall.code());
        assert!(!isaiah.success);
        assert_eq!(
            isaiah.failure_reason.as_deref(),
            Some("User contacted an admin after trying the office voice call verification option")
        );
        let johanna = events[4].0;
        assert_eq!(
            (
                johanna.feature,
                johanna.method,
                johanna.failure_reason.as_deref()
            ),
            (
                Feature::Registration.code(),
                Method::MobileSms.code(),
                Some("Invalid verification code")
            )
        );
        // A success keeps no failure reason, even when Graph writes one.
        let henrietta = events[6].0;
        assert!(henrietta.success);
        assert_eq!(henrietta.failure_reason, None);
        assert_eq!(henrietta.method, Method::MobileCall.code());
        assert_eq!(records[6].at, at(file, Position::Record(7)));
    }

    #[test]
    fn events_summary_ids_are_derived_and_repeats_share_them() {
        let records = fixtures(&["user-events-summary.json"]);
        let events = events(&records);
        assert_eq!(events.len(), 6);
        for (event, identity, key) in &events {
            assert_eq!((*identity, *key), (Identity::Derived, UserKey::Id));
            assert!(
                event.id.starts_with("ues-") && event.id.len() == 36,
                "{}",
                event.id
            );
        }
        let first = events[0].0;
        assert_eq!(
            first,
            &MethodEvent {
                id: events_summary_id(
                    MEGAN,
                    Feature::Registration,
                    Method::AppNotification,
                    t("2025-05-15T16:19:18"),
                    true,
                    None
                ),
                activity_id: None,
                user_id: MEGAN.to_string(),
                feature: Feature::Registration.code(),
                method: Method::AppNotification.code(),
                success: true,
                failure_reason: None,
                occurred_at: t("2025-05-15T16:19:18"),
            }
        );
        assert_eq!(events[1].0.method, Method::Fido2.code());
        assert_eq!(
            events[2].0.failure_reason.as_deref(),
            Some("Invalid verification code")
        );
        // Pinned: changing the derivation would duplicate events on re-import.
        let ids: Vec<&str> = events.iter().map(|(e, _, _)| e.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "ues-39b201e17cbb427d907eb3acc0d1150b",
                "ues-5f74545815b71a50addaa72343dfd4d0",
                "ues-e36c705d8e984910afcd12d132c1e86a",
                "ues-7c9d4228639866061f8c2b98154c5b48",
                "ues-b231422f658ed1a4dabb3c4542041e3e",
                "ues-7c9d4228639866061f8c2b98154c5b48",
            ]
        );
        // The same event written with a different fraction is the same event.
        assert_eq!(events[3].0.id, events[5].0.id);
        let distinct: std::collections::HashSet<&str> =
            events.iter().map(|(e, _, _)| e.id.as_str()).collect();
        assert_eq!(distinct.len(), 5);
        // The derivation is stable: other tools may reproduce it.
        assert_eq!(
            events_summary_id(
                "u",
                Feature::Reset,
                Method::Email,
                t("2025-01-02T03:04:05"),
                false,
                Some("x")
            ),
            events_summary_id(
                "u",
                Feature::Reset,
                Method::Email,
                t("2025-01-02T03:04:05.000"),
                false,
                Some("x")
            )
        );
    }

    fn event(
        id: &str,
        n: usize,
        user: &str,
        feature: Feature,
        method: Method,
        failure: Option<&str>,
        when: &str,
    ) -> MethodEvent {
        MethodEvent {
            id: format!("{id}-{n}"),
            activity_id: Some(id.to_string()),
            user_id: user.to_string(),
            feature: feature.code(),
            method: method.code(),
            success: failure.is_none(),
            failure_reason: failure.map(str::to_string),
            occurred_at: t(when),
        }
    }

    /// (user id, result, details, methods mask, events) of an activity.
    type Summary<'a> = (Option<&'a str>, i32, Option<i32>, i32, usize);

    #[test]
    fn directory_audits_group_into_one_activity_per_flow() {
        let file = "directory-audits.json";
        let records = fixtures(&[file]);
        assert_eq!(records.len(), 7);
        let ids: Vec<&str> = activities(&records)
            .iter()
            .map(|a| a.activity.id.as_str())
            .collect();
        assert_eq!(
            ids,
            [
                "aud-reg-ee64c533-0c00-4e41-8d2c-c5827a2091dd",
                "aud-7bcc39fe-8df4-468f-831c-d9a8a54ec63d",
                "aud-reg-3e726244-61d8-4cbd-a21e-6a3823fc23aa",
                "aud-39568dde-f8c4-4415-a77b-73852ef0d04a",
                "aud-65d50277-8a6b-446d-a752-aa3e78f428cb",
                "aud-3eafc59c-56a4-440a-a86f-910b75310000",
                "aud-e046df9d-932a-45d9-a3c3-75317ed0f010",
            ]
        );

        // Adele: two methods verified, then the new password: succeeded.
        let id = "aud-39568dde-f8c4-4415-a77b-73852ef0d04a";
        assert_eq!(
            records[3],
            Located {
                at: at(file, Position::Record(20)),
                record: Record::Activity(
                    ActivityRecord {
                        activity: Activity {
                            id: id.to_string(),
                            user_id: Some(ADELE.to_string()),
                            user_principal_name: "AdeleV@contoso.com".to_string(),
                            user_display_name: "Adele Vance".to_string(),
                            user_role: String::new(),
                            feature: Feature::Reset.code(),
                            methods_mask: Method::MobileSms.bit() | Method::Email.bit(),
                            result: ActivityResult::Succeeded.code(),
                            details: Some(Details::Succeeded.code()),
                            occurred_at: t("2025-05-18T09:13:31.123456"),
                        },
                        events: vec![
                            event(
                                id,
                                1,
                                ADELE,
                                Feature::Reset,
                                Method::MobileSms,
                                None,
                                "2025-05-18T09:14:02"
                            ),
                            event(
                                id,
                                2,
                                ADELE,
                                Feature::Reset,
                                Method::Email,
                                None,
                                "2025-05-18T09:14:40"
                            ),
                        ],
                    },
                    Identity::Given
                ),
            }
        );

        let all = activities(&records);
        let summary: Vec<Summary<'_>> = all
            .iter()
            .map(|a| {
                (
                    a.activity.user_id.as_deref(),
                    a.activity.result,
                    a.activity.details,
                    a.activity.methods_mask,
                    a.events.len(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                (
                    Some(LYNNE),
                    ActivityResult::Failed.code(),
                    None,
                    Method::AppCode.bit(),
                    1
                ),
                (
                    Some(BIANCA),
                    ActivityResult::Failed.code(),
                    Some(Details::FailedNotEnabled.code()),
                    0,
                    0
                ),
                (
                    Some(ALEX),
                    ActivityResult::Succeeded.code(),
                    None,
                    Method::AppNotification.bit() | Method::AppCode.bit(),
                    2
                ),
                (
                    Some(ADELE),
                    ActivityResult::Succeeded.code(),
                    Some(Details::Succeeded.code()),
                    Method::MobileSms.bit() | Method::Email.bit(),
                    2
                ),
                (
                    Some(ISAIAH),
                    ActivityResult::Blocked.code(),
                    Some(Details::BlockedSecurityQuestions.code()),
                    Method::SecurityQuestions.bit(),
                    1
                ),
                (
                    Some(JOHANNA),
                    ActivityResult::Abandoned.code(),
                    Some(Details::AbandonedAfterMobileCallStarted.code()),
                    Method::MobileCall.bit(),
                    1
                ),
                (
                    None,
                    ActivityResult::Abandoned.code(),
                    Some(Details::AbandonedAfterUserId.code()),
                    0,
                    0
                ),
            ]
        );

        // Isaiah's security questions failed with the block.
        let blocked = "aud-65d50277-8a6b-446d-a752-aa3e78f428cb";
        assert_eq!(
            all[4].events,
            [event(
                blocked,
                1,
                ISAIAH,
                Feature::Reset,
                Method::SecurityQuestions,
                Some(Details::BlockedSecurityQuestions.text()),
                "2025-05-18T11:02:15"
            )]
        );
        assert_eq!(all[4].activity.occurred_at, t("2025-05-18T11:02:00"));
        // Johanna left during the call.
        assert_eq!(
            all[5].events[0].failure_reason.as_deref(),
            Some("User abandoned after starting the mobile voice call verification option")
        );
        // An unknown user ID is still an activity, named as typed.
        let unknown = &all[6].activity;
        assert_eq!(unknown.user_principal_name, "adele.vance@contoso.com");
        assert_eq!(unknown.user_display_name, "");
        // Alex's registration: one text for two methods.
        let reg = "aud-reg-3e726244-61d8-4cbd-a21e-6a3823fc23aa";
        assert_eq!(
            all[2].events,
            [
                event(
                    reg,
                    1,
                    ALEX,
                    Feature::Registration,
                    Method::AppNotification,
                    None,
                    "2025-05-17T16:02:11"
                ),
                event(
                    reg,
                    2,
                    ALEX,
                    Feature::Registration,
                    Method::AppCode,
                    None,
                    "2025-05-17T16:02:11"
                ),
            ]
        );
        assert_eq!(all[2].activity.feature, Feature::Registration.code());
        assert_eq!(all[2].activity.occurred_at, t("2025-05-17T16:01:30"));
        assert_eq!(
            all[0].events[0].failure_reason.as_deref(),
            Some("User failed to register Authenticator App with Code")
        );
        assert_eq!(records[0].at, at(file, Position::Record(26)));
    }

    /// The figures tests/fixtures/graph/README.md promises for all files.
    #[test]
    fn all_fixtures_together_give_the_documented_figures() {
        let records = fixtures(&[
            "user-registration-details.json",
            "user-registration-details-page1.json",
            "user-registration-details-page2.json",
            "user-registration-details.jsonl",
            "credential-user-registration-details.json",
            "user-credential-usage-details.json",
            "user-events-summary.json",
            "directory-audits.json",
        ]);
        let users = users(&records);
        assert_eq!(users.len(), 15);
        let stated = |f: fn(&Verdicts) -> Option<bool>| {
            users
                .iter()
                .filter(|u| u.verdicts.is_some_and(|(v, _)| f(&v) == Some(true)))
                .count()
        };
        assert_eq!(stated(|v| v.registered), 7);
        assert_eq!(stated(|v| v.enabled), 12);
        assert_eq!(stated(|v| v.capable), 7);
        assert_eq!(stated(|v| v.mfa_capable), 9);
        assert_eq!(stated(|v| v.passwordless_capable), 2);
        assert_eq!(users.iter().filter(|u| u.is_guest == Some(true)).count(), 2);
        assert_eq!(users.iter().filter(|u| u.is_admin == Some(true)).count(), 2);

        let mut distinct = std::collections::HashMap::new();
        for (e, _, _) in events(&records) {
            distinct.insert(e.id.clone(), e);
        }
        let in_activities: Vec<&MethodEvent> = activities(&records)
            .iter()
            .flat_map(|a| a.events.iter())
            .collect();
        let count = |events: &[&MethodEvent], feature: Feature, success: bool| {
            events
                .iter()
                .filter(|e| e.feature == feature.code() && e.success == success)
                .count()
        };
        let outside: Vec<&MethodEvent> = distinct.into_values().collect();
        assert_eq!(outside.len(), 12);
        assert_eq!(count(&outside, Feature::Registration, true), 5);
        assert_eq!(count(&outside, Feature::Registration, false), 1);
        assert_eq!(count(&outside, Feature::Reset, true), 4);
        assert_eq!(count(&outside, Feature::Reset, false), 2);
        assert_eq!(in_activities.len(), 7);
        assert_eq!(count(&in_activities, Feature::Reset, true), 2);
        assert_eq!(count(&in_activities, Feature::Reset, false), 2);
        assert_eq!(count(&in_activities, Feature::Registration, true), 2);
        assert_eq!(count(&in_activities, Feature::Registration, false), 1);
        assert_eq!(activities(&records).len(), 7);
    }

    /// A directoryAudits page with the given entries (service, activity,
    /// result, reason, correlation, time).
    fn audits(entries: &[(&str, &str, &str, &str, &str, &str)]) -> String {
        let value: Vec<Value> = entries
            .iter()
            .map(|(service, activity, result, reason, cid, time)| {
                serde_json::json!({
                    // The same entry in two exports has the same id.
                    "id": format!("{cid}_{time}_{reason}"),
                    "correlationId": cid,
                    "loggedByService": service,
                    "activityDisplayName": activity,
                    "result": result,
                    "resultReason": reason,
                    "activityDateTime": time,
                    "initiatedBy": {"user": {"id": ADELE, "displayName": null, "userPrincipalName": "AdeleV@contoso.com"}},
                    "targetResources": [],
                })
            })
            .collect();
        serde_json::json!({
            "@odata.context": "https://graph.microsoft.com/beta/$metadata#auditLogs/directoryAudits",
            "value": value,
        })
        .to_string()
    }

    const PROGRESS: &str = "Self-service password reset flow activity progress";

    fn flow(steps: &[(&str, &str, &str)]) -> ActivityRecord {
        let entries: Vec<(&str, &str, &str, &str, &str, &str)> = steps
            .iter()
            .enumerate()
            .map(|(i, (activity, result, reason))| {
                let time: &'static str = [
                    "2025-05-01T10:00:00Z",
                    "2025-05-01T10:00:10Z",
                    "2025-05-01T10:00:20Z",
                    "2025-05-01T10:00:30Z",
                    "2025-05-01T10:00:40Z",
                    "2025-05-01T10:00:50Z",
                ][i];
                (SSPR_SERVICE, *activity, *result, *reason, "c1", time)
            })
            .collect();
        let records = run(&[("a.json", &audits(&entries))]).unwrap();
        assert_eq!(records.len(), 1);
        match &records[0].record {
            Record::Activity(a, Identity::Given) => a.clone(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_flow_without_outcome_is_abandoned_after_its_last_step() {
        let abandoned = flow(&[
            (PROGRESS, "success", "User submitted their user ID"),
            (
                PROGRESS,
                "success",
                "User started the email verification option",
            ),
            (
                PROGRESS,
                "success",
                "User completed the email verification option.",
            ),
        ]);
        assert_eq!(
            abandoned.activity.details,
            Some(Details::AbandonedAfterEmailCompleted.code())
        );
        assert!(abandoned.events[0].success);

        // The seed has no abandoned detail for the app methods.
        let app = flow(&[
            (PROGRESS, "success", "User submitted their user ID"),
            (
                PROGRESS,
                "success",
                "User started the mobile app notification verification option",
            ),
        ]);
        assert_eq!(app.activity.result, ActivityResult::Abandoned.code());
        assert_eq!(app.activity.details, None);
        assert_eq!(app.events[0].failure_reason.as_deref(), Some(NOT_VERIFIED));

        let new_password = flow(&[
            (
                PROGRESS,
                "success",
                "User started the mobile SMS verification option",
            ),
            (
                PROGRESS,
                "success",
                "User completed the mobile SMS verification option",
            ),
            (
                "Reset password (self-service)",
                "failure",
                "FuzzyPolicyViolationInvalidPassword",
            ),
        ]);
        assert_eq!(
            new_password.activity.details,
            Some(Details::AbandonedWhileNewPassword.code())
        );
    }

    #[test]
    fn outcomes_come_from_the_last_ending_entry() {
        let unlocked = flow(&[
            (
                PROGRESS,
                "success",
                "User started the office voice call verification option",
            ),
            (
                PROGRESS,
                "success",
                "User completed the office voice call verification option",
            ),
            ("Unlock user account (self-service)", "success", ""),
        ]);
        assert_eq!(unlocked.activity.result, ActivityResult::Succeeded.code());
        assert_eq!(unlocked.activity.methods_mask, Method::OfficeCall.bit());

        let cancelled = flow(&[
            (
                PROGRESS,
                "success",
                "User started the email verification option",
            ),
            (
                PROGRESS,
                "failure",
                "User cancelled before passing the required authentication methods",
            ),
        ]);
        assert_eq!(
            cancelled.activity.details,
            Some(Details::CancelledBeforeMethods.code())
        );
        assert_eq!(
            cancelled.events[0].failure_reason.as_deref(),
            Some(Details::CancelledBeforeMethods.text())
        );

        // A block with no reason names the method last tried.
        let blocked = flow(&[
            (
                PROGRESS,
                "success",
                "User started the mobile SMS verification option",
            ),
            ("Blocked from self-service password reset", "success", ""),
        ]);
        assert_eq!(
            blocked.activity.details,
            Some(Details::BlockedSmsCodes.code())
        );

        // The seed's advice after the first sentence is optional.
        let insufficient = flow(&[(
            PROGRESS,
            "failure",
            "User's account has insufficient authentication methods defined. Add authentication info to resolve this ",
        )]);
        assert_eq!(
            insufficient.activity.details,
            Some(Details::FailedInsufficientMethods.code())
        );
    }

    #[test]
    fn a_flow_spread_over_pages_is_one_activity_and_repeated_entries_count_once() {
        let step = |reason: &'static str, time: &'static str| {
            (SSPR_SERVICE, PROGRESS, "success", reason, "c9", time)
        };
        let first = audits(&[
            step("User submitted their user ID", "2025-05-01T10:00:00Z"),
            step(
                "User started the email verification option",
                "2025-05-01T10:00:05Z",
            ),
        ]);
        let second = audits(&[
            step("User submitted their user ID", "2025-05-01T10:00:00Z"),
            step(
                "User completed the email verification option",
                "2025-05-01T10:00:09Z",
            ),
            step("User successfully reset password", "2025-05-01T10:01:00Z"),
        ]);
        let records = run(&[("p1.json", &first), ("p2.json", &second)]).unwrap();
        let all = activities(&records);
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].activity.result, ActivityResult::Succeeded.code());
        assert_eq!(all[0].events.len(), 1);
        assert!(all[0].events[0].success);
        assert_eq!(records[0].at, at("p1.json", Position::Record(1)));
    }

    #[test]
    fn unrelated_audit_entries_are_skipped_and_deletions_register_nothing() {
        let page = audits(&[
            (
                "Core Directory",
                "Update user",
                "success",
                "",
                "c1",
                "2025-05-01T10:00:00Z",
            ),
            (
                AUTHENTICATION_METHODS_SERVICE,
                "User deleted security info",
                "success",
                "User deleted Fido",
                "c2",
                "2025-05-01T10:00:00Z",
            ),
            (
                SSPR_SERVICE,
                "Reset password (by admin)",
                "success",
                "Successfully completed reset.",
                "c3",
                "2025-05-01T10:00:00Z",
            ),
        ]);
        assert_eq!(run(&[("a.json", &page)]).unwrap(), []);
    }

    /// A reader that counts the bytes it hands out.
    struct Metered<R> {
        inner: R,
        served: Rc<Cell<usize>>,
    }

    impl<R: Read> Read for Metered<R> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.inner.read(buf)?;
            self.served.set(self.served.get() + n);
            Ok(n)
        }
    }

    #[test]
    fn a_page_streams_records_to_the_sink_as_they_are_read() {
        let mut page = String::from(
            "{\"@odata.context\":\"https://graph.microsoft.com/v1.0/$metadata#reports/authenticationMethods/userRegistrationDetails\",\"value\":[",
        );
        let n = 20_000;
        for i in 0..n {
            if i > 0 {
                page.push(',');
            }
            page.push_str(&format!(
                "{{\"id\":\"u{i}\",\"userPrincipalName\":\"u{i}@contoso.com\",\"userDisplayName\":\"User {i}\",\"isAdmin\":false,\"methodsRegistered\":[\"email\"],\"userType\":\"member\"}}"
            ));
        }
        page.push_str("]}");
        let served = Rc::new(Cell::new(0));
        let reader = io::BufReader::with_capacity(
            8192,
            Metered {
                inner: page.as_bytes(),
                served: served.clone(),
            },
        );
        let mut first_at = None;
        let mut count = 0;
        let mut sink = |l: Located| {
            first_at.get_or_insert(served.get());
            if let Record::User(_) = l.record {
                count += 1;
            }
            Ok(())
        };
        import().read_file("big.json", reader, &mut sink).unwrap();
        assert_eq!(count, n);
        let first_at = first_at.unwrap();
        assert!(
            first_at <= 16_384,
            "the first record waited for {first_at} of {} bytes",
            page.len()
        );
    }

    #[test]
    fn a_sink_failure_stops_the_read() {
        let text = fixture("user-registration-details.json");
        let mut seen = 0;
        let mut sink = |l: Located| {
            seen += 1;
            Err(ImportError::new(l.at, None, "enough").into())
        };
        let err = import()
            .read_file("u.json", text.as_bytes(), &mut sink)
            .unwrap_err();
        assert_eq!(seen, 1);
        assert_eq!(err.to_string(), "u.json, record 1: enough");
    }

    #[test]
    fn json_that_does_not_parse_is_reported_on_its_line() {
        let lines = "{\"id\":\"a\",\"userPrincipalName\":\"a@x\",\"methodsRegistered\":[]}\n\n{\"id\": \"b\", oops}\n";
        let err = one("u.jsonl", lines);
        assert_eq!(err.at, at("u.jsonl", Position::Line(3)));
        assert!(err.reason.starts_with("not valid JSON: "), "{}", err.reason);
        assert!(!err.reason.contains("line"), "{}", err.reason);

        let page =
            "{\n  \"value\": [\n    {\"id\": \"a\", \"userPrincipalName\": \"a@x\", \"methodsRegistered\": []},\n    {\"id\": \"b\" \"x\": 1}\n  ]\n}\n";
        let err = one("p.json", page);
        assert_eq!(err.at, at("p.json", Position::Line(4)));

        let truncated = "{\"@odata.context\": \"https://graph.microsoft.com/v1.0/$metadata#auditLogs/directoryAudits\", \"value\": [\n";
        let err = one("t.json", truncated);
        // The file ends on line 1 (its final newline opens no line).
        assert_eq!(err.at.position, Position::Line(1));
        assert!(err.reason.contains("EOF"), "{}", err.reason);

        let err = one("n.jsonl", "42\n");
        assert_eq!(err.at, at("n.jsonl", Position::Line(1)));
        assert!(
            err.reason.starts_with("not a Graph page or record"),
            "{}",
            err.reason
        );
    }

    fn urd_page(records: &str) -> String {
        format!(
            "{{\"@odata.context\": \"https://graph.microsoft.com/v1.0/$metadata#reports/authenticationMethods/userRegistrationDetails\", \"value\": [{records}]}}"
        )
    }

    #[test]
    fn wrong_types_name_the_field() {
        let err = one(
            "u.json",
            &urd_page(
                r#"{"id": "a", "userPrincipalName": "a@x"}, {"id": "b", "userPrincipalName": "b@x", "isAdmin": "yes"}"#,
            ),
        );
        assert_eq!(
            err,
            ImportError::new(
                at("u.json", Position::Record(2)),
                Some("isAdmin"),
                "expected true or false, got \"yes\""
            )
        );
        let err = one(
            "u.json",
            &urd_page(r#"{"id": "a", "userPrincipalName": "a@x", "methodsRegistered": "email"}"#),
        );
        assert_eq!(err.field.as_deref(), Some("methodsRegistered"));
        assert_eq!(err.reason, "expected a list, got \"email\"");
        let err = one(
            "u.json",
            &urd_page(r#"{"id": 7, "userPrincipalName": "a@x"}"#),
        );
        assert_eq!(
            (err.field.as_deref(), err.reason.as_str()),
            (Some("id"), "expected text, got 7")
        );
        let err = one(
            "u.json",
            &urd_page(
                r#"{"id": "a", "userPrincipalName": "a@x", "lastUpdatedDateTime": "yesterday"}"#,
            ),
        );
        assert_eq!(err.field.as_deref(), Some("lastUpdatedDateTime"));
        assert!(err.reason.contains("\"yesterday\""), "{}", err.reason);
        let err = one(
            "u.json",
            &urd_page(r#"{"id": "a", "userPrincipalName": "a@x", "userType": "partner"}"#),
        );
        assert_eq!(
            err.reason,
            "unknown user type \"partner\"; known: member, guest"
        );
    }

    #[test]
    fn unknown_methods_are_reported_never_guessed() {
        let err = one(
            "u.json",
            &urd_page(
                r#"{"id": "a", "userPrincipalName": "a@x", "methodsRegistered": ["email", "Fido2", "x"]}"#,
            ),
        );
        assert_eq!(err.at, at("u.json", Position::Record(1)));
        assert_eq!(err.field.as_deref(), Some("methodsRegistered[1]"));
        assert!(
            err.reason.starts_with(
                "unknown authentication method \"Fido2\" (did you mean \"fido2\"?); known: "
            ),
            "{}",
            err.reason
        );
        assert!(err.reason.contains("microsoftAuthenticatorPush"));
        let err = one(
            "u.json",
            &urd_page(
                r#"{"id": "a", "userPrincipalName": "a@x", "methodsRegistered": ["appPassword"]}"#,
            ),
        );
        assert!(err
            .reason
            .starts_with("unknown authentication method \"appPassword\""));

        let usage = |method: &str| {
            format!(
                r##"{{"@odata.type": "#microsoft.graph.userCredentialUsageDetails", "id": "e1", "feature": "reset", "userPrincipalName": "a@x", "isSuccess": true, "authMethod": "{method}", "eventDateTime": "2025-01-01T00:00:00Z"}}"##
            )
        };
        let err = one("e.jsonl", &usage("unknownFutureValue"));
        assert_eq!(err.at, at("e.jsonl", Position::Line(1)));
        assert_eq!(err.field.as_deref(), Some("authMethod"));
        assert!(err
            .reason
            .starts_with("unknown authentication method \"unknownFutureValue\""));
        let err = one("e.jsonl", &usage("mobilePhone"));
        assert!(err.reason.contains("names a phone"), "{}", err.reason);
        let records = run(&[("e.jsonl", &usage("sms"))]).unwrap();
        assert_eq!(events(&records)[0].0.method, Method::MobileSms.code());
    }

    #[test]
    fn required_fields_must_be_there() {
        let page = |record: &str| {
            format!(
                "{{\"@odata.context\": \"https://graph.microsoft.com/beta/$metadata#reports/authenticationMethods/userEventsSummary\", \"value\": [{record}]}}"
            )
        };
        let err = one(
            "s.json",
            &page(
                r#"{"id": "u1", "feature": "reset", "userPrincipalName": "a@x", "isSuccess": false, "authMethod": "email", "failureReason": ""}"#,
            ),
        );
        assert_eq!(
            err,
            ImportError::new(
                at("s.json", Position::Record(1)),
                Some("eventDateTime"),
                "missing required field"
            )
        );
        let err = one(
            "s.json",
            &page(
                r#"{"id": "u1", "feature": "reset", "userPrincipalName": "", "isSuccess": false, "authMethod": "email", "eventDateTime": "2025-01-01T00:00:00Z"}"#,
            ),
        );
        assert_eq!(err.field.as_deref(), Some("userPrincipalName"));
        let err = one(
            "s.json",
            &page(
                r#"{"id": "u1", "feature": "signIn", "userPrincipalName": "a@x", "isSuccess": false, "authMethod": "email", "eventDateTime": "2025-01-01T00:00:00Z"}"#,
            ),
        );
        assert_eq!(
            err.reason,
            "unknown feature \"signIn\"; known: registration, reset"
        );
        let err = one(
            "s.json",
            &page(
                r#"{"id": "u1", "feature": "reset", "userPrincipalName": "a@x", "isSuccess": null, "authMethod": "email", "eventDateTime": "2025-01-01T00:00:00Z"}"#,
            ),
        );
        assert_eq!(
            (err.field.as_deref(), err.reason.as_str()),
            (Some("isSuccess"), "missing required field")
        );
    }

    #[test]
    fn the_resource_is_recognised_from_context_type_or_fields() {
        for context in [
            "https://graph.microsoft.com/v1.0/$metadata#reports/authenticationMethods/userRegistrationDetails",
            "https://graph.microsoft.com/beta/$metadata#reports/authenticationMethods/userRegistrationDetails/$entity",
            "https://graph.microsoft.com/v1.0/$metadata#reports/authenticationMethods/userRegistrationDetails(id,userPrincipalName)",
            "https://graph.microsoft.com/beta/reports/$metadata#Collection(microsoft.graph.userRegistrationDetails)",
        ] {
            assert_eq!(
                resource_from_context(context),
                Ok(Resource::UserRegistrationDetails),
                "{context}"
            );
        }
        assert_eq!(
            resource_from_context(
                "https://graph.microsoft.com/v1.0/$metadata#auditlogs/directoryaudits"
            ),
            Ok(Resource::DirectoryAudits)
        );
        assert_eq!(
            resource_from_context("https://graph.microsoft.com/beta/reports/$metadata#Collection(microsoft.graph.getUserCredentialUsageDetails)"),
            Ok(Resource::UserCredentialUsageDetails)
        );
        assert_eq!(
            resource_from_context("https://graph.microsoft.com/v1.0/$metadata#users"),
            Err("users".to_string())
        );

        let err = one(
            "x.json",
            r#"{"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users", "value": []}"#,
        );
        assert_eq!(err.at, at("x.json", Position::File));
        assert_eq!(err.field.as_deref(), Some("@odata.context"));
        assert!(err
            .reason
            .starts_with("\"users\" is not a resource this import reads"));

        let err = one(
            "x.json",
            r#"{"value": [{"displayName": "Sales", "mail": "sales@x"}]}"#,
        );
        assert_eq!(err.at, at("x.json", Position::File));
        assert!(err
            .reason
            .starts_with("not a Graph export this import reads"));

        let usage = r#"{"id": "e1", "feature": "reset", "userPrincipalName": "a@x", "isSuccess": true, "authMethod": "email", "eventDateTime": "2025-01-01T00:00:00Z"}"#;
        let err = one("e.jsonl", usage);
        assert_eq!(err.at, at("e.jsonl", Position::File));
        assert!(err.reason.contains("@odata.context"), "{}", err.reason);
        // Without a context, field-recognised records are read as JSON lines.
        let records = run(&[(
            "u.jsonl",
            r#"{"id": "a", "userPrincipalName": "a@x", "methodsRegistered": []}"#,
        )])
        .unwrap();
        assert_eq!(records.len(), 2);
        // A single-entity response carries its own context.
        let entity = r#"{"@odata.context": "https://graph.microsoft.com/beta/$metadata#reports/authenticationMethods/userEventsSummary/$entity", "id": "u1", "feature": "reset", "userPrincipalName": "a@x", "isSuccess": true, "authMethod": "email", "eventDateTime": "2025-01-01T00:00:00Z"}"#;
        let records = run(&[("one.json", entity)]).unwrap();
        assert_eq!(events(&records)[0].2, UserKey::Id);
    }

    #[test]
    fn one_file_holds_one_resource() {
        let lines = concat!(
            r#"{"id": "a", "userPrincipalName": "a@x", "methodsRegistered": []}"#,
            "\n",
            r#"{"id": "b", "userPrincipalName": "b@x", "authMethods": []}"#,
            "\n"
        );
        let err = one("m.jsonl", lines);
        assert_eq!(err.at, at("m.jsonl", Position::Line(2)));
        assert_eq!(
            err.reason,
            "a credentialUserRegistrationDetails record in a file of userRegistrationDetails: a file holds one resource"
        );
        let page =
            urd_page(r##"{"@odata.type": "#microsoft.graph.userEventsSummary", "id": "a"}"##);
        let err = one("p.json", &page);
        assert_eq!(err.at, at("p.json", Position::Record(1)));

        let after = format!("{}\n{}", urd_page(""), urd_page(""));
        let err = one("two.json", &after);
        assert_eq!(err.at, at("two.json", Position::Line(2)));
        let err = one(
            "mixed.jsonl",
            &format!(
                "{}\n{}",
                r#"{"id": "a", "userPrincipalName": "a@x", "methodsRegistered": []}"#,
                urd_page("")
            ),
        );
        assert_eq!(err.at, at("mixed.jsonl", Position::Line(2)));
    }

    #[test]
    fn unknown_audit_texts_are_errors_naming_the_entry() {
        let page = audits(&[
            (
                SSPR_SERVICE,
                PROGRESS,
                "success",
                "User submitted their user ID",
                "c1",
                "2025-05-01T10:00:00Z",
            ),
            (
                SSPR_SERVICE,
                PROGRESS,
                "success",
                "User started the carrier pigeon verification option",
                "c1",
                "2025-05-01T10:00:01Z",
            ),
        ]);
        let err = one("a.json", &page);
        assert_eq!(err.at, at("a.json", Position::Record(2)));
        assert_eq!(err.field.as_deref(), Some("resultReason"));
        assert!(err.reason.starts_with(
            "unknown step of a password reset \"User started the carrier pigeon verification option\""
        ));

        let page = audits(&[(
            AUTHENTICATION_METHODS_SERVICE,
            "User registered security info",
            "success",
            "User registered Carrier Pigeon",
            "c2",
            "2025-05-01T10:00:00Z",
        )]);
        let err = one("a.json", &page);
        assert_eq!(err.field.as_deref(), Some("resultReason"));
        assert!(err
            .reason
            .starts_with("unknown security info \"Carrier Pigeon\""));

        // A block the flow cannot explain is reported at the block.
        let page = audits(&[
            (
                SSPR_SERVICE,
                PROGRESS,
                "success",
                "User started the email verification option",
                "c3",
                "2025-05-01T10:00:00Z",
            ),
            (
                SSPR_SERVICE,
                "Blocked from self-service password reset",
                "success",
                "",
                "c3",
                "2025-05-01T10:00:01Z",
            ),
        ]);
        let err = one("a.json", &page);
        assert_eq!(err.at, at("a.json", Position::Record(2)));
        assert!(err
            .reason
            .starts_with("cannot tell why the user was blocked"));

        let page = audits(&[(
            SSPR_SERVICE,
            PROGRESS,
            "maybe",
            "",
            "c4",
            "2025-05-01T10:00:00Z",
        )]);
        let err = one("a.json", &page);
        assert_eq!(err.field.as_deref(), Some("result"));
    }

    #[test]
    fn text_encodings() {
        let with_bom = format!("\u{feff}{}", fixture("user-registration-details.jsonl"));
        assert_eq!(run(&[("b.jsonl", &with_bom)]).unwrap().len(), 4);
        let mut graph = import();
        let mut sink = |_: Located| Ok(());
        let utf16: &[u8] = &[0xFF, 0xFE, b'{', 0];
        let err = graph.read_file("w.json", utf16, &mut sink).unwrap_err();
        match err {
            Stop::Invalid(e) => {
                assert_eq!(e.at.position, Position::File);
                assert!(e.reason.contains("UTF-16"));
            }
            other => panic!("{other}"),
        }
        assert_eq!(run(&[("empty.jsonl", "\n\n")]).unwrap(), []);
    }

    #[test]
    fn every_graph_method_name_maps_and_the_tables_are_consistent() {
        for (name, methods) in GRAPH_METHODS {
            assert!(!methods.is_empty(), "{name}");
            assert_eq!(graph_methods(name), Ok(*methods));
        }
        for (name, methods) in SECURITY_INFO {
            assert!(!methods.is_empty(), "{name}");
        }
        for (option, method) in VERIFICATION_OPTIONS {
            let started = format!("User started the {option} verification option");
            assert_eq!(verification_step(&started), Some(Step::Started(*method)));
        }
        for (method, started, completed) in ABANDONED_AFTER {
            assert!(started.text().contains("starting") && completed.text().contains("completing"));
            assert!(VERIFICATION_OPTIONS.iter().any(|(_, m)| m == method));
        }
        for (_, details) in BLOCKED_AT {
            assert_eq!(details.result(), ActivityResult::Blocked);
        }
        // Every detail is reachable from its own text.
        for d in Details::ALL {
            assert_eq!(details_from_text(d.text()), Some(*d));
        }
    }
}
