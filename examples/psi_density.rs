//! Fraction of (t, b, j) where the pseudo-derivative is non-zero (|u| < 1, not refractory):
//! the share of recurrent rows the BPTT sweep must visit.
use lsnn_gpu::config::Config;
use lsnn_gpu::cpu::alif_forward;
use lsnn_gpu::cpu::alif_forward::ParamsOf;
use lsnn_gpu::model::init::initialise;
use lsnn_gpu::tasks::synthetic::SyntheticTask;
fn main() {
    let path = std::env::args()
        .nth(1)
        .unwrap_or("configs/bench_smnist_size.yaml".into());
    let mut cfg = Config::load(std::path::Path::new(&path), &[]).unwrap();
    cfg.train.batch_size = 4;
    let task = SyntheticTask::from_config(&cfg.task_run());
    let init = initialise(&cfg.init_settings(), task.n_in, task.n_out);
    let b = task.batch(0, 4);
    let p = ParamsOf::<f32>::from_params(&init.network.params);
    let tr = alif_forward(&init.network, &p, &b.x, 1);
    let mut active = 0usize;
    let mut total = 0usize;
    for ((v, a), r) in tr
        .v_prev
        .iter()
        .zip(tr.thr_adaptive.iter())
        .zip(tr.refractory.iter())
    {
        total += 1;
        if !r && ((v - a) / a).abs() < 1.0 {
            active += 1;
        }
    }
    let spikes = tr.z.iter().filter(|z| **z != 0.0).count();
    println!(
        "pseudo-derivative non-zero at {:.1} % of (t, b, j); spikes {:.2} %",
        100.0 * active as f64 / total as f64,
        100.0 * spikes as f64 / total as f64
    );
}
