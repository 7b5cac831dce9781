//! The library's top-level modules import each other without cycles: every
//! `crate::x` path in src/ (use lines and inline paths, `crate::{a, b}`
//! groups included) is an edge from the file's top-level module to `x` (an
//! item the crate root re-exports counts as an edge to its module), and the
//! graph must have a topological order. A plain-text check, no tool needed.
//!
//! `app` (the command line) is left out: it belongs to the binary (issue 11
//! makes it `mod app;` of src/main.rs, using only the public API).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const SKIP: &[&str] = &["app"];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

fn idents_after_crate(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(i) = rest.find("crate::") {
        // Not part of a longer name (e.g. `gpu_augment_crate::`).
        let before = rest[..i].chars().last();
        rest = &rest[i + "crate::".len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for part in group[..end].split(',') {
                let name: String = part
                    .trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    out.push(name);
                }
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                out.push(name);
            }
        }
    }
    out
}

/// The top-level modules, and the module each root re-export comes from.
fn root(src: &Path) -> (BTreeSet<String>, BTreeMap<String, String>) {
    let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap();
    let mut modules = BTreeSet::new();
    let mut reexports = BTreeMap::new();
    let text = lib.replace('\n', " ");
    for stmt in text.split(';') {
        let s = stmt.trim();
        let s = s.rsplit(']').next().unwrap_or(s).trim();
        if let Some(m) = s
            .strip_prefix("pub mod ")
            .or_else(|| s.strip_prefix("mod "))
        {
            modules.insert(m.trim().to_string());
        } else if let Some(u) = s.strip_prefix("pub use ") {
            let Some((module, items)) = u.split_once("::") else {
                continue;
            };
            let items = items.trim().trim_start_matches('{').trim_end_matches('}');
            for item in items.split(',') {
                let name = item.rsplit("::").next().unwrap_or("").trim();
                let name = name.rsplit(" as ").next().unwrap_or(name).trim();
                if !name.is_empty() {
                    reexports.insert(name.to_string(), module.trim().to_string());
                }
            }
        }
    }
    (modules, reexports)
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let (modules, reexports) = root(&src);
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    for f in files {
        let rel = f.strip_prefix(&src).unwrap();
        let first = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy();
        let from = first.trim_end_matches(".rs").to_string();
        if !modules.contains(&from) || SKIP.contains(&from.as_str()) {
            continue; // lib.rs, main.rs, the binary's modules
        }
        let text = std::fs::read_to_string(&f).unwrap();
        for line in text.lines() {
            let code = line.split("//").next().unwrap_or("");
            for name in idents_after_crate(code) {
                let to = if modules.contains(&name) {
                    Some(name)
                } else {
                    reexports.get(&name).cloned()
                };
                if let Some(to) = to {
                    if to != from && !SKIP.contains(&to.as_str()) {
                        g.entry(from.clone()).or_default().insert(to);
                    }
                }
            }
        }
        g.entry(from).or_default();
    }
    g
}

#[test]
fn top_level_modules_are_acyclic() {
    let g = graph();
    // Kahn's algorithm: peel modules with no remaining imports.
    let mut left = g.clone();
    let mut order = Vec::new();
    while !left.is_empty() {
        let ready: Vec<String> = left
            .iter()
            .filter(|(_, deps)| deps.iter().all(|d| !left.contains_key(d)))
            .map(|(m, _)| m.clone())
            .collect();
        if ready.is_empty() {
            panic!("module cycle among {:?}", left);
        }
        for m in ready {
            left.remove(&m);
            order.push(m);
        }
    }
    assert!(order.contains(&"ops".to_string()), "{order:?}");
}

#[test]
fn the_checker_sees_edges() {
    let g = graph();
    assert!(g["pipeline"].contains("ops"), "{g:?}");
    assert!(g["engine"].contains("plan"), "{g:?}");
    assert!(
        idents_after_crate("use crate::{Tensor, mix::X}; x = crate::ops::f()")
            == ["Tensor", "mix", "ops"]
    );
}
