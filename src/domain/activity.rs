//! Activities (one registration or one password reset) and the values the
//! classic reports give them: feature, result and details.
//!
//! Codes are stored in the database: never renumber a variant.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Feature {
    Registration,
    Reset,
    /// A self-service account unlock: the same verification as a reset,
    /// ending in an unlocked account instead of a new password.
    Unlock,
}

impl Feature {
    pub const ALL: [Feature; 3] = [Feature::Registration, Feature::Reset, Feature::Unlock];

    pub const fn code(self) -> i32 {
        match self {
            Feature::Registration => 0,
            Feature::Reset => 1,
            Feature::Unlock => 2,
        }
    }

    pub fn from_code(code: i32) -> Option<Feature> {
        Feature::ALL.into_iter().find(|f| f.code() == code)
    }

    pub const fn key(self) -> &'static str {
        match self {
            Feature::Registration => "registration",
            Feature::Reset => "reset",
            Feature::Unlock => "unlock",
        }
    }

    pub fn from_key(key: &str) -> Option<Feature> {
        Feature::ALL.into_iter().find(|f| f.key() == key)
    }

    /// The keys as a list for messages: "registration, reset, unlock".
    pub fn keys_text() -> String {
        Feature::ALL.map(Feature::key).join(", ")
    }

    pub const fn display_name(self) -> &'static str {
        match self {
            Feature::Registration => "Registration",
            Feature::Reset => "Reset",
            Feature::Unlock => "Unlock",
        }
    }
}

/// One method verification as any source reports it: who, which feature,
/// which method, how it ended, and when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verification<'a> {
    pub user_id: &'a str,
    pub feature: i32,
    pub method: i32,
    pub success: bool,
    pub at: chrono::NaiveDateTime,
}

/// How far apart two reports of one verification may be timed. A usage
/// report (`userEventsSummary`, `userCredentialUsageDetails`) times a
/// verification by its own clock, the audit log by the step that completed
/// it; they agree to the second in Microsoft's examples and within moments
/// in practice.
pub const SAME_VERIFICATION_SECONDS: i64 = 120;

impl Verification<'_> {
    /// Whether two reports describe one verification: the same user,
    /// feature, method and outcome, at most
    /// [`SAME_VERIFICATION_SECONDS`] apart. A verification a usage report
    /// and an audit flow both report is one event, counted once. The usage
    /// reports know no unlock (Graph's `featureType` is registration or
    /// reset): their reset is the same feature as an unlock.
    pub fn is_same_as(&self, other: &Verification<'_>) -> bool {
        let unlock_or_reset = |code: i32| {
            matches!(
                Feature::from_code(code),
                Some(Feature::Reset | Feature::Unlock)
            )
        };
        let same_feature = self.feature == other.feature
            || (unlock_or_reset(self.feature) && unlock_or_reset(other.feature));
        self.user_id == other.user_id
            && same_feature
            && self.method == other.method
            && self.success == other.success
            && (self.at - other.at).num_seconds().abs() <= SAME_VERIFICATION_SECONDS
    }
}

impl fmt::Display for Feature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.display_name())
    }
}

/// The end result of an operation (the seed's Result column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ActivityResult {
    Abandoned,
    Blocked,
    Cancelled,
    ContactedAdmin,
    Failed,
    Succeeded,
}

impl ActivityResult {
    pub const ALL: [ActivityResult; 6] = [
        ActivityResult::Abandoned,
        ActivityResult::Blocked,
        ActivityResult::Cancelled,
        ActivityResult::ContactedAdmin,
        ActivityResult::Failed,
        ActivityResult::Succeeded,
    ];

    pub const fn code(self) -> i32 {
        match self {
            ActivityResult::Abandoned => 1,
            ActivityResult::Blocked => 2,
            ActivityResult::Cancelled => 3,
            ActivityResult::ContactedAdmin => 4,
            ActivityResult::Failed => 5,
            ActivityResult::Succeeded => 6,
        }
    }

    pub fn from_code(code: i32) -> Option<ActivityResult> {
        ActivityResult::ALL.into_iter().find(|r| r.code() == code)
    }

    pub const fn key(self) -> &'static str {
        match self {
            ActivityResult::Abandoned => "abandoned",
            ActivityResult::Blocked => "blocked",
            ActivityResult::Cancelled => "cancelled",
            ActivityResult::ContactedAdmin => "contacted_admin",
            ActivityResult::Failed => "failed",
            ActivityResult::Succeeded => "succeeded",
        }
    }

    pub fn from_key(key: &str) -> Option<ActivityResult> {
        ActivityResult::ALL.into_iter().find(|r| r.key() == key)
    }

    pub const fn display_name(self) -> &'static str {
        match self {
            ActivityResult::Abandoned => "Abandoned",
            ActivityResult::Blocked => "Blocked",
            ActivityResult::Cancelled => "Cancelled",
            ActivityResult::ContactedAdmin => "Contacted admin",
            ActivityResult::Failed => "Failed",
            ActivityResult::Succeeded => "Succeeded",
        }
    }

    /// The seed's meaning of the value.
    pub const fn description(self) -> &'static str {
        match self {
            ActivityResult::Abandoned => "User started password reset but then stopped halfway through without completing.",
            ActivityResult::Blocked => "User's account was prevented from using password reset after too many attempts at the page or a single gate in a 24 hour period.",
            ActivityResult::Cancelled => "User started password reset but then clicked the cancel button part way through.",
            ActivityResult::ContactedAdmin => "User had a problem they could not resolve and clicked \"Contact your administrator\" instead of finishing.",
            ActivityResult::Failed => "User was not able to reset a password, likely because the user was not configured to use the feature.",
            ActivityResult::Succeeded => "Password reset was successful.",
        }
    }
}

impl fmt::Display for ActivityResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.display_name())
    }
}

macro_rules! details_table {
    ($( $variant:ident = $code:literal, $key:literal, $result:ident, $text:literal; )*) => {
        /// Why a password reset ended as it did: every row of the seed's
        /// details → result table.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Details { $( $variant, )* }

        impl Details {
            pub const ALL: &'static [Details] = &[ $( Details::$variant, )* ];

            pub const fn code(self) -> i32 {
                match self { $( Details::$variant => $code, )* }
            }

            pub const fn key(self) -> &'static str {
                match self { $( Details::$variant => $key, )* }
            }

            /// The seed's text.
            pub const fn text(self) -> &'static str {
                match self { $( Details::$variant => $text, )* }
            }

            /// The result the seed's table gives for this detail.
            pub const fn result(self) -> ActivityResult {
                match self { $( Details::$variant => ActivityResult::$result, )* }
            }
        }
    };
}

details_table! {
    AbandonedAfterEmailCompleted = 1, "abandoned_after_email_completed", Abandoned, "User abandoned after completing the email verification option";
    AbandonedAfterSmsCompleted = 2, "abandoned_after_sms_completed", Abandoned, "User abandoned after completing the mobile SMS verification option";
    AbandonedAfterMobileCallCompleted = 3, "abandoned_after_mobile_call_completed", Abandoned, "User abandoned after completing the mobile voice call verification option";
    AbandonedAfterOfficeCallCompleted = 4, "abandoned_after_office_call_completed", Abandoned, "User abandoned after completing the office voice call verification option";
    AbandonedAfterSecurityQuestionsCompleted = 5, "abandoned_after_security_questions_completed", Abandoned, "User abandoned after completing the security questions option";
    AbandonedAfterUserId = 6, "abandoned_after_user_id", Abandoned, "User abandoned after entering their user ID";
    AbandonedAfterEmailStarted = 7, "abandoned_after_email_started", Abandoned, "User abandoned after starting the email verification option";
    AbandonedAfterSmsStarted = 8, "abandoned_after_sms_started", Abandoned, "User abandoned after starting the mobile SMS verification option";
    AbandonedAfterMobileCallStarted = 9, "abandoned_after_mobile_call_started", Abandoned, "User abandoned after starting the mobile voice call verification option";
    AbandonedAfterOfficeCallStarted = 10, "abandoned_after_office_call_started", Abandoned, "User abandoned after starting the office voice call verification option";
    AbandonedAfterSecurityQuestionsStarted = 11, "abandoned_after_security_questions_started", Abandoned, "User abandoned after starting the security questions option";
    AbandonedBeforeNewPassword = 12, "abandoned_before_new_password", Abandoned, "User abandoned before selecting a new password";
    AbandonedWhileNewPassword = 13, "abandoned_while_new_password", Abandoned, "User abandoned while selecting a new password";
    BlockedSmsCodes = 14, "blocked_sms_codes", Blocked, "User entered too many invalid SMS verification codes and is blocked for 24 hours";
    BlockedMobileCall = 15, "blocked_mobile_call", Blocked, "User tried mobile phone voice verification too many times and is blocked for 24 hours";
    BlockedOfficeCall = 16, "blocked_office_call", Blocked, "User tried office phone voice verification too many times and is blocked for 24 hours";
    BlockedSecurityQuestions = 17, "blocked_security_questions", Blocked, "User tried to answer security questions too many times and is blocked for 24 hours";
    BlockedPhoneVerification = 18, "blocked_phone_verification", Blocked, "User tried to verify a phone number too many times and is blocked for 24 hours";
    CancelledBeforeMethods = 19, "cancelled_before_methods", Cancelled, "User cancelled before passing the required authentication methods";
    CancelledBeforeNewPassword = 20, "cancelled_before_new_password", Cancelled, "User cancelled before submitting a new password";
    ContactedAdminAfterEmail = 21, "contacted_admin_after_email", ContactedAdmin, "User contacted an admin after trying the email verification option";
    ContactedAdminAfterSms = 22, "contacted_admin_after_sms", ContactedAdmin, "User contacted an admin after trying the mobile SMS verification option";
    ContactedAdminAfterMobileCall = 23, "contacted_admin_after_mobile_call", ContactedAdmin, "User contacted an admin after trying the mobile voice call verification option";
    ContactedAdminAfterOfficeCall = 24, "contacted_admin_after_office_call", ContactedAdmin, "User contacted an admin after trying the office voice call verification option";
    ContactedAdminAfterSecurityQuestions = 25, "contacted_admin_after_security_questions", ContactedAdmin, "User contacted an admin after trying the security question verification option";
    FailedNotEnabled = 26, "failed_not_enabled", Failed, "Password reset is not enabled for this user. Enable password reset under the configure tab to resolve this";
    FailedNoLicense = 27, "failed_no_license", Failed, "User does not have a license. You can add a license to the user to resolve this";
    FailedNoCookies = 28, "failed_no_cookies", Failed, "User tried to reset from a device without cookies enabled";
    FailedInsufficientMethods = 29, "failed_insufficient_methods", Failed, "User's account has insufficient authentication methods defined. Add authentication info to resolve this";
    FailedManagedOnPremises = 30, "failed_managed_on_premises", Failed, "User's password is managed on-premises. You can enable Password Writeback to resolve this";
    FailedOnPremisesUnreachable = 31, "failed_on_premises_unreachable", Failed, "We could not reach your on-premises password reset service. Check your sync machine's event log";
    FailedOnPremisesProblem = 32, "failed_on_premises_problem", Failed, "We encountered a problem while resetting the user's on-premises password. Check your sync machine's event log";
    FailedNotInGroup = 33, "failed_not_in_group", Failed, "This user is not a member of the password reset users group. Add this user to that group to resolve this.";
    FailedDisabledForTenant = 34, "failed_disabled_for_tenant", Failed, "Password reset has been disabled entirely for this tenant. See the password reset troubleshooting guide to resolve this.";
    Succeeded = 35, "succeeded", Succeeded, "User successfully reset password";
}

impl Details {
    pub fn from_code(code: i32) -> Option<Details> {
        Details::ALL.iter().copied().find(|d| d.code() == code)
    }

    pub fn from_key(key: &str) -> Option<Details> {
        Details::ALL.iter().copied().find(|d| d.key() == key)
    }

    /// Looks a detail up by the seed's text (as imports and old reports carry it),
    /// ignoring case, surrounding space, a trailing full stop and the trailing
    /// "See … to resolve this" pointer, which the seed writes as a link.
    pub fn from_text(text: &str) -> Option<Details> {
        let norm = |s: &str| {
            let s = s.trim().to_lowercase();
            let s = match s.find(" see ") {
                Some(at) => s[..at].to_string(),
                None => s,
            };
            s.trim_end_matches('.').to_string()
        };
        let wanted = norm(text);
        Details::ALL
            .iter()
            .copied()
            .find(|d| norm(d.text()) == wanted)
    }

    /// Every detail that leads to `result`, in table order.
    pub fn for_result(result: ActivityResult) -> impl Iterator<Item = Details> {
        Details::ALL
            .iter()
            .copied()
            .filter(move |d| d.result() == result)
    }
}

impl fmt::Display for Details {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    /// The seed's table, copied as it stands, row by row.
    const SEED_TABLE: &[(&str, &str)] = &[
        ("User abandoned after completing the email verification option", "Abandoned"),
        ("User abandoned after completing the mobile SMS verification option", "Abandoned"),
        ("User abandoned after completing the mobile voice call verification option", "Abandoned"),
        ("User abandoned after completing the office voice call verification option", "Abandoned"),
        ("User abandoned after completing the security questions option", "Abandoned"),
        ("User abandoned after entering their user ID", "Abandoned"),
        ("User abandoned after starting the email verification option", "Abandoned"),
        ("User abandoned after starting the mobile SMS verification option", "Abandoned"),
        ("User abandoned after starting the mobile voice call verification option", "Abandoned"),
        ("User abandoned after starting the office voice call verification option", "Abandoned"),
        ("User abandoned after starting the security questions option", "Abandoned"),
        ("User abandoned before selecting a new password", "Abandoned"),
        ("User abandoned while selecting a new password", "Abandoned"),
        ("User entered too many invalid SMS verification codes and is blocked for 24 hours", "Blocked"),
        ("User tried mobile phone voice verification too many times and is blocked for 24 hours", "Blocked"),
        ("User tried office phone voice verification too many times and is blocked for 24 hours", "Blocked"),
        ("User tried to answer security questions too many times and is blocked for 24 hours", "Blocked"),
        ("User tried to verify a phone number too many times and is blocked for 24 hours", "Blocked"),
        ("User cancelled before passing the required authentication methods", "Cancelled"),
        ("User cancelled before submitting a new password", "Cancelled"),
        ("User contacted an admin after trying the email verification option", "Contacted admin"),
        ("User contacted an admin after trying the mobile SMS verification option", "Contacted admin"),
        ("User contacted an admin after trying the mobile voice call verification option", "Contacted admin"),
        ("User contacted an admin after trying the office voice call verification option", "Contacted admin"),
        ("User contacted an admin after trying the security question verification option", "Contacted admin"),
        ("Password reset is not enabled for this user. Enable password reset under the configure tab to resolve this", "Failed"),
        ("User does not have a license. You can add a license to the user to resolve this", "Failed"),
        ("User tried to reset from a device without cookies enabled", "Failed"),
        ("User's account has insufficient authentication methods defined. Add authentication info to resolve this", "Failed"),
        ("User's password is managed on-premises. You can enable Password Writeback to resolve this", "Failed"),
        ("We could not reach your on-premises password reset service. Check your sync machine's event log", "Failed"),
        ("We encountered a problem while resetting the user's on-premises password. Check your sync machine's event log", "Failed"),
        ("This user is not a member of the password reset users group. Add this user to that group to resolve this.", "Failed"),
        ("Password reset has been disabled entirely for this tenant. See [here](./active-directory-passwords-troubleshoot.md) to resolve this.", "Failed"),
        ("User successfully reset password", "Succeeded"),
    ];

    #[test]
    fn every_seed_row_maps_to_its_result() {
        assert_eq!(Details::ALL.len(), SEED_TABLE.len());
        for (i, (text, result)) in SEED_TABLE.iter().enumerate() {
            let d = Details::ALL[i];
            // The seed links to a page we do not ship; our text names it instead.
            let seed_text = text.replace(
                "See [here](./active-directory-passwords-troubleshoot.md)",
                "See the password reset troubleshooting guide",
            );
            assert_eq!(d.text(), seed_text, "row {}", i + 1);
            assert_eq!(
                d.result().display_name(),
                *result,
                "row {}: {}",
                i + 1,
                text
            );
            assert_eq!(Details::from_text(&seed_text), Some(d));
            assert_eq!(
                Details::from_text(text),
                Some(d),
                "seed text of row {}",
                i + 1
            );
        }
    }

    #[test]
    fn codes_and_keys_are_unique_and_round_trip() {
        let mut codes = HashSet::new();
        let mut keys = HashSet::new();
        for d in Details::ALL {
            assert!(codes.insert(d.code()), "{d:?}");
            assert!(keys.insert(d.key()), "{d:?}");
            assert_eq!(Details::from_code(d.code()), Some(*d));
            assert_eq!(Details::from_key(d.key()), Some(*d));
        }
        for r in ActivityResult::ALL {
            assert_eq!(ActivityResult::from_code(r.code()), Some(r));
            assert_eq!(ActivityResult::from_key(r.key()), Some(r));
        }
        for f in Feature::ALL {
            assert_eq!(Feature::from_code(f.code()), Some(f));
            assert_eq!(Feature::from_key(f.key()), Some(f));
        }
    }

    #[test]
    fn every_result_has_details() {
        let counts: Vec<usize> = ActivityResult::ALL
            .iter()
            .map(|r| Details::for_result(*r).count())
            .collect();
        // Abandoned, Blocked, Cancelled, Contacted admin, Failed, Succeeded.
        assert_eq!(counts, [13, 5, 2, 5, 9, 1]);
    }

    #[test]
    fn result_keys_match_the_url_contract() {
        let keys: Vec<&str> = ActivityResult::ALL.iter().map(|r| r.key()).collect();
        assert_eq!(
            keys,
            [
                "abandoned",
                "blocked",
                "cancelled",
                "contacted_admin",
                "failed",
                "succeeded"
            ]
        );
    }
}
