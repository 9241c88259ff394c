//! Checks that dependencies between the crate's top-level modules run one
//! way: the domain types at the bottom, then storage, then the layers that
//! read and write through it, then HTTP. A `use crate::…` that closes a
//! cycle fails this test with the two modules named.

use std::{
    collections::{BTreeMap, BTreeSet},
    fs,
    path::Path,
};

/// Modules each layer must never import.
const FORBIDDEN: &[(&str, &[&str])] = &[
    (
        "model",
        &[
            "storage", "query", "ingest", "counters", "http", "state", "alerts", "export",
            "service", "startup", "jobs",
        ],
    ),
    (
        "storage",
        &[
            "query", "ingest", "counters", "http", "state", "alerts", "export", "service",
            "startup", "jobs",
        ],
    ),
    (
        "query",
        &["ingest", "counters", "http", "state", "service", "startup"],
    ),
    ("ingest", &["http", "state", "query", "service", "startup"]),
    ("service", &["http", "startup"]),
    (
        "counters",
        &["http", "state", "query", "ingest", "service", "startup"],
    ),
];

/// `crate::name` paths of one file's code (comments removed), including the
/// names inside `use crate::{a, b::{..}}` groups.
fn imports(source: &str) -> BTreeSet<String> {
    let code: String = source
        .lines()
        .map(|line| line.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n");
    let mut found = BTreeSet::new();
    let mut rest = code.as_str();
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            for part in split_top_level(group) {
                let name: String = part
                    .trim_start()
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
                    .collect();
                if !name.is_empty() && name != "self" {
                    found.insert(name);
                }
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
                .collect();
            if !name.is_empty() {
                found.insert(name);
            }
        }
    }
    found
}

/// The comma-separated parts of a `{..}` group, up to its closing brace.
fn split_top_level(group: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, ch) in group.char_indices() {
        match ch {
            '{' => depth += 1,
            '}' if depth == 0 => {
                parts.push(&group[start..i]);
                return parts;
            }
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&group[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts
}

fn collect(dir: &Path, root: &Path, edges: &mut BTreeMap<String, BTreeSet<String>>) {
    for entry in fs::read_dir(dir).expect("read src") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            collect(&path, root, edges);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let relative = path.strip_prefix(root).expect("under src");
            let first = relative
                .components()
                .next()
                .and_then(|c| c.as_os_str().to_str())
                .unwrap_or_default();
            let module = first.trim_end_matches(".rs").to_owned();
            let source = fs::read_to_string(&path).expect("read file");
            let targets = edges.entry(module.clone()).or_default();
            targets.extend(imports(&source).into_iter().filter(|m| *m != module));
        }
    }
}

#[test]
fn module_dependencies_run_one_way() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut edges = BTreeMap::new();
    collect(&root, &root, &mut edges);
    assert!(edges.len() > 10, "read the modules: {edges:?}");
    let mut cycles = Vec::new();
    for (from, targets) in &edges {
        for to in targets {
            if from < to && edges.get(to).is_some_and(|t| t.contains(from)) {
                cycles.push(format!("{from} <-> {to}"));
            }
        }
    }
    assert!(cycles.is_empty(), "two-way imports: {cycles:?}");
    for (module, forbidden) in FORBIDDEN {
        let targets = edges.get(*module).cloned().unwrap_or_default();
        let bad: Vec<&str> = forbidden
            .iter()
            .copied()
            .filter(|f| targets.contains(*f))
            .collect();
        assert!(bad.is_empty(), "{module} imports {bad:?}");
    }
}

#[test]
fn the_import_reader_sees_groups_and_paths() {
    let source = "use crate::{\n    alpha::{X, y::Z},\n    beta,\n};\n// crate::gamma\nfn f() { crate::delta::g(); }";
    let found: Vec<String> = imports(source).into_iter().collect();
    assert_eq!(found, ["alpha", "beta", "delta"]);
}
