//! The imports follow the data: run metadata and errors at the bottom, then capture, events,
//! trace, model, views, and the verbs on top. Read from the sources (every `crate::` path, in
//! `use` statements and inline, outside comments), so a new import against the flow fails here.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::Path,
};

/// The top-level module a file under `src/` belongs to.
fn module_of(rel: &Path) -> String {
    let first = rel.components().next().expect("a path");
    let s = first.as_os_str().to_string_lossy();
    s.strip_suffix(".rs").unwrap_or(&s).to_owned()
}

/// The source without comments (line comments, doc comments and block comments).
fn strip_comments(src: &str) -> String {
    let mut out = String::with_capacity(src.len());
    let b = src.as_bytes();
    let (mut i, mut in_str) = (0, false);
    while i < b.len() {
        if in_str {
            if b[i] == b'\\' {
                i += 2;
                continue;
            }
            if b[i] == b'"' {
                in_str = false;
            }
            i += 1;
            continue;
        }
        if b[i] == b'"' {
            in_str = true;
            i += 1;
            continue;
        }
        if b[i..].starts_with(b"//") {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        if b[i..].starts_with(b"/*") {
            while i < b.len() && !b[i..].starts_with(b"*/") {
                i += 1;
            }
            i += 2;
            continue;
        }
        out.push(b[i] as char);
        i += 1;
    }
    out
}

/// The top-level modules a source refers to through `crate::`: `crate::a::..`, and each
/// element of `crate::{a::.., b, ..}`.
fn crate_refs(src: &str) -> BTreeSet<String> {
    let src = strip_comments(src);
    let mut refs = BTreeSet::new();
    let ident = |s: &str| -> String {
        s.trim_start()
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    for (at, _) in src.match_indices("crate::") {
        // `$crate::` and `rtnlprof_crate::` are not ours.
        if at > 0 {
            let prev = src.as_bytes()[at - 1];
            if prev.is_ascii_alphanumeric() || prev == b'_' || prev == b'$' {
                continue;
            }
        }
        let rest = &src[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let (mut depth, mut start) = (0usize, 0usize);
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => {
                        refs.insert(ident(&group[start..i]));
                        break;
                    }
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        refs.insert(ident(&group[start..i]));
                        start = i + 1;
                    }
                    _ => {}
                }
            }
        } else {
            refs.insert(ident(rest));
        }
    }
    refs.remove("");
    refs
}

fn graph() -> BTreeMap<String, BTreeMap<String, Vec<String>>> {
    let mut g: BTreeMap<String, BTreeMap<String, Vec<String>>> = BTreeMap::new();
    for (rel, text) in sources() {
        let from = module_of(&rel);
        for to in crate_refs(&text) {
            if to != from {
                g.entry(from.clone())
                    .or_default()
                    .entry(to)
                    .or_default()
                    .push(rel.display().to_string());
            }
        }
    }
    g
}

#[test]
fn the_parser_sees_grouped_and_inline_paths() {
    let refs = crate_refs(
        "use crate::{\n    capture::{a, b::{c}},\n    run::X,\n};\n// crate::cli in a comment\n\
         fn f() { crate::model::g(); let s = \"crate::views\"; $crate::x; }",
    );
    let want: BTreeSet<String> = ["capture", "run", "model"].map(String::from).into();
    assert_eq!(refs, want);
}

#[test]
fn nothing_below_the_verbs_imports_them() {
    let g = graph();
    let mut bad = Vec::new();
    for (from, tos) in &g {
        if ["cmd", "cli", "main", "lib"].contains(&from.as_str()) {
            continue;
        }
        for top in ["cmd", "cli"] {
            if let Some(files) = tos.get(top) {
                bad.push(format!("{from} imports {top} in {files:?}"));
            }
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn the_file_format_the_model_and_diff_import_neither_capture_nor_views() {
    let g = graph();
    let mut bad = Vec::new();
    for from in ["trace", "model", "diff", "events", "run", "error"] {
        for to in ["capture", "views", "tui"] {
            if let Some(files) = g.get(from).and_then(|t| t.get(to)) {
                bad.push(format!("{from} imports {to} in {files:?}"));
            }
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn the_bottom_layer_imports_nothing_of_ours() {
    let g = graph();
    for from in ["run", "error", "events"] {
        assert_eq!(g.get(from), None, "{from} imports {:?}", g.get(from));
    }
}

#[test]
fn the_modules_import_each_other_without_a_circle() {
    let g = graph();
    // Depth-first search for a back edge; the crate root and the binary are above everything.
    fn visit(
        g: &BTreeMap<String, BTreeMap<String, Vec<String>>>,
        n: &str,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|p| p == n) {
            let mut c = path[i..].to_vec();
            c.push(n.to_owned());
            return Some(c);
        }
        if done.contains(n) {
            return None;
        }
        path.push(n.to_owned());
        for to in g.get(n).into_iter().flat_map(|t| t.keys()) {
            if let Some(c) = visit(g, to, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(n.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    for n in g.keys().filter(|n| *n != "lib" && *n != "main") {
        if let Some(c) = visit(&g, n, &mut Vec::new(), &mut done) {
            let files: Vec<String> = c
                .windows(2)
                .map(|w| format!("{} -> {} ({:?})", w[0], w[1], g[&w[0]][&w[1]]))
                .collect();
            panic!("an import circle: {}\n{}", c.join(" -> "), files.join("\n"));
        }
    }
}

/// The order the crate's documentation gives: every import goes to a module before it.
#[test]
fn every_import_goes_down_the_documented_order() {
    const ORDER: &[&str] = &[
        "run", "error", "events", "trace", "capture", "model", "diff", "views", "tui", "cli",
        "cmd", "lib", "main",
    ];
    let g = graph();
    let rank = |m: &str| ORDER.iter().position(|o| *o == m);
    let mut bad = Vec::new();
    for (from, tos) in &g {
        let Some(f) = rank(from) else {
            bad.push(format!("{from} is not in the documented order"));
            continue;
        };
        for (to, files) in tos {
            match rank(to) {
                Some(t) if t < f => {}
                _ => bad.push(format!("{from} imports {to} (not below it) in {files:?}")),
            }
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

/// Files under `src/` (relative path, source). LAYERS_SRC points the test at another tree
/// (how it was shown to fail on an older one).
fn sources() -> Vec<(std::path::PathBuf, String)> {
    let src = std::env::var_os("LAYERS_SRC").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        std::path::PathBuf::from,
    );
    let mut out = Vec::new();
    let mut stack = vec![src.clone()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).expect("read src") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                let text = std::fs::read_to_string(&p).expect("read a source");
                out.push((p.strip_prefix(&src).expect("under src").to_path_buf(), text));
            }
        }
    }
    out
}

/// The argument parser is the command line's: capture modes and report options are plain
/// types below it, and `cli` maps its arguments onto them.
#[test]
fn only_the_command_line_knows_the_argument_parser() {
    let bad: Vec<String> = sources()
        .into_iter()
        .filter(|(rel, _)| !["cli", "main", "cmd"].contains(&module_of(rel).as_str()))
        .filter(|(_, text)| {
            let code = strip_comments(text);
            code.contains("clap::") || code.contains("use clap")
        })
        .map(|(rel, _)| rel.display().to_string())
        .collect();
    assert!(
        bad.is_empty(),
        "clap used below the command line in {bad:?}"
    );
}
