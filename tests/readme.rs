//! The README and `docs/` against the repository: the README stays short,
//! every relative link and image of README.md and `docs/*.md` leads to a
//! file of the repository (and to a heading there, when it names one), and
//! the README's command table matches the command line: every subcommand
//! that `authinsights --help` lists (recursively, e.g. `account add`) and
//! the second binary `authinsights-bench` have a row, every row names a real
//! command, and each row names exactly the long options that command's
//! `--help` lists. No database is needed.
//!
//! The option every command takes (`--database-url`, a global option) is
//! checked once, on the row of `authinsights` itself, not on every row.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};
use std::process::Command;

/// The README's hard limit; it aims at about 280 to leave room.
const README_MAX_LINES: usize = 300;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// README.md and every `docs/*.md`, as (path relative to the repository,
/// text).
fn documents() -> Vec<(PathBuf, String)> {
    let mut paths = vec![PathBuf::from("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .expect("a docs/ folder")
        .map(|e| e.expect("a folder entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .map(|p| PathBuf::from("docs").join(p.file_name().expect("a file name")))
        .collect();
    docs.sort();
    paths.extend(docs);
    paths
        .into_iter()
        .map(|p| {
            let text = read(&root().join(&p));
            (p, text)
        })
        .collect()
}

#[test]
fn readme_is_short() {
    let lines = read(&root().join("README.md")).lines().count();
    assert!(
        lines <= README_MAX_LINES,
        "README.md has {lines} lines; at most {README_MAX_LINES}: move details to a page in docs/"
    );
}

// ---------------------------------------------------------------- links

/// The lines of a markdown text outside fenced code blocks, with inline
/// code spans blanked out: (line number from 1, text).
fn prose_lines(text: &str) -> Vec<(usize, String)> {
    let mut fence: Option<String> = None;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        let marker: String = trimmed
            .chars()
            .take_while(|c| *c == '`' || *c == '~')
            .collect();
        if marker.len() >= 3 && marker.chars().all(|c| c == marker.as_bytes()[0] as char) {
            match &fence {
                None => fence = Some(marker),
                Some(open) if marker.starts_with(open.as_str()) => fence = None,
                Some(_) => {}
            }
            continue;
        }
        if fence.is_some() {
            continue;
        }
        out.push((i + 1, without_code_spans(line)));
    }
    out
}

/// A line with the text of its code spans (`…`, ``…``) replaced by spaces.
fn without_code_spans(line: &str) -> String {
    let chars: Vec<char> = line.chars().collect();
    let mut out = String::with_capacity(line.len());
    let mut i = 0;
    while i < chars.len() {
        if chars[i] != '`' {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        let run = chars[i..].iter().take_while(|c| **c == '`').count();
        // The closing run of the same length, if any.
        let mut j = i + run;
        let mut close = None;
        while j < chars.len() {
            if chars[j] == '`' {
                let len = chars[j..].iter().take_while(|c| **c == '`').count();
                if len == run {
                    close = Some(j);
                    break;
                }
                j += len;
            } else {
                j += 1;
            }
        }
        match close {
            Some(j) => {
                out.extend(std::iter::repeat_n(' ', j + run - i));
                i = j + run;
            }
            None => {
                out.extend(&chars[i..i + run]);
                i += run;
            }
        }
    }
    out
}

/// The targets of a line's links and images (`[text](target)`,
/// `![alt](target "title")`) and of a reference definition
/// (`[label]: target`).
fn link_targets(line: &str) -> Vec<String> {
    let mut targets = Vec::new();
    let trimmed = line.trim_start();
    if trimmed.starts_with('[') {
        if let Some(end) = trimmed.find(']') {
            if let Some(definition) = trimmed[end + 1..].strip_prefix(':') {
                let target = definition.split_whitespace().next().unwrap_or("");
                targets.push(target.trim_matches(['<', '>']).to_string());
            }
        }
    }
    let mut rest = line;
    while let Some(at) = rest.find("](") {
        let after = &rest[at + 2..];
        // Up to the matching parenthesis (a target may hold balanced ones).
        let mut depth = 0usize;
        let mut end = after.len();
        for (i, c) in after.char_indices() {
            match c {
                '(' => depth += 1,
                ')' if depth == 0 => {
                    end = i;
                    break;
                }
                ')' => depth -= 1,
                _ => {}
            }
        }
        let inside = after[..end].trim();
        let target = inside.split_whitespace().next().unwrap_or("");
        targets.push(target.trim_matches(['<', '>']).to_string());
        rest = &after[end.min(after.len())..];
    }
    targets
}

/// GitHub's anchor for a heading: lower case, punctuation dropped, spaces
/// as hyphens.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// The anchors of a markdown text's headings, repeats numbered as GitHub
/// numbers them (`x`, `x-1`, `x-2`).
fn anchors(text: &str) -> BTreeSet<String> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut out = BTreeSet::new();
    let mut fence = false;
    for line in text.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            fence = !fence;
            continue;
        }
        if fence || !trimmed.starts_with('#') {
            continue;
        }
        let level = trimmed.chars().take_while(|c| *c == '#').count();
        let title = &trimmed[level..];
        if level > 6 || !title.starts_with(' ') {
            continue;
        }
        let base = slug(title.trim().trim_end_matches('#'));
        let n = seen.entry(base.clone()).or_insert(0);
        out.insert(if *n == 0 {
            base.clone()
        } else {
            format!("{base}-{n}")
        });
        *n += 1;
    }
    out
}

/// Whether a target leaves the repository's files: a URL with a scheme.
fn is_external(target: &str) -> bool {
    let scheme: String = target
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        .collect();
    (!scheme.is_empty() && target[scheme.len()..].starts_with(':')) || target.starts_with("//")
}

/// A path without `.` and `..`, or None when `..` climbs above the start.
fn normalise(path: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            Component::Normal(p) => out.push(p),
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(out)
}

/// Every broken relative link of one document (`file` relative to `root`),
/// as "file:line: target: why".
fn broken_links(root: &Path, file: &Path, text: &str) -> Vec<String> {
    let folder = file.parent().unwrap_or(Path::new(""));
    let mut broken = Vec::new();
    for (number, line) in prose_lines(text) {
        for target in link_targets(&line) {
            let place = format!("{}:{number}: {target}", file.display());
            if target.is_empty() {
                broken.push(format!("{place}: an empty link"));
                continue;
            }
            if is_external(&target) {
                continue;
            }
            let (path, anchor) = match target.split_once('#') {
                Some((p, a)) => (p, Some(a)),
                None => (target.as_str(), None),
            };
            let path = percent_decode(path);
            if path.is_empty() {
                // A heading of this document.
                let anchor = anchor.unwrap_or("");
                if !anchor.is_empty() && !anchors(text).contains(&anchor.to_lowercase()) {
                    broken.push(format!("{place}: no heading #{anchor} here"));
                }
                continue;
            }
            let Some(resolved) = normalise(&folder.join(&path)) else {
                broken.push(format!("{place}: leads outside the repository"));
                continue;
            };
            let full = root.join(&resolved);
            if !full.exists() {
                broken.push(format!("{place}: {} does not exist", resolved.display()));
                continue;
            }
            if let Some(anchor) = anchor {
                let is_markdown = resolved.extension().is_some_and(|e| e == "md");
                if is_markdown && !anchor.is_empty() {
                    let heads = anchors(&read(&full));
                    if !heads.contains(&anchor.to_lowercase()) {
                        broken.push(format!(
                            "{place}: {} has no heading #{anchor}",
                            resolved.display()
                        ));
                    }
                }
            }
        }
    }
    broken
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            if let Some(b) = text
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn every_relative_link_and_image_resolves() {
    let root = root();
    let mut broken = Vec::new();
    let mut links = 0;
    for (file, text) in documents() {
        links += prose_lines(&text)
            .iter()
            .map(|(_, l)| link_targets(l).len())
            .sum::<usize>();
        broken.extend(broken_links(&root, &file, &text));
    }
    assert!(
        links > 20,
        "only {links} links found: is the parser broken?"
    );
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

#[test]
fn the_link_check_finds_broken_links() {
    let root = root();
    let text = "# Title\n\n## A section\n\n\
                [fine](../README.md) ![fine](overview.png) [here](#a-section)\n\
                [gone](missing.md) and ![gone](nothing.png)\n\
                [no heading](design.md#no-such-heading) [out](../../etc/passwd)\n\
                `[in code](missing-too.md)`\n\
                ```\n[in a fence](missing-three.md)\n```\n\
                [web](https://example.com/x) [ref]: missing-ref.md\n\
                [ref]: missing-definition.md\n";
    let broken = broken_links(&root, Path::new("docs/example.md"), text);
    let found = |needle: &str| broken.iter().any(|b| b.contains(needle));
    assert!(found("docs/example.md:6: missing.md"), "{broken:#?}");
    assert!(found("nothing.png"), "{broken:#?}");
    assert!(found("#no-such-heading"), "{broken:#?}");
    assert!(found("../../etc/passwd"), "{broken:#?}");
    assert!(found("missing-definition.md"), "{broken:#?}");
    assert!(!found("missing-too.md") && !found("missing-three.md"));
    assert_eq!(broken.len(), 5, "{broken:#?}");
}

// ------------------------------------------------------- command table

/// What `--help` says of one command: its subcommands and long options.
struct Help {
    commands: Vec<String>,
    options: BTreeSet<String>,
}

fn help_of(binary: &str, path: &[String]) -> Help {
    let output = Command::new(binary)
        .args(path)
        .arg("--help")
        .output()
        .unwrap_or_else(|e| panic!("{binary} {}: {e}", path.join(" ")));
    assert!(
        output.status.success(),
        "{binary} {} --help failed: {}",
        path.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
    parse_help(&String::from_utf8(output.stdout).expect("UTF-8 help"))
}

/// Parses clap's help: the names under "Commands:" (but `help`), and every
/// long option (but `--help` and `--version`). An entry starts at most six
/// spaces in; descriptions are indented further.
fn parse_help(text: &str) -> Help {
    let mut commands = Vec::new();
    let mut options = BTreeSet::new();
    let mut section = String::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            continue;
        }
        let indent = line.len() - line.trim_start().len();
        if indent == 0 {
            section = line.trim().to_string();
            continue;
        }
        if indent > 6 {
            continue;
        }
        let mut words = line.split_whitespace();
        if section == "Commands:" {
            if let Some(name) = words.next() {
                if name != "help" {
                    commands.push(name.to_string());
                }
            }
            continue;
        }
        for word in words.take(2) {
            let word = word.trim_end_matches(',');
            if let Some(name) = word.strip_prefix("--") {
                let name = name.split(['=', '<', '[']).next().unwrap_or("");
                if !name.is_empty() && name != "help" && name != "version" {
                    options.insert(format!("--{name}"));
                }
            }
        }
    }
    Help { commands, options }
}

/// The command line as `--help` describes it: each command path (`serve`,
/// `account add`, and `authinsights` / `authinsights-bench` for the two
/// binaries' own options) with the long options a row must name.
fn cli() -> BTreeMap<String, BTreeSet<String>> {
    let main = env!("CARGO_BIN_EXE_authinsights");
    let top = help_of(main, &[]);
    assert!(
        !top.commands.is_empty(),
        "authinsights --help lists no commands"
    );
    let global = top.options.clone();
    let mut out = BTreeMap::new();
    out.insert("authinsights".to_string(), global.clone());
    let mut pending: Vec<Vec<String>> = top.commands.iter().map(|c| vec![c.clone()]).collect();
    while let Some(path) = pending.pop() {
        let help = help_of(main, &path);
        if help.commands.is_empty() {
            let own = help.options.difference(&global).cloned().collect();
            out.insert(path.join(" "), own);
        } else {
            for sub in help.commands {
                let mut deeper = path.clone();
                deeper.push(sub);
                pending.push(deeper);
            }
        }
    }
    let bench = help_of(env!("CARGO_BIN_EXE_authinsights-bench"), &[]);
    out.insert("authinsights-bench".to_string(), bench.options);
    out
}

/// The cells of a table row, split on `|` that is not escaped (`\|`).
fn cells(row: &str) -> Vec<String> {
    let inner = row.trim().trim_start_matches('|').trim_end_matches('|');
    let mut cells = Vec::new();
    let mut cell = String::new();
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                cell.push('|');
                chars.next();
            }
            '|' => cells.push(std::mem::take(&mut cell).trim().to_string()),
            c => cell.push(c),
        }
    }
    cells.push(cell.trim().to_string());
    cells
}

/// The README's command table: the one table whose first heading is
/// "command", as (line number, command path, the row's long options).
/// Errors when there is none or more than one.
fn command_table(readme: &str) -> Result<Vec<(usize, String, BTreeSet<String>)>, String> {
    let lines: Vec<&str> = readme.lines().collect();
    let mut tables = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if lines[i].trim_start().starts_with('|') {
            let start = i;
            while i < lines.len() && lines[i].trim_start().starts_with('|') {
                i += 1;
            }
            let header = cells(lines[start]);
            if header.first().map(|h| h.to_lowercase()) == Some("command".to_string()) {
                tables.push((start, i));
            }
        } else {
            i += 1;
        }
    }
    let [(start, end)] = tables[..] else {
        return Err(format!(
            "README.md must have exactly one command table (a table whose first column is \
             \"command\"); it has {}",
            tables.len()
        ));
    };
    let mut rows = Vec::new();
    for (n, line) in lines.iter().enumerate().take(end).skip(start + 2) {
        let row = cells(line);
        let first = row.first().cloned().unwrap_or_default().replace('`', " ");
        let path: Vec<&str> = first
            .split_whitespace()
            .take_while(|w| {
                w.starts_with(|c: char| c.is_ascii_lowercase())
                    && w.chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            })
            .collect();
        rows.push((n + 1, path.join(" "), long_options(&row.join(" "))));
    }
    Ok(rows)
}

/// Every `--option` a text names.
fn long_options(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("--") {
        let before = rest[..at].chars().next_back();
        let name: String = rest[at + 2..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect();
        let preceded_by_word = before.is_some_and(|c| c.is_alphanumeric() || c == '-');
        if !preceded_by_word && name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
            out.insert(format!("--{}", name.trim_end_matches('-')));
        }
        rest = &rest[at + 2 + name.len()..];
    }
    out
}

/// What is wrong with the README's command table against the command line.
fn table_problems(readme: &str, cli: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    let rows = match command_table(readme) {
        Ok(rows) => rows,
        Err(e) => return vec![e],
    };
    let mut problems = Vec::new();
    let mut rows_of: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (line, command, options) in &rows {
        rows_of.entry(command.as_str()).or_default().push(*line);
        let Some(expected) = cli.get(command) else {
            problems.push(format!(
                "README.md:{line}: `{command}` is not a command (known: {})",
                cli.keys().cloned().collect::<Vec<_>>().join(", ")
            ));
            continue;
        };
        for missing in expected.difference(options) {
            problems.push(format!(
                "README.md:{line}: `{command}` has the option {missing}, which its row does not name"
            ));
        }
        for extra in options.difference(expected) {
            problems.push(format!(
                "README.md:{line}: the row of `{command}` names {extra}, which `{command} --help` does not list"
            ));
        }
    }
    for command in cli.keys() {
        match rows_of.get(command.as_str()).map(Vec::len) {
            None => problems.push(format!(
                "README.md: the command table has no row for `{command}`"
            )),
            Some(1) => {}
            Some(_) => problems.push(format!(
                "README.md: `{command}` has more than one row (lines {:?})",
                rows_of[command.as_str()]
            )),
        }
    }
    problems
}

#[test]
fn the_command_table_matches_every_help() {
    let cli = cli();
    for expected in ["serve", "account add", "api-key add", "authinsights-bench"] {
        assert!(cli.contains_key(expected), "{expected} not found: {cli:?}");
    }
    let problems = table_problems(&read(&root().join("README.md")), &cli);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The table check fails on each kind of drift: an option left out, an
/// option the command does not have, a row for no command, a command
/// without a row, and a second command table.
#[test]
fn the_command_table_check_finds_drift() {
    let cli = cli();
    let readme = read(&root().join("README.md"));
    assert!(table_problems(&readme, &cli).is_empty());
    let row = |command: &str| {
        readme
            .lines()
            .find(|l| l.starts_with(&format!("| `{command} ")))
            .unwrap_or_else(|| panic!("a row for {command}"))
            .to_string()
    };

    let import = row("import");
    assert!(import.contains("[--strict]"));
    let without_option = readme.replace(&import, &import.replace("--strict", "strict"));
    let problems = table_problems(&without_option, &cli);
    assert!(
        problems.iter().any(|p| p.contains("--strict")),
        "{problems:#?}"
    );

    let prune = row("prune");
    let unknown_option = readme.replace(&prune, &prune.replace("]", "] [--dry-run]"));
    let problems = table_problems(&unknown_option, &cli);
    assert!(
        problems
            .iter()
            .any(|p| p.contains("prune") && p.contains("--dry-run")),
        "{problems:#?}"
    );

    let unlock = row("account unlock");
    let no_such_command = readme.replace(
        &unlock,
        &format!("{unlock}\n| `account rename NAME NEW` | renames |"),
    );
    let problems = table_problems(&no_such_command, &cli);
    assert!(
        problems.iter().any(|p| p.contains("account rename")),
        "{problems:#?}"
    );

    let missing_row = readme.replace(&format!("{unlock}\n"), "");
    let problems = table_problems(&missing_row, &cli);
    assert!(
        problems
            .iter()
            .any(|p| p.contains("no row for `account unlock`")),
        "{problems:#?}"
    );

    let two_tables =
        format!("{readme}\n| command | does |\n| --- | --- |\n| `migrate` | again |\n");
    let problems = table_problems(&two_tables, &cli);
    assert!(
        problems
            .iter()
            .any(|p| p.contains("exactly one command table")),
        "{problems:#?}"
    );
}
