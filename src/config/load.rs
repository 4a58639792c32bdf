//! Loading a [`Config`] from YAML: `--set key.path=value` overrides, deserialisation with
//! field paths (`serde_path_to_error`), validation, and error messages that name the file,
//! the field and, where it can be found, the line and column in the YAML source.
//!
//! Pipeline: text → `serde_yaml_ng::Value` (syntax errors carry a location) → overrides
//! applied to the `Value` → `Config` via `serde_path_to_error` (the field path of any type or
//! unknown-field error is known) → [`Config::validate`]. Errors of the last two stages are
//! located in the source text afterwards: by re-reading the text with the streaming
//! deserialiser (which carries marks), else by an indentation-aware scan for the dotted path.

use std::fmt;
use std::path::Path;

use serde_path_to_error::Segment;
use serde_yaml_ng::{Mapping, Value};

use super::Config;

/// A position in the YAML source, 1-based.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SourcePos {
    pub line: usize,
    pub column: Option<usize>,
}

impl fmt::Display for SourcePos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.column {
            Some(c) => write!(f, "{}:{}", self.line, c),
            None => write!(f, "{}", self.line),
        }
    }
}

/// Where a config error is: the file (or source name), optionally a line/column in it, and
/// the `--set` assignment the offending value came from, if any.
fn fmt_where(
    file: &str,
    pos: &Option<SourcePos>,
    field: &str,
    from_set: &Option<String>,
) -> String {
    let mut s = String::from(file);
    if let Some(p) = pos {
        s.push_str(&format!(":{p}"));
    }
    if !field.is_empty() {
        s.push_str(": ");
        s.push_str(field);
    }
    if let Some(a) = from_set {
        s.push_str(&format!(" (from --set {a})"));
    }
    s
}

/// Everything that can go wrong loading a config. The `Display` of each variant names the
/// file, the field path (`model.tau_m`) and, where known, `line:column` in the YAML.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read. (`error` is in the message, not a `source()`, so that
    /// a printed chain (`{:#}`) does not repeat the OS error.)
    #[error("{file}: cannot read config file: {error}")]
    Io { file: String, error: std::io::Error },
    /// YAML syntax error, wrong type, unknown field, bad enum variant, …
    #[error("{}: {message}", fmt_where(file, pos, field, from_set))]
    Parse {
        file: String,
        /// Dotted field path (`model.tau_m`, `model.tau_a_range[0]`); empty when the error
        /// is not tied to a field (YAML syntax) or is at the top level.
        field: String,
        pos: Option<SourcePos>,
        /// The `--set` assignment responsible, when the bad value came from one.
        from_set: Option<String>,
        message: String,
    },
    /// The config parsed but a value is impossible (`Config::validate`).
    #[error("{}: invalid value: {message}", fmt_where(file, pos, field, from_set))]
    Invalid {
        file: String,
        field: String,
        /// Line of the field in the YAML; `None` if the field was defaulted or set by `--set`.
        pos: Option<SourcePos>,
        from_set: Option<String>,
        message: String,
    },
    /// A malformed `--set key.path=value` argument.
    #[error("bad --set argument `{assignment}`: {message}")]
    Override { assignment: String, message: String },
}

impl ConfigError {
    /// The dotted field path this error is about, if any.
    pub fn field(&self) -> Option<&str> {
        match self {
            ConfigError::Parse { field, .. } | ConfigError::Invalid { field, .. } => {
                Some(field.as_str())
            }
            _ => None,
        }
    }

    /// The 1-based line in the YAML source this error is about, if known.
    pub fn line(&self) -> Option<usize> {
        match self {
            ConfigError::Parse { pos, .. } | ConfigError::Invalid { pos, .. } => {
                pos.map(|p| p.line)
            }
            _ => None,
        }
    }
}

impl Config {
    /// Read, override, deserialise and validate the YAML config at `path`.
    /// `overrides` are `key.path=value` strings (the CLI's `--set`).
    pub fn load(path: &Path, overrides: &[String]) -> Result<Config, ConfigError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Io {
            file: name.clone(),
            error,
        })?;
        // Relative paths written in the file are relative to the file's directory, made
        // absolute so that the resolved config (a run directory's `config.yaml`) still points
        // at the same data from anywhere.
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let dir = std::path::absolute(dir).map_err(|error| ConfigError::Io {
            file: name.clone(),
            error,
        })?;
        Config::parse(&text, &name, overrides, Some(&dir))
    }

    /// As [`Config::load`], from YAML text; `source_name` names it in error messages.
    /// Relative paths are left as written (there is no file whose directory they are
    /// relative to).
    pub fn from_yaml_str(
        text: &str,
        source_name: &str,
        overrides: &[String],
    ) -> Result<Config, ConfigError> {
        Config::parse(text, source_name, overrides, None)
    }

    /// The pipeline of the module docs; `base_dir` (the config file's directory) resolves
    /// the relative paths of [`PATH_FIELDS`] written in the text, before `--set` applies; a
    /// path given with `--set` is relative to the working directory, as on any command line.
    /// Both end absolute, for the run directory's copy.
    fn parse(
        text: &str,
        source_name: &str,
        overrides: &[String],
        base_dir: Option<&Path>,
    ) -> Result<Config, ConfigError> {
        let file = source_name.to_string();

        // 1. Syntax.
        let mut value: Value = serde_yaml_ng::from_str(text).map_err(|e| ConfigError::Parse {
            file: file.clone(),
            field: String::new(),
            pos: e.location().map(|l| SourcePos {
                line: l.line(),
                column: Some(l.column()),
            }),
            from_set: None,
            message: format!("YAML syntax error: {}", strip_location(&e.to_string())),
        })?;
        // An empty file (or one holding only comments) is a mistake, not a request for the
        // full-size default run; `{}` asks for every default explicitly.
        let top_level = |what: &str| ConfigError::Parse {
            file: file.clone(),
            field: String::new(),
            pos: None,
            from_set: None,
            message: format!(
                "{what}: a config is a mapping of sections (task:, model:, train:, ...; see \
                 configs/synthetic.yaml); write `{{}}` for every default"
            ),
        };
        match &value {
            Value::Mapping(_) => {}
            Value::Null => {
                return Err(top_level(
                    "the file holds no YAML document (it is empty or only comments)",
                ))
            }
            Value::Sequence(_) => return Err(top_level("the top level is a list")),
            _ => return Err(top_level("the top level is a single value")),
        }
        if let Some(dir) = base_dir {
            resolve_paths(&mut value, dir);
        }

        // 2. Overrides.
        let mut keys: Vec<(String, String)> = Vec::with_capacity(overrides.len());
        for a in overrides {
            apply_override(&mut value, a)?;
            let key = a
                .split_once('=')
                .map(|(k, _)| k.trim())
                .unwrap_or("")
                .to_string();
            keys.push((key, a.clone()));
        }
        // A path given with --set is relative to the working directory; made absolute too, so
        // that the run directory's copy of the config finds it again.
        if base_dir.is_some() && !overrides.is_empty() {
            if let Ok(cwd) = std::env::current_dir() {
                resolve_paths(&mut value, &cwd);
            }
        }
        let blame = |field: &str| -> Option<String> {
            // The last override wins, so blame the last one that touches `field`.
            keys.iter()
                .rev()
                .find(|(k, _)| paths_overlap(k, field))
                .map(|(_, a)| a.clone())
        };

        // 3. Types and field names.
        let config: Config = match serde_path_to_error::deserialize(value) {
            Ok(c) => c,
            Err(err) => {
                let field = path_string(err.path());
                let message = err.inner().to_string();
                let from_set = if field.is_empty() {
                    None
                } else {
                    blame(&field)
                };
                let pos = if from_set.is_some() {
                    None
                } else {
                    locate_parse_error(text, &field)
                };
                return Err(ConfigError::Parse {
                    file,
                    field,
                    pos,
                    from_set,
                    message,
                });
            }
        };

        // 4. Values.
        if let Err((field, message)) = config.validate() {
            let from_set = blame(&field);
            let pos = if from_set.is_some() {
                None
            } else {
                find_field_pos(text, &field)
            };
            return Err(ConfigError::Invalid {
                file,
                field,
                pos,
                from_set,
                message,
            });
        }
        Ok(config)
    }

    /// The resolved config as YAML (every field explicit), for run directories.
    /// `Config::from_yaml_str(&c.to_yaml(), ..)` gives back an equal config.
    pub fn to_yaml(&self) -> String {
        serde_yaml_ng::to_string(self).expect("a Config always serialises to YAML")
    }
}

/// The config fields that hold a path. A relative path written in a config file is relative
/// to the directory of that file (so `configs/smnist_quick.yaml` names the bundled digits as
/// `../assets/mnist-10k` and works from any working directory); one given with `--set` is
/// relative to the working directory. When nothing exists at the config-relative path but
/// the path exists from the working directory, that one is used with a warning (run
/// directories written before this rule).
pub const PATH_FIELDS: [(&str, &str); 2] = [("data", "path"), ("data", "cache_dir")];

/// Replace the relative paths of [`PATH_FIELDS`] in `value` by `dir` joined with them
/// (canonical when the target exists, so that messages and run directories show a plain path).
fn resolve_paths(value: &mut Value, dir: &Path) {
    for (section, key) in PATH_FIELDS {
        let Some(Value::String(s)) = value.get_mut(section).and_then(|v| v.get_mut(key)) else {
            continue;
        };
        let p = Path::new(s.as_str());
        if p.is_relative() && !s.is_empty() {
            let joined = dir.join(p);
            let joined = if !joined.exists() && p.exists() {
                // Run directories written before paths were resolved (before 2026-12-03) hold
                // the path as given, relative to the working directory of their `run`: keep
                // them resumable from there, and say so.
                crate::stderr::line!(
                    "warning: {section}.{key}: {} does not exist; using {s} from the working directory (a run directory from before config-relative paths?)",
                    joined.display()
                );
                p.to_path_buf()
            } else {
                joined
            };
            let joined = joined.canonicalize().unwrap_or(joined);
            *s = joined.to_string_lossy().into_owned();
        }
    }
}

/// Apply one `key.path=value` assignment to a YAML value tree: the nested key is created
/// (mappings are made as needed, replacing `null`s and scalars on the way) and the value is
/// parsed as a YAML scalar / flow value, so `10`, `0.8`, `gl`, `/x/y`, `null`, `[5, 50]` all
/// work. A numeric segment indexes into an existing sequence (`model.tau_a_range.0=5`).
/// Keys are not checked here; an unknown key surfaces as an unknown-field error when the
/// value is deserialised into [`Config`].
pub fn apply_override(value: &mut Value, assignment: &str) -> Result<(), ConfigError> {
    let bad = |message: &str| ConfigError::Override {
        assignment: assignment.to_string(),
        message: message.to_string(),
    };
    let (key, raw) = assignment
        .split_once('=')
        .ok_or_else(|| bad("expected key.path=value (no `=` found)"))?;
    let key = key.trim();
    if key.is_empty() {
        return Err(bad("empty key before `=`"));
    }
    let segments: Vec<&str> = key.split('.').map(str::trim).collect();
    if segments.iter().any(|s| s.is_empty()) {
        return Err(bad("empty segment in the key path (stray `.`)"));
    }
    let new_value: Value = if raw.trim().is_empty() {
        Value::Null
    } else {
        serde_yaml_ng::from_str(raw).map_err(|e| {
            bad(&format!(
                "value `{raw}` is not valid YAML: {}",
                strip_location(&e.to_string())
            ))
        })?
    };

    let mut cur = value;
    for seg in &segments {
        cur = match cur {
            Value::Sequence(seq) => match seg.parse::<usize>() {
                Ok(i) if i < seq.len() => &mut seq[i],
                _ => {
                    return Err(bad(&format!(
                        "`{seg}` is not an index into the {}-element list at this point",
                        seq.len()
                    )))
                }
            },
            other => {
                if !other.is_mapping() {
                    *other = Value::Mapping(Mapping::new());
                }
                let map = other.as_mapping_mut().expect("just made a mapping");
                let k = Value::String((*seg).to_string());
                if !map.contains_key(&k) {
                    map.insert(k.clone(), Value::Null);
                }
                map.get_mut(&k).expect("just inserted")
            }
        };
    }
    *cur = new_value;
    Ok(())
}

/// `a.b.c` overlaps `a.b` and `a.b.c.d` (either is a prefix of the other at a segment
/// boundary); sequence indices (`[0]` or `.0`) count as segments.
fn paths_overlap(a: &str, b: &str) -> bool {
    let sa = split_path(a);
    let sb = split_path(b);
    let n = sa.len().min(sb.len());
    n > 0 && sa[..n] == sb[..n]
}

/// Split a dotted path with optional `[i]` indices into segments: `a.b[0]` → `a`, `b`, `0`.
fn split_path(p: &str) -> Vec<String> {
    p.replace('[', ".")
        .replace(']', "")
        .split('.')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// Render a `serde_path_to_error` path as `model.tau_a_range[0]` (empty for the root).
fn path_string(path: &serde_path_to_error::Path) -> String {
    let mut s = String::new();
    for seg in path.iter() {
        match seg {
            Segment::Seq { index } => s.push_str(&format!("[{index}]")),
            Segment::Map { key } => {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(key);
            }
            Segment::Enum { .. } => {}
            Segment::Unknown => {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push('?');
            }
        }
    }
    s
}

/// Drop the trailing ` at line L column C` serde_yaml_ng appends to messages (the location is
/// reported separately).
fn strip_location(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) if msg[i + 9..].contains(" column ") && !msg[i..].contains(',') => {
            msg[..i].to_string()
        }
        _ => msg.to_string(),
    }
}

/// Locate a type / unknown-field error at `field`: re-read the text with the streaming
/// deserialiser (whose errors carry marks) and use its location if it fails at the same
/// path; otherwise scan the text for the field.
fn locate_parse_error(text: &str, field: &str) -> Option<SourcePos> {
    let de = serde_yaml_ng::Deserializer::from_str(text);
    if let Err(e) = serde_path_to_error::deserialize::<_, Config>(de) {
        if path_string(e.path()) == field {
            if let Some(l) = e.inner().location() {
                return Some(SourcePos {
                    line: l.line(),
                    column: Some(l.column()),
                });
            }
        }
    }
    find_field_pos(text, field)
}

/// Best-effort position of the key of dotted `field` (`model.readout.window`; `[i]` indices
/// are ignored, giving the line of the list's key) in YAML `text`, by an indentation-aware
/// scan of block mappings plus single-line flow mappings (`model: {tau_m: 3}`).
/// `None` if the field does not appear (it was defaulted).
pub fn find_field_pos(text: &str, field: &str) -> Option<SourcePos> {
    let target: Vec<String> = field
        .split('.')
        .map(|s| s.split('[').next().unwrap_or("").to_string())
        .filter(|s| !s.is_empty())
        .collect();
    if target.is_empty() {
        return None;
    }
    // Stack of (indent, key) of the enclosing block-mapping keys.
    let mut stack: Vec<(usize, String)> = Vec::new();
    for (lineno, raw_line) in text.lines().enumerate() {
        let line = strip_comment(raw_line);
        let content = line.trim_start();
        if content.is_empty() || content.starts_with("---") || content.starts_with("...") {
            continue;
        }
        let indent = line.len() - content.len();
        if content.starts_with('-') {
            // A sequence item: not a mapping key (config lists are scalars).
            continue;
        }
        let Some((key, rest)) = split_key(content) else {
            continue;
        };
        while stack.last().is_some_and(|(i, _)| *i >= indent) {
            stack.pop();
        }
        stack.push((indent, key));
        let keys: Vec<&str> = stack.iter().map(|(_, k)| k.as_str()).collect();
        if keys == target {
            return Some(SourcePos {
                line: lineno + 1,
                column: Some(indent + 1),
            });
        }
        // A flow mapping on the rest of the line?
        let rest_trim = rest.trim_start();
        let is_prefix = keys.len() < target.len() && keys.iter().zip(&target).all(|(a, b)| a == b);
        if rest_trim.starts_with('{') && is_prefix {
            let offset = line.len() - rest_trim.len();
            let wanted = &target[keys.len()..];
            if let Some(col) = find_in_flow(rest_trim, wanted) {
                return Some(SourcePos {
                    line: lineno + 1,
                    column: Some(offset + col + 1),
                });
            }
        }
    }
    None
}

/// Remove a `#` comment (one at the start or preceded by whitespace, outside quotes).
fn strip_comment(line: &str) -> &str {
    let mut quote: Option<char> = None;
    let mut prev_ws = true;
    for (i, c) in line.char_indices() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None => {
                if c == '#' && prev_ws {
                    return &line[..i];
                }
                if c == '"' || c == '\'' {
                    quote = Some(c);
                }
            }
        }
        prev_ws = c.is_whitespace();
    }
    line
}

/// `key: rest` or `key:` → (key without quotes, rest). The colon must be followed by
/// whitespace or the end of the line.
fn split_key(content: &str) -> Option<(String, &str)> {
    let bytes = content.as_bytes();
    let mut quote: Option<u8> = None;
    for (i, &b) in bytes.iter().enumerate() {
        match quote {
            Some(q) if b == q => quote = None,
            Some(_) => {}
            None => {
                if (b == b'"' || b == b'\'') && i == 0 {
                    quote = Some(b);
                } else if b == b'{' || b == b'[' {
                    return None;
                } else if b == b':' && (i + 1 == bytes.len() || bytes[i + 1].is_ascii_whitespace())
                {
                    let key = content[..i].trim().trim_matches(|c| c == '"' || c == '\'');
                    return Some((key.to_string(), &content[i + 1..]));
                }
            }
        }
    }
    None
}

/// Byte offset of the key path `wanted` inside the flow mapping text `flow` (starting at
/// `{`), e.g. `readout.window` in `{readout: {window: 3}}`.
fn find_in_flow(flow: &str, wanted: &[String]) -> Option<usize> {
    if wanted.is_empty() {
        return Some(0);
    }
    // keys[d] = key currently open at depth d (depth 1 = inside the first `{`).
    let mut keys: Vec<Option<String>> = Vec::new();
    let mut token_start: Option<usize> = None;
    let mut quote: Option<char> = None;
    let mut bracket_depth = 0usize; // inside `[...]`: no keys
    let chars: Vec<(usize, char)> = flow.char_indices().collect();
    for (n, &(i, c)) in chars.iter().enumerate() {
        if let Some(q) = quote {
            if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '"' | '\'' => {
                quote = Some(c);
                token_start.get_or_insert(i);
            }
            '{' => {
                keys.push(None);
                token_start = None;
            }
            '}' => {
                keys.pop();
                token_start = None;
                if keys.is_empty() {
                    return None;
                }
            }
            '[' => {
                bracket_depth += 1;
                token_start = None;
            }
            ']' => {
                bracket_depth = bracket_depth.saturating_sub(1);
                token_start = None;
            }
            ',' => {
                if bracket_depth == 0 {
                    if let Some(k) = keys.last_mut() {
                        *k = None;
                    }
                }
                token_start = None;
            }
            ':' if bracket_depth == 0 => {
                let next_ws = chars
                    .get(n + 1)
                    .is_none_or(|&(_, c2)| c2.is_whitespace() || c2 == '{');
                let at_key = keys.last().is_some_and(|k| k.is_none());
                if next_ws && at_key {
                    if let Some(s) = token_start {
                        let key = flow[s..i].trim().trim_matches(|c| c == '"' || c == '\'');
                        let d = keys.len();
                        keys[d - 1] = Some(key.to_string());
                        let path: Vec<&str> =
                            keys.iter().map(|k| k.as_deref().unwrap_or("")).collect();
                        if path.len() == wanted.len()
                            && path.iter().zip(wanted).all(|(a, b)| *a == b.as_str())
                        {
                            return Some(s);
                        }
                    }
                }
                token_start = None;
            }
            c if c.is_whitespace() => {}
            _ => {
                token_start.get_or_insert(i);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{BackendKind, DaleConfig};

    fn defaults() -> Config {
        Config {
            task: Default::default(),
            data: Default::default(),
            model: Default::default(),
            rewiring: None,
            train: Default::default(),
            eval: Default::default(),
            device: Default::default(),
            rl: Default::default(),
        }
    }

    fn load_str(text: &str, sets: &[&str]) -> Result<Config, ConfigError> {
        let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
        Config::from_yaml_str(text, "test.yaml", &sets)
    }

    #[test]
    fn defaults_round_trip() {
        let c = defaults();
        let yaml = c.to_yaml();
        let back = load_str(&yaml, &[]).unwrap();
        assert_eq!(back, c);
        // An empty mapping means "all defaults"; an empty file is refused (it would start a
        // full-size default run by mistake).
        assert_eq!(load_str("{}", &[]).unwrap(), c);
        for empty in ["", "# only a comment\n", "---\n"] {
            let e = load_str(empty, &[]).unwrap_err();
            assert!(
                e.to_string()
                    .starts_with("test.yaml: the file holds no YAML document"),
                "{e}"
            );
        }
    }

    #[test]
    fn to_yaml_round_trips_non_default() {
        let mut c = defaults();
        c.model.dale = Some(DaleConfig {
            proportion_excitatory: 0.8,
        });
        c.model.tau_a_range = Some([200.0, 2000.0]);
        c.model.n_in = Some(3);
        c.device.backend = Some(BackendKind::Gl);
        c.data.path = Some("/x/y".into());
        c.rewiring = Some(Default::default());
        c.model.thr = 0.013;
        let back = load_str(&c.to_yaml(), &[]).unwrap();
        assert_eq!(back, c);
    }

    #[test]
    fn unknown_field_names_path_and_line() {
        let e = load_str("model: {tua_m: 3}\n", &[]).unwrap_err();
        let msg = e.to_string();
        assert!(matches!(e, ConfigError::Parse { .. }), "{msg}");
        assert_eq!(e.field(), Some("model.tua_m"), "{msg}");
        assert_eq!(e.line(), Some(1), "{msg}");
        assert!(msg.contains("test.yaml:1"), "{msg}");
        assert!(msg.contains("model.tua_m"), "{msg}");
        assert!(msg.contains("unknown field"), "{msg}");

        let e = load_str(
            "train:\n  iterations: 3\nmodel:\n  n_regular: 4\n  tua_m: 3\n",
            &[],
        )
        .unwrap_err();
        assert_eq!(e.field(), Some("model.tua_m"), "{e}");
        assert_eq!(e.line(), Some(5), "{e}");

        let e = load_str("modle:\n  tau_m: 3\n", &[]).unwrap_err();
        assert_eq!(e.field(), Some("modle"), "{e}");
        assert_eq!(e.line(), Some(1), "{e}");
    }

    #[test]
    fn wrong_type_names_path_and_line() {
        let e = load_str(
            "# header\ntrain:\n  batch_size: 4\n  iterations: many\n",
            &[],
        )
        .unwrap_err();
        let msg = e.to_string();
        assert!(matches!(e, ConfigError::Parse { .. }), "{msg}");
        assert_eq!(e.field(), Some("train.iterations"), "{msg}");
        assert_eq!(e.line(), Some(4), "{msg}");
        assert!(msg.contains("test.yaml:4:"), "{msg}");

        let e = load_str("train: {iterations: many}", &[]).unwrap_err();
        assert_eq!(e.field(), Some("train.iterations"), "{e}");
        assert_eq!(e.line(), Some(1), "{e}");

        let e = load_str("device:\n  backend: vulkann\n", &[]).unwrap_err();
        assert_eq!(e.field(), Some("device.backend"), "{e}");
        assert_eq!(e.line(), Some(2), "{e}");
    }

    #[test]
    fn syntax_error_has_line() {
        let e = load_str("model:\n  tau_m: [1, 2\ntrain: {}\n", &[]).unwrap_err();
        assert!(matches!(e, ConfigError::Parse { .. }), "{e}");
        assert!(e.line().is_some(), "{e}");
        assert!(
            e.to_string()
                .starts_with("test.yaml:3:6: YAML syntax error"),
            "{e}"
        );

        // A document that is not a mapping.
        let e = load_str("[1, 2]", &[]).unwrap_err();
        assert!(matches!(e, ConfigError::Parse { .. }), "{e}");
        assert_eq!(e.field(), Some(""), "{e}");
        assert!(e.to_string().starts_with("test.yaml"), "{e}");
    }

    #[test]
    fn negative_tau_names_path_and_line() {
        let e = load_str(
            "task:\n  steps: 100\nmodel:\n  n_regular: 4\n  tau_m: -3\n",
            &[],
        )
        .unwrap_err();
        let msg = e.to_string();
        assert!(matches!(e, ConfigError::Invalid { .. }), "{msg}");
        assert_eq!(e.field(), Some("model.tau_m"), "{msg}");
        assert_eq!(e.line(), Some(5), "{msg}");
        assert!(msg.contains("test.yaml:5:3: model.tau_m"), "{msg}");
    }

    #[test]
    fn no_neurons_rejected() {
        let e = load_str("model:\n  n_regular: 0\n  n_adaptive: 0\n", &[]).unwrap_err();
        assert!(matches!(e, ConfigError::Invalid { .. }), "{e}");
        assert!(e.field().unwrap().starts_with("model.n_"), "{e}");
        assert!(e.line().is_some(), "{e}");
    }

    #[test]
    fn window_longer_than_sequence_rejected() {
        let e = load_str(
            "task: {kind: synthetic, steps: 10}\nmodel: {readout: {window: 28}}\n",
            &[],
        )
        .unwrap_err();
        assert!(matches!(e, ConfigError::Invalid { .. }), "{e}");
        assert_eq!(e.field(), Some("model.readout.window"), "{e}");
        assert_eq!(e.line(), Some(2), "{e}");
    }

    #[test]
    fn invalid_defaulted_field_has_no_line() {
        // steps: 10 < the default window 28, which appears nowhere in the text.
        let e = load_str("task:\n  steps: 10\n", &[]).unwrap_err();
        assert_eq!(e.field(), Some("model.readout.window"), "{e}");
        assert_eq!(e.line(), None, "{e}");
    }

    #[test]
    fn set_overrides_work() {
        let c = load_str(
            "train:\n  iterations: 5\n",
            &[
                "train.iterations=10",
                "model.dale.proportion_excitatory=0.8",
                "device.backend=gl",
                "data.path=/x/y",
                "model.tau_a_range=[200, 2000]",
                "model.tau_a_range.1=3000",
            ],
        )
        .unwrap();
        assert_eq!(c.train.iterations, 10);
        assert_eq!(
            c.model.dale,
            Some(DaleConfig {
                proportion_excitatory: 0.8
            })
        );
        assert_eq!(c.device.backend, Some(BackendKind::Gl));
        assert_eq!(c.data.path.as_deref(), Some("/x/y"));
        assert_eq!(c.model.tau_a_range, Some([200.0, 3000.0]));
        // Unset an option, and override a whole section.
        let c = load_str(
            "model:\n  dale: {proportion_excitatory: 0.5}\n",
            &["model.dale=null"],
        )
        .unwrap();
        assert_eq!(c.model.dale, None);
    }

    #[test]
    fn set_unknown_key_errors() {
        let e = load_str("train:\n  iterations: 5\n", &["model.nope=1"]).unwrap_err();
        let msg = e.to_string();
        assert!(matches!(e, ConfigError::Parse { .. }), "{msg}");
        assert_eq!(e.field(), Some("model.nope"), "{msg}");
        assert_eq!(e.line(), None, "{msg}");
        assert!(msg.contains("--set model.nope=1"), "{msg}");
        assert!(msg.contains("unknown field"), "{msg}");
    }

    #[test]
    fn set_invalid_value_errors() {
        let e = load_str("model:\n  tau_m: 20\n", &["model.tau_m=-1"]).unwrap_err();
        assert!(matches!(e, ConfigError::Invalid { .. }), "{e}");
        assert_eq!(e.field(), Some("model.tau_m"), "{e}");
        assert_eq!(e.line(), None, "{e}");
        assert!(e.to_string().contains("--set model.tau_m=-1"), "{e}");

        let e = load_str("{}", &["train.iterations=many"]).unwrap_err();
        assert_eq!(e.field(), Some("train.iterations"), "{e}");
        assert!(e.to_string().contains("--set train.iterations=many"), "{e}");
    }

    #[test]
    fn malformed_set_errors() {
        for a in [
            "train.iterations",
            "=3",
            "train..iterations=3",
            "model.tau_a_range.5=1",
        ] {
            let text = "model: {tau_a_range: [1, 2]}";
            let e = load_str(text, &[a]).unwrap_err();
            assert!(matches!(e, ConfigError::Override { .. }), "{a}: {e}");
        }
    }

    #[test]
    fn io_error_names_file() {
        let e = Config::load(Path::new("/nonexistent/dir/cfg.yaml"), &[]).unwrap_err();
        assert!(matches!(e, ConfigError::Io { .. }));
        assert!(e.to_string().contains("/nonexistent/dir/cfg.yaml"), "{e}");
    }

    #[test]
    fn top_level_list_is_blamed_not_the_set() {
        let e = load_str("- a\n- b\n", &["train.iterations=1"]).unwrap_err();
        assert!(matches!(e, ConfigError::Parse { .. }), "{e}");
        let msg = e.to_string();
        assert!(
            msg.starts_with("test.yaml: the top level is a list"),
            "{msg}"
        );
        assert!(!msg.contains("--set"), "{msg}");
    }

    #[test]
    fn relative_paths_are_from_the_config_directory() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let digits = root.join("assets/mnist-10k").canonicalize().unwrap();
        let c = Config::load(&root.join("configs/smnist_quick.yaml"), &[]).unwrap();
        assert_eq!(c.data.path.as_deref(), Some(digits.to_str().unwrap()));
        // A run directory's resolved copy, elsewhere, keeps pointing at the same data
        // (`resume`, `eval` and `plot` read that copy).
        let run = tempfile::tempdir().unwrap();
        std::fs::write(run.path().join("config.yaml"), c.to_yaml()).unwrap();
        let again = Config::load(&run.path().join("config.yaml"), &[]).unwrap();
        assert_eq!(again, c);
        // A relative path in another file is from that file's directory; one given with --set
        // from the working directory; absolute ones are kept.
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("c.yaml");
        std::fs::write(&cfg, "data: {path: d/x, cache_dir: /abs/cache}\n").unwrap();
        let c = Config::load(&cfg, &[]).unwrap();
        let expected = std::path::absolute(dir.path()).unwrap().join("d/x");
        assert_eq!(c.data.path.as_deref(), Some(expected.to_str().unwrap()));
        assert_eq!(c.data.cache_dir.as_deref(), Some("/abs/cache"));
        let c = Config::load(&cfg, &["data.path=rel/y".to_string()]).unwrap();
        let expected = std::env::current_dir().unwrap().join("rel/y");
        assert_eq!(c.data.path.as_deref(), Some(expected.to_str().unwrap()));
    }

    #[test]
    fn a_path_only_found_from_the_working_directory_is_kept_for_old_run_directories() {
        // Tests run in the package root, where `src` exists; the temporary directory has none.
        let run = tempfile::tempdir().unwrap();
        let cfg = run.path().join("config.yaml");
        std::fs::write(&cfg, "data: {path: src}\n").unwrap();
        let c = Config::load(&cfg, &[]).unwrap();
        let expected = Path::new("src").canonicalize().unwrap();
        assert_eq!(c.data.path.as_deref(), Some(expected.to_str().unwrap()));
        // Where the config-relative path exists, it wins.
        std::fs::create_dir(run.path().join("src")).unwrap();
        let c = Config::load(&cfg, &[]).unwrap();
        let expected = run.path().join("src").canonicalize().unwrap();
        assert_eq!(c.data.path.as_deref(), Some(expected.to_str().unwrap()));
    }

    #[test]
    fn field_scanner() {
        let text = "\
# comment: with colon
task:
  kind: synthetic   # trailing: comment
model:
  readout:
    window: 3
  tau_m: 20
  dale: {proportion_excitatory: 0.5}
train: {adam: {beta1: 0.9, beta2: 0.99}, seed: 1}
";
        let line = |f: &str| find_field_pos(text, f).map(|p| p.line);
        assert_eq!(line("task"), Some(2));
        assert_eq!(line("task.kind"), Some(3));
        assert_eq!(line("model.readout.window"), Some(6));
        assert_eq!(line("model.tau_m"), Some(7));
        assert_eq!(line("model.dale.proportion_excitatory"), Some(8));
        assert_eq!(line("train.adam.beta2"), Some(9));
        assert_eq!(line("train.seed"), Some(9));
        assert_eq!(line("train.iterations"), None);
        assert_eq!(line("model.window"), None);
        assert_eq!(line("window"), None);
        let p = find_field_pos(text, "train.adam.beta2").unwrap();
        assert_eq!(
            &text.lines().nth(8).unwrap()[p.column.unwrap() - 1..][..5],
            "beta2"
        );
    }

    #[test]
    fn example_configs_load_and_validate() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("configs");
        for name in [
            "synthetic.yaml",
            "bench_smnist_size.yaml",
            "smnist_quick.yaml",
            "smnist.yaml",
            "smnist_2ms.yaml",
            "smnist_lif.yaml",
            "timit.yaml",
            "timit_lif.yaml",
            "bench_timit_size.yaml",
            "l2l_tn.yaml",
            "l2l_sine.yaml",
            "meta_rl.yaml",
        ] {
            let c = Config::load(&dir.join(name), &[]).unwrap_or_else(|e| panic!("{e}"));
            // And the resolved form round-trips.
            assert_eq!(load_str(&c.to_yaml(), &[]).unwrap(), c, "{name}");
        }
        let s = Config::load(&dir.join("synthetic.yaml"), &[]).unwrap();
        assert_eq!(s.task.steps, 100);
        assert_eq!(s.model.n_in, Some(20));
        assert_eq!(s.model.n_rec(), 40);
        assert_eq!(s.train.batch_size, 32);
        let b = Config::load(&dir.join("bench_smnist_size.yaml"), &[]).unwrap();
        assert_eq!(b.task.steps, 840);
        assert_eq!(b.model.n_rec(), 220);
        assert_eq!(
            b.model.dale,
            Some(DaleConfig {
                proportion_excitatory: 0.75
            })
        );
        assert_eq!(b.train.batch_size, 256);
    }
}
