//! Audit entries (`directoryAudits`) grouped by correlation into
//! password-reset and registration activities.

use super::*;

/// Audit entries group into one of two kinds of activity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Flow {
    Reset,
    Registration,
}

/// What one kept audit entry says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Step {
    /// Progress before any method (user ID entered, options shown).
    UserId,
    Started(Method),
    Completed(Method),
    NewPasswordRejected,
    Outcome(Details),
    /// The account was unlocked (no detail) or the unlock failed (its detail).
    Unlocked(Option<Details>),
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
    pub(super) fn activity_id(self, correlation: &str) -> String {
        match self {
            Flow::Reset => format!("aud-{correlation}"),
            Flow::Registration => format!("aud-reg-{correlation}"),
        }
    }
}

impl Step {
    pub(super) fn flow(&self) -> Flow {
        match self {
            Step::UserId
            | Step::Started(_)
            | Step::Completed(_)
            | Step::NewPasswordRejected
            | Step::Outcome(_)
            | Step::Unlocked(_)
            | Step::Blocked(_) => Flow::Reset,
            _ => Flow::Registration,
        }
    }
}

/// A kept audit entry, waiting for the rest of its flow.
pub(super) struct AuditEntry {
    pub(super) id: String,
    pub(super) at: Location,
    pub(super) time: NaiveDateTime,
    pub(super) order: u64,
    pub(super) step: Step,
    pub(super) reason: String,
    /// Whether the entry's `result` is `success`.
    pub(super) success: bool,
    /// The reason a verification or registration failed, when the entry's
    /// `additionalDetails` give it (key [`FAILURE_REASON_KEY`]): the
    /// portal's own `directoryAudits` write it, Graph does not.
    pub(super) failure_reason: Option<String>,
    pub(super) user: AuditUser,
}

/// The `additionalDetails` key of a failed verification's or
/// registration's own reason.
pub const FAILURE_REASON_KEY: &str = "FailureReason";

/// Where an entry goes among entries of the same time: what begins before
/// what settles, and what settles before what ends the flow (so that the
/// order a log was read in, newest or oldest first, does not matter).
pub(super) fn step_rank(step: &Step) -> u8 {
    match step {
        Step::UserId => 0,
        Step::Started(_) | Step::RegistrationStarted(_) => 1,
        Step::Completed(_)
        | Step::NewPasswordRejected
        | Step::Registered(_)
        | Step::RegistrationFailed(_)
        | Step::RegistrationOther => 2,
        Step::Outcome(_) | Step::Unlocked(_) | Step::Blocked(_) | Step::RegisteredAll { .. } => 3,
    }
}

#[derive(Debug, Clone, Default)]
pub(super) struct AuditUser {
    pub(super) id: Option<String>,
    pub(super) principal_name: Option<String>,
    pub(super) display_name: Option<String>,
}

impl AuditUser {
    /// Takes what is still missing from `other`.
    pub(super) fn fill(&mut self, other: &AuditUser) {
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

pub(super) fn user_fields(rec: &Rec<'_>) -> Result<AuditUser, ImportError> {
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
pub(super) fn audit_user(rec: &Rec<'_>) -> Result<AuditUser, ImportError> {
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
pub(super) fn same_text(a: &str, b: &str) -> bool {
    let norm = |s: &str| s.trim().trim_end_matches('.').trim_end().to_lowercase();
    norm(a) == norm(b)
}

/// The seed's detail a text names: the whole text, or its first sentence
/// (audit logs leave out the advice the seed adds).
pub(super) fn details_from_text(text: &str) -> Option<Details> {
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
pub(super) fn verification_step(reason: &str) -> Option<Step> {
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
pub(super) fn security_info(reason: &str, prefix: &str) -> Option<Result<MethodSet, String>> {
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
pub(super) fn audit_step(
    activity: AuditActivity,
    success: bool,
    reason: &str,
) -> Result<Step, String> {
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
        AuditActivity::UnlockDone if success => Ok(Step::Unlocked(None)),
        AuditActivity::UnlockDone => match details_from_text(reason) {
            Some(details) => Ok(Step::Unlocked(Some(details))),
            None => Err(format!(
                "unknown reason why an account unlock failed {reason:?}; known: the texts of \
                 the password reset details table"
            )),
        },
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
pub(super) struct PendingEvent {
    pub(super) method: Method,
    pub(super) time: NaiveDateTime,
    /// `None` while started and not yet settled.
    pub(super) success: Option<bool>,
    pub(super) failure_reason: Option<String>,
}

/// Method events in the order first tried; a method started and not yet
/// settled is open until completed.
#[derive(Default)]
pub(super) struct EventLog {
    pub(super) events: Vec<PendingEvent>,
}

impl EventLog {
    pub(super) fn open(&self, method: Method) -> Option<usize> {
        self.events
            .iter()
            .rposition(|e| e.method == method && e.success.is_none())
    }

    pub(super) fn start(&mut self, method: Method, time: NaiveDateTime) {
        if self.open(method).is_none() {
            self.events.push(PendingEvent {
                method,
                time,
                success: None,
                failure_reason: None,
            });
        }
    }

    pub(super) fn settle(
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

    pub(super) fn into_events(
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
                    // The audit log's security info always names a known method.
                    method_name: None,
                }
            })
            .collect();
        (events, all, succeeded)
    }
}

pub(super) fn flow_user(entries: &[AuditEntry]) -> AuditUser {
    let mut user = AuditUser::default();
    for entry in entries {
        user.fill(&entry.user);
    }
    user
}

pub(super) fn activity_base(id: String, entries: &[AuditEntry], feature: Feature) -> Activity {
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

pub(super) fn first_location(entries: &[AuditEntry]) -> Location {
    entries.first().map_or(
        Location {
            file: String::new(),
            position: Position::File,
        },
        |e| e.at.clone(),
    )
}

/// The detail of a flow that ended with no outcome, from its last step.
pub(super) fn abandoned_detail(entries: &[AuditEntry]) -> Option<Details> {
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
pub(super) fn blocked_detail(
    entries: &[AuditEntry],
    block: &AuditEntry,
) -> Result<Details, ImportError> {
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

pub(super) fn reset_activity(id: String, entries: &[AuditEntry]) -> Result<Located, Stop> {
    let mut activity = activity_base(id, entries, Feature::Reset);
    let ending = entries.iter().rev().find(|e| {
        matches!(
            e.step,
            Step::Outcome(_) | Step::Unlocked(_) | Step::Blocked(_)
        )
    });
    if ending.is_some_and(|e| matches!(e.step, Step::Unlocked(_))) {
        activity.feature = Feature::Unlock.code();
    }
    let details = match ending.map(|e| (e, &e.step)) {
        Some((_, Step::Outcome(d))) => Some(*d),
        Some((_, Step::Unlocked(d))) => *d,
        Some((_, Step::Blocked(Some(d)))) => Some(*d),
        Some((block, _)) => Some(blocked_detail(entries, block)?),
        None => abandoned_detail(entries),
    };
    let result = match ending.map(|e| &e.step) {
        // An unlock has no detail of its own when it succeeds.
        Some(Step::Unlocked(None)) => ActivityResult::Succeeded,
        _ => details.map_or(ActivityResult::Abandoned, Details::result),
    };
    let mut log = EventLog::default();
    for entry in entries {
        match entry.step {
            Step::Started(m) => log.start(m, entry.time),
            // A completion logged as a failure (the portal's own audit log
            // writes one for a failed verification) settles it as failed.
            Step::Completed(m) if !entry.success => log.settle(
                m,
                entry.time,
                false,
                Some(entry.failure_reason.as_deref().unwrap_or(NOT_VERIFIED)),
            ),
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
        record: Record::Activity(ActivityRecord { activity, events }, Identity::Flow),
    })
}

pub(super) fn registration_activity(id: String, entries: &[AuditEntry]) -> Option<Located> {
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
                    let reason = entry.failure_reason.as_deref().unwrap_or(&entry.reason);
                    log.settle(m, entry.time, false, Some(reason));
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
        record: Record::Activity(ActivityRecord { activity, events }, Identity::Flow),
    })
}
