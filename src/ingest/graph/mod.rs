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
//! | `userMfaSignInSummary` (beta) | [`Record::SignInDay`]: the day of `createdDateTime`, `totalSignIns`, `singleFactorSignIns`, `multiFactorSignIns` as given |
//! | `userSignInsByAuthMethodSummary(period='d1')` (beta; records typed `userSignInUsageByAuthMethodActivity`) | [`Record::SignInMethod`]: `authenticationMethod` ([`SignInMethod`], an unknown name kept as other with a warning) and `successActivityCount`, for the day of the import (the records carry no date) |
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
//! is refused. Any other name (or `unknownFutureValue`) is never guessed: it
//! becomes [`Method::Other`], which counts toward no rule, and a
//! [`Record::Warning`] naming it; an unknown `userType` is left unstated with
//! a warning. [`GraphImport::strict`] refuses such values instead.
//!
//! # Audit entries
//!
//! Only entries of the services and activities in [`AUDIT_ACTIVITIES`] are
//! kept; everything else in an audit export is skipped silently.
//!
//! A password reset flow (service "Self-service Password Management") is
//! every entry of one `correlationId`. It becomes one reset activity (an unlock
//! activity when it ends in an account unlock, below), id
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
//! | "Reset password (self-service)", result success | outcome: succeeded |
//! | the same, failure with a banned-password reason ([`NEW_PASSWORD_REJECTED`]) | the new password was refused (the flow goes on) |
//! | the same, failure with a details text | outcome: that detail |
//! | "Unlock user account (self-service)", result success | outcome: the account was unlocked — the flow is an *unlock* activity, Succeeded with no detail |
//! | the same, failure with a details text | outcome: an unlock activity with that detail |
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

mod expand;
mod flows;
mod mappers;
mod reader;
#[cfg(test)]
mod tests;
mod vocabulary;

use crate::db::models::{Activity, MethodEvent};
use crate::domain::second_factor::{self, MfaDetails};
use crate::domain::sign_in::SignInMethod;
use crate::domain::{ActivityResult, Details, Feature, Method, MethodSet, Verdicts};
use crate::ingest::records::{
    ActivityRecord, GroupRecord, Identity, ImportError, ImportWarning, Located, Location,
    MemberRecord, MethodsRecord, NamedUser, Position, Record, SignInDayRecord, SignInMethodRecord,
    Sink, Stop, UserKey, UserRecord,
};
use chrono::{NaiveDateTime, SubsecRound};
use flows::*;
use mappers::*;
use reader::*;
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::io::{self, BufRead, Read};

pub use expand::{audit_entries, correlation_of, graph_time, service_of};
pub use mappers::events_summary_id;
pub use reader::GraphImport;
pub use vocabulary::*;
