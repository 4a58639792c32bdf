//! The `lsnn-gpu` command line. Every command that computes ends its stdout with one JSON
//! summary line; human-readable output goes to stderr.

// Lines on stderr go through `stderr::line!`, which cannot panic (lsnn_gpu::stderr).
#![deny(clippy::print_stderr)]

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context as _};
use clap::{Args, Parser, Subcommand};
use serde_json::json;

use lsnn_gpu::config::{BackendKind, Config, DeviceKind, TaskKind};
use lsnn_gpu::device::{build_engine, select, select_from_config, Selected};
use lsnn_gpu::gpu::context::{list_adapters, DeviceRequest};
use lsnn_gpu::model::checkpoint::{
    load_batch, load_checkpoint, save_batch, save_checkpoint, save_gradients,
};
use lsnn_gpu::model::init::{constraints, initialise};
use lsnn_gpu::plot::run_figures::{draw_connectivity_files, draw_learning_curves, redraw_raster};
use lsnn_gpu::rl::agent::{LogStd, N_OUTPUTS};
use lsnn_gpu::rl::trainer::{train_meta_rl, RlStart};
use lsnn_gpu::tasks::l2l::L2lTask;
use lsnn_gpu::tasks::smnist::SmnistTask;
use lsnn_gpu::tasks::synthetic::SyntheticTask;
use lsnn_gpu::tasks::timit::TimitTask;
use lsnn_gpu::tasks::{BatchSource, Split};
use lsnn_gpu::train::raster::draw_raster;
use lsnn_gpu::train::{evaluate, run_dir, train};
use lsnn_gpu::train::{provenance, resume, Ending, SessionStart, StopRequest};

#[derive(Parser)]
#[command(
    name = "lsnn-gpu",
    version,
    about = "Train LSNNs (recurrent spiking networks with adaptive neurons) on the GPU"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Where to compute. These override the config's `device` section; the WGPU_BACKEND and
/// WGPU_ADAPTER_NAME environment variables work too.
#[derive(Args, Clone, Debug, Default)]
struct DeviceArgs {
    /// Where to compute: auto (a hardware GPU if wgpu finds one, else the native engine), gpu
    /// (a wgpu adapter, software ones included), native (multi-threaded CPU engine) or cpu
    /// (the readable reference). Overrides the config's device.kind.
    #[arg(long, value_enum)]
    device: Option<DeviceKind>,
    /// The wgpu backend to look for adapters on (default: every backend, or WGPU_BACKEND).
    #[arg(long, value_enum)]
    backend: Option<BackendKind>,
    /// Case-insensitive substring of the adapter name (see `lsnn-gpu devices`; default: the
    /// best-ranked adapter, or WGPU_ADAPTER_NAME).
    #[arg(long)]
    adapter: Option<String>,
}

impl DeviceArgs {
    fn apply(&self, cfg: &mut Config) {
        if let Some(d) = self.device {
            cfg.device.kind = d;
        }
        if self.backend.is_some() {
            cfg.device.backend = self.backend;
        }
        if self.adapter.is_some() {
            cfg.device.adapter = self.adapter.clone();
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// List the adapters wgpu finds (name, backend, type, driver, key limits).
    Devices {
        /// List only the adapters of this wgpu backend (default: every backend, or
        /// WGPU_BACKEND).
        #[arg(long, value_enum)]
        backend: Option<BackendKind>,
    },
    /// Train the experiment of a config.
    Run {
        /// The experiment's YAML config (e.g. configs/synthetic.yaml); relative paths in it
        /// are relative to its directory.
        config: PathBuf,
        /// Override any config field, repeatable: --set train.iterations=100 (a path given
        /// here is relative to the working directory)
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
        /// Run directory (default runs/<config-name>-<timestamp>/). A directory that already
        /// holds a run is refused (use `resume`, another --out, or --overwrite).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Replace the run that --out already holds (its files are deleted first).
        #[arg(long, requires = "out")]
        overwrite: bool,
        /// Fine-tune a network instead of initialising one: a checkpoint (e.g. imported from
        /// NIR by `python -m lsnn_gpu.nir import`) whose constants, delays and weights start the
        /// run; the config gives the task and the training. Trained without sign constraints
        /// or rewiring (model.dale and rewiring must be unset).
        #[arg(long, value_name = "CHECKPOINT")]
        init_from: Option<PathBuf>,
        #[command(flatten)]
        device: DeviceArgs,
    },
    /// Continue an interrupted run from its last checkpoint (same numbers as uninterrupted).
    Resume {
        /// The run directory to continue (it holds config.yaml and last.safetensors).
        run_dir: PathBuf,
        #[command(flatten)]
        device: DeviceArgs,
    },
    /// Evaluate a checkpoint on the validation and test sets of a config's task.
    Eval {
        /// The YAML config whose task gives the validation and test sets.
        config: PathBuf,
        /// The checkpoint (.safetensors) to evaluate, e.g. RUN_DIR/best.safetensors.
        #[arg(long)]
        checkpoint: PathBuf,
        /// Override any config field, repeatable: --set data.path=DIR
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
        #[command(flatten)]
        device: DeviceArgs,
    },
    /// Redraw the figures of a run directory (learning curves; raster of one test sequence
    /// with the best checkpoint, else the last).
    Plot {
        /// The run directory whose figures to redraw (they are written into it).
        run_dir: PathBuf,
    },
    /// Write the initial network of a config as a checkpoint, and optionally one batch of its
    /// task, for `lsnn-gpu grads` or for comparison with another implementation.
    Init {
        /// The YAML config of the network and task.
        config: PathBuf,
        /// Override any config field, repeatable: --set model.n_regular=10
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
        /// Where to write the initial network (a safetensors checkpoint, docs/formats.md).
        #[arg(long)]
        out: PathBuf,
        /// Also write training batch 0 of the task here (safetensors, docs/formats.md).
        #[arg(long)]
        batch_out: Option<PathBuf>,
    },
    /// One batch's losses and gradients (with the forward spikes), in the format of
    /// docs/formats.md.
    Grads {
        /// The network: a checkpoint (.safetensors) as `init` or a run writes it.
        #[arg(long)]
        params: PathBuf,
        /// The batch (.safetensors: x [T, B, n_in] and its labels, docs/formats.md).
        #[arg(long)]
        batch: PathBuf,
        /// Where to write the losses, gradients and spikes (safetensors).
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        device: DeviceArgs,
    },
    /// Time one training iteration on the GPU adapter (with --device gpu, or auto on a
    /// hardware GPU), the native engine and the CPU reference, in one run.
    Bench {
        /// The YAML config giving the network and sequence sizes to time.
        #[arg(long, default_value = "configs/bench_smnist_size.yaml")]
        config: PathBuf,
        /// Override any config field, repeatable: --set task.steps=200
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
        /// Batch sizes to measure, in sequences, repeatable (default: the config's).
        #[arg(long = "batch")]
        batches: Vec<usize>,
        /// DEEP R connectivities to measure side by side, as the fraction of connections
        /// kept, repeatable (1 = dense, no rewiring; default: the config's).
        #[arg(long = "connectivity")]
        connectivities: Vec<f32>,
        /// Timed GPU training iterations (after one warm-up iteration).
        #[arg(long, default_value_t = 3)]
        iters: usize,
        /// Timed native-engine training iterations (after one warm-up; 0 = skip the native
        /// engine).
        #[arg(long, default_value_t = 3)]
        native_iters: usize,
        /// Timed CPU-reference training iterations (0 = skip the CPU reference).
        #[arg(long, default_value_t = 1)]
        cpu_iters: usize,
        #[command(flatten)]
        device: DeviceArgs,
    },
}

fn load_config(path: &Path, set: &[String], device: Option<&DeviceArgs>) -> anyhow::Result<Config> {
    let mut cfg = Config::load(path, set)?;
    if let Some(d) = device {
        d.apply(&mut cfg);
    }
    Ok(cfg)
}

/// The task's batches. `cache_dir` is where tasks that cache prepared data (TIMIT's features)
/// put it unless the config names a directory: the directory that holds the run directories.
fn source_for(cfg: &Config, cache_dir: &Path) -> anyhow::Result<Box<dyn BatchSource>> {
    match cfg.task.kind {
        TaskKind::Synthetic => Ok(Box::new(SyntheticTask::from_config(&cfg.task_run()))),
        TaskKind::Smnist => Ok(Box::new(SmnistTask::from_config(&cfg.task_run())?)),
        TaskKind::Timit => Ok(Box::new(TimitTask::from_config(&cfg.task_run(), cache_dir)?)),
        TaskKind::L2lTn | TaskKind::L2lSine => Ok(Box::new(L2lTask::from_config(&cfg.task_run())?)),
        TaskKind::MetaRl => bail!(
            "task.kind meta_rl is trained by PPO (`lsnn-gpu run configs/meta_rl.yaml`), not from batches"
        ),
    }
}

/// The directory that holds `run_dir` (`runs/` by default).
fn parent_of(run_dir: &Path) -> PathBuf {
    match run_dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

fn cmd_devices(backend: Option<BackendKind>) -> anyhow::Result<serde_json::Value> {
    let request = DeviceRequest {
        backend,
        adapter: None,
    };
    let adapters = list_adapters(&request);
    if adapters.is_empty() {
        lsnn_gpu::stderr::line!("{}", lsnn_gpu::gpu::context::no_adapter_message(&request));
    }
    for a in &adapters {
        lsnn_gpu::stderr::line!(
            "{}\n  backend {}, type {}, driver {} {}\n  max storage binding {} MiB, max buffer {} MiB, {} storage buffers/stage, workgroup memory {} KiB, {} invocations/workgroup",
            a.name,
            a.backend,
            a.device_type,
            a.driver,
            a.driver_info,
            a.max_storage_buffer_binding_size >> 20,
            a.max_buffer_size >> 20,
            a.max_storage_buffers_per_shader_stage,
            a.max_compute_workgroup_storage_size / 1024,
            a.max_compute_invocations_per_workgroup
        );
    }
    // What `--device auto` takes: a hardware GPU, else the native engine (software adapters
    // run the kernels on the same cores, slower: benches/RESULTS.md).
    let threads = lsnn_gpu::native::NativeEngine::threads();
    lsnn_gpu::stderr::line!("native engine (--device native)\n  multi-threaded, event-driven, on {threads} CPU threads (RAYON_NUM_THREADS to change)");
    let hardware = adapters.iter().find(|a| a.device_type != "Cpu");
    let auto = match hardware {
        Some(a) => format!("gpu: {} ({})", a.name, a.backend),
        None => "native".to_string(),
    };
    lsnn_gpu::stderr::line!("--device auto uses: {auto}");
    Ok(json!({
        "command": "devices",
        "adapters": adapters,
        "native": { "threads": threads },
        "auto": auto,
    }))
}

fn cmd_run(
    config: &Path,
    set: &[String],
    out: Option<&Path>,
    overwrite: bool,
    init_from: Option<&Path>,
    device: &DeviceArgs,
    stop: &StopRequest,
) -> anyhow::Result<serde_json::Value> {
    let cfg = load_config(config, set, Some(device))?;
    // A network to fine-tune, checked against the task before anything is written.
    let start_network = match init_from {
        None => None,
        Some(path) => {
            if cfg.model.dale.is_some() || cfg.rewiring.is_some() {
                bail!("--init-from {}: a fine-tuned network trains without Dale's signs or DEEP R (its signs are its own): unset model.dale and rewiring in {}", path.display(), config.display());
            }
            if cfg.task.kind == TaskKind::MetaRl {
                bail!("--init-from is not supported for meta_rl runs");
            }
            Some((path, load_checkpoint(path)?.0))
        }
    };
    let dir = run_dir::path(config, out);
    let how = match (out, overwrite) {
        (None, _) => run_dir::NewRun::DefaultName,
        (Some(_), false) => run_dir::NewRun::Given,
        (Some(_), true) => run_dir::NewRun::Overwrite,
    };
    // Refuse an occupied --out before data is loaded or anything is written.
    run_dir::refuse_occupied(&dir, how)?;
    if cfg.task.kind == TaskKind::MetaRl {
        return run_meta_rl(&cfg, &dir, None, how, stop);
    }
    let mut source = source_for(&cfg, &parent_of(&dir))?;
    if let Some((path, network)) = &start_network {
        if (network.n_in(), network.n_out()) != (source.n_in(), source.n_out()) {
            bail!(
                "--init-from {}: the network has {} inputs and {} outputs, the task {} and {}",
                path.display(),
                network.n_in(),
                network.n_out(),
                source.n_in(),
                source.n_out()
            );
        }
    }
    let selected = select_from_config(&cfg.device)?;
    let dir = run_dir::create(&dir, how)?;
    // Atomic: a run killed now leaves no half config that `resume` would misread.
    lsnn_gpu::files::write_atomic(&dir.join("config.yaml"), cfg.to_yaml().as_bytes())
        .context("writing the resolved config")?;
    record_session(&selected, &dir, "run", None)?;
    let mut init = initialise(&cfg.init_settings(), source.n_in(), source.n_out());
    let mut start = SessionStart {
        stop: stop.clone(),
        ..SessionStart::default()
    };
    if let Some((path, network)) = start_network {
        start.init_from = Some(path.display().to_string());
        init.constraints = lsnn_gpu::model::init::constraints(
            network.n_in(),
            network.n_rec(),
            network.n_out(),
            None,
        );
        lsnn_gpu::stderr::line!(
            "fine-tuning the network of {} ({} neurons)",
            path.display(),
            network.n_rec()
        );
        init.network = network;
    }
    let mut engine = build_engine(&selected, init.network, &init.constraints, &cfg.device)?;
    if let Some(d) = init.rewiring {
        engine.set_rewiring(d)?;
    }
    lsnn_gpu::stderr::line!("training on {} → {}", engine.describe(), dir.display());
    let ending = train(&cfg, source.as_mut(), engine.as_mut(), &dir, start, None)?;
    Ok(summary_line("run", &selected, &dir, None, ending))
}

/// The JSON line of a `run`/`resume`: the summary of a finished run, or where a run stopped
/// on request and how to continue it (`"stopped": true`, exit status [`EXIT_STOPPED`]).
fn summary_line<T: serde::Serialize>(
    command: &str,
    selected: &Selected,
    dir: &Path,
    resumed_at: Option<usize>,
    ending: Ending<T>,
) -> serde_json::Value {
    let mut line = json!({
        "command": command,
        "device": selected.device_label(),
        "adapter": selected.name(),
    });
    if let Some(at) = resumed_at {
        line["resumed_at"] = at.into();
    }
    match ending {
        Ending::Finished(summary) => line["summary"] = json!(summary),
        Ending::Stopped { iteration } => {
            line["stopped"] = true.into();
            line["stopped_at"] = iteration.into();
            line["run_dir"] = json!(dir);
            line["resume"] = format!("lsnn-gpu resume {}", dir.display()).into();
        }
    }
    line
}

/// Where this session of a run computes, appended to `devices.jsonl` and `provenance.json`.
fn record_session(
    selected: &Selected,
    dir: &Path,
    command: &str,
    resumed_at: Option<usize>,
) -> anyhow::Result<()> {
    lsnn_gpu::device::record_in_run_dir(selected, dir, command)?;
    let argv: Vec<String> = std::env::args().collect();
    let device = lsnn_gpu::device::describe_selected(selected, command);
    provenance::record(dir, command, &argv, device, resumed_at)
}

/// `resume`: every check of `train::resume` first (the checkpoint against `config.yaml`,
/// the metrics up to it), the engine built, and only then the metrics cut back to the
/// checkpoint and training continued.
fn cmd_resume(
    dir: &Path,
    device: &DeviceArgs,
    stop: &StopRequest,
) -> anyhow::Result<serde_json::Value> {
    let cfg = load_config(&resume::config_path(dir)?, &[], Some(device))?;
    if cfg.task.kind == TaskKind::MetaRl {
        let checked = resume::check(dir, &cfg, cfg.rl.place_cells.n_channels(), N_OUTPUTS)?;
        return run_meta_rl(&cfg, dir, Some(checked), run_dir::NewRun::Given, stop);
    }
    let mut source = source_for(&cfg, &parent_of(dir))?;
    let checked = resume::check(dir, &cfg, source.n_in(), source.n_out())?;
    let selected = select_from_config(&cfg.device)?;
    let mut engine = checked.engine(&selected, &cfg.device)?;
    // Everything checked: the first writes.
    checked.commit()?;
    let iteration = checked.iteration;
    record_session(&selected, dir, "resume", Some(iteration))?;
    lsnn_gpu::stderr::line!(
        "resuming at iteration {iteration} on {} → {}",
        engine.describe(),
        dir.display()
    );
    let ending = train(
        &cfg,
        source.as_mut(),
        engine.as_mut(),
        dir,
        checked.session_start(stop),
        checked.best_validation_score,
    )?;
    Ok(summary_line(
        "resume",
        &selected,
        dir,
        Some(iteration),
        ending,
    ))
}

/// `run` (fresh, `resume` None) or `resume` (a checked run directory) of the meta-RL
/// experiment: PPO updates of the LSNN agent (`rl::trainer`).
fn run_meta_rl(
    cfg: &Config,
    dir: &Path,
    resume: Option<resume::Resumable>,
    how: run_dir::NewRun,
    stop: &StopRequest,
) -> anyhow::Result<serde_json::Value> {
    let selected = select_from_config(&cfg.device)?;
    let n_in = cfg.rl.place_cells.n_channels();
    let init = initialise(&cfg.init_settings(), n_in, N_OUTPUTS);
    let dir = &match resume {
        None => run_dir::create(dir, how)?,
        Some(_) => dir.to_path_buf(),
    };
    let (command, mut engine, start) = match &resume {
        None => {
            lsnn_gpu::files::write_atomic(&dir.join("config.yaml"), cfg.to_yaml().as_bytes())
                .context("writing the resolved config")?;
            let mut engine = build_engine(&selected, init.network, &init.constraints, &cfg.device)?;
            if let Some(d) = init.rewiring {
                engine.set_rewiring(d)?;
            }
            let start = RlStart {
                session: SessionStart {
                    stop: stop.clone(),
                    ..SessionStart::default()
                },
                log_std: LogStd::new(cfg.rl.initial_log_std),
            };
            ("run", engine, start)
        }
        Some(checked) => {
            let log_std = LogStd::from_bytes(&checked.state.rng_state)
                .map_err(|e| anyhow::anyhow!("{}: {e}", dir.join("last.safetensors").display()))?;
            let engine = checked.engine(&selected, &cfg.device)?;
            checked.commit()?;
            let start = RlStart {
                session: checked.session_start(stop),
                log_std,
            };
            ("resume", engine, start)
        }
    };
    let resumed_at = start.session.iteration;
    record_session(
        &selected,
        dir,
        command,
        resume.as_ref().map(|r| r.iteration),
    )?;
    lsnn_gpu::stderr::line!(
        "meta-RL: {} at update {resumed_at} on {} → {}",
        command,
        engine.describe(),
        dir.display()
    );
    let ending = train_meta_rl(cfg, engine.as_mut(), dir, start)?;
    let mut line = summary_line(command, &selected, dir, None, ending);
    line["resumed_at"] = resumed_at.into();
    Ok(line)
}

fn cmd_eval(
    config: &Path,
    checkpoint: &Path,
    set: &[String],
    device: &DeviceArgs,
) -> anyhow::Result<serde_json::Value> {
    let cfg = load_config(config, set, Some(device))?;
    let run = checkpoint.parent().unwrap_or(Path::new("."));
    let mut source = source_for(&cfg, &parent_of(run))?;
    let (network, _) = load_checkpoint(checkpoint)?;
    // The network's sizes come from the checkpoint, its inputs and classes from the task: a
    // mismatch is named here rather than by the first batch the engine refuses.
    for (field, has, task) in [
        ("n_in", network.n_in(), source.n_in()),
        ("n_out", network.n_out(), source.n_out()),
    ] {
        anyhow::ensure!(
            has == task,
            "{} has {field} = {has}, but the task of {} gives {task} (model.{field}): the checkpoint was trained on another task",
            checkpoint.display(),
            config.display()
        );
    }
    let c = constraints(network.n_in(), network.n_rec(), network.n_out(), None);
    let selected = select_from_config(&cfg.device)?;
    let mut engine = build_engine(&selected, network, &c, &cfg.device)?;
    let (validation_loss, validation_accuracy) =
        evaluate(engine.as_mut(), source.as_mut(), Split::Validation)?;
    let (test_loss, test_accuracy) = evaluate(engine.as_mut(), source.as_mut(), Split::Test)?;
    lsnn_gpu::stderr::line!(
        "validation accuracy {validation_accuracy:.4}, test accuracy {test_accuracy:.4} on {}",
        engine.describe()
    );
    Ok(json!({
        "command": "eval",
        "checkpoint": checkpoint,
        "device": selected.device_label(),
        "adapter": selected.name(),
        "validation_accuracy": validation_accuracy,
        "validation_loss": validation_loss,
        "test_accuracy": test_accuracy,
        "test_loss": test_loss,
    }))
}

fn cmd_plot(dir: &Path) -> anyhow::Result<serde_json::Value> {
    let cfg = load_config(&dir.join("config.yaml"), &[], None)?;
    if cfg.task.kind == TaskKind::MetaRl {
        let mut figures = lsnn_gpu::rl::trainer::redraw_figures(&cfg, dir)?;
        let (network, _) = load_checkpoint(&dir.join("last.safetensors"))?;
        draw_connectivity_files(dir, &network)?;
        figures.push(dir.join("connectivity.png"));
        for f in &figures {
            lsnn_gpu::stderr::line!("wrote {}", f.display());
        }
        return Ok(json!({ "command": "plot", "figures": figures }));
    }
    draw_learning_curves(dir)?;
    let best = dir.join("best.safetensors");
    let checkpoint = if best.exists() {
        best
    } else {
        dir.join("last.safetensors")
    };
    let (network, state) = load_checkpoint(&checkpoint)?;
    let c = state
        .map(|s| s.constraints)
        .unwrap_or_else(|| constraints(network.n_in(), network.n_rec(), network.n_out(), None));
    // The raster is redrawn from its recorded data; a run directory from before that data was
    // kept has it recorded once, from the checkpoint and the first test batch.
    if !redraw_raster(dir)? {
        let mut source = source_for(&cfg, &parent_of(dir))?;
        draw_raster(dir, &network, &source.eval_batch(Split::Test, 0)?, &c)?;
    }
    draw_connectivity_files(dir, &network)?;
    let mut figures = ["learning_curves.png", "raster.png", "connectivity.png"]
        .map(|f| dir.join(f))
        .to_vec();
    // The task's own figures, from the data its final report wrote beside them.
    figures.extend(match cfg.task.kind {
        TaskKind::Timit => lsnn_gpu::tasks::timit::redraw_figures(dir)?,
        TaskKind::L2lTn | TaskKind::L2lSine => lsnn_gpu::tasks::l2l::redraw_figures(dir)?,
        _ => Vec::new(),
    });
    for f in &figures {
        lsnn_gpu::stderr::line!("wrote {}", f.display());
    }
    Ok(json!({
        "command": "plot",
        "figures": figures,
        "connectivity": dir.join("connectivity.json"),
        "raster": dir.join("raster.json"),
        "checkpoint": checkpoint,
    }))
}

fn cmd_init(
    config: &Path,
    set: &[String],
    out: &Path,
    batch_out: Option<&Path>,
) -> anyhow::Result<serde_json::Value> {
    let cfg = load_config(config, set, None)?;
    let mut source = source_for(&cfg, &parent_of(out))?;
    let init = initialise(&cfg.init_settings(), source.n_in(), source.n_out());
    save_checkpoint(out, &init.network, None)?;
    if let Some(b) = batch_out {
        save_batch(b, &source.train_batch(0)?)?;
    }
    Ok(
        json!({ "command": "init", "params": out, "batch": batch_out, "n_rec": init.network.n_rec() }),
    )
}

fn cmd_grads(
    params: &Path,
    batch: &Path,
    out: &Path,
    device: &DeviceArgs,
) -> anyhow::Result<serde_json::Value> {
    let (network, _) = load_checkpoint(params)?;
    let batch_path = batch;
    let batch = load_batch(batch, network.sim.readout)?;
    // Before a device is opened: the batch against the network of the checkpoint.
    lsnn_gpu::engine::check_batch(&network, &batch).with_context(|| {
        format!(
            "batch {} does not fit the network of {}",
            batch_path.display(),
            params.display()
        )
    })?;
    let selected = select(
        device.device.unwrap_or_default(),
        device.backend,
        device.adapter.clone(),
    )?;
    let c = constraints(network.n_in(), network.n_rec(), network.n_out(), None);
    let cfg = Config::default();
    let mut engine = build_engine(&selected, network.clone(), &c, &cfg.device)?;
    let report = engine.gradients(&batch, 0)?;
    save_gradients(out, &network, &report.record())?;
    lsnn_gpu::stderr::line!(
        "loss {:.6} (task {:.6}, reg {:.6}) on {}",
        report.stats.loss,
        report.stats.loss_task,
        report.stats.loss_reg,
        engine.describe()
    );
    Ok(json!({
        "command": "grads",
        "device": selected.device_label(),
        "adapter": selected.name(),
        "loss": report.stats.loss,
        "loss_task": report.stats.loss_task,
        "loss_reg": report.stats.loss_reg,
        "out": out,
    }))
}

/// Exit status of a `run`/`resume` stopped by SIGINT or SIGTERM after writing its checkpoint:
/// not a failure (1), not finished (0); `lsnn-gpu resume` continues it (README).
const EXIT_STOPPED: u8 = 3;

/// A stop request set by SIGINT (Ctrl-C) or SIGTERM (a scheduler's notice): training ends
/// after the current iteration with `last.safetensors` written. A second signal while the
/// first is honoured ends the process at once with status 130 (the checkpoint writes are
/// atomic, so even then no file is left half-written).
fn stop_on_signals() -> anyhow::Result<StopRequest> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let stop = StopRequest::default();
    for signal in [SIGINT, SIGTERM] {
        // The conditional shutdown first: it sees the flag of an earlier signal, not its own.
        signal_hook::flag::register_conditional_shutdown(signal, 130, stop.flag())
            .context("installing the SIGINT/SIGTERM handler")?;
        signal_hook::flag::register(signal, stop.flag())
            .context("installing the SIGINT/SIGTERM handler")?;
    }
    Ok(stop)
}

/// The subcommand named on the command line (the first argument that is one), for the JSON
/// error line of a run that fails before or outside clap's parse.
fn command_in_args() -> Option<String> {
    use clap::CommandFactory as _;
    let cli = Cli::command();
    let names: Vec<&str> = cli.get_subcommands().map(|c| c.get_name()).collect();
    std::env::args()
        .skip(1)
        .find(|a| names.contains(&a.as_str()))
}

/// The stdout contract holds for a panic too: after the default report on stderr, one JSON
/// error line (`{"command", "error"}`, as for any failed command) ends stdout, once per
/// process even if several threads panic.
fn install_panic_hook(command: Option<String>) {
    use std::sync::atomic::{AtomicBool, Ordering};
    static REPORTED: AtomicBool = AtomicBool::new(false);
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        default(info);
        if REPORTED.swap(true, Ordering::SeqCst) {
            return;
        }
        let payload = info.payload();
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "(no message)".to_string());
        let place = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        // Nowhere to report a failure to print: the default hook has written to stderr.
        let _ = print_line(json!({
            "command": command,
            "error": format!("internal error (a bug of lsnn-gpu, please report it): panicked{place}: {message}"),
        }));
    }));
}

/// Writes one line to stdout, with the error when stdout cannot take it (a full disk, a
/// closed pipe): `println!` panics there, and inside the panic hook a second panic aborts.
fn print_line(line: impl std::fmt::Display) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}").and_then(|()| out.flush())
}

/// Parses the command line. `--help` and `--version` print as clap prints them (to stdout,
/// exit 0; they compute nothing); any other clap error (unknown option, missing or invalid
/// argument, no subcommand) goes to stderr as clap renders it and ends stdout with the JSON
/// error line of every failed command.
fn parse_cli(command: &Option<String>) -> Result<Cli, ExitCode> {
    use clap::error::ErrorKind;
    match Cli::try_parse() {
        Ok(cli) => Ok(cli),
        Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => {
            e.exit()
        }
        Err(e) => {
            let text = e.render().to_string();
            lsnn_gpu::stderr::text!("{text}");
            let message = if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                // clap printed the help: say what is missing.
                "no command given (see `lsnn-gpu --help`)".to_string()
            } else {
                // The first paragraph of clap's message, without its "error: " prefix.
                text.split("\n\n")
                    .next()
                    .unwrap_or("")
                    .trim()
                    .trim_start_matches("error: ")
                    .to_string()
            };
            let _ = print_line(json!({ "command": command, "error": message }));
            Err(ExitCode::from(2))
        }
    }
}

fn main() -> ExitCode {
    lsnn_gpu::gpu::context::quiet_headless_vulkan();
    let command = command_in_args();
    install_panic_hook(command.clone());
    // Lets tests/cli_messages.rs check the panic hook's JSON line; lsnn-gpu has no panic
    // left to reach from its inputs (tests/fuzz_parsers.rs).
    if std::env::var_os("LSNN_GPU_TEST_PANIC").is_some() {
        panic!("LSNN_GPU_TEST_PANIC is set");
    }
    let cli = match parse_cli(&command) {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    let result = match &cli.command {
        Command::Devices { backend } => cmd_devices(*backend).map(|v| vec![v]),
        Command::Run {
            config,
            set,
            out,
            overwrite,
            init_from,
            device,
        } => stop_on_signals().and_then(|stop| {
            cmd_run(
                config,
                set,
                out.as_deref(),
                *overwrite,
                init_from.as_deref(),
                device,
                &stop,
            )
            .map(|v| vec![v])
        }),
        Command::Resume { run_dir, device } => {
            stop_on_signals().and_then(|stop| cmd_resume(run_dir, device, &stop).map(|v| vec![v]))
        }
        Command::Plot { run_dir } => cmd_plot(run_dir).map(|v| vec![v]),
        Command::Eval {
            config,
            checkpoint,
            set,
            device,
        } => cmd_eval(config, checkpoint, set, device).map(|v| vec![v]),
        Command::Init {
            config,
            set,
            out,
            batch_out,
        } => cmd_init(config, set, out, batch_out.as_deref()).map(|v| vec![v]),
        Command::Grads {
            params,
            batch,
            out,
            device,
        } => cmd_grads(params, batch, out, device).map(|v| vec![v]),
        Command::Bench {
            config,
            set,
            batches,
            connectivities,
            iters,
            native_iters,
            cpu_iters,
            device,
        } => (|| {
            let cfg = load_config(config, set, Some(device))?;
            let selected = match cfg.device.kind {
                DeviceKind::Cpu => Selected::Cpu,
                kind => select(kind, cfg.device.backend, cfg.device.adapter.clone())?,
            };
            if cfg.task.kind == TaskKind::MetaRl {
                return lsnn_gpu::rl::bench::run_rl_bench(
                    &cfg,
                    &selected,
                    *iters,
                    *native_iters,
                    *cpu_iters,
                );
            }
            let batches = if batches.is_empty() {
                vec![cfg.train.batch_size]
            } else {
                batches.clone()
            };
            let results = lsnn_gpu::bench::run_bench(
                &cfg,
                &selected,
                &batches,
                connectivities,
                *iters,
                *native_iters,
                *cpu_iters,
            )?;
            Ok(results.iter().map(lsnn_gpu::bench::to_json).collect())
        })(),
    };
    match result {
        Ok(lines) => {
            let stopped = lines.last().is_some_and(|l| l["stopped"] == true);
            for l in lines {
                if let Err(e) = print_line(&l) {
                    // What was computed is written (run directories, files); only the
                    // summary line is lost.
                    lsnn_gpu::stderr::line!(
                        "error: could not write the JSON summary line to stdout ({e}); it was: {l}"
                    );
                    return ExitCode::FAILURE;
                }
            }
            if stopped {
                ExitCode::from(EXIT_STOPPED)
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => {
            lsnn_gpu::stderr::line!("error: {e:#}");
            let _ = print_line(json!({ "command": command, "error": format!("{e:#}") }));
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::CommandFactory as _;

    /// Every positional argument and option of every subcommand has a description in
    /// `--help`, with its unit where it has one.
    #[test]
    fn every_argument_is_described() {
        let cli = Cli::command();
        let mut seen = 0;
        for sub in cli.get_subcommands() {
            assert!(
                sub.get_about().is_some(),
                "{} has no description",
                sub.get_name()
            );
            for arg in sub.get_arguments() {
                let id = arg.get_id().as_str();
                if id == "help" || id == "version" {
                    continue;
                }
                let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
                assert!(
                    help.len() > 10,
                    "`lsnn-gpu {} --help`: {id} has no description",
                    sub.get_name()
                );
                seen += 1;
            }
        }
        assert!(seen >= 30, "only {seen} arguments found");
        let help_of = |sub: &str, id: &str| {
            let c = cli.find_subcommand(sub).unwrap();
            let a = c.get_arguments().find(|a| a.get_id() == id).unwrap();
            a.get_help().unwrap().to_string()
        };
        for (sub, id, unit) in [
            ("bench", "iters", "iterations"),
            ("bench", "native_iters", "iterations"),
            ("bench", "cpu_iters", "iterations"),
            ("bench", "batches", "sequences"),
            ("bench", "connectivities", "fraction"),
        ] {
            let help = help_of(sub, id);
            assert!(help.contains(unit), "{sub} {id}: {help}");
        }
    }
}
