//! The repository references only what it contains: every `docs/<name>.md` cited in the
//! README, the docs, the code, the shaders, the configs, the tests, the benches, the scripts
//! and the Python package resolves to a file of the repository; no comment points to design
//! notes outside it (`spec/…`, `shared/…`, or a bare `model.md` without `docs/`); and no text
//! file holds an absolute path of somebody's machine. Fast: it reads text files only.

use std::fs;
use std::path::{Path, PathBuf};

/// Where the references live (those that exist: `python/` may not).
const ROOTS: [&str; 13] = [
    "README.md",
    "Cargo.toml",
    "CITATION.cff",
    "docs",
    "src",
    "shaders",
    "configs",
    "tests",
    "benches",
    "scripts",
    "examples",
    "python",
    ".ci",
];

/// Directories never walked: build outputs, run outputs, caches, virtual environments.
const SKIP_DIRS: [&str; 10] = [
    "target",
    "runs",
    ".git",
    "__pycache__",
    ".venv",
    "venv",
    ".pytest_cache",
    ".mypy_cache",
    ".ruff_cache",
    "node_modules",
];

/// The names of the documents in `docs/` that comments cite; written without `docs/` they
/// point at nothing (they used to name design notes kept outside the repository).
const DOC_NAMES: [&str; 7] = [
    "model.md",
    "experiments.md",
    "formats.md",
    "architecture.md",
    "gpu-notes.md",
    "checkpoint.md",
    "style.md",
];

/// Folders of a machine that a path in the repository must never name. Assembled at run time
/// so that this file does not contain them itself.
fn machine_prefixes() -> Vec<String> {
    ["work", "home", "root", "tmp", "Users"]
        .iter()
        .map(|d| format!("/{d}/"))
        .collect()
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every text file under the roots: (path relative to the repository, contents). A file with a
/// NUL byte or that is not UTF-8 is binary and skipped.
fn text_files() -> Vec<(PathBuf, String)> {
    let root = repo();
    let mut out = Vec::new();
    let mut stack: Vec<PathBuf> = ROOTS.iter().map(|r| root.join(r)).collect();
    while let Some(p) = stack.pop() {
        let Ok(meta) = fs::symlink_metadata(&p) else {
            continue; // a root that this checkout does not have
        };
        if meta.is_dir() {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if SKIP_DIRS.contains(&name) || name.ends_with(".egg-info") {
                continue;
            }
            for e in fs::read_dir(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())) {
                stack.push(e.unwrap().path());
            }
        } else if meta.is_file() {
            let bytes = fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            if bytes.contains(&0) {
                continue;
            }
            if let Ok(text) = String::from_utf8(bytes) {
                out.push((p.strip_prefix(&root).unwrap().to_path_buf(), text));
            }
        }
    }
    out.sort();
    out
}

/// A character that can be part of a path token.
fn path_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/')
}

/// The path tokens of `text` that contain `docs/` and end in `.md`, with their line numbers.
fn docs_references(text: &str) -> Vec<(usize, String)> {
    let mut refs = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let chars: Vec<char> = line.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            if !path_char(chars[i]) {
                i += 1;
                continue;
            }
            let start = i;
            while i < chars.len() && path_char(chars[i]) {
                i += 1;
            }
            let token: String = chars[start..i].iter().collect();
            // Sentence punctuation after a path ("see docs/model.md.") is not part of it.
            let token = token.trim_end_matches('.').to_string();
            let is_doc = token.starts_with("docs/") || token.contains("/docs/");
            let in_url = (start > 0 && chars[start - 1] == ':') || token.starts_with("//");
            if is_doc && token.ends_with(".md") && !in_url {
                refs.push((n + 1, token));
            }
        }
    }
    refs
}

#[test]
fn every_docs_reference_resolves() {
    let root = repo();
    let files = text_files();
    assert!(
        files.iter().any(|(p, _)| p == Path::new("README.md")),
        "README.md not found under {}",
        root.display()
    );
    let mut checked = 0;
    let mut broken = Vec::new();
    for (path, text) in &files {
        let dir = root.join(path).parent().unwrap().to_path_buf();
        for (line, token) in docs_references(text) {
            checked += 1;
            let token = token.trim_start_matches("./");
            // From the repository's root (how the code cites), or relative to the file
            // (a Markdown link such as `../docs/model.md`).
            if !root.join(token).is_file() && !dir.join(token).is_file() {
                broken.push(format!("{}:{line}: {token}", path.display()));
            }
        }
    }
    assert!(
        broken.is_empty(),
        "references to documents that do not exist:\n{}",
        broken.join("\n")
    );
    // The code cites the docs a few hundred times; finding none means the walk is broken.
    assert!(checked > 100, "only {checked} docs/ references found");
}

#[test]
fn no_reference_to_design_notes_outside_the_repository() {
    let mut bad = Vec::new();
    for (path, text) in text_files() {
        // This file names what it looks for.
        if path == Path::new("tests/docs_references.rs") {
            continue;
        }
        for (n, line) in text.lines().enumerate() {
            let mut flag = |what: &str| bad.push(format!("{}:{}: {what}", path.display(), n + 1));
            for (at, _) in line
                .match_indices("spec/")
                .chain(line.match_indices("shared/"))
            {
                // `spec/` as a path segment of its own (not e.g. `myspec/`).
                let before = line[..at].chars().next_back();
                if before.is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '_' || c == '-')) {
                    flag(line.trim());
                }
            }
            for name in DOC_NAMES {
                for (at, _) in line.match_indices(name) {
                    // A document name must be written as a path into docs/ (or be part of a
                    // longer name, e.g. `my-model.md`).
                    let before = &line[..at];
                    let prev = before.chars().next_back();
                    let part_of_longer = prev.is_some_and(|c| path_char(c) && c != '/');
                    let in_docs = before.ends_with("docs/");
                    if !part_of_longer && !in_docs {
                        flag(&format!("`{name}` without `docs/`: {}", line.trim()));
                    }
                }
            }
        }
    }
    assert!(
        bad.is_empty(),
        "references that point outside the repository (cite docs/<file>.md):\n{}",
        bad.join("\n")
    );
}

#[test]
fn no_absolute_machine_paths() {
    // Nothing is allow-listed: `/dev/null` and the like are not in the list of prefixes, and
    // a temporary directory is `std::env::temp_dir()` in code and a relative or `$HOME` path
    // in instructions. A prefix inside a longer path or URL (`https://x.org/home/`,
    // `runs/tmp/`) is not a machine's folder and is not flagged.
    let prefixes = machine_prefixes();
    let mut bad = Vec::new();
    for (path, text) in text_files() {
        for (n, line) in text.lines().enumerate() {
            for p in &prefixes {
                for (at, _) in line.match_indices(p.as_str()) {
                    let before = line[..at].chars().next_back();
                    let inside_longer =
                        before.is_some_and(|c| path_char(c) || matches!(c, '~' | '$' | '}'));
                    if !inside_longer {
                        bad.push(format!("{}:{}: {}", path.display(), n + 1, line.trim()));
                    }
                }
            }
        }
    }
    assert!(
        bad.is_empty(),
        "absolute paths of a machine (write paths relative to the repository):\n{}",
        bad.join("\n")
    );
}

#[test]
fn the_reference_scanner_finds_what_it_should() {
    let refs = docs_references(
        "see docs/model.md §4, (docs/formats.md) and [x](../docs/gpu-notes.md). \
         not https://example.org/docs/a.md nor docs/image.png; end docs/experiments.md.",
    );
    let tokens: Vec<&str> = refs.iter().map(|(_, t)| t.as_str()).collect();
    assert_eq!(
        tokens,
        [
            "docs/model.md",
            "docs/formats.md",
            "../docs/gpu-notes.md",
            "docs/experiments.md"
        ]
    );
}
