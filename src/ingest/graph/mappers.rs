//! One Graph record of a report resource (registration details, usage,
//! events summary) to the portal's records.

use super::*;

/// One record's fields, read with errors that name the field.
pub(super) struct Rec<'v> {
    pub(super) obj: &'v Map<String, Value>,
    pub(super) at: &'v Location,
    /// Where this object sits in the record ("initiatedBy.user"), for
    /// field names in errors.
    pub(super) path: String,
    /// Values kept although unknown, for the import's warnings.
    pub(super) warnings: &'v RefCell<Vec<ImportWarning>>,
    /// Refuse an unknown value instead of keeping it (`--strict`).
    pub(super) strict: bool,
}

impl<'v> Rec<'v> {
    pub(super) fn field(&self, name: &str) -> String {
        if self.path.is_empty() {
            name.to_string()
        } else {
            format!("{}.{name}", self.path)
        }
    }

    pub(super) fn error(&self, name: &str, reason: impl Into<String>) -> ImportError {
        ImportError::new(self.at.clone(), Some(&self.field(name)), reason)
    }

    /// A value this import does not know, kept as `stored_as` with a
    /// warning; with `--strict`, the error that stops the import.
    pub(super) fn unknown(
        &self,
        name: &str,
        value: &str,
        stored_as: &str,
        hint: Option<&str>,
    ) -> Result<(), ImportError> {
        let warning =
            ImportWarning::new(self.at.clone(), &self.field(name), value, stored_as, hint);
        if self.strict {
            return Err(warning.refusal());
        }
        self.warnings.borrow_mut().push(warning);
        Ok(())
    }

    /// A method name: its catalogue methods, or [`Method::Other`] with a
    /// warning for a name this portal does not know.
    fn method_name(&self, field: &str, graph_name: &str) -> Result<&'static [Method], ImportError> {
        match graph_methods(graph_name) {
            Some(methods) => Ok(methods),
            None => {
                let hint = if graph_name == UNKNOWN_FUTURE_VALUE {
                    UNKNOWN_FUTURE_VALUE_HINT.to_string()
                } else {
                    let known: Vec<&str> = GRAPH_METHODS.iter().map(|(n, _)| *n).collect();
                    let guess = nearest(graph_name, &known)
                        .map(|n| format!(" (did you mean \"{n}\"?)"))
                        .unwrap_or_default();
                    format!(
                        "Not a method name this portal knows{guess}; it counts toward no rule. \
                         The names it knows are listed in docs/import-format.md"
                    )
                };
                self.unknown(field, graph_name, "as an other method", Some(&hint))?;
                Ok(&[Method::Other])
            }
        }
    }

    /// A field's value; `null` is absent.
    pub(super) fn get(&self, name: &str) -> Option<&'v Value> {
        self.obj.get(name).filter(|v| !v.is_null())
    }

    pub(super) fn text(&self, name: &str) -> Result<Option<&'v str>, ImportError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(self.error(name, format!("expected text, got {}", describe(other)))),
        }
    }

    pub(super) fn required_text(&self, name: &str) -> Result<&'v str, ImportError> {
        self.text(name)?
            .ok_or_else(|| self.error(name, "missing required field"))
    }

    pub(super) fn bool(&self, name: &str) -> Result<Option<bool>, ImportError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(other) => Err(self.error(
                name,
                format!("expected true or false, got {}", describe(other)),
            )),
        }
    }

    pub(super) fn required_bool(&self, name: &str) -> Result<bool, ImportError> {
        self.bool(name)?
            .ok_or_else(|| self.error(name, "missing required field"))
    }

    pub(super) fn time(&self, name: &str) -> Result<Option<NaiveDateTime>, ImportError> {
        let Some(text) = self.text(name)? else {
            return Ok(None);
        };
        chrono::DateTime::parse_from_rfc3339(text)
            .map(|t| Some(crate::ingest::records::to_micros(t.naive_utc())))
            .map_err(|_| {
                self.error(
                    name,
                    format!("expected a date and time such as 2024-05-01T08:30:00Z, got {text:?}"),
                )
            })
    }

    pub(super) fn required_time(&self, name: &str) -> Result<NaiveDateTime, ImportError> {
        self.time(name)?
            .ok_or_else(|| self.error(name, "missing required field"))
    }

    pub(super) fn list(&self, name: &str) -> Result<Option<&'v Vec<Value>>, ImportError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Array(list)) => Ok(Some(list)),
            Some(other) => {
                Err(self.error(name, format!("expected a list, got {}", describe(other))))
            }
        }
    }

    pub(super) fn object(&self, name: &str) -> Result<Option<Rec<'v>>, ImportError> {
        match self.get(name) {
            None => Ok(None),
            Some(value) => self.nested(value, self.field(name)).map(Some),
        }
    }

    pub(super) fn nested(&self, value: &'v Value, path: String) -> Result<Rec<'v>, ImportError> {
        match value {
            Value::Object(obj) => Ok(Rec {
                obj,
                at: self.at,
                path,
                warnings: self.warnings,
                strict: self.strict,
            }),
            other => Err(ImportError::new(
                self.at.clone(),
                Some(&path),
                format!("expected an object, got {}", describe(other)),
            )),
        }
    }

    /// A count (Graph's Int64: a JSON number, or text where the caller asked
    /// for IEEE754-compatible numbers), a whole number from 0.
    pub(super) fn required_count(&self, name: &str) -> Result<i64, ImportError> {
        let parsed = match self.get(name) {
            None => return Err(self.error(name, "missing required field")),
            Some(Value::Number(n)) => n.as_i64(),
            Some(Value::String(s)) => s.trim().parse::<i64>().ok(),
            Some(_) => None,
        };
        match parsed {
            Some(n) if n >= 0 => Ok(n),
            _ => Err(self.error(
                name,
                format!(
                    "expected a count (a whole number from 0), got {}",
                    self.get(name).map_or_else(String::new, |v| v.to_string())
                ),
            )),
        }
    }

    pub(super) fn feature(&self, name: &str) -> Result<Feature, ImportError> {
        let text = self.required_text(name)?;
        // Graph's featureType has registration and reset only; an unlock
        // is known from the audit log alone.
        Feature::from_key(text)
            .filter(|f| *f != Feature::Unlock)
            .ok_or_else(|| {
                self.error(
                    name,
                    format!("unknown feature {text:?}; known: registration, reset"),
                )
            })
    }

    /// A registered-methods list: the distinct catalogue methods, in
    /// catalogue order, and the names of those it does not know (stored as
    /// [`Method::Other`]), in the list's order.
    pub(super) fn methods(
        &self,
        name: &str,
    ) -> Result<Option<(MethodSet, Vec<String>)>, ImportError> {
        let Some(list) = self.list(name)? else {
            return Ok(None);
        };
        let mut set = MethodSet::EMPTY;
        let mut other_names: Vec<String> = Vec::new();
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
            let methods = self.method_name(&field, graph_name)?;
            if methods == [Method::Other] && !other_names.iter().any(|n| n == graph_name) {
                // Stored comma-separated.
                other_names.push(graph_name.replace(',', " "));
            }
            for method in methods {
                set.insert(*method);
            }
        }
        Ok(Some((set, other_names)))
    }

    /// A second-factor method name ([`second_factor`]): kept as Graph
    /// wrote it; a name this portal does not know gets a warning.
    fn second_factor(&self, field: &str, name: &'v str) -> Result<String, ImportError> {
        if !second_factor::is_known(name) {
            let hint = if name == UNKNOWN_FUTURE_VALUE {
                UNKNOWN_FUTURE_VALUE_HINT
            } else {
                "Not a method name this portal knows; it is shown as Graph wrote it \
                 and filtered as \"another method\""
            };
            self.unknown(field, name, "by its name", Some(hint))?;
        }
        Ok(name.to_string())
    }

    /// A second-factor method field.
    pub(super) fn second_factor_field(&self, name: &str) -> Result<Option<String>, ImportError> {
        self.text(name)?
            .map(|v| self.second_factor(name, v))
            .transpose()
    }

    /// A list of second-factor method names, in Graph's order.
    pub(super) fn second_factor_list(
        &self,
        name: &str,
    ) -> Result<Option<Vec<String>>, ImportError> {
        let Some(list) = self.list(name)? else {
            return Ok(None);
        };
        let mut names = Vec::new();
        for (i, value) in list.iter().enumerate() {
            let field = format!("{name}[{i}]");
            match value {
                Value::String(s) if s.is_empty() => {}
                // The names are stored comma-separated.
                Value::String(s) if s.contains(',') => {
                    return Err(self.error(&field, format!("{s:?} is not a method name")))
                }
                Value::String(s) => names.push(self.second_factor(&field, s)?),
                other => {
                    return Err(
                        self.error(&field, format!("expected text, got {}", describe(other)))
                    )
                }
            }
        }
        Ok(Some(names))
    }

    /// The one method a usage event names.
    pub(super) fn usage_method(&self, name: &str) -> Result<Method, ImportError> {
        let graph_name = self.required_text(name)?;
        match self.method_name(name, graph_name)? {
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

/// The catalogue methods of a Graph method name, matched exactly.
pub(super) fn graph_methods(name: &str) -> Option<&'static [Method]> {
    GRAPH_METHODS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, methods)| *methods)
}

/// The known name closest to `name` (ignoring case), when it is close.
pub(super) fn nearest<'a>(name: &str, known: &[&'a str]) -> Option<&'a str> {
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

pub(super) fn edit_distance(a: &[char], b: &[char]) -> usize {
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

pub(super) fn user_registration(
    rec: &Rec<'_>,
    read_at: NaiveDateTime,
) -> Result<(UserRecord, Option<MethodsRecord>), ImportError> {
    let id = rec.required_text("id")?;
    let is_guest = user_type(rec)?;
    let verdicts = Verdicts {
        registered: rec.bool("isSsprRegistered")?,
        enabled: rec.bool("isSsprEnabled")?,
        capable: rec.bool("isSsprCapable")?,
        mfa_capable: rec.bool("isMfaCapable")?,
        passwordless_capable: rec.bool("isPasswordlessCapable")?,
    };
    let updated_at = rec.time("lastUpdatedDateTime")?;
    let stated_at = updated_at.unwrap_or(read_at);
    let mfa = MfaDetails {
        mfa_registered: rec.bool("isMfaRegistered")?,
        default_mfa_method: rec.second_factor_field("defaultMfaMethod")?,
        system_preferred_enabled: rec.bool("isSystemPreferredAuthenticationMethodEnabled")?,
        system_preferred_methods: rec.second_factor_list("systemPreferredAuthenticationMethods")?,
        user_preferred_method: rec
            .second_factor_field("userPreferredMethodForSecondaryAuthentication")?,
        updated_at,
    };
    let user = UserRecord {
        id: id.to_string(),
        display_name: rec.text("userDisplayName")?.unwrap_or("").to_string(),
        user_principal_name: rec.required_text("userPrincipalName")?.to_string(),
        is_guest,
        is_admin: rec.bool("isAdmin")?,
        directory_role: None,
        account_enabled: None,
        verdicts: (verdicts != Verdicts::default()).then_some((verdicts, stated_at)),
        mfa: Some(mfa),
        listing: "userRegistrationDetails",
    };
    let methods = rec
        .methods("methodsRegistered")?
        .map(|set| complete_methods(id, set));
    Ok((user, methods))
}

/// `userType`: member or guest; anything else is left unstated with a warning.
fn user_type(rec: &Rec<'_>) -> Result<Option<bool>, ImportError> {
    Ok(match rec.text("userType")? {
        None => None,
        Some(t) if t.eq_ignore_ascii_case("member") => Some(false),
        Some(t) if t.eq_ignore_ascii_case("guest") => Some(true),
        Some(other) => {
            let hint = if other == UNKNOWN_FUTURE_VALUE {
                UNKNOWN_FUTURE_VALUE_HINT
            } else {
                "Known user types: member, guest"
            };
            rec.unknown(
                "userType",
                other,
                "as not stated (a stored user keeps their type; a new one counts as a member)",
                Some(hint),
            )?;
            None
        }
    })
}

/// A user of `GET /users` (`$select=id,displayName,userPrincipalName,
/// accountEnabled,userType`): who they are, whether their account is
/// enabled and whether they are a guest; their statuses and methods stay as
/// stored.
pub(super) fn directory_user(rec: &Rec<'_>) -> Result<UserRecord, ImportError> {
    Ok(UserRecord {
        id: rec.required_text("id")?.to_string(),
        display_name: rec.text("displayName")?.unwrap_or("").to_string(),
        user_principal_name: rec.required_text("userPrincipalName")?.to_string(),
        is_guest: user_type(rec)?,
        is_admin: None,
        directory_role: None,
        account_enabled: rec.bool("accountEnabled")?,
        verdicts: None,
        mfa: None,
        listing: "users",
    })
}

/// The user id of one member of a group's member list; `None` for a member
/// that is not a user (a nested group, a device, a service principal),
/// which the group's policy scope does not reach.
pub(super) fn member_user<'v>(rec: &Rec<'v>) -> Result<Option<&'v str>, ImportError> {
    let is_user = match rec.text("@odata.type")? {
        None => true,
        Some(kind) => kind
            .trim_start_matches('#')
            .eq_ignore_ascii_case("microsoft.graph.user"),
    };
    if !is_user {
        return Ok(None);
    }
    rec.required_text("id").map(Some)
}

pub(super) fn credential_registration(
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
        // Its isMfaRegistered alone would wipe what a registration-details
        // export said of the rest; that export is the one to read it from.
        mfa: None,
        listing: "credentialUserRegistrationDetails",
    };
    let methods = rec
        .methods("authMethods")?
        .map(|set| complete_methods(id, set));
    Ok((user, methods))
}

pub(super) fn complete_methods(
    user_id: &str,
    (set, other_names): (MethodSet, Vec<String>),
) -> MethodsRecord {
    MethodsRecord {
        user_id: user_id.to_string(),
        methods: set.iter().map(|m| (m, None)).collect(),
        complete: true,
        other_names,
    }
}

/// The fields both usage reports share.
pub(super) struct Usage<'v> {
    pub(super) id: &'v str,
    pub(super) feature: Feature,
    pub(super) method: Method,
    /// Graph's name of a method this portal does not know.
    pub(super) method_name: Option<String>,
    pub(super) success: bool,
    pub(super) failure_reason: Option<String>,
    pub(super) occurred_at: NaiveDateTime,
}

pub(super) fn usage_fields<'v>(rec: &Rec<'v>) -> Result<Usage<'v>, ImportError> {
    let id = rec.required_text("id")?;
    rec.required_text("userPrincipalName")?;
    rec.text("userDisplayName")?;
    let feature = rec.feature("feature")?;
    let success = rec.required_bool("isSuccess")?;
    let method = rec.usage_method("authMethod")?;
    let method_name = (method == Method::Other)
        .then(|| rec.required_text("authMethod").map(str::to_string))
        .transpose()?;
    let failure_reason = rec.text("failureReason")?;
    let occurred_at = rec.required_time("eventDateTime")?;
    Ok(Usage {
        id,
        feature,
        method,
        method_name,
        success,
        failure_reason: failure_reason.filter(|_| !success).map(str::to_string),
        occurred_at,
    })
}

/// The user a usage record names: kept with the event should the user not
/// be in the directory.
fn named_user(rec: &Rec<'_>) -> Result<NamedUser, ImportError> {
    Ok(NamedUser {
        user_principal_name: rec.required_text("userPrincipalName")?.to_string(),
        display_name: rec.text("userDisplayName")?.unwrap_or("").to_string(),
    })
}

pub(super) fn usage_event(rec: &Rec<'_>) -> Result<Record, ImportError> {
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
            method_name: usage.method_name,
        },
        identity: Identity::Given,
        user_key: UserKey::PrincipalName,
        named: Some(named_user(rec)?),
    })
}

pub(super) fn summary_event(rec: &Rec<'_>) -> Result<Record, ImportError> {
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
            method_name: usage.method_name,
        },
        identity: Identity::Derived,
        user_key: UserKey::Id,
        named: Some(named_user(rec)?),
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

/// `userMfaSignInSummary`: the day it summarises is the date of
/// `createdDateTime` ("the date and time (UTC) for when the summary was
/// aggregated for"). The three counts are kept as Graph gives them, even
/// where the total is not their sum (as in Microsoft's own example).
pub(super) fn mfa_sign_in_summary(rec: &Rec<'_>) -> Result<SignInDayRecord, ImportError> {
    Ok(SignInDayRecord {
        day: rec.required_time("createdDateTime")?.date(),
        total: rec.required_count("totalSignIns")?,
        single_factor: rec.required_count("singleFactorSignIns")?,
        multi_factor: rec.required_count("multiFactorSignIns")?,
    })
}

/// `userSignInUsageByAuthMethodActivity`: the record carries no date, so
/// it counts for `day` (the day of the import: a `d1` export covers the 24
/// hours before it was fetched). An unknown method is kept as other under
/// its Graph name, with a warning.
pub(super) fn sign_ins_by_method(
    rec: &Rec<'_>,
    day: chrono::NaiveDate,
) -> Result<SignInMethodRecord, ImportError> {
    let field = "authenticationMethod";
    let graph_name = rec.required_text(field)?;
    let (method, name) = match SignInMethod::from_graph_name(graph_name) {
        Some(m) => (m, String::new()),
        None => {
            let hint = if graph_name == UNKNOWN_FUTURE_VALUE {
                UNKNOWN_FUTURE_VALUE_HINT.to_string()
            } else {
                format!(
                    "Not a sign-in method this portal knows; its sign-ins are shown as Other \
                     \"{graph_name}\". The names it knows are listed in docs/import-format.md"
                )
            };
            rec.unknown(field, graph_name, "as an other sign-in method", Some(&hint))?;
            (SignInMethod::Other, graph_name.to_string())
        }
    };
    Ok(SignInMethodRecord {
        day,
        method,
        name,
        sign_ins: rec.required_count("successActivityCount")?,
    })
}
