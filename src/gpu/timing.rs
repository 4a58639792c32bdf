//! Per-kernel GPU timing of a training iteration with timestamp queries.
//!
//! Opt-in per engine ([`super::GpuEngine::enable_kernel_timing`]): a timed iteration encodes
//! each kernel (stage) in a compute pass of its own, with a timestamp written at the start and
//! the end of the pass (`ComputePassTimestampWrites`, which needs only
//! `Features::TIMESTAMP_QUERY`); the queries are resolved into a buffer in the same submit and
//! read back after it. An iteration that is not timed is encoded exactly as before, in one pass.
//!
//! A stage's time is its pass's end minus its start; the iteration's is the last pass's end
//! minus the first pass's start (so it also counts the gaps between passes). Ticks become
//! nanoseconds by `Queue::get_timestamp_period`.

use anyhow::Context as _;

use super::context::{map_read, GpuContext};

/// Most stages one timed iteration may have (the engine dispatches at most 8).
pub const MAX_STAGES: u32 = 16;

/// Bytes of one resolved query.
const QUERY_BYTES: u64 = wgpu::QUERY_SIZE as u64;

/// Why per-kernel timing is unavailable on a device with `features`, or None when it is
/// available.
pub fn unsupported_reason(features: wgpu::Features, adapter: &str) -> Option<String> {
    (!features.contains(wgpu::Features::TIMESTAMP_QUERY))
        .then(|| format!("TIMESTAMP_QUERY not supported by {adapter}"))
}

/// The timestamp features an adapter offers, by name (for `lsnn-gpu devices`).
pub fn timestamp_features(features: wgpu::Features) -> Vec<String> {
    [
        (wgpu::Features::TIMESTAMP_QUERY, "TIMESTAMP_QUERY"),
        (
            wgpu::Features::TIMESTAMP_QUERY_INSIDE_ENCODERS,
            "TIMESTAMP_QUERY_INSIDE_ENCODERS",
        ),
        (
            wgpu::Features::TIMESTAMP_QUERY_INSIDE_PASSES,
            "TIMESTAMP_QUERY_INSIDE_PASSES",
        ),
    ]
    .into_iter()
    .filter(|(f, _)| features.contains(*f))
    .map(|(_, name)| name.to_string())
    .collect()
}

/// Milliseconds per kernel accumulated over timed iterations.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct KernelTimes {
    iterations: u32,
    /// (kernel name, total ms), in the order the kernels first ran.
    kernels: Vec<(&'static str, f64)>,
    /// Total ms from the first pass's start to the last pass's end.
    iteration_ms: f64,
    /// Passes whose end timestamp came before their start (counted as 0 ms).
    invalid: u32,
}

impl KernelTimes {
    /// Adds one iteration: `names[i]` ran in pass i, whose start and end ticks are
    /// `raw[2i]` and `raw[2i + 1]`; `period_ns` nanoseconds per tick. Stages of the same name
    /// add up.
    pub fn record(&mut self, names: &[&'static str], raw: &[u64], period_ns: f64) {
        assert!(
            raw.len() >= 2 * names.len(),
            "{} timestamps for {} passes",
            raw.len(),
            names.len()
        );
        if names.is_empty() {
            return;
        }
        let ms = |begin: u64, end: u64, invalid: &mut u32| -> f64 {
            if end < begin {
                *invalid += 1;
                0.0
            } else {
                (end - begin) as f64 * period_ns * 1e-6
            }
        };
        for (i, &name) in names.iter().enumerate() {
            let t = ms(raw[2 * i], raw[2 * i + 1], &mut self.invalid);
            match self.kernels.iter_mut().find(|(k, _)| *k == name) {
                Some((_, total)) => *total += t,
                None => self.kernels.push((name, t)),
            }
        }
        let last = 2 * names.len() - 1;
        self.iteration_ms += ms(raw[0], raw[last], &mut self.invalid);
        self.iterations += 1;
    }

    /// Timed iterations so far.
    pub fn iterations(&self) -> u32 {
        self.iterations
    }

    /// Mean ms per iteration of each kernel, in dispatch order.
    pub fn mean_kernel_ms(&self) -> Vec<(&'static str, f64)> {
        let n = f64::from(self.iterations.max(1));
        self.kernels.iter().map(|&(k, t)| (k, t / n)).collect()
    }

    /// Mean ms per iteration from the first kernel's start to the last kernel's end.
    pub fn mean_iteration_ms(&self) -> f64 {
        self.iteration_ms / f64::from(self.iterations.max(1))
    }

    /// Sum over kernels of their mean ms per iteration.
    pub fn kernel_sum_ms(&self) -> f64 {
        self.mean_kernel_ms().iter().map(|(_, t)| t).sum()
    }

    /// Passes with an end before their start (a driver's timestamps out of order).
    pub fn invalid(&self) -> u32 {
        self.invalid
    }

    /// A readable table: each kernel's mean ms per iteration and share of the iteration.
    pub fn table(&self) -> String {
        let iteration = self.mean_iteration_ms();
        let share = |t: f64| {
            if iteration > 0.0 {
                format!("{:5.1} %", 100.0 * t / iteration)
            } else {
                "    -  ".to_string()
            }
        };
        let mut out = format!("  {:<22} {:>12} {:>8}\n", "kernel", "ms/iteration", "share");
        for (k, t) in self.mean_kernel_ms() {
            out += &format!("  {k:<22} {t:>12.3} {:>8}\n", share(t));
        }
        let sum = self.kernel_sum_ms();
        out += &format!("  {:<22} {sum:>12.3} {:>8}\n", "sum of kernels", share(sum));
        out += &format!(
            "  {:<22} {iteration:>12.3}   ({} iteration{} timed{})",
            "GPU iteration",
            self.iterations,
            if self.iterations == 1 { "" } else { "s" },
            if self.invalid > 0 {
                format!(", {} out-of-order timestamps counted as 0", self.invalid)
            } else {
                String::new()
            }
        );
        out
    }
}

/// Per-kernel timing as `lsnn-gpu bench` reports it in the JSON line of the GPU engine.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct KernelTimingReport {
    /// Mean ms per training iteration of each kernel; null where the adapter has no
    /// timestamp queries.
    pub kernel_ms: Option<std::collections::BTreeMap<String, f64>>,
    /// Mean ms per iteration from the first kernel's start to the last kernel's end (GPU
    /// clock).
    pub gpu_iteration_ms: Option<f64>,
    /// Wall-clock ms per iteration of the same timed iterations (host clock, timing on).
    pub kernel_timing_wall_ms: Option<f64>,
    /// How the times were measured, or why there are none.
    pub kernel_timing: String,
}

impl KernelTimingReport {
    /// The report of `times`, measured over iterations that took `wall_ms` each on the host.
    pub fn measured(times: &KernelTimes, wall_ms: f64, period_ns: f64) -> KernelTimingReport {
        let mut how = format!(
            "timestamp queries, one compute pass per kernel, mean of {} training iteration{} \
             ({period_ns} ns per tick)",
            times.iterations(),
            if times.iterations() == 1 { "" } else { "s" }
        );
        if times.invalid() > 0 {
            how += &format!(
                "; {} out-of-order timestamps counted as 0 ms",
                times.invalid()
            );
        }
        KernelTimingReport {
            kernel_ms: Some(
                times
                    .mean_kernel_ms()
                    .into_iter()
                    .map(|(k, t)| (k.to_string(), t))
                    .collect(),
            ),
            gpu_iteration_ms: Some(times.mean_iteration_ms()),
            kernel_timing_wall_ms: Some(wall_ms),
            kernel_timing: how,
        }
    }

    /// The report where timing is unavailable, saying why.
    pub fn unsupported(why: String) -> KernelTimingReport {
        KernelTimingReport {
            kernel_ms: None,
            gpu_iteration_ms: None,
            kernel_timing_wall_ms: None,
            kernel_timing: why,
        }
    }
}

/// The query set and buffers of timed iterations, with what they measured so far.
pub struct KernelTimer {
    queries: wgpu::QuerySet,
    resolve: wgpu::Buffer,
    readback: wgpu::Buffer,
    period_ns: f64,
    times: KernelTimes,
}

impl KernelTimer {
    /// A timer on `ctx`'s device, or why there can be none (the device lacks
    /// `TIMESTAMP_QUERY`: `GpuContext::open` requests it where the adapter offers it).
    pub fn new(ctx: &GpuContext) -> Result<KernelTimer, String> {
        if let Some(why) = unsupported_reason(ctx.device.features(), &ctx.info.name) {
            return Err(why);
        }
        let device = &ctx.device;
        let queries = device.create_query_set(&wgpu::QuerySetDescriptor {
            label: Some("kernel timestamps"),
            ty: wgpu::QueryType::Timestamp,
            count: 2 * MAX_STAGES,
        });
        let len = 2 * u64::from(MAX_STAGES) * QUERY_BYTES;
        let resolve = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("kernel timestamps (resolved)"),
            size: len,
            usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        let readback = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("kernel timestamps (read back)"),
            size: len,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        Ok(KernelTimer {
            queries,
            resolve,
            readback,
            period_ns: f64::from(ctx.queue.get_timestamp_period()),
            times: KernelTimes::default(),
        })
    }

    /// The timestamp writes of the pass of stage `stage` (start and end).
    pub fn pass_writes(&self, stage: usize) -> wgpu::ComputePassTimestampWrites<'_> {
        assert!(stage < MAX_STAGES as usize, "more than {MAX_STAGES} stages");
        wgpu::ComputePassTimestampWrites {
            query_set: &self.queries,
            beginning_of_pass_write_index: Some(2 * stage as u32),
            end_of_pass_write_index: Some(2 * stage as u32 + 1),
        }
    }

    /// Encodes, after the `stages` timed passes, the resolve of their queries and the copy to
    /// the read-back buffer.
    pub fn encode_resolve(&self, enc: &mut wgpu::CommandEncoder, stages: usize) {
        let count = 2 * stages as u32;
        enc.resolve_query_set(&self.queries, 0..count, &self.resolve, 0);
        enc.copy_buffer_to_buffer(
            &self.resolve,
            0,
            &self.readback,
            0,
            u64::from(count) * QUERY_BYTES,
        );
    }

    /// Reads the timestamps of the submit just made (passes named `names`) and adds them.
    pub fn read(&mut self, device: &wgpu::Device, names: &[&'static str]) -> anyhow::Result<()> {
        let len = 2 * names.len() as u64 * QUERY_BYTES;
        let raw: Vec<u64> = bytemuck::pod_collect_to_vec(
            &map_read(device, &self.readback, len).context("reading kernel timestamps")?,
        );
        self.times.record(names, &raw, self.period_ns);
        Ok(())
    }

    /// What the timed iterations measured so far.
    pub fn times(&self) -> &KernelTimes {
        &self.times
    }

    /// Nanoseconds per timestamp tick.
    pub fn period_ns(&self) -> f64 {
        self.period_ns
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_become_milliseconds_and_same_names_add_up() {
        let mut t = KernelTimes::default();
        // Three passes, 2 ns per tick: 1000, 500 and 250 ticks, with gaps between them.
        let names = ["alif_forward", "alif_backward", "adam"];
        t.record(&names, &[0, 1000, 1100, 1600, 1700, 1950], 2.0);
        assert_eq!(t.iterations(), 1);
        let k = t.mean_kernel_ms();
        assert_eq!(k.len(), 3);
        assert_eq!(k[0], ("alif_forward", 2000.0 * 1e-6));
        assert_eq!(k[1], ("alif_backward", 1000.0 * 1e-6));
        assert_eq!(k[2], ("adam", 500.0 * 1e-6));
        assert!((t.mean_iteration_ms() - 1950.0 * 2.0 * 1e-6).abs() < 1e-12);
        assert!(t.kernel_sum_ms() <= t.mean_iteration_ms());
        // A second iteration: means over both; a name that repeats sums within the iteration.
        let names2 = ["alif_forward", "alif_backward", "alif_forward"];
        t.record(&names2, &[10, 1010, 1010, 1510, 1510, 2510], 2.0);
        assert_eq!(t.iterations(), 2);
        let k = t.mean_kernel_ms();
        assert_eq!(
            k.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
            ["alif_forward", "alif_backward", "adam"]
        );
        assert!((k[0].1 - (2000.0 + 4000.0) * 1e-6 / 2.0).abs() < 1e-12);
        assert!((k[2].1 - 500.0 * 1e-6 / 2.0).abs() < 1e-12);
        assert!((t.mean_iteration_ms() - (3900.0 + 5000.0) * 1e-6 / 2.0).abs() < 1e-12);
        assert_eq!(t.invalid(), 0);
    }

    #[test]
    fn out_of_order_timestamps_count_as_zero_and_are_reported() {
        let mut t = KernelTimes::default();
        t.record(&["readout_loss", "adam"], &[500, 400, 600, 700], 1.0);
        assert_eq!(t.invalid(), 1);
        let k = t.mean_kernel_ms();
        assert_eq!(k[0], ("readout_loss", 0.0));
        assert!(k[1].0 == "adam" && (k[1].1 - 1e-4).abs() < 1e-15);
        assert!(t.table().contains("1 out-of-order timestamps"));
    }

    #[test]
    fn table_lists_every_kernel_the_sum_and_the_iteration() {
        let mut t = KernelTimes::default();
        t.record(
            &["alif_forward", "adam"],
            &[0, 3_000_000, 3_000_000, 4_000_000],
            1.0,
        );
        let table = t.table();
        assert!(table.contains("alif_forward") && table.contains("3.000"));
        assert!(table.contains("75.0 %") && table.contains("25.0 %"));
        assert!(table.contains("sum of kernels") && table.contains("100.0 %"));
        assert!(table.contains("GPU iteration") && table.contains("(1 iteration timed)"));
        // Nothing timed: no division by zero.
        assert!(KernelTimes::default().table().contains("GPU iteration"));
        assert_eq!(KernelTimes::default().mean_iteration_ms(), 0.0);
    }

    #[test]
    fn report_is_null_where_unsupported_and_a_map_where_measured() {
        let why = unsupported_reason(wgpu::Features::empty(), "SwiftShader").unwrap();
        let r = serde_json::to_value(KernelTimingReport::unsupported(why)).unwrap();
        assert!(r["kernel_ms"].is_null() && r["gpu_iteration_ms"].is_null());
        assert_eq!(
            r["kernel_timing"],
            "TIMESTAMP_QUERY not supported by SwiftShader"
        );
        let mut t = KernelTimes::default();
        t.record(
            &["alif_forward", "adam"],
            &[0, 3_000_000, 3_000_000, 4_000_000],
            1.0,
        );
        let r = serde_json::to_value(KernelTimingReport::measured(&t, 5.0, 1.0)).unwrap();
        assert_eq!(r["kernel_ms"]["alif_forward"], 3.0);
        assert_eq!(r["kernel_ms"]["adam"], 1.0);
        assert_eq!(r["gpu_iteration_ms"], 4.0);
        assert_eq!(r["kernel_timing_wall_ms"], 5.0);
        assert!(r["kernel_timing"]
            .as_str()
            .unwrap()
            .contains("mean of 1 training iteration"));
    }

    #[test]
    fn unsupported_only_without_timestamp_query() {
        assert_eq!(
            unsupported_reason(wgpu::Features::empty(), "llvmpipe").as_deref(),
            Some("TIMESTAMP_QUERY not supported by llvmpipe")
        );
        assert_eq!(
            unsupported_reason(wgpu::Features::TIMESTAMP_QUERY, "x"),
            None
        );
        assert_eq!(
            timestamp_features(
                wgpu::Features::TIMESTAMP_QUERY | wgpu::Features::TIMESTAMP_QUERY_INSIDE_PASSES
            ),
            ["TIMESTAMP_QUERY", "TIMESTAMP_QUERY_INSIDE_PASSES"]
        );
        assert!(timestamp_features(wgpu::Features::empty()).is_empty());
    }
}
