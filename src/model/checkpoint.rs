//! Checkpoint, batch and gradient files (`docs/formats.md`), stored as safetensors so that
//! they open in Python (`safetensors.numpy.load_file`) or any other safetensors reader.
//!
//! Writing is atomic: the bytes go to `<path>.tmp` in the same directory, are fsynced, and
//! the temporary file is then renamed over the target, so an existing file is never lost when
//! a write fails. Reading never panics on bad input: every failure is a [`CheckpointError`]
//! that names the file, the tensor or metadata key, and what is wrong with it.
//!
//! Readers are tolerant where a value has a neutral default, so that a file written by a few
//! lines of numpy works: `noise_std` defaults to 0, `n_delay` to 1 when the file holds no
//! delay tensors, `n_regular` to the leading neurons with β = 0 (when β allows it); integer
//! tensors may be int64 as well as int32. docs/formats.md lists the required keys.

use std::collections::HashMap;
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::{bail, Context};
use ndarray::{Array1, Array2, Array3};
use safetensors::{Dtype, SafeTensors};

use super::batch::{Batch, Targets};
use super::deep_r::DeepR;
use super::init::rewired_matrices;
use super::network::{Network, NeuronConstants, Params, Readout, SimConstants};
use crate::files::write_atomic;

/// The value of the `format` metadata key of every file lsnn-gpu writes.
pub const FORMAT: &str = "lsnn-gpu/1";

/// Training state needed to resume exactly, stored beside the weights as `train.*`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TrainState {
    /// Number of completed iterations (metadata `train.iteration`).
    pub iteration: u64,
    /// Adam moments, flat in the layout of [`Params::to_flat`] (`train.adam_m`, `train.adam_v`).
    pub adam_m: Vec<f32>,
    pub adam_v: Vec<f32>,
    /// Sign constraint per trained scalar, values of `init::Constraint` (`train.constraints`).
    pub constraints: Vec<u32>,
    /// Opaque RNG state (`train.rng_state`, u8).
    pub rng_state: Vec<u8>,
    /// The run's DEEP R settings (docs/model.md §7; metadata `train.deep_r.*`), so that `resume`
    /// takes them from the checkpoint rather than from a second initialisation. None
    /// without rewiring, and in checkpoints written before they were stored.
    pub deep_r: Option<DeepR>,
    /// The checkpoint a fine-tuning run (`run --init-from`) started from (metadata
    /// `train.init_from`): its network, not the config's, is what the run trains.
    pub init_from: Option<String>,
}

/// What kind of file a [`CheckpointError`] is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    Checkpoint,
    Batch,
    Gradients,
}

impl fmt::Display for FileKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FileKind::Checkpoint => "checkpoint",
            FileKind::Batch => "batch",
            FileKind::Gradients => "gradient file",
        })
    }
}

/// What is wrong with a file (the part of the message after the file name).
#[derive(Debug, thiserror::Error)]
pub enum Problem {
    #[error("cannot read the file: {0}")]
    Io(std::io::Error),
    #[error("not a valid safetensors file, truncated or corrupt ({0})")]
    Corrupt(String),
    #[error("tensor `{tensor}` is missing{hint}")]
    MissingTensor { tensor: String, hint: String },
    #[error("tensor `{tensor}`: expected dtype {expected}, found {found}")]
    Dtype {
        tensor: String,
        expected: String,
        found: String,
    },
    #[error(
        "tensor `{tensor}`: expected shape {expected}, found {}{note}",
        fmt_shape(found)
    )]
    Shape {
        tensor: String,
        expected: String,
        found: Vec<usize>,
        /// Where an expected size comes from, e.g. " (n_rec = 40, as in `w_rec`, `tau_m`)";
        /// empty or starting with a space. (A `Box<str>` keeps the error small.)
        note: Box<str>,
    },
    #[error("tensor `{tensor}`: {detail}")]
    Value { tensor: String, detail: String },
    #[error("metadata key `{key}` is missing{hint}")]
    MissingMetadata { key: String, hint: String },
    #[error("metadata `{key}`: expected {expected}, found `{found}`")]
    Metadata {
        key: String,
        expected: String,
        found: String,
    },
}

/// A checkpoint, batch or gradient file that cannot be used, e.g.
/// ``checkpoint runs/x/last.safetensors: tensor `w_rec`: expected shape [220, 220], found [220, 219]``.
#[derive(Debug, thiserror::Error)]
#[error("{kind} {}: {problem}", path.display())]
pub struct CheckpointError {
    pub kind: FileKind,
    pub path: PathBuf,
    pub problem: Problem,
}

fn fmt_shape(s: &[usize]) -> String {
    let parts: Vec<String> = s.iter().map(|d| d.to_string()).collect();
    format!("[{}]", parts.join(", "))
}

fn value_err(tensor: &str, detail: String) -> Problem {
    Problem::Value {
        tensor: tensor.to_string(),
        detail,
    }
}

fn meta_err(key: &str, expected: &str, found: impl fmt::Display) -> Problem {
    Problem::Metadata {
        key: key.to_string(),
        expected: expected.to_string(),
        found: found.to_string(),
    }
}

// ---------------------------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------------------------

/// Tensors and metadata of a file about to be written.
#[derive(Default)]
struct Writer {
    tensors: Vec<(String, Dtype, Vec<usize>, Vec<u8>)>,
    meta: HashMap<String, String>,
}

impl Writer {
    fn new() -> Writer {
        let mut w = Writer::default();
        w.meta("format", FORMAT);
        w
    }
    fn meta(&mut self, key: &str, value: impl fmt::Display) {
        self.meta.insert(key.to_string(), value.to_string());
    }
    fn raw(&mut self, name: &str, dtype: Dtype, shape: &[usize], bytes: Vec<u8>) {
        self.tensors
            .push((name.to_string(), dtype, shape.to_vec(), bytes));
    }
    fn f32<'a>(&mut self, name: &str, shape: &[usize], values: impl IntoIterator<Item = &'a f32>) {
        let bytes = values.into_iter().flat_map(|v| v.to_le_bytes()).collect();
        self.raw(name, Dtype::F32, shape, bytes);
    }
    fn i32(&mut self, name: &str, shape: &[usize], values: impl IntoIterator<Item = i32>) {
        let bytes = values.into_iter().flat_map(|v| v.to_le_bytes()).collect();
        self.raw(name, Dtype::I32, shape, bytes);
    }
    fn u32(&mut self, name: &str, shape: &[usize], values: impl IntoIterator<Item = u32>) {
        let bytes = values.into_iter().flat_map(|v| v.to_le_bytes()).collect();
        self.raw(name, Dtype::U32, shape, bytes);
    }
    fn to_bytes(&self) -> anyhow::Result<Vec<u8>> {
        let mut views = Vec::with_capacity(self.tensors.len());
        for (name, dtype, shape, bytes) in &self.tensors {
            let view = safetensors::tensor::TensorView::new(*dtype, shape.clone(), bytes)
                .with_context(|| format!("tensor `{name}`"))?;
            views.push((name.as_str(), view));
        }
        Ok(safetensors::serialize(views, Some(self.meta.clone()))?)
    }
    fn write(&self, path: &Path) -> anyhow::Result<()> {
        write_atomic(path, &self.to_bytes()?)
    }
}

fn first_bad_2d<T: Copy>(a: &Array2<T>, bad: impl Fn(T) -> bool) -> Option<((usize, usize), T)> {
    a.indexed_iter()
        .find(|(_, v)| bad(**v))
        .map(|(i, v)| (i, *v))
}

fn first_bad_1d<T: Copy>(a: &Array1<T>, bad: impl Fn(T) -> bool) -> Option<(usize, T)> {
    a.iter()
        .enumerate()
        .find(|(_, v)| bad(**v))
        .map(|(i, v)| (i, *v))
}

/// Everything [`load_checkpoint`] checks about a network's values, so that a file that saves
/// also loads.
fn check_network(net: &Network) -> Result<(), Problem> {
    let s = &net.sim;
    let positive = |key: &str, v: f32| {
        if v.is_finite() && v > 0.0 {
            Ok(())
        } else {
            Err(meta_err(key, "a positive finite number", v))
        }
    };
    let finite = |key: &str, v: f32| {
        if v.is_finite() {
            Ok(())
        } else {
            Err(meta_err(key, "a finite number", v))
        }
    };
    positive("dt", s.dt)?;
    positive("tau_out", s.tau_out)?;
    finite("dampening", s.dampening)?;
    finite("reg_coeff", s.reg_coeff)?;
    finite("reg_rate_hz", s.reg_rate_hz)?;
    if !(s.noise_std.is_finite() && s.noise_std >= 0.0) {
        return Err(meta_err("noise_std", "a finite number ≥ 0", s.noise_std));
    }
    if s.n_delay == 0 {
        return Err(meta_err("n_delay", "an integer ≥ 1", s.n_delay));
    }
    if s.readout == Readout::Window(0) {
        return Err(meta_err(
            "readout",
            "`framewise` or `window:K` with K ≥ 1",
            s.readout.to_metadata(),
        ));
    }

    let p = &net.params;
    let (n_in, n_rec, n_out) = (p.w_in.nrows(), p.w_in.ncols(), p.w_out.ncols());
    let shape = |name: &str, expected: &[usize], found: &[usize]| {
        if expected == found {
            Ok(())
        } else {
            Err(Problem::Shape {
                tensor: name.to_string(),
                expected: fmt_shape(expected),
                found: found.to_vec(),
                note: "".into(),
            })
        }
    };
    shape("w_rec", &[n_rec, n_rec], p.w_rec.shape())?;
    shape("w_out", &[n_rec, n_out], p.w_out.shape())?;
    shape("b_out", &[n_out], p.b_out.shape())?;
    for (name, a) in neuron_arrays(&net.neurons) {
        shape(name, &[n_rec], a.shape())?;
    }
    shape("delay_in", &[n_in, n_rec], net.delay_in.shape())?;
    shape("delay_rec", &[n_rec, n_rec], net.delay_rec.shape())?;
    for (name, dim, label) in [
        ("w_in", n_in, "n_in"),
        ("w_in", n_rec, "n_rec"),
        ("w_out", n_out, "n_out"),
    ] {
        if dim == 0 {
            return Err(value_err(name, format!("{label} is 0; must be at least 1")));
        }
    }

    for (name, w) in [("w_in", &p.w_in), ("w_rec", &p.w_rec), ("w_out", &p.w_out)] {
        if let Some(((i, j), v)) = first_bad_2d(w, |v: f32| !v.is_finite()) {
            return Err(value_err(
                name,
                format!("non-finite value {v} at [{i}, {j}]"),
            ));
        }
    }
    if let Some((i, v)) = first_bad_1d(&p.b_out, |v: f32| !v.is_finite()) {
        return Err(value_err("b_out", format!("non-finite value {v} at [{i}]")));
    }
    if let Some(j) = (0..n_rec).find(|&j| p.w_rec[[j, j]] != 0.0) {
        return Err(value_err(
            "w_rec",
            format!(
                "diagonal entry [{j}, {j}] is {}; the diagonal must be 0 (no self-connections)",
                p.w_rec[[j, j]]
            ),
        ));
    }
    for (name, a) in neuron_arrays(&net.neurons) {
        let must_be_positive = name.starts_with("tau");
        if let Some((i, v)) =
            first_bad_1d(a, |v: f32| !v.is_finite() || (must_be_positive && v <= 0.0))
        {
            let what = if must_be_positive {
                "a positive finite time constant"
            } else {
                "a finite number"
            };
            return Err(value_err(name, format!("value {v} at [{i}] is not {what}")));
        }
    }
    for (name, d) in [("delay_in", &net.delay_in), ("delay_rec", &net.delay_rec)] {
        if let Some(((i, j), v)) = first_bad_2d(d, |v: u32| v >= s.n_delay) {
            return Err(value_err(
                name,
                format!(
                    "delay {v} at [{i}, {j}] is outside 0..{} (n_delay = {})",
                    s.n_delay, s.n_delay
                ),
            ));
        }
    }
    if net.n_regular > n_rec {
        return Err(meta_err(
            "n_regular",
            &format!("at most n_rec = {n_rec}"),
            net.n_regular,
        ));
    }
    Ok(())
}

fn neuron_arrays(n: &NeuronConstants) -> [(&'static str, &Array1<f32>); 4] {
    [
        ("tau_m", &n.tau_m),
        ("tau_a", &n.tau_a),
        ("beta", &n.beta),
        ("thr", &n.thr),
    ]
}

/// Writes `net` (and, if given, the training state) to `path` atomically.
pub fn save_checkpoint(
    path: &Path,
    net: &Network,
    train: Option<&TrainState>,
) -> anyhow::Result<()> {
    let ctx = || format!("writing checkpoint {}", path.display());
    check_network(net)
        .map_err(anyhow::Error::msg)
        .with_context(ctx)?;
    let p = &net.params;
    let s = &net.sim;
    let mut w = Writer::new();
    w.meta("dt", s.dt);
    w.meta("dampening", s.dampening);
    w.meta("n_ref", s.n_ref);
    w.meta("n_delay", s.n_delay);
    w.meta("tau_out", s.tau_out);
    w.meta("readout", s.readout.to_metadata());
    w.meta("reg_coeff", s.reg_coeff);
    w.meta("reg_rate_hz", s.reg_rate_hz);
    w.meta("noise_std", s.noise_std);
    w.meta("n_regular", net.n_regular);
    w.f32("w_in", p.w_in.shape(), &p.w_in);
    w.f32("w_rec", p.w_rec.shape(), &p.w_rec);
    w.f32("w_out", p.w_out.shape(), &p.w_out);
    w.f32("b_out", p.b_out.shape(), &p.b_out);
    for (name, a) in neuron_arrays(&net.neurons) {
        w.f32(name, a.shape(), a);
    }
    if s.n_delay > 1 {
        w.i32(
            "delay_in",
            net.delay_in.shape(),
            net.delay_in.iter().map(|&d| d as i32),
        );
        w.i32(
            "delay_rec",
            net.delay_rec.shape(),
            net.delay_rec.iter().map(|&d| d as i32),
        );
    }
    if let Some(t) = train {
        let n = p.len();
        for (name, len) in [
            ("train.adam_m", t.adam_m.len()),
            ("train.adam_v", t.adam_v.len()),
            ("train.constraints", t.constraints.len()),
        ] {
            if len != n {
                bail!(
                    "{}: {name} has {len} entries, but the network has {n} trained parameters",
                    ctx()
                );
            }
        }
        w.meta("train.iteration", t.iteration);
        w.f32("train.adam_m", &[n], &t.adam_m);
        w.f32("train.adam_v", &[n], &t.adam_v);
        w.u32("train.constraints", &[n], t.constraints.iter().copied());
        w.raw(
            "train.rng_state",
            Dtype::U8,
            &[t.rng_state.len()],
            t.rng_state.clone(),
        );
        if let Some(d) = &t.deep_r {
            // The rest of `DeepR` (matrices, matrix choice) follows from the sizes.
            w.meta("train.deep_r.l1", d.l1);
            w.meta("train.deep_r.temperature", d.temperature);
            w.meta("train.deep_r.budget", d.budget);
            w.meta("train.deep_r.seed", d.seed);
            w.meta("train.deep_r.dense_gradients", d.dense_gradients);
        }
        if let Some(from) = &t.init_from {
            w.meta("train.init_from", from);
        }
    }
    w.write(path).with_context(ctx)
}

/// Writes a batch (`x`, and `labels` or `frame_labels`) to `path` atomically.
pub fn save_batch(path: &Path, batch: &Batch) -> anyhow::Result<()> {
    let ctx = || format!("writing batch {}", path.display());
    let (t, b) = (batch.steps(), batch.size());
    let mut w = Writer::new();
    w.f32("x", batch.x.shape(), &batch.x);
    match &batch.targets {
        Targets::Labels(l) => {
            if l.len() != b {
                bail!("{}: {} labels for a batch of {b} sequences", ctx(), l.len());
            }
            w.i32("labels", l.shape(), l.iter().copied());
        }
        Targets::FrameLabels(l) => {
            if l.shape() != [t, b] {
                bail!(
                    "{}: frame labels of shape {} for x of shape {}",
                    ctx(),
                    fmt_shape(l.shape()),
                    fmt_shape(batch.x.shape())
                );
            }
            w.i32("frame_labels", l.shape(), l.iter().copied());
        }
        Targets::FrameValues(v) => {
            if v.shape()[..2] != [t, b] {
                bail!(
                    "{}: frame targets of shape {} for x of shape {}",
                    ctx(),
                    fmt_shape(v.shape()),
                    fmt_shape(batch.x.shape())
                );
            }
            w.f32("frame_targets", v.shape(), v);
        }
    }
    w.write(path).with_context(ctx)
}

/// What a gradient file holds: one batch's losses (M9: total, task, regularisation), its
/// gradients (flat, in the layout of [`Params::to_flat`]) and spikes [T, B, n_rec]. Borrowed
/// from an engine's `GradientReport` (`GradientReport::record`), so that the model's files do
/// not depend on the engines.
#[derive(Clone, Copy, Debug)]
pub struct GradientRecord<'a> {
    pub loss: f32,
    pub loss_task: f32,
    pub loss_reg: f32,
    pub grads: &'a [f32],
    pub spikes: &'a Array3<f32>,
}

/// Writes one batch's losses, gradients (`report.grads`, flat in the layout of
/// [`Params::to_flat`]) and spikes to `path` atomically.
pub fn save_gradients(path: &Path, net: &Network, report: &GradientRecord) -> anyhow::Result<()> {
    let ctx = || format!("writing gradients {}", path.display());
    let p = &net.params;
    if report.grads.len() != p.len() {
        bail!(
            "{}: {} gradient entries, but the network has {} trained parameters",
            ctx(),
            report.grads.len(),
            p.len()
        );
    }
    let z = &report.spikes;
    if z.ndim() != 3 || z.shape()[2] != net.n_rec() {
        bail!(
            "{}: spikes of shape {}, expected [T, B, {}]",
            ctx(),
            fmt_shape(z.shape()),
            net.n_rec()
        );
    }
    let g = Params::from_flat(report.grads, net.n_in(), net.n_rec(), net.n_out());
    let mut w = Writer::new();
    w.f32("loss", &[1], &[report.loss]);
    w.f32("loss_task", &[1], &[report.loss_task]);
    w.f32("loss_reg", &[1], &[report.loss_reg]);
    w.f32("grad_w_in", g.w_in.shape(), &g.w_in);
    w.f32("grad_w_rec", g.w_rec.shape(), &g.w_rec);
    w.f32("grad_w_out", g.w_out.shape(), &g.w_out);
    w.f32("grad_b_out", g.b_out.shape(), &g.b_out);
    let spikes: Vec<f32> = z
        .iter()
        .map(|&v| if v != 0.0 { 1.0 } else { 0.0 })
        .collect();
    w.f32("z", z.shape(), &spikes);
    w.write(path).with_context(ctx)
}

// ---------------------------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------------------------

/// One expected dimension of a tensor.
#[derive(Clone, Copy)]
enum Dim {
    /// Exactly this size.
    Is(usize),
    /// Any size ≥ 1, named in messages.
    Pos(&'static str),
    /// Any size, including 0.
    Any(&'static str),
}

fn fmt_dims(dims: &[Dim]) -> String {
    let parts: Vec<String> = dims
        .iter()
        .map(|d| match d {
            Dim::Is(n) => n.to_string(),
            Dim::Pos(s) | Dim::Any(s) => s.to_string(),
        })
        .collect();
    format!("[{}]", parts.join(", "))
}

/// `e` with `note` (where an expected size came from) added to a shape error.
fn noted(mut e: CheckpointError, note: &str) -> CheckpointError {
    if let Problem::Shape { note: n, .. } = &mut e.problem {
        *n = note.into();
    }
    e
}

/// The rank of a tensor that votes on a size in [`Reader::agreed_size`].
fn rank_of(name: &str) -> usize {
    match name.trim_start_matches("grad_") {
        "w_in" | "w_rec" | "w_out" | "delay_in" | "delay_rec" => 2,
        "z" => 3,
        _ => 1,
    }
}

/// [`noted`] for a [rows, cols] matrix: the note of the rows when they are not `rows`, else
/// the note of the columns.
fn noted_rows_or_columns(
    e: CheckpointError,
    rows: usize,
    rows_note: &str,
    cols_note: &str,
) -> CheckpointError {
    let rows_wrong = match &e.problem {
        Problem::Shape { found, .. } => found.first() != Some(&rows),
        _ => true,
    };
    noted(e, if rows_wrong { rows_note } else { cols_note })
}

/// A parsed safetensors file and where it came from.
struct Reader<'a> {
    kind: FileKind,
    path: &'a Path,
    st: SafeTensors<'a>,
    meta: HashMap<String, String>,
}

/// Reads the whole file; the bytes outlive the [`Reader`] borrowing them.
fn read_bytes(kind: FileKind, path: &Path) -> Result<Vec<u8>, CheckpointError> {
    fs::read(path).map_err(|e| CheckpointError {
        kind,
        path: path.to_path_buf(),
        problem: Problem::Io(e),
    })
}

impl<'a> Reader<'a> {
    fn new(kind: FileKind, path: &'a Path, bytes: &'a [u8]) -> Result<Reader<'a>, CheckpointError> {
        let err = |problem| CheckpointError {
            kind,
            path: path.to_path_buf(),
            problem,
        };
        let (_, metadata) =
            SafeTensors::read_metadata(bytes).map_err(|e| err(Problem::Corrupt(e.to_string())))?;
        let st =
            SafeTensors::deserialize(bytes).map_err(|e| err(Problem::Corrupt(e.to_string())))?;
        let meta = metadata.metadata().clone().unwrap_or_default();
        Ok(Reader {
            kind,
            path,
            st,
            meta,
        })
    }

    fn err(&self, problem: Problem) -> CheckpointError {
        CheckpointError {
            kind: self.kind,
            path: self.path.to_path_buf(),
            problem,
        }
    }

    fn has(&self, name: &str) -> bool {
        self.st.tensor(name).is_ok()
    }

    fn missing_hint(&self) -> String {
        let mut names: Vec<&str> = self.st.names();
        names.sort_unstable();
        if names.is_empty() {
            " (the file holds no tensors)".to_string()
        } else if names.len() <= 16 {
            format!(" (the file holds: {})", names.join(", "))
        } else {
            format!(" (the file holds {} other tensors)", names.len())
        }
    }

    /// The tensor `name` with the given dtype and shape; returns its shape and raw bytes.
    fn tensor(
        &self,
        name: &str,
        dtypes: &[Dtype],
        dims: &[Dim],
    ) -> Result<(Vec<usize>, Dtype, &'a [u8]), CheckpointError> {
        let view = self.st.tensor(name).map_err(|_| {
            self.err(Problem::MissingTensor {
                tensor: name.to_string(),
                hint: self.missing_hint(),
            })
        })?;
        if !dtypes.contains(&view.dtype()) {
            let expected: Vec<String> = dtypes.iter().map(|d| d.to_string()).collect();
            return Err(self.err(Problem::Dtype {
                tensor: name.to_string(),
                expected: expected.join(" or "),
                found: view.dtype().to_string(),
            }));
        }
        let shape = view.shape().to_vec();
        let shape_ok = shape.len() == dims.len()
            && shape.iter().zip(dims).all(|(&n, d)| match d {
                Dim::Is(m) => n == *m,
                Dim::Pos(_) | Dim::Any(_) => true,
            });
        if !shape_ok {
            return Err(self.err(Problem::Shape {
                tensor: name.to_string(),
                expected: fmt_dims(dims),
                found: shape,
                note: "".into(),
            }));
        }
        for (&n, d) in shape.iter().zip(dims) {
            if let (0, Dim::Pos(label)) = (n, d) {
                return Err(self.err(value_err(
                    name,
                    format!(
                        "dimension {label} of shape {} is 0; must be at least 1",
                        fmt_shape(&shape)
                    ),
                )));
            }
        }
        Ok((shape, view.dtype(), view.data()))
    }

    /// The size most of `sources` (tensor, axis) agree on (the first listed wins a tie), and
    /// a note that says so for shape errors, e.g. " (n_rec = 40, as in `w_rec`, `tau_m`)".
    /// A tensor that is absent or lacks the axis does not vote; `None` if none does. Sizes
    /// are taken this way, not from the first tensor read, so that one tensor of a wrong
    /// shape is the one blamed (a transposed `w_in` must not make `w_rec` look wrong).
    fn agreed_size(&self, what: &str, sources: &[(&str, usize)]) -> Option<(usize, String)> {
        let votes: Vec<(usize, &str)> = sources
            .iter()
            .filter_map(|&(name, axis)| {
                let v = self.st.tensor(name).ok()?;
                // Only a tensor of its own rank votes (a [1, 3] bias says nothing of n_out).
                (v.shape().len() == rank_of(name)).then_some(())?;
                Some((*v.shape().get(axis)?, name))
            })
            .collect();
        let count = |n: usize| votes.iter().filter(|(m, _)| *m == n).count();
        let (n, _) = *votes
            .iter()
            .fold(None, |best: Option<&(usize, &str)>, v| match best {
                Some(b) if count(b.0) >= count(v.0) => Some(b),
                _ => Some(v),
            })?;
        let mut names: Vec<String> = Vec::new();
        for (m, name) in &votes {
            let quoted = format!("`{name}`");
            if *m == n && !names.contains(&quoted) {
                names.push(quoted);
            }
        }
        Some((n, format!(" ({what} = {n}, as in {})", names.join(", "))))
    }

    /// The dimension `what` as [`Reader::agreed_size`] finds it (`Dim::Pos(what)` when no
    /// tensor has it), with its note.
    fn sizes(&self, what: &'static str, sources: &[(&str, usize)]) -> (Dim, String) {
        match self.agreed_size(what, sources) {
            Some((n, note)) if n > 0 => (Dim::Is(n), note),
            _ => (Dim::Pos(what), String::new()),
        }
    }

    /// The voters for n_out: the bias first (it has no other axis to get wrong), and the
    /// readout matrix's columns only when its rows are `rec` (a transposed matrix's columns
    /// are n_rec, not n_out).
    fn out_sources<'n>(&self, w_out: &'n str, b_out: &'n str, rec: Dim) -> Vec<(&'n str, usize)> {
        let mut sources = vec![(b_out, 0)];
        let rows = self
            .st
            .tensor(w_out)
            .ok()
            .and_then(|v| v.shape().first().copied());
        if let (Some(rows), Dim::Is(n_rec)) = (rows, rec) {
            if rows == n_rec {
                sources.push((w_out, 1));
            }
        }
        sources
    }

    fn f32s(&self, name: &str, dims: &[Dim]) -> Result<(Vec<usize>, Vec<f32>), CheckpointError> {
        let (shape, _, data) = self.tensor(name, &[Dtype::F32], dims)?;
        Ok((
            shape,
            data.chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
        ))
    }

    /// I32 (or, where allowed, U32 or I64) values as i64. I64 values must fit in an i32: it
    /// is accepted because numpy's default integer is 64 bits wide.
    fn ints(
        &self,
        name: &str,
        dtypes: &[Dtype],
        dims: &[Dim],
    ) -> Result<(Vec<usize>, Vec<i64>), CheckpointError> {
        let (shape, dtype, data) = self.tensor(name, dtypes, dims)?;
        let values: Vec<i64> = if dtype == Dtype::I64 {
            data.chunks_exact(8)
                .map(|c| i64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
                .collect()
        } else {
            data.chunks_exact(4)
                .map(|c| {
                    let b = [c[0], c[1], c[2], c[3]];
                    if dtype == Dtype::U32 {
                        u32::from_le_bytes(b) as i64
                    } else {
                        i32::from_le_bytes(b) as i64
                    }
                })
                .collect()
        };
        if dtype == Dtype::I64 {
            let fits = |v: &i64| i32::try_from(*v).is_ok();
            if let Some((i, v)) = values.iter().enumerate().find(|(_, v)| !fits(v)) {
                return Err(self.err(value_err(
                    name,
                    format!("value {v} at flat index {i} does not fit in an int32"),
                )));
            }
        }
        Ok((shape, values))
    }

    fn f32_1d(&self, name: &str, dim: Dim) -> Result<Array1<f32>, CheckpointError> {
        let (_, v) = self.f32s(name, &[dim])?;
        Ok(Array1::from_vec(v))
    }

    fn f32_2d(&self, name: &str, dims: [Dim; 2]) -> Result<Array2<f32>, CheckpointError> {
        let (s, v) = self.f32s(name, &dims)?;
        Array2::from_shape_vec((s[0], s[1]), v)
            .map_err(|e| self.err(value_err(name, e.to_string())))
    }

    fn f32_3d(&self, name: &str, dims: [Dim; 3]) -> Result<Array3<f32>, CheckpointError> {
        let (s, v) = self.f32s(name, &dims)?;
        Array3::from_shape_vec((s[0], s[1], s[2]), v)
            .map_err(|e| self.err(value_err(name, e.to_string())))
    }

    /// An I32 matrix whose values must lie in `lo..hi`.
    fn i32_2d_in(
        &self,
        name: &str,
        dims: [Dim; 2],
        lo: i64,
        hi: i64,
        what: &str,
    ) -> Result<Array2<i64>, CheckpointError> {
        let (s, v) = self.ints(name, &[Dtype::I32, Dtype::I64], &dims)?;
        let a = Array2::from_shape_vec((s[0], s[1]), v)
            .map_err(|e| self.err(value_err(name, e.to_string())))?;
        if let Some(((i, j), x)) = first_bad_2d(&a, |x| x < lo || x >= hi) {
            return Err(self.err(value_err(
                name,
                format!("value {x} at [{i}, {j}] is outside {lo}..{hi} ({what})"),
            )));
        }
        Ok(a)
    }

    fn meta_str(&self, key: &str) -> Result<&str, CheckpointError> {
        self.meta.get(key).map(String::as_str).ok_or_else(|| {
            let hint = if self.meta.is_empty() {
                " (the file has no metadata; was it written by lsnn-gpu?)".to_string()
            } else {
                String::new()
            };
            self.err(Problem::MissingMetadata {
                key: key.to_string(),
                hint,
            })
        })
    }

    fn meta_parse<T: FromStr>(&self, key: &str, expected: &str) -> Result<T, CheckpointError> {
        let s = self.meta_str(key)?;
        s.trim()
            .parse()
            .map_err(|_| self.err(meta_err(key, expected, s)))
    }

    /// An optional metadata key: its parsed value, or None when the file does not hold it.
    fn meta_parse_opt<T: FromStr>(
        &self,
        key: &str,
        expected: &str,
    ) -> Result<Option<T>, CheckpointError> {
        if self.meta.contains_key(key) {
            self.meta_parse(key, expected).map(Some)
        } else {
            Ok(None)
        }
    }

    fn check_format(&self) -> Result<(), CheckpointError> {
        let f = self.meta_str("format")?;
        if f != FORMAT {
            return Err(self.err(meta_err("format", &format!("`{FORMAT}`"), f)));
        }
        Ok(())
    }

    fn network(&self) -> Result<Network, CheckpointError> {
        self.check_format()?;
        let sim = SimConstants {
            dt: self.meta_parse("dt", "a positive number (ms)")?,
            dampening: self.meta_parse("dampening", "a number")?,
            n_ref: self.meta_parse("n_ref", "a non-negative integer (steps)")?,
            n_delay: self.n_delay()?,
            tau_out: self.meta_parse("tau_out", "a positive number (ms)")?,
            readout: {
                let s = self.meta_str("readout")?;
                Readout::from_metadata(s)
                    .ok_or_else(|| self.err(meta_err("readout", "`framewise` or `window:K`", s)))?
            },
            reg_coeff: self.meta_parse("reg_coeff", "a number")?,
            reg_rate_hz: self.meta_parse("reg_rate_hz", "a number (Hz)")?,
            // Optional: no injected noise.
            noise_std: self
                .meta_parse_opt("noise_std", "a non-negative number")?
                .unwrap_or(0.0),
        };
        if sim.n_delay == 0 {
            return Err(self.err(meta_err("n_delay", "a positive integer (steps)", 0)));
        }

        let (rec, rec_note) = self.sizes(
            "n_rec",
            &[
                ("w_rec", 0),
                ("w_rec", 1),
                ("w_in", 1),
                ("w_out", 0),
                ("tau_m", 0),
                ("tau_a", 0),
                ("beta", 0),
                ("thr", 0),
                ("delay_rec", 0),
            ],
        );
        let (out, out_note) = self.sizes("n_out", &self.out_sources("w_out", "b_out", rec));
        let w_in = self
            .f32_2d("w_in", [Dim::Pos("n_in"), rec])
            .map_err(|e| noted(e, &rec_note))?;
        let (n_in, n_rec) = w_in.dim();
        let w_rec = self
            .f32_2d("w_rec", [Dim::Is(n_rec), Dim::Is(n_rec)])
            .map_err(|e| noted(e, &rec_note))?;
        let w_out = self
            .f32_2d("w_out", [Dim::Is(n_rec), out])
            .map_err(|e| noted_rows_or_columns(e, n_rec, &rec_note, &out_note))?;
        let n_out = w_out.ncols();
        let b_out = self
            .f32_1d("b_out", Dim::Is(n_out))
            .map_err(|e| noted(e, &out_note))?;
        let neuron = |name: &str| {
            self.f32_1d(name, Dim::Is(n_rec))
                .map_err(|e| noted(e, &rec_note))
        };
        let neurons = NeuronConstants {
            tau_m: neuron("tau_m")?,
            tau_a: neuron("tau_a")?,
            beta: neuron("beta")?,
            thr: neuron("thr")?,
        };
        let n_regular = match self.meta_parse_opt("n_regular", "a non-negative integer")? {
            Some(n) => n,
            None => self.n_regular_from_beta(&neurons.beta)?,
        };
        let nd = sim.n_delay;
        let delays = |name: &str, rows: usize| -> Result<Array2<u32>, CheckpointError> {
            if nd == 1 && !self.has(name) {
                return Ok(Array2::zeros((rows, n_rec)));
            }
            let what = format!("n_delay = {nd}");
            let a = self.i32_2d_in(name, [Dim::Is(rows), Dim::Is(n_rec)], 0, nd as i64, &what)?;
            Ok(a.mapv(|d| d as u32))
        };
        let net = Network {
            sim,
            neurons,
            n_regular,
            delay_in: delays("delay_in", n_in)?,
            delay_rec: delays("delay_rec", n_rec)?,
            params: Params {
                w_in,
                w_rec,
                w_out,
                b_out,
            },
        };
        check_network(&net).map_err(|p| self.err(p))?;
        Ok(net)
    }

    /// `n_delay`; optional when the file holds neither `delay_in` nor `delay_rec`, where it
    /// is 1 (no extra delay), as lsnn-gpu itself writes such a network.
    fn n_delay(&self) -> Result<u32, CheckpointError> {
        const EXPECTED: &str = "a positive integer (steps)";
        match self.meta_parse_opt("n_delay", EXPECTED)? {
            Some(n) => Ok(n),
            None if !self.has("delay_in") && !self.has("delay_rec") => Ok(1),
            None => Err(self.err(Problem::MissingMetadata {
                key: "n_delay".to_string(),
                hint: " (it may be left out only when the file holds no `delay_in` and no \
                       `delay_rec`, i.e. for n_delay = 1)"
                    .to_string(),
            })),
        }
    }

    /// The default of a missing `n_regular`: the number of leading neurons with β = 0, when
    /// β is 0 for exactly a leading block of neurons and > 0 for all the others (regular
    /// neurons come first, docs/model.md §1); otherwise the key is required.
    fn n_regular_from_beta(&self, beta: &Array1<f32>) -> Result<usize, CheckpointError> {
        let n_regular = beta.iter().take_while(|&&b| b == 0.0).count();
        match beta
            .iter()
            .enumerate()
            .skip(n_regular)
            .find(|(_, &b)| b.is_nan() || b <= 0.0)
        {
            None => Ok(n_regular),
            Some((j, b)) => Err(self.err(Problem::MissingMetadata {
                key: "n_regular".to_string(),
                hint: format!(
                    " and cannot be inferred from `beta`: beta[{j}] = {b} follows {n_regular} \
                     leading zeros (it may be left out only when beta is 0 for a leading block \
                     of neurons, the regular ones, and > 0 for all the others)"
                ),
            })),
        }
    }

    /// `train.deep_r.*`: all of them or none (a checkpoint without rewiring, or an older one).
    fn deep_r(&self, net: &Network) -> Result<Option<DeepR>, CheckpointError> {
        if !self.meta.keys().any(|k| k.starts_with("train.deep_r.")) {
            return Ok(None);
        }
        let matrices = rewired_matrices(net.n_in(), net.n_rec(), net.n_out());
        let d = DeepR::new(
            self.meta_parse("train.deep_r.l1", "a number")?,
            self.meta_parse("train.deep_r.temperature", "a number")?,
            self.meta_parse("train.deep_r.budget", "a non-negative integer")?,
            matrices,
            self.meta_parse("train.deep_r.seed", "a non-negative integer")?,
        );
        Ok(Some(d.with_dense_gradients(self.meta_parse(
            "train.deep_r.dense_gradients",
            "`true` or `false`",
        )?)))
    }

    fn train_state(&self, net: &Network) -> Result<Option<TrainState>, CheckpointError> {
        let n_params = net.params.len();
        let present = self.meta.contains_key("train.iteration")
            || self.st.names().iter().any(|n| n.starts_with("train."));
        if !present {
            return Ok(None);
        }
        let n = Dim::Is(n_params);
        let iteration = self.meta_parse("train.iteration", "a non-negative integer")?;
        let (_, adam_m) = self.f32s("train.adam_m", &[n])?;
        let (_, adam_v) = self.f32s("train.adam_v", &[n])?;
        let (_, c) = self.ints("train.constraints", &[Dtype::U32, Dtype::I32], &[n])?;
        if let Some((i, v)) = c.iter().enumerate().find(|(_, v)| !(0..=5).contains(*v)) {
            return Err(self.err(value_err(
                "train.constraints",
                format!("value {v} at [{i}] is not a constraint code 0..=5"),
            )));
        }
        let (_, _, rng) = self.tensor("train.rng_state", &[Dtype::U8], &[Dim::Any("len")])?;
        Ok(Some(TrainState {
            iteration,
            adam_m,
            adam_v,
            constraints: c.into_iter().map(|v| v as u32).collect(),
            rng_state: rng.to_vec(),
            deep_r: self.deep_r(net)?,
            init_from: self.meta.get("train.init_from").cloned(),
        }))
    }
}

/// Reads a checkpoint and, if it holds one, its training state (`train.*`).
pub fn load_checkpoint(path: &Path) -> Result<(Network, Option<TrainState>), CheckpointError> {
    let bytes = read_bytes(FileKind::Checkpoint, path)?;
    parse_checkpoint(path, &bytes)
}

/// [`load_checkpoint`] of `bytes`, the content of the file `path` (only named in errors).
pub fn parse_checkpoint(
    path: &Path,
    bytes: &[u8],
) -> Result<(Network, Option<TrainState>), CheckpointError> {
    let r = Reader::new(FileKind::Checkpoint, path, bytes)?;
    let net = r.network()?;
    let train = r.train_state(&net)?;
    Ok((net, train))
}

/// Reads only the network of a checkpoint, ignoring any `train.*` entries (for evaluation).
pub fn load_network(path: &Path) -> Result<Network, CheckpointError> {
    let bytes = read_bytes(FileKind::Checkpoint, path)?;
    Reader::new(FileKind::Checkpoint, path, &bytes)?.network()
}

/// Reads a batch: `x` [T, B, n_in] f32, and `labels` [B] i32 for a `window:K` readout or
/// `frame_labels` [T, B] i32 for a framewise one.
pub fn load_batch(path: &Path, readout: Readout) -> Result<Batch, CheckpointError> {
    let bytes = read_bytes(FileKind::Batch, path)?;
    parse_batch(path, &bytes, readout)
}

/// [`load_batch`] of `bytes`, the content of the file `path` (only named in errors).
pub fn parse_batch(path: &Path, bytes: &[u8], readout: Readout) -> Result<Batch, CheckpointError> {
    let r = Reader::new(FileKind::Batch, path, bytes)?;
    let x = r.f32_3d("x", [Dim::Pos("T"), Dim::Pos("B"), Dim::Pos("n_in")])?;
    let (t, b, _) = x.dim();
    if let Some(((i, j, k), v)) = x
        .indexed_iter()
        .find(|(_, v)| !v.is_finite())
        .map(|(i, v)| (i, *v))
    {
        return Err(r.err(value_err(
            "x",
            format!("non-finite value {v} at [{i}, {j}, {k}]"),
        )));
    }
    let wrong_kind = |name: &str, other: &str, other_readout: &str| {
        if !r.has(name) && r.has(other) {
            Err(r.err(Problem::MissingTensor {
                tensor: name.to_string(),
                hint: format!(
                    " (the readout is {}, which needs `{name}`; the file has `{other}`, which is for a {other_readout} readout)",
                    readout.to_metadata()
                ),
            }))
        } else {
            Ok(())
        }
    };
    let targets = match readout {
        Readout::Window(k) => {
            if t < k {
                return Err(r.err(value_err(
                    "x",
                    format!("{t} steps, but the readout window:{k} averages the last {k} steps"),
                )));
            }
            wrong_kind("labels", "frame_labels", "framewise")?;
            let (_, l) = r
                .ints("labels", &[Dtype::I32, Dtype::I64], &[Dim::Is(b)])
                .map_err(|e| match e.problem {
                    Problem::Shape { tensor, found, .. } => r.err(Problem::Shape {
                        tensor,
                        expected: format!("[{b}] (B of `x`, shape {})", fmt_shape(x.shape())),
                        found,
                        note: "".into(),
                    }),
                    _ => e,
                })?;
            if let Some((i, v)) = l.iter().enumerate().find(|(_, v)| **v < 0) {
                return Err(r.err(value_err("labels", format!("negative class {v} at [{i}]"))));
            }
            Targets::Labels(Array1::from_iter(l.into_iter().map(|v| v as i32)))
        }
        Readout::Framewise(_) => {
            wrong_kind("frame_labels", "labels", "window")?;
            let (_, l) = r
                .ints(
                    "frame_labels",
                    &[Dtype::I32, Dtype::I64],
                    &[Dim::Is(t), Dim::Is(b)],
                )
                .map_err(|e| match e.problem {
                    Problem::Shape { tensor, found, .. } => r.err(Problem::Shape {
                        tensor,
                        expected: format!(
                            "[{t}, {b}] (T and B of `x`, shape {})",
                            fmt_shape(x.shape())
                        ),
                        found,
                        note: "".into(),
                    }),
                    _ => e,
                })?;
            if let Some((i, v)) = l.iter().enumerate().find(|(_, v)| **v < -1) {
                return Err(r.err(value_err(
                    "frame_labels",
                    format!(
                        "class {v} at [{}, {}] (−1 = not scored, else ≥ 0)",
                        i / b,
                        i % b
                    ),
                )));
            }
            let l = Array2::from_shape_vec((t, b), l.into_iter().map(|v| v as i32).collect())
                .map_err(|e| r.err(value_err("frame_labels", e.to_string())))?;
            Targets::FrameLabels(l)
        }
        Readout::Regression(_) => {
            let v = r.f32_3d("frame_targets", [Dim::Is(t), Dim::Is(b), Dim::Pos("n_out")])?;
            if let Some(((i, j, k), v)) = v
                .indexed_iter()
                .find(|(_, v)| v.is_infinite())
                .map(|(i, v)| (i, *v))
            {
                return Err(r.err(value_err(
                    "frame_targets",
                    format!("infinite value {v} at [{i}, {j}, {k}] (NaN = not scored)"),
                )));
            }
            Targets::FrameValues(v)
        }
    };
    Ok(Batch { x, targets })
}

/// [`load_batch`] for the readout of `net`, also checking that `x` has `net`'s n_in inputs and
/// that every class is below its n_out.
pub fn load_batch_for(path: &Path, net: &Network) -> Result<Batch, CheckpointError> {
    let batch = load_batch(path, net.sim.readout)?;
    let err = |problem| CheckpointError {
        kind: FileKind::Batch,
        path: path.to_path_buf(),
        problem,
    };
    if batch.n_in() != net.n_in() {
        return Err(err(Problem::Shape {
            tensor: "x".to_string(),
            expected: format!("[T, B, {}] (n_in of the network)", net.n_in()),
            found: batch.x.shape().to_vec(),
            note: "".into(),
        }));
    }
    let n_out = net.n_out() as i32;
    let (name, bad) = match &batch.targets {
        Targets::Labels(l) => ("labels", l.iter().copied().find(|&v| v >= n_out)),
        Targets::FrameLabels(l) => ("frame_labels", l.iter().copied().find(|&v| v >= n_out)),
        Targets::FrameValues(v) => {
            if v.shape()[2] != net.n_out() {
                return Err(err(Problem::Shape {
                    tensor: "frame_targets".to_string(),
                    expected: format!("[T, B, {}] (n_out of the network)", net.n_out()),
                    found: v.shape().to_vec(),
                    note: "".into(),
                }));
            }
            ("frame_targets", None)
        }
    };
    if let Some(v) = bad {
        return Err(err(value_err(
            name,
            format!("class {v}, but the network has {n_out} outputs"),
        )));
    }
    Ok(batch)
}

/// The contents of a gradient file.
#[derive(Clone, Debug, PartialEq)]
pub struct Gradients {
    pub loss: f32,
    pub loss_task: f32,
    pub loss_reg: f32,
    pub n_in: usize,
    pub n_rec: usize,
    pub n_out: usize,
    /// Flat in the layout of [`Params::to_flat`].
    pub grads: Vec<f32>,
    /// [T, B, n_rec], 0/1.
    pub spikes: Array3<f32>,
}

/// Reads a gradient file written by [`save_gradients`].
pub fn load_gradients(path: &Path) -> Result<Gradients, CheckpointError> {
    let bytes = read_bytes(FileKind::Gradients, path)?;
    let r = Reader::new(FileKind::Gradients, path, &bytes)?;
    r.check_format()?;
    let scalar =
        |name: &str| -> Result<f32, CheckpointError> { Ok(r.f32s(name, &[Dim::Is(1)])?.1[0]) };
    let (loss, loss_task, loss_reg) = (scalar("loss")?, scalar("loss_task")?, scalar("loss_reg")?);
    let (rec, rec_note) = r.sizes(
        "n_rec",
        &[
            ("grad_w_rec", 0),
            ("grad_w_rec", 1),
            ("grad_w_in", 1),
            ("grad_w_out", 0),
            ("z", 2),
        ],
    );
    let (out, out_note) = r.sizes("n_out", &r.out_sources("grad_w_out", "grad_b_out", rec));
    let g_in = r
        .f32_2d("grad_w_in", [Dim::Pos("n_in"), rec])
        .map_err(|e| noted(e, &rec_note))?;
    let (n_in, n_rec) = g_in.dim();
    let g_rec = r
        .f32_2d("grad_w_rec", [Dim::Is(n_rec), Dim::Is(n_rec)])
        .map_err(|e| noted(e, &rec_note))?;
    let g_out = r
        .f32_2d("grad_w_out", [Dim::Is(n_rec), out])
        .map_err(|e| noted_rows_or_columns(e, n_rec, &rec_note, &out_note))?;
    let n_out = g_out.ncols();
    let g_b = r
        .f32_1d("grad_b_out", Dim::Is(n_out))
        .map_err(|e| noted(e, &out_note))?;
    let spikes = r
        .f32_3d("z", [Dim::Any("T"), Dim::Any("B"), Dim::Is(n_rec)])
        .map_err(|e| noted(e, &rec_note))?;
    let grads = Params {
        w_in: g_in,
        w_rec: g_rec,
        w_out: g_out,
        b_out: g_b,
    }
    .to_flat();
    Ok(Gradients {
        loss,
        loss_task,
        loss_reg,
        n_in,
        n_rec,
        n_out,
        grads,
        spikes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{BatchStats, GradientReport};
    use crate::files::tmp_path;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    use rand_distr::{Distribution, StandardNormal};

    fn normal(rng: &mut ChaCha8Rng) -> f32 {
        StandardNormal.sample(rng)
    }

    /// A random network like `tests/common`'s: 5 inputs, 4 regular + 3 adaptive neurons, 3 outputs.
    fn random_network(seed: u64, n_delay: u32, readout: Readout) -> Network {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let (n_in, n_regular, n, n_out) = (5, 4, 7, 3);
        let neurons = NeuronConstants {
            tau_m: Array1::from_shape_fn(n, |_| rng.random_range(5.0..30.0)),
            tau_a: Array1::from_shape_fn(n, |_| rng.random_range(20.0..300.0)),
            beta: Array1::from_shape_fn(n, |j| {
                if j >= n_regular {
                    rng.random_range(0.5..2.0)
                } else {
                    0.0
                }
            }),
            thr: Array1::from_shape_fn(n, |_| rng.random_range(0.02..0.08)),
        };
        let sim = SimConstants {
            dt: 1.0,
            dampening: 0.3,
            n_ref: 2,
            n_delay,
            tau_out: 20.0,
            readout,
            reg_coeff: 0.1,
            reg_rate_hz: 10.0,
            noise_std: 0.07,
        };
        let mut params = Params::zeros(n_in, n, n_out);
        params.w_in = Array2::from_shape_fn((n_in, n), |_| normal(&mut rng) * 1.5);
        params.w_rec =
            Array2::from_shape_fn(
                (n, n),
                |(k, j)| if k == j { 0.0 } else { normal(&mut rng) * 0.8 },
            );
        params.w_out = Array2::from_shape_fn((n, n_out), |_| normal(&mut rng));
        params.b_out = Array1::from_shape_fn(n_out, |_| normal(&mut rng) * 0.1);
        Network {
            sim,
            neurons,
            n_regular,
            delay_in: Array2::from_shape_fn((n_in, n), |_| rng.random_range(0..n_delay)),
            delay_rec: Array2::from_shape_fn((n, n), |_| rng.random_range(0..n_delay)),
            params,
        }
    }

    fn random_batch(seed: u64, readout: Readout) -> Batch {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let (t, b, n_in, n_out) = (12, 3, 5, 3);
        let x = Array3::from_shape_fn(
            (t, b, n_in),
            |_| if rng.random_bool(0.3) { 1.0 } else { 0.0 },
        );
        let targets = match readout {
            Readout::Window(_) => {
                Targets::Labels(Array1::from_shape_fn(b, |_| rng.random_range(0..n_out)))
            }
            Readout::Framewise(_) => Targets::FrameLabels(Array2::from_shape_fn((t, b), |_| {
                rng.random_range(-1..n_out)
            })),
            Readout::Regression(_) => {
                Targets::FrameValues(Array3::from_shape_fn((t, b, n_out as usize), |_| {
                    if rng.random_bool(0.2) {
                        f32::NAN
                    } else {
                        rng.random_range(-1.0..1.0)
                    }
                }))
            }
        };
        Batch { x, targets }
    }

    fn train_state(n: usize) -> TrainState {
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        TrainState {
            iteration: 1234,
            adam_m: (0..n).map(|_| normal(&mut rng)).collect(),
            adam_v: (0..n).map(|_| normal(&mut rng).abs()).collect(),
            constraints: (0..n).map(|i| (i % 4) as u32).collect(),
            rng_state: (0..40u8).collect(),
            deep_r: None,
            init_from: None,
        }
    }

    /// Reads a file into an editable tensor list and metadata.
    fn read_writer(path: &Path) -> Writer {
        let bytes = fs::read(path).unwrap();
        let (_, m) = SafeTensors::read_metadata(&bytes).unwrap();
        let st = SafeTensors::deserialize(&bytes).unwrap();
        let mut w = Writer {
            tensors: vec![],
            meta: m.metadata().clone().unwrap_or_default(),
        };
        for (name, v) in st.tensors() {
            w.raw(&name, v.dtype(), v.shape(), v.data().to_vec());
        }
        w
    }

    /// Saves `net`, edits the file with `f` and returns the error of loading it.
    fn broken(dir: &Path, net: &Network, f: impl FnOnce(&mut Writer)) -> (PathBuf, String) {
        let path = dir.join("broken.safetensors");
        save_checkpoint(&path, net, None).unwrap();
        let mut w = read_writer(&path);
        f(&mut w);
        w.write(&path).unwrap();
        let e = load_checkpoint(&path).expect_err("broken checkpoint must not load");
        assert_eq!(e.path, path);
        (path.clone(), e.to_string())
    }

    fn remove(w: &mut Writer, name: &str) {
        w.tensors.retain(|t| t.0 != name);
    }

    fn replace_f32(w: &mut Writer, name: &str, shape: &[usize], values: &[f32]) {
        remove(w, name);
        w.f32(name, shape, values);
    }

    #[test]
    fn round_trip_with_delays_window() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("net.safetensors");
        let net = random_network(1, 3, Readout::Window(8));
        save_checkpoint(&path, &net, None).unwrap();
        let (back, train) = load_checkpoint(&path).unwrap();
        assert_eq!(back, net);
        assert!(train.is_none());
        assert_eq!(load_network(&path).unwrap(), net);
        let names: Vec<String> = read_writer(&path)
            .tensors
            .into_iter()
            .map(|t| t.0)
            .collect();
        assert!(
            names.contains(&"delay_in".to_string()) && names.contains(&"delay_rec".to_string())
        );
    }

    #[test]
    fn round_trip_without_delays_framewise() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("net.safetensors");
        let net = random_network(2, 1, Readout::Framewise(1));
        save_checkpoint(&path, &net, None).unwrap();
        assert_eq!(load_checkpoint(&path).unwrap().0, net);
        let w = read_writer(&path);
        assert!(w.tensors.iter().all(|t| !t.0.starts_with("delay")));
        assert_eq!(w.meta["format"], FORMAT);
        assert_eq!(w.meta["readout"], "framewise");
        assert_eq!(w.meta["n_delay"], "1");
        assert_eq!(w.meta["n_regular"], "4");
    }

    #[test]
    fn train_state_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("net.safetensors");
        let net = random_network(3, 2, Readout::Window(4));
        let state = train_state(net.params.len());
        save_checkpoint(&path, &net, Some(&state)).unwrap();
        let (back, train) = load_checkpoint(&path).unwrap();
        assert_eq!(back, net);
        assert_eq!(train, Some(state.clone()));
        // Evaluation-only readers ignore train.*, even broken ones.
        let mut w = read_writer(&path);
        remove(&mut w, "train.adam_v");
        w.write(&path).unwrap();
        assert_eq!(load_network(&path).unwrap(), net);
        let e = load_checkpoint(&path).unwrap_err().to_string();
        assert!(e.contains("`train.adam_v` is missing"), "{e}");
        // Wrong lengths are refused on save.
        let mut bad = state;
        bad.adam_m.pop();
        let e = save_checkpoint(&path, &net, Some(&bad)).unwrap_err();
        assert!(format!("{e:#}").contains("train.adam_m"), "{e:#}");
    }

    #[test]
    fn deep_r_settings_and_init_from_round_trip_and_older_files_have_none() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("net.safetensors");
        let net = random_network(4, 2, Readout::Window(4));
        let mut state = train_state(net.params.len());
        let matrices = rewired_matrices(net.n_in(), net.n_rec(), net.n_out());
        state.deep_r = Some(
            DeepR::new(0.01, 1e-7, 17, matrices, 0xDEE9_0000_0000_0007).with_dense_gradients(false),
        );
        state.init_from = Some("imported.safetensors".to_string());
        save_checkpoint(&path, &net, Some(&state)).unwrap();
        assert_eq!(load_checkpoint(&path).unwrap().1, Some(state.clone()));
        // A checkpoint of an older lsnn-gpu has no `train.deep_r.*` and no `train.init_from`.
        let mut w = read_writer(&path);
        w.meta
            .retain(|k, _| !k.starts_with("train.deep_r.") && k != "train.init_from");
        w.write(&path).unwrap();
        let back = load_checkpoint(&path).unwrap().1.unwrap();
        assert_eq!((back.deep_r, back.init_from), (None, None));
        // Some of the keys but not all: refused, naming the missing one.
        let mut w = read_writer(&path);
        w.meta("train.deep_r.l1", 0.01);
        w.write(&path).unwrap();
        let e = load_checkpoint(&path).unwrap_err().to_string();
        assert!(e.contains("`train.deep_r.temperature` is missing"), "{e}");
    }

    /// Writes `net` as lsnn-gpu does, then drops the metadata keys `drop` from the file.
    fn save_without(path: &Path, net: &Network, drop: &[&str]) {
        save_checkpoint(path, net, None).unwrap();
        let mut w = read_writer(path);
        for key in drop {
            assert!(w.meta.remove(*key).is_some(), "{key} was written");
        }
        w.write(path).unwrap();
    }

    #[test]
    fn optional_metadata_keys_take_their_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("net.safetensors");
        // noise_std = 0 and n_regular = the leading neurons with β = 0 (4 of 7).
        let mut net = random_network(21, 3, Readout::Window(8));
        net.sim.noise_std = 0.0;
        save_without(&path, &net, &["noise_std", "n_regular"]);
        assert_eq!(load_checkpoint(&path).unwrap().0, net);
        // n_delay = 1 when the file holds no delay tensors.
        let mut net = random_network(22, 1, Readout::Framewise(1));
        net.sim.noise_std = 0.0;
        save_without(&path, &net, &["noise_std", "n_regular", "n_delay"]);
        assert_eq!(load_network(&path).unwrap(), net);
        let w = read_writer(&path);
        let mut keys: Vec<&str> = w.meta.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, REQUIRED_CHECKPOINT_KEYS_SORTED);
        // A stored value wins over the default.
        let net = random_network(23, 3, Readout::Window(8));
        save_checkpoint(&path, &net, None).unwrap();
        assert_eq!(load_checkpoint(&path).unwrap().0.sim.noise_std, 0.07);
    }

    /// The metadata keys a checkpoint needs (docs/formats.md), in sorted order.
    const REQUIRED_CHECKPOINT_KEYS_SORTED: [&str; 8] = [
        "dampening",
        "dt",
        "format",
        "n_ref",
        "readout",
        "reg_coeff",
        "reg_rate_hz",
        "tau_out",
    ];

    #[test]
    fn n_regular_default_covers_all_regular_and_all_adaptive() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("net.safetensors");
        for (beta, n_regular) in [(0.0f32, 7usize), (1.5, 0)] {
            let mut net = random_network(24, 2, Readout::Window(8));
            net.neurons.beta.fill(beta);
            net.n_regular = n_regular;
            save_without(&path, &net, &["n_regular"]);
            assert_eq!(load_checkpoint(&path).unwrap().0, net, "beta {beta}");
        }
    }

    #[test]
    fn int64_labels_and_delays_are_read_when_they_fit_in_int32() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("batch.safetensors");
        let batch = random_batch(25, Readout::Window(8));
        save_batch(&path, &batch).unwrap();
        let mut w = read_writer(&path);
        remove(&mut w, "labels");
        let labels = match &batch.targets {
            Targets::Labels(l) => l.clone(),
            _ => unreachable!(),
        };
        let as_i64 = |v: &[i64]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
        let l64: Vec<i64> = labels.iter().map(|&v| v as i64).collect();
        w.raw("labels", Dtype::I64, &[3], as_i64(&l64));
        w.write(&path).unwrap();
        assert_eq!(load_batch(&path, Readout::Window(8)).unwrap(), batch);
        remove(&mut w, "labels");
        w.raw("labels", Dtype::I64, &[3], as_i64(&[0, 1 << 32, 1]));
        w.write(&path).unwrap();
        let e = load_batch(&path, Readout::Window(8))
            .unwrap_err()
            .to_string();
        assert!(e.contains("`labels`") && e.contains("int32"), "{e}");

        let path = dir.path().join("net.safetensors");
        let net = random_network(26, 3, Readout::Window(8));
        save_checkpoint(&path, &net, None).unwrap();
        let mut w = read_writer(&path);
        for (name, d) in [("delay_in", &net.delay_in), ("delay_rec", &net.delay_rec)] {
            remove(&mut w, name);
            let d64: Vec<i64> = d.iter().map(|&v| v as i64).collect();
            w.raw(name, Dtype::I64, d.shape(), as_i64(&d64));
        }
        w.write(&path).unwrap();
        assert_eq!(load_checkpoint(&path).unwrap().0, net);
    }

    #[test]
    fn atomic_write_keeps_previous_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("last.safetensors");
        let old = random_network(4, 3, Readout::Window(8));
        let new = random_network(5, 3, Readout::Window(8));
        save_checkpoint(&path, &old, None).unwrap();
        let tmp = tmp_path(&path);
        assert_eq!(tmp, dir.path().join("last.safetensors.tmp"));
        assert!(!tmp.exists(), "no .tmp left behind on success");
        // Make writing the temporary file fail.
        fs::create_dir(&tmp).unwrap();
        let e = save_checkpoint(&path, &new, None).unwrap_err();
        assert!(format!("{e:#}").contains("last.safetensors"), "{e:#}");
        assert_eq!(load_checkpoint(&path).unwrap().0, old);
        fs::remove_dir(&tmp).unwrap();
        save_checkpoint(&path, &new, None).unwrap();
        assert_eq!(load_checkpoint(&path).unwrap().0, new);
        let entries: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(entries, vec![std::ffi::OsString::from("last.safetensors")]);
    }

    #[test]
    fn save_refuses_invalid_network() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nan.safetensors");
        let mut net = random_network(6, 3, Readout::Window(8));
        net.params.w_out[[2, 1]] = f32::NAN;
        let e = format!("{:#}", save_checkpoint(&path, &net, None).unwrap_err());
        assert!(
            e.contains("nan.safetensors") && e.contains("`w_out`") && e.contains("[2, 1]"),
            "{e}"
        );
        assert!(!path.exists());
    }

    #[test]
    fn broken_checkpoints_name_file_and_tensor() {
        let dir = tempfile::tempdir().unwrap();
        let net = random_network(7, 3, Readout::Window(8));
        let check = |(path, e): (PathBuf, String), wants: &[&str]| {
            assert!(
                e.starts_with(&format!("checkpoint {}: ", path.display())),
                "{e}"
            );
            for w in wants {
                assert!(e.contains(w), "`{w}` not in: {e}");
            }
        };

        // Truncated file.
        let path = dir.path().join("trunc.safetensors");
        save_checkpoint(&path, &net, None).unwrap();
        let bytes = fs::read(&path).unwrap();
        for cut in [0, 5, 100, bytes.len() - 1] {
            fs::write(&path, &bytes[..cut]).unwrap();
            let e = load_checkpoint(&path).unwrap_err().to_string();
            check((path.clone(), e), &["truncated or corrupt"]);
        }
        // Garbage.
        fs::write(&path, b"\x10\0\0\0\0\0\0\0not json at all!").unwrap();
        check(
            (
                path.clone(),
                load_checkpoint(&path).unwrap_err().to_string(),
            ),
            &["corrupt"],
        );
        // Missing file.
        let missing = dir.path().join("nope.safetensors");
        check(
            (
                missing.clone(),
                load_checkpoint(&missing).unwrap_err().to_string(),
            ),
            &["cannot read"],
        );

        check(
            broken(dir.path(), &net, |w| remove(w, "w_out")),
            &["tensor `w_out` is missing"],
        );
        check(
            broken(dir.path(), &net, |w| {
                remove(w, "tau_m");
                w.i32("tau_m", &[7], 0..7);
            }),
            &["tensor `tau_m`: expected dtype F32, found I32"],
        );
        check(
            broken(dir.path(), &net, |w| {
                replace_f32(w, "w_rec", &[7, 6], &[0.0; 42])
            }),
            &["tensor `w_rec`: expected shape [7, 7], found [7, 6]"],
        );
        check(
            broken(dir.path(), &net, |w| {
                replace_f32(w, "w_out", &[6, 3], &[0.0; 18])
            }),
            &["tensor `w_out`: expected shape [7, 3], found [6, 3] (n_rec = 7, as in `w_rec`"],
        );
        // A transposed w_in is blamed itself, not w_rec (n_rec is what most tensors say).
        let n_in = net.n_in();
        check(
            broken(dir.path(), &net, |w| {
                replace_f32(w, "w_in", &[7, n_in], &vec![0.0; 7 * n_in])
            }),
            &[&format!(
                "tensor `w_in`: expected shape [n_in, 7], found [7, {n_in}] (n_rec = 7"
            )],
        );
        // A transposed w_out is blamed itself, with n_out from b_out (not [7, 7]).
        check(
            broken(dir.path(), &net, |w| {
                replace_f32(w, "w_out", &[3, 7], &[0.0; 21])
            }),
            &["tensor `w_out`: expected shape [7, 3], found [3, 7] (n_rec = 7"],
        );
        // w_out and b_out disagree on n_out: the message says which tensor gave the size.
        check(
            broken(dir.path(), &net, |w| {
                replace_f32(w, "w_out", &[7, 4], &[0.0; 28])
            }),
            &["tensor `w_out`: expected shape [7, 3], found [7, 4] (n_out = 3, as in `b_out`)"],
        );
        check(
            broken(dir.path(), &net, |w| {
                replace_f32(w, "b_out", &[1, 3], &[0.0; 3])
            }),
            &["tensor `b_out`: expected shape [3], found [1, 3]"],
        );
        check(
            broken(dir.path(), &net, |w| w.meta("format", "lsnn-gpu/2")),
            &["metadata `format`: expected `lsnn-gpu/1`, found `lsnn-gpu/2`"],
        );
        check(
            broken(dir.path(), &net, |w| {
                w.meta.remove("format");
            }),
            &["metadata key `format` is missing"],
        );
        check(
            broken(dir.path(), &net, |w| w.meta.clear()),
            &["metadata key `format` is missing", "no metadata"],
        );
        check(
            broken(dir.path(), &net, |w| w.meta("dt", "fast")),
            &["metadata `dt`", "`fast`"],
        );
        check(
            broken(dir.path(), &net, |w| w.meta("dt", "-1")),
            &["metadata `dt`", "positive"],
        );
        check(
            broken(dir.path(), &net, |w| w.meta("readout", "window:")),
            &["metadata `readout`", "`window:`"],
        );
        check(
            broken(dir.path(), &net, |w| w.meta("n_regular", "8")),
            &["metadata `n_regular`", "`8`"],
        );
        check(
            broken(dir.path(), &net, |w| {
                w.meta.remove("n_delay");
            }),
            &["metadata key `n_delay` is missing", "`delay_in`"],
        );
        check(
            broken(dir.path(), &net, |w| {
                w.meta.remove("n_regular");
                replace_f32(w, "beta", &[7], &[0.0, 0.0, 1.0, 0.0, 1.0, 1.0, 1.0]);
            }),
            &[
                "metadata key `n_regular` is missing",
                "cannot be inferred from `beta`",
                "beta[3] = 0 follows 2 leading zeros",
            ],
        );
        check(
            broken(dir.path(), &net, |w| {
                w.meta.remove("n_regular");
                replace_f32(w, "beta", &[7], &[0.0, 0.0, 0.0, 0.0, -1.0, 1.0, 1.0]);
            }),
            &["metadata key `n_regular` is missing", "beta[4] = -1"],
        );
        let mut w_rec = net.params.w_rec.clone();
        w_rec[[4, 4]] = 0.5;
        check(
            broken(dir.path(), &net, |w| {
                replace_f32(w, "w_rec", &[7, 7], w_rec.as_slice().unwrap())
            }),
            &["tensor `w_rec`", "diagonal entry [4, 4] is 0.5"],
        );
        let mut w_in = net.params.w_in.clone();
        w_in[[1, 2]] = f32::INFINITY;
        check(
            broken(dir.path(), &net, |w| {
                replace_f32(w, "w_in", &[5, 7], w_in.as_slice().unwrap())
            }),
            &["tensor `w_in`", "non-finite", "[1, 2]"],
        );
        check(
            broken(dir.path(), &net, |w| {
                replace_f32(w, "tau_a", &[7], &[0.0; 7])
            }),
            &["tensor `tau_a`", "positive"],
        );
        check(
            broken(dir.path(), &net, |w| {
                remove(w, "delay_rec");
                w.i32(
                    "delay_rec",
                    &[7, 7],
                    (0..49).map(|i| if i == 10 { 3 } else { 0 }),
                );
            }),
            &["tensor `delay_rec`", "value 3 at [1, 3] is outside 0..3"],
        );
        check(
            broken(dir.path(), &net, |w| {
                remove(w, "delay_in");
                w.i32(
                    "delay_in",
                    &[5, 7],
                    (0..35).map(|i| if i == 0 { -1 } else { 0 }),
                );
            }),
            &["tensor `delay_in`", "value -1 at [0, 0]"],
        );
        check(
            broken(dir.path(), &net, |w| remove(w, "delay_in")),
            &["tensor `delay_in` is missing"],
        );
        // n_delay = 1 without delay tensors loads (tested above); with n_delay > 1 it does not.
        let state = train_state(net.params.len());
        let path = dir.path().join("train.safetensors");
        save_checkpoint(&path, &net, Some(&state)).unwrap();
        let mut w = read_writer(&path);
        remove(&mut w, "train.constraints");
        w.u32(
            "train.constraints",
            &[net.params.len()],
            std::iter::repeat_n(7, net.params.len()),
        );
        w.write(&path).unwrap();
        let e = load_checkpoint(&path).unwrap_err().to_string();
        check((path, e), &["tensor `train.constraints`", "value 7 at [0]"]);
    }

    #[test]
    fn batch_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("batch.safetensors");
        for readout in [
            Readout::Window(8),
            Readout::Framewise(1),
            Readout::Regression(4),
        ] {
            let batch = random_batch(11, readout);
            save_batch(&path, &batch).unwrap();
            let loaded = load_batch(&path, readout).unwrap();
            // NaN (not scored) targets compare unequal: compare the bits.
            let bits = |b: &Batch| match &b.targets {
                Targets::FrameValues(v) => v.mapv(f32::to_bits).into_raw_vec_and_offset().0,
                _ => vec![],
            };
            assert_eq!(loaded.x, batch.x);
            assert_eq!(bits(&loaded), bits(&batch));
            if !matches!(readout, Readout::Regression(_)) {
                assert_eq!(loaded, batch);
            }
            let net = random_network(1, 2, readout);
            let for_net = load_batch_for(&path, &net).unwrap();
            assert_eq!(bits(&for_net), bits(&batch));
            assert_eq!(for_net.x, batch.x);
            if !matches!(readout, Readout::Regression(_)) {
                assert_eq!(for_net, batch);
            }
        }
    }

    #[test]
    fn broken_batches_name_file_and_tensor() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("batch.safetensors");
        let expect = |readout: Readout, wants: &[&str]| {
            let e = load_batch(&path, readout).unwrap_err().to_string();
            assert!(e.starts_with(&format!("batch {}: ", path.display())), "{e}");
            for w in wants {
                assert!(e.contains(w), "`{w}` not in: {e}");
            }
        };
        let batch = random_batch(12, Readout::Window(8));
        save_batch(&path, &batch).unwrap();
        expect(
            Readout::Framewise(1),
            &["tensor `frame_labels` is missing", "has `labels`"],
        );
        expect(
            Readout::Window(20),
            &["tensor `x`", "12 steps", "window:20"],
        );

        let mut w = read_writer(&path);
        remove(&mut w, "labels");
        w.i32("labels", &[4], [0, 1, 2, 0]);
        w.write(&path).unwrap();
        expect(
            Readout::Window(8),
            &["tensor `labels`: expected shape [3] (B of `x`, shape [12, 3, 5]), found [4]"],
        );

        remove(&mut w, "labels");
        w.f32("labels", &[3], &[0.0, 1.0, 2.0]);
        w.write(&path).unwrap();
        expect(
            Readout::Window(8),
            &["tensor `labels`: expected dtype I32 or I64, found F32"],
        );

        remove(&mut w, "labels");
        w.i32("labels", &[3], [0, -2, 1]);
        w.write(&path).unwrap();
        expect(
            Readout::Window(8),
            &["tensor `labels`", "negative class -2 at [1]"],
        );

        let fb = random_batch(13, Readout::Framewise(1));
        save_batch(&path, &fb).unwrap();
        let mut w = read_writer(&path);
        remove(&mut w, "frame_labels");
        w.i32("frame_labels", &[11, 3], std::iter::repeat_n(0, 33));
        w.write(&path).unwrap();
        expect(
            Readout::Framewise(1),
            &[
                "tensor `frame_labels`: expected shape [12, 3]",
                "found [11, 3]",
            ],
        );

        remove(&mut w, "x");
        w.f32("x", &[12, 3], &[0.0; 36]);
        w.write(&path).unwrap();
        expect(
            Readout::Framewise(1),
            &["tensor `x`: expected shape [T, B, n_in], found [12, 3]"],
        );

        // Class and n_in checks against a network.
        save_batch(&path, &fb).unwrap();
        let mut net = random_network(1, 1, Readout::Framewise(1));
        net.params.w_out = Array2::zeros((7, 2));
        net.params.b_out = Array1::zeros(2);
        let e = load_batch_for(&path, &net).unwrap_err().to_string();
        assert!(
            e.contains("`frame_labels`") && e.contains("2 outputs"),
            "{e}"
        );
        net.params.w_in = Array2::zeros((4, 7));
        let e = load_batch_for(&path, &net).unwrap_err().to_string();
        assert!(e.contains("`x`: expected shape [T, B, 4]"), "{e}");
    }

    #[test]
    fn gradients_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("grads.safetensors");
        let net = random_network(8, 3, Readout::Window(8));
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let grads: Vec<f32> = (0..net.params.len()).map(|_| normal(&mut rng)).collect();
        let spikes =
            Array3::from_shape_fn((12, 3, 7), |_| if rng.random_bool(0.2) { 1.0 } else { 0.0 });
        let report = GradientReport {
            stats: BatchStats {
                loss: 1.5,
                loss_task: 1.25,
                loss_reg: 0.25,
                correct: 1,
                scored: 3,
                rates: vec![0.01; 7],
            },
            grads: grads.clone(),
            spikes: spikes.clone(),
        };
        save_gradients(&path, &net, &report.record()).unwrap();
        let g = load_gradients(&path).unwrap();
        assert_eq!((g.loss, g.loss_task, g.loss_reg), (1.5, 1.25, 0.25));
        assert_eq!((g.n_in, g.n_rec, g.n_out), (5, 7, 3));
        assert_eq!(g.grads, grads);
        assert_eq!(g.spikes, spikes);
        let w = read_writer(&path);
        let shape = |n: &str| w.tensors.iter().find(|t| t.0 == n).unwrap().2.clone();
        assert_eq!(shape("grad_w_rec"), vec![7, 7]);
        assert_eq!(shape("grad_b_out"), vec![3]);
        assert_eq!(shape("loss"), vec![1]);
        assert_eq!(shape("z"), vec![12, 3, 7]);

        let mut bad = report.clone();
        bad.grads.pop();
        assert!(save_gradients(&path, &net, &bad.record()).is_err());
        let mut w = read_writer(&path);
        remove(&mut w, "grad_w_out");
        w.write(&path).unwrap();
        let e = load_gradients(&path).unwrap_err().to_string();
        assert!(
            e.starts_with(&format!(
                "gradient file {}: tensor `grad_w_out` is missing",
                path.display()
            )),
            "{e}"
        );
    }

    /// Writes example files for a manual Python check (`safetensors.numpy.load_file`):
    /// `LSNN_FIXTURE_DIR=fixtures cargo test --lib write_python_fixtures -- --ignored`.
    #[test]
    #[ignore]
    fn write_python_fixtures() {
        let dir = PathBuf::from(
            std::env::var_os("LSNN_FIXTURE_DIR")
                .unwrap_or_else(|| std::env::temp_dir().join("lsnn_fixtures").into()),
        );
        fs::create_dir_all(&dir).unwrap();
        let net = random_network(1, 3, Readout::Window(8));
        save_checkpoint(
            &dir.join("checkpoint.safetensors"),
            &net,
            Some(&train_state(net.params.len())),
        )
        .unwrap();
        save_checkpoint(
            &dir.join("nodelay.safetensors"),
            &random_network(2, 1, Readout::Framewise(1)),
            None,
        )
        .unwrap();
        save_batch(
            &dir.join("batch.safetensors"),
            &random_batch(3, Readout::Window(8)),
        )
        .unwrap();
        save_batch(
            &dir.join("frames.safetensors"),
            &random_batch(4, Readout::Framewise(1)),
        )
        .unwrap();
        let report = GradientReport {
            stats: BatchStats {
                loss: 1.5,
                loss_task: 1.25,
                loss_reg: 0.25,
                correct: 0,
                scored: 0,
                rates: vec![],
            },
            grads: (0..net.params.len()).map(|i| i as f32).collect(),
            spikes: Array3::from_shape_fn((4, 2, 7), |(t, b, j)| ((t + b + j) % 2) as f32),
        };
        save_gradients(&dir.join("grads.safetensors"), &net, &report.record()).unwrap();
    }

    /// Reads files written by Python (`safetensors.numpy.save_file`) from `LSNN_FIXTURE_DIR`.
    #[test]
    #[ignore]
    fn read_python_fixtures() {
        let dir = PathBuf::from(
            std::env::var_os("LSNN_FIXTURE_DIR")
                .unwrap_or_else(|| std::env::temp_dir().join("lsnn_fixtures").into()),
        );
        let (net, train) = load_checkpoint(&dir.join("from_python.safetensors")).unwrap();
        println!(
            "python checkpoint: n_in {} n_rec {} n_out {} train {}",
            net.n_in(),
            net.n_rec(),
            net.n_out(),
            train.is_some()
        );
        let b = load_batch_for(&dir.join("from_python_batch.safetensors"), &net).unwrap();
        println!("python batch: x {:?}", b.x.shape());
    }
}
