//! The shape of the code: the modules of `src/` import each other without a cycle, apart
//! from a module and its own children (`process` and `process::plan` may name each other;
//! a cycle that runs through another module, such as `status::judge -> report -> status`,
//! counts).
//! It reads the sources as text: every `crate::a::b` path and every `use crate::{...}` tree,
//! `super::` resolved against the file's own module, is an arrow to the longest module
//! that path names. No server is needed.
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// `src/a/b.rs` and `src/a/b/mod.rs` are module `a::b`; `lib.rs` and `main.rs` the root "".
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    if parts.last().is_some_and(|p| p == "mod" || p == "lib" || p == "main") {
        parts.pop();
    }
    parts.join("::")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The code without comments and string literals, so that prose never counts as an import.
fn code_only(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let mut in_str = false;
        let mut prev = ' ';
        let mut kept = String::new();
        let chars: Vec<char> = line.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if !in_str && c == '/' && chars.get(i + 1) == Some(&'/') {
                break;
            }
            if c == '"' && prev != '\\' {
                in_str = !in_str;
            } else if !in_str {
                kept.push(c);
            }
            prev = c;
            i += 1;
        }
        out.push_str(&kept);
        out.push('\n');
    }
    out
}

/// Every module path the code names from `module`: `crate::x::y...`, `super::x...` and the
/// leaves of `use crate::{a, b::{c, d}}` trees.
fn paths_named(module: &str, code: &str) -> Vec<Vec<String>> {
    paths_from(module, code, &["crate::", "super::"])
}

/// The paths the code names that begin with one of `starts` (`crate::` or `super::`).
fn paths_from(module: &str, code: &str, starts: &[&str]) -> Vec<Vec<String>> {
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    let mut found = Vec::new();
    let bytes: Vec<char> = code.chars().collect();
    let text: String = bytes.iter().collect();
    for &start in starts {
        let mut from = 0;
        while let Some(at) = text[from..].find(start) {
            let begin = from + at;
            from = begin + start.len();
            if begin > 0 && text[..begin].chars().next_back().is_some_and(ident) {
                continue;
            }
            let base: Vec<String> = if start == "crate::" {
                vec![]
            } else {
                let mut m: Vec<String> = module.split("::").filter(|s| !s.is_empty()).map(String::from).collect();
                m.pop();
                m
            };
            // The rest of the path, and a `{ ... }` group after it.
            let rest = &text[from..];
            let mut path = base.clone();
            let mut seg = String::new();
            let mut chars = rest.chars().peekable();
            let mut group = rest.starts_with('{').then(|| rest.to_string());
            while let Some(c) = chars.next().filter(|_| group.is_none()) {
                if ident(c) {
                    seg.push(c);
                } else if c == ':' && chars.peek() == Some(&':') {
                    chars.next();
                    path.push(std::mem::take(&mut seg));
                    if chars.peek() == Some(&'{') {
                        let body: String = chars.clone().collect();
                        group = Some(body);
                        break;
                    }
                } else {
                    break;
                }
            }
            if !seg.is_empty() {
                path.push(seg);
            }
            match group {
                None => found.push(path),
                Some(body) => {
                    // Balanced braces: every comma-separated leaf, nested groups flattened.
                    let mut depth = 0;
                    let mut stack: Vec<Vec<String>> = vec![path.clone()];
                    let mut seg = String::new();
                    let mut prefix: Vec<String> = Vec::new();
                    for c in body.chars() {
                        match c {
                            '{' => {
                                depth += 1;
                                if depth > 1 {
                                    let mut p = stack.last().unwrap().clone();
                                    p.append(&mut prefix);
                                    stack.push(p);
                                }
                            }
                            '}' | ',' => {
                                let mut p = stack.last().unwrap().clone();
                                p.append(&mut prefix);
                                if !seg.is_empty() {
                                    p.push(std::mem::take(&mut seg));
                                }
                                found.push(p);
                                if c == '}' {
                                    depth -= 1;
                                    stack.pop();
                                    if depth == 0 {
                                        break;
                                    }
                                }
                            }
                            ':' if !seg.is_empty() => prefix.push(std::mem::take(&mut seg)),
                            c if ident(c) => seg.push(c),
                            _ => {}
                        }
                    }
                }
            }
        }
    }
    found
}

/// Whether `target` is one of `module`'s ancestors: a child naming its parent (`super::`)
/// is the one back arrow allowed; the parent's arrows to its children count.
fn is_ancestor(target: &str, module: &str) -> bool {
    target.is_empty() || module.starts_with(&format!("{target}::"))
}

#[test]
fn the_modules_import_each_other_without_a_cycle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let modules: BTreeSet<String> = files.iter().map(|f| module_of(&src, f)).collect();
    assert!(modules.contains("dedupe::batch") && modules.contains("db"), "found the modules: {modules:?}");
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    // A parent declares (`mod child;`) and uses its children by relative paths.
    for m in &modules {
        if let Some((parent, _)) = m.rsplit_once("::") {
            graph.entry(parent.to_string()).or_default().insert(m.clone());
        }
    }
    for file in &files {
        let module = module_of(&src, file);
        let code = code_only(&std::fs::read_to_string(file).unwrap());
        for path in paths_named(&module, &code) {
            // The longest prefix of the path that is a module of the crate.
            let target = (1..=path.len()).rev().map(|n| path[..n].join("::")).find(|m| modules.contains(m));
            if let Some(target) = target {
                if target != module && !is_ancestor(&target, &module) {
                    graph.entry(module.clone()).or_default().insert(target);
                }
            }
        }
    }
    // Depth-first search for a cycle; report the first one found.
    fn visit(
        m: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(m.to_string(), 1);
        stack.push(m.to_string());
        for next in graph.get(m).into_iter().flatten() {
            match state.get(next.as_str()) {
                Some(1) => {
                    let at = stack.iter().position(|s| s == next).unwrap();
                    let mut cycle = stack[at..].to_vec();
                    cycle.push(next.clone());
                    return Some(cycle);
                }
                Some(_) => {}
                None => {
                    if let Some(c) = visit(next, graph, state, stack) {
                        return Some(c);
                    }
                }
            }
        }
        stack.pop();
        state.insert(m.to_string(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for m in &modules {
        if !state.contains_key(m.as_str()) {
            if let Some(cycle) = visit(m, &graph, &mut state, &mut Vec::new()) {
                panic!("modules import each other in a cycle: {}", cycle.join(" -> "));
            }
        }
    }
}

/// The crate root (`lib.rs`) runs the commands; nothing below it takes anything from it
/// (`Outcome` and the error line live in `outcome`, which operations return into).
#[test]
fn no_module_takes_an_item_from_the_crate_root() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let modules: BTreeSet<String> = files.iter().map(|f| module_of(&src, f)).collect();
    let mut from_root = Vec::new();
    for file in &files {
        let module = module_of(&src, file);
        if module.is_empty() {
            continue;
        }
        let code = code_only(&std::fs::read_to_string(file).unwrap());
        for path in paths_from(&module, &code, &["crate::"]) {
            if path.first().is_some_and(|first| !first.is_empty() && !modules.contains(first)) {
                from_root.push(format!("{module}: crate::{}", path.join("::")));
            }
        }
    }
    assert!(from_root.is_empty(), "modules that take items from the crate root: {from_root:?}");
}

#[test]
fn the_parser_sees_paths_groups_and_super() {
    let code = code_only(
        "use crate::{db::{Db, Flavor}, sql};\nlet x = crate::config::Ident::new(); // crate::report\nuse super::plan::cluster_refusal;",
    );
    let found: BTreeSet<String> = paths_named("process::guards", &code).into_iter().map(|p| p.join("::")).collect();
    for want in ["db::Db", "db::Flavor", "sql", "config::Ident::new", "process::plan::cluster_refusal"] {
        assert!(found.contains(want), "{want} not in {found:?}");
    }
    assert!(!found.iter().any(|p| p.starts_with("report")), "comments are not code: {found:?}");
}
