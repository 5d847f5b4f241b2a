//! The code's layout, as docs/design.md's code map draws it: every SQL
//! statement and backend branch inside `src/db/`, and the top-level modules
//! in layers whose arrows all point down (so there is no import cycle).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The layer of each top-level module: a module may use only modules of a
/// lower layer (the leaves, at 0, use nothing of the crate).
const LAYERS: [(&str, u8); 15] = [
    ("domain", 0),
    ("accounts", 0),
    ("config", 0),
    ("metrics", 0),
    ("tls", 0),
    ("db", 1),
    ("ingest", 2),
    ("service", 3),
    ("sync", 4),
    ("notify", 4),
    ("web", 5),
    ("startup", 6),
    ("cli", 7),
    ("main", 8),
    // The measuring binary beside the product (`src/bin/`).
    ("bin", 9),
];

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("a readable source folder") {
        let path = entry.expect("a folder entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The top-level module a source file belongs to.
fn module_of(path: &Path) -> String {
    let relative = path.strip_prefix(src()).expect("a file under src/");
    let first = relative
        .components()
        .next()
        .expect("a path")
        .as_os_str()
        .to_string_lossy()
        .to_string();
    first.trim_end_matches(".rs").to_string()
}

/// The code of a file without its comments (doc comments name other
/// modules in prose).
fn code(path: &Path) -> String {
    std::fs::read_to_string(path)
        .expect("a readable file")
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn storage_is_sealed_in_db() {
    let mut files = Vec::new();
    sources(&src(), &mut files);
    let mut leaks = Vec::new();
    for file in files.iter().filter(|f| module_of(f) != "db") {
        let text = code(file);
        for needle in [
            "diesel",
            "db::schema",
            "DbConnection::Sqlite",
            "DbConnection::Postgresql",
            "with_backend!",
        ] {
            if text.contains(needle) {
                leaks.push(format!("{}: {needle}", file.display()));
            }
        }
    }
    assert!(
        leaks.is_empty(),
        "SQL and backend branches belong in src/db/:\n{}",
        leaks.join("\n")
    );
}

#[test]
fn modules_use_only_the_layers_below_them() {
    let layers: BTreeMap<&str, u8> = LAYERS.into_iter().collect();
    let mut files = Vec::new();
    sources(&src(), &mut files);
    let mut wrong = Vec::new();
    for file in &files {
        let module = module_of(file);
        if module == "lib" {
            continue;
        }
        let Some(&layer) = layers.get(module.as_str()) else {
            panic!(
                "{}: the top-level module '{module}' has no layer in this test",
                file.display()
            );
        };
        let text = code(file);
        for (used, used_layer) in &layers {
            let uses = text.contains(&format!("crate::{used}::"))
                || text.contains(&format!("crate::{used};"))
                || text.contains(&format!("crate::{used} "))
                || text.contains(&format!("authinsights::{used}::"));
            if uses && *used != module && *used_layer >= layer {
                wrong.push(format!(
                    "{} ({module}, layer {layer}) uses {used} (layer {used_layer})",
                    file.display()
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// The modules of `web/` (each folder, `api/` and `lists/`, as one) that a
/// file uses.
fn web_uses(file: &Path, text: &str, modules: &[String]) -> Vec<String> {
    let in_folder = file
        .parent()
        .is_some_and(|p| p.file_name().is_some_and(|n| n != "web"));
    let prefixes: &[&str] = if in_folder {
        &["crate::web::", "super::super::"]
    } else {
        &["crate::web::", "super::"]
    };
    let mut used = Vec::new();
    for module in modules {
        for prefix in prefixes {
            let path = format!("{prefix}{module}");
            let found = text.match_indices(&path).any(|(at, _)| {
                let next = text[at + path.len()..].chars().next();
                !next.is_some_and(|c| c.is_alphanumeric() || c == '_')
            });
            if found && !used.contains(module) {
                used.push(module.clone());
            }
        }
    }
    used
}

/// The modules of `web/` with pages: a route and a template.
fn page_modules() -> Vec<String> {
    let web = src().join("web");
    let mut pages: Vec<String> = std::fs::read_dir(&web)
        .expect("src/web")
        .map(|e| e.expect("an entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .filter(|p| {
            let text = code(p);
            text.contains("#[template(")
                && ["#[get(", "#[post(", "#[routes]"]
                    .iter()
                    .any(|r| text.contains(r))
        })
        .filter_map(|p| Some(p.file_stem()?.to_string_lossy().to_string()))
        .collect();
    pages.sort();
    pages
}

/// A page is a leaf: what it shares with other pages, the CSV downloads and
/// the API (a list's parameters and links, the figures, a user described)
/// lives in a module below it, so the API never reaches into a page.
#[test]
fn no_module_uses_a_page_module() {
    let pages = page_modules();
    assert!(
        ["overview", "registrations", "activity", "reports", "users"]
            .iter()
            .all(|p| pages.iter().any(|q| q == p)),
        "the page modules are found: {pages:?}"
    );
    let web = src().join("web");
    let mut files = Vec::new();
    sources(&web, &mut files);
    let mut wrong = Vec::new();
    for file in &files {
        let own = file.file_stem().expect("a name").to_string_lossy();
        if own == "mod" && file.parent() == Some(web.as_path()) {
            continue; // web/mod.rs declares the modules.
        }
        for used in web_uses(file, &code(file), &pages) {
            if used != own {
                wrong.push(format!(
                    "{} uses the page module {used}",
                    file.strip_prefix(src()).expect("under src/").display()
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn web_modules_have_no_import_cycle() {
    let web = src().join("web");
    let mut modules: Vec<String> = std::fs::read_dir(&web)
        .expect("src/web")
        .map(|e| e.expect("an entry").path())
        .filter_map(|p| {
            let stem = p.file_stem()?.to_string_lossy().to_string();
            (stem != "mod").then_some(stem)
        })
        .collect();
    modules.sort();
    let mut files = Vec::new();
    sources(&web, &mut files);
    let mut edges: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for file in &files {
        let relative = file.strip_prefix(&web).expect("under web/");
        let node = relative
            .components()
            .next()
            .expect("a component")
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_string();
        if node == "mod" {
            continue;
        }
        let text = code(file);
        let entry = edges.entry(node.clone()).or_default();
        for used in web_uses(file, &text, &modules) {
            if used != node && !entry.contains(&used) {
                entry.push(used);
            }
        }
    }
    // Depth-first search for a cycle.
    fn visit(
        node: &str,
        edges: &BTreeMap<String, Vec<String>>,
        path: &mut Vec<String>,
        done: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut cycle = path[at..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.iter().any(|n| n == node) {
            return None;
        }
        path.push(node.to_string());
        for next in edges.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, edges, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.push(node.to_string());
        None
    }
    let mut done = Vec::new();
    for node in edges.keys() {
        if let Some(cycle) = visit(node, &edges, &mut Vec::new(), &mut done) {
            panic!(
                "web/ modules use each other in a circle: {}",
                cycle.join(" → ")
            );
        }
    }
}
