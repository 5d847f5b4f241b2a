-- Daily sign-in summaries (Graph's userMfaSignInSummary and
-- userSignInsByAuthMethodSummary, or our own format): small tables, one row
-- per day and one per day and method, read whole by the usage view.
CREATE TABLE sign_in_days (
    day TIMESTAMP NOT NULL PRIMARY KEY, -- midnight UTC of the day summarised
    total_sign_ins BIGINT NOT NULL,
    single_factor BIGINT NOT NULL,
    multi_factor BIGINT NOT NULL,
    imported_at TIMESTAMP NOT NULL
) WITHOUT ROWID;

-- method: a sign-in method key; 'other' for a name the portal does not
-- know, kept under method_name (the source's name; '' for a known key).
CREATE TABLE sign_in_method_days (
    day TIMESTAMP NOT NULL,
    method TEXT NOT NULL,
    method_name TEXT NOT NULL,
    sign_ins BIGINT NOT NULL,
    PRIMARY KEY (day, method, method_name)
) WITHOUT ROWID;
