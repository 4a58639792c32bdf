//! The LSNN agent of the meta-RL experiment (`docs/experiments.md` §4) and one
//! PPO update of it.
//!
//! The network has three outputs, read out by the regression readout over each action window
//! of `task.steps_per_frame` steps (the mean of y_t over the window, docs/model.md §4): the mean of
//! a Gaussian policy over the 2-D velocity (in units of the top speed) and the value V(s).
//! The log standard deviation of the policy is a learned pair of numbers on the host
//! ([`LogStd`]).
//!
//! A rollout runs whole episodes as a stream of forward passes on the engine
//! (`Engine::stream_advance`), one pass per action: the observation of the window is coded
//! from the agent's position and the last reward, the pass's outputs give the action, the
//! arena steps on the host, and so on. Every input spike is kept, so that PPO can recompute
//! the forward pass over the whole episode with the current weights; with the same weights
//! the recomputed outputs equal the rollout's bit for bit (a stream of passes is one long pass,
//! `tests/stream.rs`), hence so do the log-probabilities.
//!
//! The gradient of PPO's objective reaches BPTT through the regression readout: with the
//! outputs y of the recomputed pass and the objective's gradient g = ∂L/∂y (computed on the
//! host by `ppo_loss`), the targets τ = y − g·n/2 (n = scored frames × outputs, the readout's
//! normaliser) make the readout's squared-error gradient 2(y − τ)/n equal g exactly, so the
//! engine's `train_step` (BPTT, Adam, DEEP R) follows PPO's gradient.

use ndarray::{s, Array2, Array3};
use rand_distr::{Distribution, StandardNormal};

use super::arena::{Arena, PathRecord};
use super::gae::{advantages_with, normalise_advantages};
use super::place_cells::{bernoulli_spikes, input_rates_hz_into, signal_rates_into, RewardSignal};
use super::ppo_loss::{gaussian_entropy, gaussian_log_prob, ppo_loss, PpoSample, ACTION_DIM};
use super::rng::{rl_episode_rng, RlRngPurpose};
use super::settings::RlConfig;
use super::trace::{EpisodeTrace, TraceRecorder};
use crate::engine::{BatchStats, Engine, StepSettings};
use crate::model::{Batch, Targets};

/// Outputs of the network: policy mean (x, y), then the value.
pub const N_OUTPUTS: usize = 3;
const VALUE: usize = 2;

/// The policy's learned log standard deviation, with its own Adam moments.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LogStd {
    pub value: [f64; ACTION_DIM],
    m: [f64; ACTION_DIM],
    v: [f64; ACTION_DIM],
    step: u64,
}

/// Bytes of [`LogStd::to_bytes`].
const LOG_STD_BYTES: usize = 8 * (3 * ACTION_DIM + 1);

impl LogStd {
    pub fn new(value: f64) -> LogStd {
        LogStd {
            value: [value; ACTION_DIM],
            m: [0.0; ACTION_DIM],
            v: [0.0; ACTION_DIM],
            step: 0,
        }
    }

    /// One Adam step (β 0.9, 0.999) on `grad`, then clamped to [lo, hi].
    pub fn adam_step(&mut self, grad: [f64; ACTION_DIM], lr: f64, lo: f64, hi: f64) {
        self.step += 1;
        let (b1, b2) = (0.9f64, 0.999f64);
        let (c1, c2) = (
            1.0 - b1.powi(self.step as i32),
            1.0 - b2.powi(self.step as i32),
        );
        for (d, &g) in grad.iter().enumerate() {
            self.m[d] = b1 * self.m[d] + (1.0 - b1) * g;
            self.v[d] = b2 * self.v[d] + (1.0 - b2) * g * g;
            self.value[d] -= lr * (self.m[d] / c1) / ((self.v[d] / c2).sqrt() + 1e-8);
            self.value[d] = self.value[d].clamp(lo, hi);
        }
    }

    /// Little-endian value, m, v (f64 each) and the step count: what a checkpoint keeps of it
    /// (in `train.rng_state`).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(LOG_STD_BYTES);
        for x in self.value.iter().chain(&self.m).chain(&self.v) {
            out.extend(x.to_le_bytes());
        }
        out.extend(self.step.to_le_bytes());
        out
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<LogStd, String> {
        if bytes.len() != LOG_STD_BYTES {
            return Err(format!(
                "the policy state (train.rng_state) has {} bytes, expected {LOG_STD_BYTES}",
                bytes.len()
            ));
        }
        let f = |i: usize| f64::from_le_bytes(bytes[8 * i..8 * i + 8].try_into().expect("8"));
        let s = LogStd {
            value: [f(0), f(1)],
            m: [f(2), f(3)],
            v: [f(4), f(5)],
            step: u64::from_le_bytes(bytes[48..56].try_into().expect("8")),
        };
        if s.value
            .iter()
            .chain(&s.m)
            .chain(&s.v)
            .any(|x| !x.is_finite())
        {
            return Err("the policy state (train.rng_state) holds a non-finite number".into());
        }
        Ok(s)
    }
}

/// Whole episodes of the agent: what PPO learns from.
#[derive(Clone, Debug)]
pub struct Rollout {
    /// Input spikes [T, B, n_in], T = actions × steps per action.
    pub x: Array3<f32>,
    /// The network's outputs of each action window [A, B, 3] (policy mean, value).
    pub outputs: Array3<f32>,
    /// The actions taken [A, B, 2] (velocity in units of the top speed, before clipping).
    pub actions: Array3<f64>,
    /// Their log-probabilities under the policy that took them [A, B].
    pub log_probs: Array2<f64>,
    /// Rewards [A, B].
    pub rewards: Array2<f32>,
    /// Goals reached and return of each episode.
    pub goals: Vec<usize>,
    pub returns: Vec<f64>,
    /// The paths from each (re)spawn to each goal of each episode.
    pub paths: Vec<Vec<PathRecord>>,
    /// Positions and goal hits of the first episodes (for figures).
    pub traces: Vec<EpisodeTrace>,
}

impl Rollout {
    pub fn mean_goals(&self) -> f64 {
        self.goals.iter().sum::<usize>() as f64 / self.goals.len().max(1) as f64
    }

    pub fn mean_return(&self) -> f64 {
        self.returns.iter().sum::<f64>() / self.returns.len().max(1) as f64
    }

    /// The episodes `range` of the rollout (what PPO needs of them: inputs, outputs, actions,
    /// log-probabilities, rewards, goals and returns; no paths or traces).
    pub fn episodes(&self, range: std::ops::Range<usize>) -> Rollout {
        let r = range.clone();
        Rollout {
            x: self.x.slice(s![.., r.clone(), ..]).to_owned(),
            outputs: self.outputs.slice(s![.., r.clone(), ..]).to_owned(),
            actions: self.actions.slice(s![.., r.clone(), ..]).to_owned(),
            log_probs: self.log_probs.slice(s![.., r.clone()]).to_owned(),
            rewards: self.rewards.slice(s![.., r.clone()]).to_owned(),
            goals: self.goals[r.clone()].to_vec(),
            returns: self.returns[r].to_vec(),
            paths: Vec::new(),
            traces: Vec::new(),
        }
    }
}

/// How a rollout runs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RolloutPlan {
    /// Network steps per action (`task.steps_per_frame`) of `dt_ms` each (`model.dt`).
    pub steps_per_action: usize,
    pub dt_ms: f64,
    /// The run's seed: episodes are a pure function of (seed, episode index).
    pub seed: u64,
    /// Actions drawn from the policy (training); otherwise its mean.
    pub stochastic: bool,
    /// Record the positions of the first `traced` episodes (for figures).
    pub traced: usize,
}

/// The input spikes of one action window, `out` [steps, B, n_in]: every step codes each
/// episode's position and reward signal (which then advances by a step), as
/// [`place_cells::encode_step`] would step by step (bit for bit, the same random draws).
///
/// The position is fixed over the window, so each episode's place-cell rates are computed
/// once; only the reward and wall channels are set again at each step.
pub fn encode_window(
    rl: &RlConfig,
    positions: &[[f64; 2]],
    signals: &mut [RewardSignal],
    rngs: &mut [impl rand::Rng],
    dt_ms: f64,
    out: &mut Array3<f32>,
) -> anyhow::Result<()> {
    let n_in = out.dim().2;
    let mut rates = Vec::with_capacity(signals.len());
    for (&position, signal) in positions.iter().zip(signals.iter()) {
        let mut r = vec![0.0; n_in];
        input_rates_hz_into(
            &rl.place_cells,
            rl.arena.arena_radius,
            position,
            signal,
            &mut r,
        )
        .map_err(anyhow::Error::msg)?;
        rates.push(r);
    }
    let mut row = vec![0.0f32; n_in];
    for s in 0..out.dim().0 {
        for (e, (signal, rng)) in signals.iter_mut().zip(rngs.iter_mut()).enumerate() {
            signal_rates_into(&rl.place_cells, signal, &mut rates[e]);
            bernoulli_spikes(&rates[e], dt_ms, rng, &mut row).map_err(anyhow::Error::msg)?;
            signal.advance();
            out.slice_mut(s![s, e, ..])
                .assign(&ndarray::ArrayView1::from(&row[..]));
        }
    }
    Ok(())
}

/// Runs episodes `indices` with the engine's current weights as a stream of forward passes
/// (one per action).
pub fn rollout(
    engine: &mut dyn Engine,
    rl: &RlConfig,
    log_std: &LogStd,
    plan: &RolloutPlan,
    indices: &[u64],
) -> anyhow::Result<Rollout> {
    let b = indices.len();
    let k = plan.steps_per_action;
    let (dt_ms, seed, stochastic, traced) = (plan.dt_ms, plan.seed, plan.stochastic, plan.traced);
    let n_in = rl.place_cells.n_channels();
    let mut arena = Arena::new(rl.arena, plan.seed, indices).map_err(anyhow::Error::msg)?;
    let actions_n = rl.arena.actions_per_episode();
    let steps = actions_n * k;
    let mut x = Array3::<f32>::zeros((steps, b, n_in));
    let mut outputs = Array3::<f32>::zeros((actions_n, b, N_OUTPUTS));
    let mut actions = Array3::<f64>::zeros((actions_n, b, ACTION_DIM));
    let mut log_probs = Array2::<f64>::zeros((actions_n, b));
    let mut rewards = Array2::<f32>::zeros((actions_n, b));
    let mut input_rngs: Vec<_> = indices
        .iter()
        .map(|&i| rl_episode_rng(seed, i, RlRngPurpose::InputSpikes))
        .collect();
    let mut noise_rngs: Vec<_> = indices
        .iter()
        .map(|&i| rl_episode_rng(seed, i, RlRngPurpose::PolicyNoise))
        .collect();
    let mut signals = vec![RewardSignal::default(); b];
    let mut recorders: Vec<TraceRecorder> = (0..traced.min(b))
        .map(|e| TraceRecorder::start(&arena, e))
        .collect();
    let std = log_std.value.map(f64::exp);
    engine.stream_start(b, k)?;
    let mut window = Array3::<f32>::zeros((k, b, n_in));
    for a in 0..actions_n {
        // The observation of this action window: the position now and the reward signal.
        encode_window(
            rl,
            arena.positions(),
            &mut signals,
            &mut input_rngs,
            dt_ms,
            &mut window,
        )?;
        x.slice_mut(s![a * k..(a + 1) * k, .., ..]).assign(&window);
        let out = engine.stream_advance(&window, 0)?;
        let mut velocities = vec![[0.0f32; ACTION_DIM]; b];
        for e in 0..b {
            let mean = [out[[0, e, 0]] as f64, out[[0, e, 1]] as f64];
            let mut act = mean;
            if stochastic {
                for d in 0..ACTION_DIM {
                    let z: f64 = StandardNormal.sample(&mut noise_rngs[e]);
                    act[d] += std[d] * z;
                }
            }
            for o in 0..N_OUTPUTS {
                outputs[[a, e, o]] = out[[0, e, o]];
            }
            for d in 0..ACTION_DIM {
                actions[[a, e, d]] = act[d];
            }
            log_probs[[a, e]] = gaussian_log_prob(mean, log_std.value, act);
            velocities[e] = [
                (act[0] * rl.arena.max_speed) as f32,
                (act[1] * rl.arena.max_speed) as f32,
            ];
        }
        let result = arena.step(&velocities);
        for e in 0..b {
            rewards[[a, e]] = result.rewards[e];
            signals[e].trigger(&rl.place_cells, result.goal_reached[e], result.hit_wall[e]);
        }
        for r in recorders.iter_mut() {
            r.after_step_with_actions(&arena, &velocities, &result);
        }
    }
    Ok(Rollout {
        x,
        outputs,
        actions,
        log_probs,
        rewards,
        goals: arena.goals_reached(),
        returns: arena.episode_returns().to_vec(),
        paths: (0..b).map(|e| arena.paths(e).to_vec()).collect(),
        traces: recorders.into_iter().map(TraceRecorder::finish).collect(),
    })
}

/// A batch of a rollout's inputs `x` [T, B, n_in] for the regression readout, no frame scored
/// yet ([`set_window_targets`]).
fn window_batch(x: Array3<f32>) -> Batch {
    let (steps, b, _) = x.dim();
    Batch {
        x,
        targets: Targets::FrameValues(Array3::from_elem((steps, b, N_OUTPUTS), f32::NAN)),
    }
}

/// Sets `batch`'s targets: `targets` [A, B, 3] at the last step of each action window of `k`
/// steps, or none (every frame unscored, for reading outputs).
fn set_window_targets(batch: &mut Batch, k: usize, targets: Option<&Array3<f32>>) {
    let Targets::FrameValues(values) = &mut batch.targets else {
        unreachable!("window batches have frame values")
    };
    values.fill(f32::NAN);
    if let Some(t) = targets {
        for a in 0..values.dim().0 / k {
            values
                .slice_mut(s![(a + 1) * k - 1, .., ..])
                .assign(&t.slice(s![a, .., ..]));
        }
    }
}

/// The outputs of every action window [A, B, 3] of the forward pass over `batch`'s inputs
/// with the engine's current weights (one long pass); unsets its targets.
fn recompute_window_outputs(
    engine: &mut dyn Engine,
    batch: &mut Batch,
    k: usize,
) -> anyhow::Result<Array3<f32>> {
    set_window_targets(batch, k, None);
    engine.frame_outputs(batch, 0)
}

/// The outputs of every action window [A, B, 3] of the forward pass over `x` with the
/// engine's current weights (one long pass).
pub fn recompute_outputs(
    engine: &mut dyn Engine,
    x: &Array3<f32>,
    k: usize,
) -> anyhow::Result<Array3<f32>> {
    recompute_window_outputs(engine, &mut window_batch(x.clone()), k)
}

/// PPO's numbers of one update, averaged over its Adam steps (epochs × minibatches).
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub struct UpdateStats {
    pub loss: f64,
    pub policy_loss: f64,
    pub value_loss: f64,
    pub entropy: f64,
    pub approx_kl: f64,
    pub clip_fraction: f64,
    /// Firing rate of the network (Hz, all neurons) in the update's last Adam step (the last
    /// minibatch of the last epoch).
    pub rate_hz: f64,
}

/// The PPO samples of a rollout under outputs `y` [A, B, 3] (the current weights).
pub fn samples(
    rollout: &Rollout,
    y: &Array3<f32>,
    log_std: &LogStd,
    advantages: &Array2<f32>,
    returns: &Array2<f32>,
) -> Vec<PpoSample> {
    let (actions_n, b, _) = y.dim();
    let mut out = Vec::with_capacity(actions_n * b);
    for a in 0..actions_n {
        for e in 0..b {
            out.push(PpoSample {
                mean: [y[[a, e, 0]] as f64, y[[a, e, 1]] as f64],
                log_std: log_std.value,
                value: y[[a, e, VALUE]] as f64,
                action: [rollout.actions[[a, e, 0]], rollout.actions[[a, e, 1]]],
                old_log_prob: rollout.log_probs[[a, e]],
                advantage: advantages[[a, e]] as f64,
                target_return: returns[[a, e]] as f64,
                weight: 1.0,
            });
        }
    }
    out
}

/// The regression targets that make the readout's squared-error gradient equal `grads`
/// (∂L/∂y, [A, B, 3]) at outputs `y`: τ = y − g·n/2 with n = A·B·3 (module docs).
pub fn surrogate_targets(y: &Array3<f32>, grads: &Array3<f64>) -> Array3<f32> {
    let n = y.len() as f64;
    Array3::from_shape_fn(y.dim(), |i| (y[i] as f64 - grads[i] * n / 2.0) as f32)
}

/// One PPO update on `rollout`: GAE over the whole batch, then `rl.epochs` passes over it,
/// each split into `rl.minibatches` minibatches of consecutive episodes (the episodes of a
/// rollout are independent draws, so consecutive ones are a random subset). Each minibatch
/// recomputes its forward pass with the current weights, takes PPO's gradient through BPTT
/// and one Adam step (and DEEP R when the engine rewires), and one Adam step of the log
/// standard deviation. `step(i)` gives the settings of the update's i-th Adam step
/// (i < `rl.adam_steps_per_update()`).
pub fn ppo_update(
    engine: &mut dyn Engine,
    rl: &RlConfig,
    k: usize,
    rollout: &Rollout,
    log_std: &mut LogStd,
    step: &mut dyn FnMut(usize) -> StepSettings,
) -> anyhow::Result<UpdateStats> {
    let (actions_n, b) = rollout.rewards.dim();
    anyhow::ensure!(
        rl.minibatches >= 1 && b.is_multiple_of(rl.minibatches),
        "rl.minibatches ({}) must divide the {b} episodes of a batch",
        rl.minibatches
    );
    // The episode ends with the time limit: no value after the last action.
    let mut values = Array2::<f32>::zeros((actions_n + 1, b));
    values
        .slice_mut(s![..actions_n, ..])
        .assign(&rollout.outputs.slice(s![.., .., VALUE]));
    let adv = advantages_with(&rl.gae, rollout.rewards.view(), values.view())
        .map_err(anyhow::Error::msg)?;
    let mut advantages = adv.advantages;
    normalise_advantages(&mut advantages, rl.gae.normalisation_epsilon);
    let per = b / rl.minibatches;
    // Each minibatch's inputs are copied out of the rollout once per update and moved into
    // its batch (`samples` reads the rest of the part, never its inputs); the epochs only
    // change the batch's targets.
    let mut minibatches: Vec<(Rollout, Batch, Array2<f32>, Array2<f32>)> = (0..rl.minibatches)
        .map(|m| {
            let eps = m * per..(m + 1) * per;
            let mut part = rollout.episodes(eps.clone());
            let batch = window_batch(std::mem::take(&mut part.x));
            (
                part,
                batch,
                advantages.slice(s![.., eps.clone()]).to_owned(),
                adv.returns.slice(s![.., eps]).to_owned(),
            )
        })
        .collect();
    let mut stats = UpdateStats::default();
    let w = 1.0 / rl.adam_steps_per_update() as f64;
    for epoch in 0..rl.epochs {
        for (m, (part, batch, part_adv, part_returns)) in minibatches.iter_mut().enumerate() {
            let y = recompute_window_outputs(engine, batch, k)?;
            let sm = samples(part, &y, log_std, part_adv, part_returns);
            let out = ppo_loss(&rl.ppo, &sm).map_err(|e| anyhow::anyhow!("PPO loss: {e}"))?;
            let mut grads = Array3::<f64>::zeros(y.dim());
            let mut d_log_std = [0.0; ACTION_DIM];
            for (i, g) in out.grads.iter().enumerate() {
                let (a, e) = (i / per, i % per);
                grads[[a, e, 0]] = g.d_mean[0];
                grads[[a, e, 1]] = g.d_mean[1];
                grads[[a, e, VALUE]] = g.d_value;
                for (acc, gd) in d_log_std.iter_mut().zip(g.d_log_std) {
                    *acc += gd;
                }
            }
            set_window_targets(batch, k, Some(&surrogate_targets(&y, &grads)));
            let batch_stats: BatchStats =
                engine.train_step(batch, &step(epoch * rl.minibatches + m))?;
            if rl.log_std_learning_rate > 0.0 {
                log_std.adam_step(
                    d_log_std,
                    rl.log_std_learning_rate,
                    rl.min_log_std,
                    rl.max_log_std,
                );
            }
            let p = &out.parts;
            stats.loss += w * p.total;
            stats.policy_loss += w * p.policy;
            stats.value_loss += w * p.value;
            stats.entropy += w * p.entropy;
            stats.approx_kl += w * p.approx_kl;
            stats.clip_fraction += w * p.clip_fraction;
            stats.rate_hz = batch_stats.mean_rate_hz();
        }
    }
    debug_assert!(gaussian_entropy(log_std.value).is_finite());
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rl::place_cells::encode_step;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn encode_window_matches_step_by_step_encoding() {
        let rl = RlConfig::default();
        let steps = 12;
        let positions = [[0.2, -0.3], [-0.6, 0.1], [0.0, 0.9]];
        let b = positions.len();
        // Signals on, running out mid-window, and off.
        let mut signals = vec![RewardSignal::default(); b];
        signals[0].trigger(&rl.place_cells, true, false);
        signals[1].goal_steps_left = 5;
        signals[1].wall_steps_left = 2;
        let rngs = || -> Vec<ChaCha8Rng> {
            (0..b as u64)
                .map(|e| ChaCha8Rng::seed_from_u64(40 + e))
                .collect()
        };
        let n_in = rl.place_cells.n_channels();
        let mut window = Array3::<f32>::zeros((steps, b, n_in));
        let mut signals_w = signals.clone();
        encode_window(
            &rl,
            &positions,
            &mut signals_w,
            &mut rngs(),
            1.0,
            &mut window,
        )
        .unwrap();
        let mut reference = Array3::<f32>::zeros((steps, b, n_in));
        let mut rng_r = rngs();
        let mut row = vec![0.0f32; n_in];
        for s in 0..steps {
            for e in 0..b {
                let radius = rl.arena.arena_radius;
                encode_step(
                    &rl.place_cells,
                    radius,
                    positions[e],
                    &signals[e],
                    1.0,
                    &mut rng_r[e],
                    &mut row,
                )
                .unwrap();
                signals[e].advance();
                reference
                    .slice_mut(s![s, e, ..])
                    .assign(&ndarray::ArrayView1::from(&row[..]));
            }
        }
        assert_eq!(window, reference);
        assert_eq!(signals_w, signals);
        // The reward channels of episode 0 fire in the window: the test sees the signals.
        let reward_spikes: f32 = rl
            .place_cells
            .reward_channels()
            .map(|c| window.slice(s![.., 0, c]).sum())
            .sum();
        assert!(reward_spikes > 0.0);
    }
}
