//! Who may use whom (docs/architecture.md): `delivery` never uses `store` or `http`; `store` never
//! uses `http` or `delivery`; `url` uses neither; workers never use `shared::http`; functions never
//! depend on a worker crate. Read from the sources, so a forbidden import fails here, not in review.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every `.rs` file below `dir` (none when it does not exist).
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return files };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

/// The lines of `text` that name one of `modules` as `crate::{module}` or `shared::{module}`.
fn uses_of(text: &str, modules: &[&str]) -> Vec<String> {
    text.lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .filter(|line| {
            modules.iter().any(|m| {
                [format!("crate::{m}"), format!("shared::{m}")].iter().any(|p| {
                    line.match_indices(p.as_str()).any(|(i, _)| {
                        let after = line[i + p.len()..].chars().next();
                        after.is_none_or(|c| !(c.is_alphanumeric() || c == '_'))
                    })
                })
            })
        })
        .map(str::to_owned)
        .collect()
}

fn violations(dir: &str, forbidden: &[&str]) -> Vec<String> {
    let files = rust_files(&root().join(dir));
    files
        .iter()
        .flat_map(|f| {
            let text = std::fs::read_to_string(f).unwrap();
            uses_of(&text, forbidden).into_iter().map(move |line| format!("{}: {}", f.display(), line.trim()))
        })
        .collect()
}

#[test]
fn the_scanner_sees_imports_in_every_spelling() {
    assert_eq!(uses_of("use crate::store::Store;", &["store"]).len(), 1);
    assert_eq!(uses_of("use crate::{store, http};", &["store"]).len(), 0, "grouped imports are not used here");
    assert_eq!(uses_of("let x = crate::http::routes::ROUTES;", &["http"]).len(), 1);
    assert_eq!(uses_of("use shared::http;", &["http"]).len(), 1);
    assert!(uses_of("use crate::storage::X;", &["store"]).is_empty(), "another module's name");
    assert!(uses_of("// crate::store is not used", &["store"]).is_empty(), "comments");
}

#[test]
fn no_grouped_crate_imports_hide_a_module() {
    // `use crate::{a, b}` would slip past the line scan above; the shared crate does not use it.
    let grouped: Vec<PathBuf> = rust_files(&root().join("shared/src"))
        .into_iter()
        .filter(|f| std::fs::read_to_string(f).unwrap().contains("use crate::{"))
        .collect();
    assert!(grouped.is_empty(), "{grouped:?}");
}

#[test]
fn delivery_uses_neither_store_nor_http() {
    assert_eq!(violations("shared/src/delivery", &["store", "http"]), Vec::<String>::new());
}

#[test]
fn store_uses_neither_http_nor_delivery() {
    assert_eq!(violations("shared/src/store", &["http", "delivery"]), Vec::<String>::new());
}

#[test]
fn the_url_rule_uses_none_of_the_rooms() {
    assert_eq!(violations("shared/src/url", &["store", "http", "delivery"]), Vec::<String>::new());
}

#[test]
fn queue_and_workers_never_use_http() {
    assert_eq!(violations("shared/src/queue", &["http"]), Vec::<String>::new());
    assert_eq!(violations("workers", &["http"]), Vec::<String>::new());
}

#[test]
fn functions_never_depend_on_a_worker() {
    for entry in std::fs::read_dir(root().join("functions")).unwrap().flatten() {
        let manifest = std::fs::read_to_string(entry.path().join("Cargo.toml")).unwrap();
        assert!(!manifest.contains("workers/"), "{} depends on a worker", entry.path().display());
    }
}
