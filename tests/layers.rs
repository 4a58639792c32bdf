//! Layers point one way (docs/architecture.md "Layers"): the library's modules are stacked
//! in the order of `LAYERS`, and a module may import (`crate::…`) only from its own layer or
//! the layers below it, and the module graph has no circle. The check reads our own source
//! text: every `crate::<module>` path outside comments and outside the unit-test module at
//! the end of a file (`#[cfg(test)]`: test fixtures may build a whole `Config`). Fast: it
//! reads `src/` only.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// The layers, bottom first: the same table as docs/architecture.md. An entry is a top-level
/// module (`model`) or one of its files (`rl::trainer`); a file belongs to the longest entry
/// that is a prefix of its module path.
const LAYERS: &[(&str, &[&str])] = &[
    ("support", &["files", "progress", "stderr", "wgsl"]),
    ("model and data", &["model", "data"]),
    ("engines", &["engine", "cpu", "native", "gpu"]),
    ("device", &["device"]),
    ("figures", &["plot"]),
    ("tasks", &["tasks", "rl"]),
    ("configuration", &["config"]),
    ("runs", &["train", "rl::trainer", "rl::bench", "bench"]),
];

/// `src/a/b.rs` → `a::b`; `src/a/mod.rs` → `a`; `src/a.rs` → `a`.
fn module_path(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().map(String::as_str) == Some("mod") {
        parts.pop();
    }
    parts.join("::")
}

/// The layer entry a module path belongs to (longest prefix), and that layer's index.
fn node_of(path: &str) -> Option<(&'static str, usize)> {
    let mut best: Option<(&'static str, usize)> = None;
    for (layer, (_, entries)) in LAYERS.iter().enumerate() {
        for entry in entries.iter() {
            let matches = path == *entry || path.starts_with(&format!("{entry}::"));
            if matches && best.is_none_or(|(b, _)| entry.len() > b.len()) {
                best = Some((entry, layer));
            }
        }
    }
    best
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every `crate::a::b…` path in the non-comment, non-test lines of `text`, as `a::b…`.
fn crate_paths(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        let code = line.trim_start();
        // The unit-test module closes a file here; a `#[cfg(test)]` on anything else (a
        // helper in the middle of a file) does not end the scan.
        let next = lines.get(i + 1).map_or("", |l| l.trim_start());
        if code.starts_with("#[cfg(test)]") && next.starts_with("mod ") {
            break;
        }
        if code.starts_with("//") {
            continue;
        }
        let code = match code.find("//") {
            Some(k) => &code[..k],
            None => code,
        };
        let mut rest = code;
        while let Some(k) = rest.find("crate::") {
            let tail = &rest[k + "crate::".len()..];
            let end = tail
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .unwrap_or(tail.len());
            let path = tail[..end].trim_end_matches(':').to_string();
            // `crate::{a, b}` is not scanned: it is reported as a module of no layer.
            out.push((
                i + 1,
                if path.is_empty() {
                    tail.chars().take(12).collect()
                } else {
                    path
                },
            ));
            rest = &tail[end..];
        }
    }
    out
}

struct Graph {
    /// (from, to) → where it was seen (file:line).
    edges: BTreeMap<(&'static str, &'static str), String>,
    unplaced: Vec<String>,
}

fn import_graph() -> Graph {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let src = root.join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut graph = Graph {
        edges: BTreeMap::new(),
        unplaced: Vec::new(),
    };
    for file in files {
        let module = module_path(&src, &file);
        // The binary (the CLI) sits above every layer and imports through `lsnn_gpu::`.
        if module == "main" || module == "lib" {
            continue;
        }
        let Some((from, _)) = node_of(&module) else {
            graph.unplaced.push(module);
            continue;
        };
        let text = fs::read_to_string(&file).unwrap();
        for (line, path) in crate_paths(&text) {
            let where_ = format!("{}:{line}", file.strip_prefix(root).unwrap().display());
            let Some((to, _)) = node_of(&path) else {
                graph
                    .unplaced
                    .push(format!("{path} (imported at {where_})"));
                continue;
            };
            if to != from {
                graph.edges.entry((from, to)).or_insert(where_);
            }
        }
    }
    graph
}

fn layer_of(node: &str) -> usize {
    node_of(node).unwrap().1
}

#[test]
fn every_module_has_a_layer() {
    let graph = import_graph();
    assert!(
        graph.unplaced.is_empty(),
        "modules missing from the LAYERS table (tests/layers.rs and docs/architecture.md): {:?}",
        graph.unplaced
    );
}

#[test]
fn no_import_points_up() {
    let graph = import_graph();
    let upward: Vec<String> = graph
        .edges
        .iter()
        .filter(|((from, to), _)| layer_of(to) > layer_of(from))
        .map(|((from, to), at)| {
            format!(
                "{from} ({}) → {to} ({}) at {at}",
                LAYERS[layer_of(from)].0,
                LAYERS[layer_of(to)].0
            )
        })
        .collect();
    assert!(
        upward.is_empty(),
        "imports against the layer order:\n{}",
        upward.join("\n")
    );
}

#[test]
fn the_module_graph_has_no_circle() {
    let graph = import_graph();
    let mut next: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (from, to) in graph.edges.keys() {
        next.entry(from).or_default().insert(to);
    }
    // Depth-first search with colours; a grey node met again closes a circle.
    fn visit<'a>(
        n: &'a str,
        next: &BTreeMap<&'a str, BTreeSet<&'a str>>,
        state: &mut BTreeMap<&'a str, u8>,
        stack: &mut Vec<&'a str>,
    ) -> Option<Vec<&'a str>> {
        state.insert(n, 1);
        stack.push(n);
        for &m in next.get(n).into_iter().flatten() {
            match state.get(m).copied().unwrap_or(0) {
                1 => {
                    let k = stack.iter().position(|x| *x == m).unwrap();
                    let mut circle = stack[k..].to_vec();
                    circle.push(m);
                    return Some(circle);
                }
                0 => {
                    if let Some(c) = visit(m, next, state, stack) {
                        return Some(c);
                    }
                }
                _ => {}
            }
        }
        stack.pop();
        state.insert(n, 2);
        None
    }
    let mut state = BTreeMap::new();
    for &n in next.keys() {
        if state.get(n).copied().unwrap_or(0) == 0 {
            let mut stack = Vec::new();
            if let Some(circle) = visit(n, &next, &mut state, &mut stack) {
                let at: Vec<String> = circle
                    .windows(2)
                    .map(|w| format!("{} → {} at {}", w[0], w[1], graph.edges[&(w[0], w[1])]))
                    .collect();
                panic!("import circle: {}\n{}", circle.join(" → "), at.join("\n"));
            }
        }
    }
}

/// The scanner itself: it must see the paths it is meant to see, or the two tests above
/// would pass on nothing.
#[test]
fn the_scanner_sees_imports_and_skips_comments_and_tests() {
    let text = "use crate::model::Network;\n\
                // crate::config::Config in a comment\n\
                let x = crate::files::write_atomic(p); // crate::tasks\n\
                #[cfg(test)]\n\
                fn helper() { crate::device::select(); }\n\
                #[cfg(test)]\n\
                mod tests { use crate::config::Config; }\n";
    let paths: Vec<String> = crate_paths(text).into_iter().map(|(_, p)| p).collect();
    assert_eq!(
        paths,
        ["model::Network", "files::write_atomic", "device::select"]
    );
    assert_eq!(node_of("rl::trainer::train"), Some(("rl::trainer", 7)));
    assert_eq!(node_of("rl::arena::Arena"), Some(("rl", 5)));
    let graph = import_graph();
    // The crate has imports between layers: an empty graph would mean a broken scan.
    assert!(
        graph.edges.contains_key(&("cpu", "model")),
        "{:?}",
        graph.edges.keys()
    );
}
