//! `export KIND FILE.csv`: the stored data in the import format, so that a
//! tenant moves between databases (SQLite to PostgreSQL, say) or is backed up
//! by export and import. Read in keyset pages: memory stays flat.

use super::format::{csv_header, FileKind};
use crate::db::models::Activity;
use crate::db::{dump, DbConnection};
use crate::domain::{ActivityResult, Details, Feature, Method, MethodSet};
use chrono::NaiveDateTime;
use std::io::Write;

const PAGE: i64 = 5_000;

fn time(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.fZ").to_string()
}

/// Writes every stored record of `kind` as CSV; returns the rows written.
pub fn export(conn: &mut DbConnection, kind: FileKind, out: impl Write) -> anyhow::Result<u64> {
    let mut csv = csv::Writer::from_writer(out);
    let rows = match kind {
        FileKind::Users => users_csv(conn, &mut csv)?,
        FileKind::Groups => groups_csv(conn, &mut csv)?,
        FileKind::Members => members_csv(conn, &mut csv)?,
        FileKind::Methods => methods_csv(conn, &mut csv)?,
        FileKind::Activities => activities_csv(conn, &mut csv)?,
        FileKind::SignIns | FileKind::SignInMethods => {
            anyhow::bail!("sign-in summaries are not exported: the export moves users and events")
        }
    };
    csv.flush()?;
    Ok(rows)
}

type Csv<W> = csv::Writer<W>;

fn users_csv<W: Write>(conn: &mut DbConnection, csv: &mut Csv<W>) -> anyhow::Result<u64> {
    csv.write_record(FileKind::Users.fields())?;
    let mut after = String::new();
    let mut n = 0;
    loop {
        let page = dump::users_after(conn, &after, PAGE)?;
        let Some(last) = page.last() else { break };
        after = last.0.clone();
        for (id, name, upn, guest, admin, role, enabled) in &page {
            let user_type = if *guest { "guest" } else { "member" };
            csv.write_record([
                id.as_str(),
                name,
                upn,
                user_type,
                if *admin { "true" } else { "false" },
                role,
                match enabled {
                    Some(true) => "true",
                    Some(false) => "false",
                    // The import leaves an empty value unsaid.
                    None => "",
                },
            ])?;
            n += 1;
        }
    }
    Ok(n)
}

fn groups_csv<W: Write>(conn: &mut DbConnection, csv: &mut Csv<W>) -> anyhow::Result<u64> {
    csv.write_record(FileKind::Groups.fields())?;
    let groups = dump::groups(conn)?;
    for (id, name) in &groups {
        csv.write_record([id, name])?;
    }
    Ok(groups.len() as u64)
}

fn members_csv<W: Write>(conn: &mut DbConnection, csv: &mut Csv<W>) -> anyhow::Result<u64> {
    csv.write_record(FileKind::Members.fields())?;
    let mut after = (String::new(), String::new());
    let mut n = 0;
    loop {
        let page = dump::members_after(conn, &after, PAGE)?;
        let Some(last) = page.last() else { break };
        after = last.clone();
        for (group, user) in &page {
            csv.write_record([group, user])?;
            n += 1;
        }
    }
    Ok(n)
}

fn methods_csv<W: Write>(conn: &mut DbConnection, csv: &mut Csv<W>) -> anyhow::Result<u64> {
    csv.write_record(FileKind::Methods.fields())?;
    let mut after = (String::new(), -1);
    let mut n = 0;
    loop {
        let page = dump::methods_after(conn, &after, PAGE)?;
        let Some(last) = page.last() else { break };
        after = (last.0.clone(), last.1);
        for (user, method, at) in &page {
            let Some(method) = Method::from_code(*method) else {
                continue;
            };
            csv.write_record([
                user.as_str(),
                method.key(),
                &at.map(time).unwrap_or_default(),
            ])?;
            n += 1;
        }
    }
    Ok(n)
}

/// One row per method event (an activity without events has one row of its own).
fn activities_csv<W: Write>(conn: &mut DbConnection, csv: &mut Csv<W>) -> anyhow::Result<u64> {
    csv.write_record(csv_header(FileKind::Activities))?;
    let mut after = String::new();
    let mut n = 0;
    loop {
        let page = dump::activities_after(conn, &after, PAGE)?;
        let Some(last) = page.last() else { break };
        after = last.id.clone();
        let ids: Vec<&str> = page.iter().map(|a| a.id.as_str()).collect();
        let mut events = dump::events_of(conn, &ids)?;
        events.sort_by(|a, b| (&a.activity_id, &a.id).cmp(&(&b.activity_id, &b.id)));
        let mut events = events.into_iter().peekable();
        for a in &page {
            let head = activity_head(a);
            let mut wrote = false;
            while let Some(e) = events.next_if(|e| e.activity_id.as_deref() == Some(&a.id)) {
                let method = Method::from_code(e.method).map_or("", Method::key);
                let mut row = head.clone();
                row.extend([
                    e.id.clone(),
                    method.to_string(),
                    e.success.to_string(),
                    e.failure_reason.clone().unwrap_or_default(),
                    time(e.occurred_at),
                ]);
                csv.write_record(&row)?;
                wrote = true;
                n += 1;
            }
            if !wrote {
                let mut row = head;
                row.extend(std::iter::repeat_n(String::new(), 5));
                csv.write_record(&row)?;
                n += 1;
            }
        }
    }
    Ok(n)
}

fn activity_head(a: &Activity) -> Vec<String> {
    vec![
        a.id.clone(),
        a.user_id.clone().unwrap_or_default(),
        a.user_principal_name.clone(),
        a.user_display_name.clone(),
        a.user_role.clone(),
        Feature::from_code(a.feature)
            .map_or("", Feature::key)
            .to_string(),
        ActivityResult::from_code(a.result)
            .map_or("", ActivityResult::key)
            .to_string(),
        a.details
            .and_then(Details::from_code)
            .map_or("", Details::key)
            .to_string(),
        time(a.occurred_at),
        MethodSet::from_mask(a.methods_mask)
            .iter()
            .map(Method::key)
            .collect::<Vec<_>>()
            .join(";"),
    ]
}
