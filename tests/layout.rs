//! The code's layout, as README's "How it is built" draws it: every SQL
//! statement and backend branch inside `src/db/`, and the top-level modules
//! in layers whose arrows all point down (so there is no import cycle).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The layer of each top-level module: a module may use only modules of a
/// lower layer (the leaves, at 0, use nothing of the crate).
const LAYERS: [(&str, u8); 11] = [
    ("domain", 0),
    ("accounts", 0),
    ("config", 0),
    ("db", 1),
    ("ingest", 2),
    ("service", 3),
    ("web", 4),
    ("startup", 5),
    ("bench", 5),
    ("cli", 6),
    ("main", 7),
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
