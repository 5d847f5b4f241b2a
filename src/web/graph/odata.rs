//! The OData subset Microsoft Graph documents for its report resources:
//! `$filter` (`eq`, `ne`, `gt`, `ge`, `lt`, `le`, `and`, `or`, `not`,
//! parentheses, `startswith(p, 'x')`, and `p/any(v: …)` over a collection),
//! `$select`, `$top`, `$orderby`, `$count` and `$skiptoken`. A filter is
//! checked against the resource's filterable properties when it is parsed
//! and evaluated on each record as Graph writes it (JSON), so that what a
//! filter means cannot differ from what the record says.
//!
//! Strings compare ignoring case, as Graph's directory does. Times are
//! written bare (`activityDateTime ge 2025-01-01T00:00:00Z`) and compare as
//! instants.

use chrono::{DateTime, Utc};
use serde_json::Value;
use std::cmp::Ordering;
use std::fmt;

/// Why a query was refused: Graph's error code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryError {
    pub code: &'static str,
    pub message: String,
}

impl QueryError {
    pub fn bad(message: impl Into<String>) -> QueryError {
        QueryError {
            code: "BadRequest",
            message: message.into(),
        }
    }

    pub fn unsupported(message: impl Into<String>) -> QueryError {
        QueryError {
            code: "Request_UnsupportedQuery",
            message: message.into(),
        }
    }
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

type Result<T> = std::result::Result<T, QueryError>;

/// A literal of a filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Text(String),
    Bool(bool),
    Number(f64),
    Time(DateTime<Utc>),
    Null,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

/// A filter expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    /// `path op literal` (a literal on the left is turned around).
    Compare(Vec<String>, Op, Literal),
    StartsWith(Vec<String>, String),
    /// `path/any(var: body)`; `all` when `every`.
    Any {
        path: Vec<String>,
        var: String,
        body: Box<Expr>,
        every: bool,
    },
    /// A bare boolean property or lambda variable: `isAdmin`.
    Truthy(Vec<String>),
}

impl Expr {
    /// The comparisons joined by `and` at the top (those every match
    /// satisfies), for narrowing a query before the filter runs.
    pub fn conjuncts(&self) -> Vec<&Expr> {
        match self {
            Expr::And(a, b) => {
                let mut v = a.conjuncts();
                v.extend(b.conjuncts());
                v
            }
            other => vec![other],
        }
    }

    /// Whether `record` passes.
    pub fn matches(&self, record: &Value) -> bool {
        self.eval(record, None)
    }

    fn eval(&self, record: &Value, var: Option<(&str, &Value)>) -> bool {
        match self {
            Expr::And(a, b) => a.eval(record, var) && b.eval(record, var),
            Expr::Or(a, b) => a.eval(record, var) || b.eval(record, var),
            Expr::Not(a) => !a.eval(record, var),
            Expr::Compare(path, op, lit) => compare(resolve(record, var, path), *op, lit),
            Expr::StartsWith(path, prefix) => resolve(record, var, path)
                .and_then(Value::as_str)
                .is_some_and(|s| s.to_lowercase().starts_with(&prefix.to_lowercase())),
            Expr::Truthy(path) => resolve(record, var, path) == Some(&Value::Bool(true)),
            Expr::Any {
                path,
                var: name,
                body,
                every,
            } => {
                let Some(items) = resolve(record, var, path).and_then(Value::as_array) else {
                    return *every;
                };
                if *every {
                    items
                        .iter()
                        .all(|item| body.eval(record, Some((name, item))))
                } else {
                    items
                        .iter()
                        .any(|item| body.eval(record, Some((name, item))))
                }
            }
        }
    }
}

fn resolve<'v>(
    record: &'v Value,
    var: Option<(&str, &'v Value)>,
    path: &[String],
) -> Option<&'v Value> {
    let (mut at, rest) = match (var, path.first()) {
        (Some((name, value)), Some(first)) if first == name => (value, &path[1..]),
        _ => (record, path),
    };
    for part in rest {
        at = at.get(part.as_str())?;
    }
    Some(at)
}

fn compare(value: Option<&Value>, op: Op, lit: &Literal) -> bool {
    let value = value.unwrap_or(&Value::Null);
    let ordering = match (value, lit) {
        (Value::Null, Literal::Null) => Some(Ordering::Equal),
        (Value::Null, _) | (_, Literal::Null) => None,
        (Value::Bool(a), Literal::Bool(b)) => Some(a.cmp(b)),
        (Value::Number(a), Literal::Number(b)) => a.as_f64().and_then(|a| a.partial_cmp(b)),
        (Value::String(a), Literal::Time(b)) => parse_time(a).map(|a| a.cmp(b)),
        (Value::String(a), Literal::Text(b)) => Some(a.to_lowercase().cmp(&b.to_lowercase())),
        _ => None,
    };
    match (op, ordering) {
        (Op::Eq, o) => o == Some(Ordering::Equal),
        (Op::Ne, o) => o != Some(Ordering::Equal),
        (_, None) => false,
        (Op::Gt, Some(o)) => o == Ordering::Greater,
        (Op::Ge, Some(o)) => o != Ordering::Less,
        (Op::Lt, Some(o)) => o == Ordering::Less,
        (Op::Le, Some(o)) => o != Ordering::Greater,
    }
}

pub fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// What a resource allows a query to name.
#[derive(Debug, Clone, Copy)]
pub struct Allowed {
    /// Graph's type name, for messages: `microsoft.graph.userRegistrationDetails`.
    pub type_name: &'static str,
    /// Every property (for `$select`).
    pub properties: &'static [&'static str],
    /// Properties a filter may name (the first segment of a path).
    pub filterable: &'static [&'static str],
    /// Properties `$orderby` may name.
    pub sortable: &'static [&'static str],
    /// The largest `$top`.
    pub max_top: usize,
    /// The page size without `$top`.
    pub default_top: usize,
}

/// A parsed query string.
#[derive(Debug, Clone, Default)]
pub struct Query {
    pub filter: Option<Expr>,
    pub filter_text: Option<String>,
    pub select: Option<Vec<String>>,
    pub top: Option<usize>,
    pub orderby: Vec<(String, bool)>,
    pub count: bool,
    pub skiptoken: Option<String>,
    /// Non-OData parameters kept for the next link.
    pub rest: Vec<(String, String)>,
    /// The properties shown when `$select` is not given (a resource whose
    /// default set is not every property); not repeated in a next link.
    pub fallback_select: Option<Vec<String>>,
}

impl Query {
    /// Reads `raw` (the query string) for a resource.
    pub fn parse(raw: &str, allowed: &Allowed) -> Result<Query> {
        let mut q = Query::default();
        let mut seen: Vec<String> = Vec::new();
        for (name, value) in url::form_urlencoded::parse(raw.as_bytes()) {
            // Graph's v1.0 takes the options with or without their `$`.
            let key = name.trim_start_matches('$').to_ascii_lowercase();
            if seen.contains(&key) {
                return Err(QueryError::bad(format!(
                    "Query option '${key}' was specified more than once, but it must be specified at most once."
                )));
            }
            seen.push(key.clone());
            let value = value.into_owned();
            match key.as_str() {
                "filter" => {
                    let expr = parse_filter(&value, allowed)?;
                    q.filter = Some(expr);
                    q.filter_text = Some(value);
                }
                "select" => q.select = Some(parse_select(&value, allowed)?),
                "top" => {
                    let n: usize = value.trim().parse().map_err(|_| {
                        QueryError::bad(format!(
                            "Invalid value '{value}' for $top query option found. The $top query option requires a non-negative integer value."
                        ))
                    })?;
                    if n == 0 || n > allowed.max_top {
                        return Err(QueryError::bad(format!(
                            "Invalid page size specified: '{n}'. Must be between 1 and {} inclusive.",
                            allowed.max_top
                        )));
                    }
                    q.top = Some(n);
                }
                "orderby" => q.orderby = parse_orderby(&value, allowed)?,
                "count" => {
                    q.count = match value.trim() {
                        "true" => true,
                        "false" => false,
                        _ => {
                            return Err(QueryError::bad(format!(
                                "Invalid value '{value}' for $count query option found. Valid values are 'true' and 'false'."
                            )))
                        }
                    }
                }
                "skiptoken" => q.skiptoken = Some(value),
                "expand" | "search" | "skip" | "apply" | "compute" | "format" => {
                    return Err(QueryError::unsupported(format!(
                        "The query option '${key}' is not supported on {}.",
                        allowed.type_name
                    )))
                }
                _ if name.starts_with('$') => {
                    return Err(QueryError::bad(format!(
                        "The query parameter '{name}' is not supported."
                    )))
                }
                _ => q.rest.push((name.into_owned(), value)),
            }
        }
        Ok(q)
    }

    pub fn page_size(&self, allowed: &Allowed) -> usize {
        self.top.unwrap_or(allowed.default_top)
    }

    /// The query string of the next page: the same options, and `token`.
    pub fn next_query(&self, token: &str) -> String {
        let mut out = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in &self.rest {
            out.append_pair(k, v);
        }
        if let Some(f) = &self.filter_text {
            out.append_pair("$filter", f);
        }
        if let Some(s) = &self.select {
            out.append_pair("$select", &s.join(","));
        }
        if let Some(t) = self.top {
            out.append_pair("$top", &t.to_string());
        }
        if !self.orderby.is_empty() {
            let o: Vec<String> = self
                .orderby
                .iter()
                .map(|(p, desc)| format!("{p} {}", if *desc { "desc" } else { "asc" }))
                .collect();
            out.append_pair("$orderby", &o.join(","));
        }
        if self.count {
            out.append_pair("$count", "true");
        }
        out.append_pair("$skiptoken", token);
        out.finish()
    }

    /// Keeps the selected properties of `record` (all without `$select`).
    pub fn project(&self, record: Value) -> Value {
        match (
            self.select.as_ref().or(self.fallback_select.as_ref()),
            record,
        ) {
            (Some(props), Value::Object(mut map)) => {
                let mut out = serde_json::Map::new();
                // Annotations (`@odata.type`) stay, as Graph keeps them.
                let annotations: Vec<String> =
                    map.keys().filter(|k| k.starts_with('@')).cloned().collect();
                for k in annotations {
                    if let Some((k, v)) = map.remove_entry(&k) {
                        out.insert(k, v);
                    }
                }
                for p in props {
                    if let Some((k, v)) = map.remove_entry(p.as_str()) {
                        out.insert(k, v);
                    }
                }
                Value::Object(out)
            }
            (_, record) => record,
        }
    }
}

fn find_property<'a>(allowed: &'a Allowed, name: &str) -> Option<&'a str> {
    allowed
        .properties
        .iter()
        .copied()
        .find(|p| p.eq_ignore_ascii_case(name))
}

fn parse_select(value: &str, allowed: &Allowed) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for part in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let Some(p) = find_property(allowed, part) else {
            return Err(QueryError::bad(format!(
                "Parsing OData Select and Expand failed: Could not find a property named '{part}' on type '{}'.",
                allowed.type_name
            )));
        };
        if !out.iter().any(|o: &String| o == p) {
            out.push(p.to_string());
        }
    }
    if out.is_empty() {
        return Err(QueryError::bad("The $select query option is empty."));
    }
    Ok(out)
}

fn parse_orderby(value: &str, allowed: &Allowed) -> Result<Vec<(String, bool)>> {
    let mut out = Vec::new();
    for part in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let mut words = part.split_whitespace();
        let name = words.next().unwrap_or_default();
        let desc = match words.next().map(str::to_ascii_lowercase).as_deref() {
            None | Some("asc") => false,
            Some("desc") => true,
            Some(other) => {
                return Err(QueryError::bad(format!(
                    "Syntax error: '{other}' in $orderby; write a property, then asc or desc."
                )))
            }
        };
        let Some(p) = allowed
            .sortable
            .iter()
            .copied()
            .find(|p| p.eq_ignore_ascii_case(name))
        else {
            return Err(QueryError::unsupported(format!(
                "Sorting by '{name}' is not supported on {}; it sorts by {}.",
                allowed.type_name,
                if allowed.sortable.is_empty() {
                    "nothing".to_string()
                } else {
                    allowed.sortable.join(", ")
                }
            )));
        };
        out.push((p.to_string(), desc));
    }
    if out.len() > 1 {
        return Err(QueryError::unsupported(
            "Sorting by more than one property is not supported.",
        ));
    }
    Ok(out)
}

// ---- the filter grammar ----------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Text(String),
    Number(f64),
    Time(DateTime<Utc>),
    Open,
    Close,
    Comma,
    Colon,
    Slash,
}

fn tokens(text: &str) -> Result<Vec<Token>> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            c if c.is_whitespace() => i += 1,
            '(' => {
                out.push(Token::Open);
                i += 1
            }
            ')' => {
                out.push(Token::Close);
                i += 1
            }
            ',' => {
                out.push(Token::Comma);
                i += 1
            }
            ':' => {
                out.push(Token::Colon);
                i += 1
            }
            '/' => {
                out.push(Token::Slash);
                i += 1
            }
            '\'' => {
                let mut s = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => {
                            return Err(QueryError::bad(
                                "Invalid filter clause: a string literal is not closed (a quote is missing).",
                            ))
                        }
                        Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                            s.push('\'');
                            i += 2;
                        }
                        Some('\'') => {
                            i += 1;
                            break;
                        }
                        Some(ch) => {
                            s.push(*ch);
                            i += 1;
                        }
                    }
                }
                out.push(Token::Text(s));
            }
            c if c.is_ascii_digit() || c == '-' => {
                let start = i;
                while i < chars.len()
                    && (chars[i].is_ascii_alphanumeric()
                        || matches!(chars[i], '-' | ':' | '.' | '+'))
                {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                if let Ok(n) = word.parse::<f64>() {
                    out.push(Token::Number(n));
                } else if let Some(t) = parse_time(&word).or_else(|| {
                    chrono::NaiveDate::parse_from_str(&word, "%Y-%m-%d")
                        .ok()
                        .map(|d| d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc())
                }) {
                    out.push(Token::Time(t));
                } else {
                    return Err(QueryError::bad(format!(
                        "Invalid filter clause: '{word}' is neither a number nor a date and time (write 2025-01-31T00:00:00Z)."
                    )));
                }
            }
            c if c.is_alphabetic() || c == '_' || c == '@' || c == '.' => {
                let start = i;
                while i < chars.len()
                    && (chars[i].is_alphanumeric() || matches!(chars[i], '_' | '@' | '.'))
                {
                    i += 1;
                }
                out.push(Token::Word(chars[start..i].iter().collect()));
            }
            other => {
                return Err(QueryError::bad(format!(
                    "Invalid filter clause: unexpected character '{other}'."
                )))
            }
        }
    }
    Ok(out)
}

struct Parser<'a> {
    tokens: Vec<Token>,
    at: usize,
    allowed: &'a Allowed,
    vars: Vec<String>,
}

/// Parses `$filter` for a resource.
pub fn parse_filter(text: &str, allowed: &Allowed) -> Result<Expr> {
    let mut p = Parser {
        tokens: tokens(text)?,
        at: 0,
        allowed,
        vars: Vec::new(),
    };
    if p.tokens.is_empty() {
        return Err(QueryError::bad(
            "Invalid filter clause: the filter is empty.",
        ));
    }
    let e = p.or()?;
    if p.at != p.tokens.len() {
        return Err(QueryError::bad(format!(
            "Invalid filter clause: syntax error at position {} in '{text}'.",
            p.at + 1
        )));
    }
    Ok(e)
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.at).cloned();
        self.at += 1;
        t
    }

    fn keyword(&self, word: &str) -> bool {
        matches!(self.peek(), Some(Token::Word(w)) if w.eq_ignore_ascii_case(word))
    }

    fn expect(&mut self, want: Token, what: &str) -> Result<()> {
        match self.next() {
            Some(t) if t == want => Ok(()),
            _ => Err(QueryError::bad(format!(
                "Invalid filter clause: {what} expected."
            ))),
        }
    }

    fn or(&mut self) -> Result<Expr> {
        let mut left = self.and()?;
        while self.keyword("or") {
            self.at += 1;
            let right = self.and()?;
            left = Expr::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr> {
        let mut left = self.unary()?;
        while self.keyword("and") {
            self.at += 1;
            let right = self.unary()?;
            left = Expr::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr> {
        if self.keyword("not") {
            self.at += 1;
            return Ok(Expr::Not(Box::new(self.unary()?)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Expr> {
        if self.peek() == Some(&Token::Open) {
            self.at += 1;
            let e = self.or()?;
            self.expect(Token::Close, "')'")?;
            return Ok(e);
        }
        let functions = ["startswith", "endswith", "contains"];
        if let (Some(Token::Word(w)), Some(Token::Open)) =
            (self.peek().cloned(), self.tokens.get(self.at + 1))
        {
            let lower = w.to_ascii_lowercase();
            if functions.contains(&lower.as_str()) {
                if lower != "startswith" {
                    return Err(QueryError::unsupported(format!(
                        "The function '{w}' is not supported on {}; startswith is.",
                        self.allowed.type_name
                    )));
                }
                self.at += 2;
                let path = self.path()?;
                self.expect(Token::Comma, "','")?;
                let Some(Token::Text(prefix)) = self.next() else {
                    return Err(QueryError::bad(
                        "Invalid filter clause: startswith takes a property and a quoted string.",
                    ));
                };
                self.expect(Token::Close, "')'")?;
                return Ok(Expr::StartsWith(path, prefix));
            }
        }
        // A literal first: turn the comparison around.
        if let Some(lit) = self.literal() {
            let op = self.op()?;
            let path = self.path()?;
            let flipped = match op {
                Op::Gt => Op::Lt,
                Op::Ge => Op::Le,
                Op::Lt => Op::Gt,
                Op::Le => Op::Ge,
                o => o,
            };
            return Ok(Expr::Compare(path, flipped, lit));
        }
        let path = self.path()?;
        // A lambda: path/any(v: body).
        if self.peek() == Some(&Token::Slash) {
            self.at += 1;
            let Some(Token::Word(kind)) = self.next() else {
                return Err(QueryError::bad(
                    "Invalid filter clause: any or all expected after '/'.",
                ));
            };
            let every = match kind.to_ascii_lowercase().as_str() {
                "any" => false,
                "all" => true,
                _ => {
                    return Err(QueryError::bad(format!(
                    "Invalid filter clause: '{kind}' is not a property here; any or all expected."
                )))
                }
            };
            self.expect(Token::Open, "'('")?;
            let Some(Token::Word(var)) = self.next() else {
                return Err(QueryError::bad(
                    "Invalid filter clause: a lambda variable expected, as in any(m: m eq 'email').",
                ));
            };
            self.expect(Token::Colon, "':'")?;
            self.vars.push(var.clone());
            let body = self.or()?;
            self.vars.pop();
            self.expect(Token::Close, "')'")?;
            return Ok(Expr::Any {
                path,
                var,
                body: Box::new(body),
                every,
            });
        }
        match self.peek() {
            Some(Token::Word(w))
                if ["eq", "ne", "gt", "ge", "lt", "le"]
                    .contains(&w.to_ascii_lowercase().as_str()) =>
            {
                let op = self.op()?;
                let Some(lit) = self.literal() else {
                    return Err(QueryError::bad(
                        "Invalid filter clause: a value expected after the operator (a quoted string, true, false, null, a number or a date and time).",
                    ));
                };
                Ok(Expr::Compare(path, op, lit))
            }
            Some(Token::Word(w)) if ["in", "has"].contains(&w.to_ascii_lowercase().as_str()) => {
                Err(QueryError::unsupported(format!(
                    "The operator '{w}' is not supported on {}.",
                    self.allowed.type_name
                )))
            }
            _ => Ok(Expr::Truthy(path)),
        }
    }

    fn op(&mut self) -> Result<Op> {
        let Some(Token::Word(w)) = self.next() else {
            return Err(QueryError::bad(
                "Invalid filter clause: an operator expected (eq, ne, gt, ge, lt, le).",
            ));
        };
        Ok(match w.to_ascii_lowercase().as_str() {
            "eq" => Op::Eq,
            "ne" => Op::Ne,
            "gt" => Op::Gt,
            "ge" => Op::Ge,
            "lt" => Op::Lt,
            "le" => Op::Le,
            _ => {
                return Err(QueryError::bad(format!(
                    "Invalid filter clause: '{w}' is not an operator (eq, ne, gt, ge, lt, le)."
                )))
            }
        })
    }

    fn literal(&mut self) -> Option<Literal> {
        let lit = match self.peek()? {
            Token::Text(s) => Literal::Text(s.clone()),
            Token::Number(n) => Literal::Number(*n),
            Token::Time(t) => Literal::Time(*t),
            Token::Word(w) if w == "true" => Literal::Bool(true),
            Token::Word(w) if w == "false" => Literal::Bool(false),
            Token::Word(w) if w == "null" => Literal::Null,
            _ => return None,
        };
        self.at += 1;
        Some(lit)
    }

    /// A property path: `name`, `a/b`, or a lambda variable's `v/b`; the
    /// first segment is checked against the resource.
    fn path(&mut self) -> Result<Vec<String>> {
        let Some(Token::Word(first)) = self.next() else {
            return Err(QueryError::bad(
                "Invalid filter clause: a property name expected.",
            ));
        };
        let mut path = if self.vars.iter().any(|v| v == &first) {
            vec![first]
        } else {
            let Some(p) = self
                .allowed
                .properties
                .iter()
                .copied()
                .find(|p| p.eq_ignore_ascii_case(&first))
            else {
                return Err(QueryError::bad(format!(
                    "Invalid filter clause: Could not find a property named '{first}' on type '{}'.",
                    self.allowed.type_name
                )));
            };
            if !self.allowed.filterable.contains(&p) {
                return Err(QueryError::unsupported(format!(
                    "Filtering by '{p}' is not supported on {}; it filters by {}.",
                    self.allowed.type_name,
                    self.allowed.filterable.join(", ")
                )));
            }
            vec![p.to_string()]
        };
        // Further segments, unless the next is a lambda.
        while self.peek() == Some(&Token::Slash) {
            match self.tokens.get(self.at + 1) {
                Some(Token::Word(w))
                    if !(w.eq_ignore_ascii_case("any") || w.eq_ignore_ascii_case("all"))
                        || self.tokens.get(self.at + 2) != Some(&Token::Open) =>
                {
                    path.push(w.clone());
                    self.at += 2;
                }
                _ => break,
            }
        }
        Ok(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ALLOWED: Allowed = Allowed {
        type_name: "microsoft.graph.userRegistrationDetails",
        properties: &[
            "id",
            "userPrincipalName",
            "isAdmin",
            "methodsRegistered",
            "lastUpdatedDateTime",
            "userType",
        ],
        filterable: &[
            "id",
            "userPrincipalName",
            "isAdmin",
            "methodsRegistered",
            "lastUpdatedDateTime",
        ],
        sortable: &["userPrincipalName"],
        max_top: 999,
        default_top: 100,
    };

    fn passes(filter: &str, record: &Value) -> bool {
        parse_filter(filter, &ALLOWED).unwrap().matches(record)
    }

    #[test]
    fn filters_mean_what_graph_documents() {
        let r = json!({"id": "1", "userPrincipalName": "Ann@Contoso.com", "isAdmin": false,
            "methodsRegistered": ["email", "mobilePhone"],
            "lastUpdatedDateTime": "2025-03-01T10:00:00Z"});
        assert!(passes("isAdmin eq false", &r));
        assert!(!passes("isAdmin eq true", &r));
        assert!(passes("not isAdmin", &r));
        assert!(passes("userPrincipalName eq 'ann@contoso.com'", &r));
        assert!(passes("startswith(userPrincipalName, 'ANN')", &r));
        assert!(passes("methodsRegistered/any(m: m eq 'mobilePhone')", &r));
        assert!(!passes(
            "methodsRegistered/any(m: m eq 'fido2SecurityKey')",
            &r
        ));
        assert!(passes(
            "methodsRegistered/all(m: m ne 'fido2SecurityKey')",
            &r
        ));
        assert!(passes(
            "lastUpdatedDateTime ge 2025-03-01T00:00:00Z and lastUpdatedDateTime lt 2025-03-02",
            &r
        ));
        assert!(passes("2025-03-02T00:00:00Z gt lastUpdatedDateTime", &r));
        assert!(passes(
            "(isAdmin eq true or id eq '1') and userPrincipalName ne 'x'",
            &r
        ));
        assert!(passes(
            "userPrincipalName eq 'it''s'",
            &json!({"userPrincipalName": "It's"})
        ));
    }

    #[test]
    fn refusals_name_the_problem() {
        let e = parse_filter("userType eq 'guest'", &ALLOWED).unwrap_err();
        assert_eq!(e.code, "Request_UnsupportedQuery");
        assert!(e.message.contains("userType"), "{e}");
        let e = parse_filter("nosuch eq 1", &ALLOWED).unwrap_err();
        assert!(
            e.message
                .contains("Could not find a property named 'nosuch'"),
            "{e}"
        );
        assert!(parse_filter("isAdmin eq", &ALLOWED).is_err());
        assert!(parse_filter("userPrincipalName eq 'open", &ALLOWED).is_err());
        assert!(parse_filter("contains(userPrincipalName, 'a')", &ALLOWED).is_err());
        let e = Query::parse("$top=1000", &ALLOWED).unwrap_err();
        assert!(e.message.contains("between 1 and 999"), "{e}");
        let e = Query::parse("$select=id,nosuch", &ALLOWED).unwrap_err();
        assert!(e.message.contains("'nosuch'"), "{e}");
        let e = Query::parse("$orderby=isAdmin", &ALLOWED).unwrap_err();
        assert!(e.message.contains("userPrincipalName"), "{e}");
        assert!(Query::parse("$expand=x", &ALLOWED).is_err());
        assert!(Query::parse("$top=5&top=6", &ALLOWED).is_err());
    }

    #[test]
    fn options_round_trip_into_the_next_link() {
        let q = Query::parse(
            "$filter=isAdmin%20eq%20true&$select=id,userPrincipalName&$top=5&$count=true",
            &ALLOWED,
        )
        .unwrap();
        assert_eq!(q.top, Some(5));
        assert!(q.count);
        let next = q.next_query("abc");
        let again = Query::parse(&next, &ALLOWED).unwrap();
        assert_eq!(again.filter, q.filter);
        assert_eq!(again.select, q.select);
        assert_eq!(again.skiptoken.as_deref(), Some("abc"));
        let projected = q.project(json!({"id": "1", "userPrincipalName": "a", "isAdmin": true}));
        assert_eq!(projected, json!({"id": "1", "userPrincipalName": "a"}));
    }
}
