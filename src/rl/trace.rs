//! The trajectory of one episode of the arena, for the path figures (the paper's Fig. 3C/D:
//! an agent's paths before and after training) and for path lengths (Fig. 3B).
//!
//! [`TraceRecorder`] follows one chosen episode `e` of a batched [`Arena`] while the batch
//! steps:
//!
//! ```ignore
//! let mut rec = TraceRecorder::start(&arena, e);
//! while !arena.done() {
//!     let result = arena.step(&actions);
//!     rec.after_step_with_actions(&arena, &actions, &result); // or rec.after_step(&arena, &result)
//! }
//! let trace = rec.finish();
//! ```
//!
//! **The hit point.** When a step reaches the goal, [`Arena::step`] respawns the agent within
//! the same call, so [`Arena::positions`] only shows the respawn point: where the step ended
//! (inside the goal disc) is not exposed. [`TraceRecorder::after_step_with_actions`]
//! recomputes it from the previous position and the action with the arena's own rules (speed
//! clipped by [`clip_speed`], end point projected radially onto the circle of radius
//! `inner_radius` when beyond it: the same f64 operations in the same order, so the result is
//! bit-identical; the tests check it against the arena's path distances). If that point is
//! not within `goal_radius` of the goal (which would mean the arena's rules changed), or when
//! [`TraceRecorder::after_step`] is used (no actions at hand), the goal's centre stands in for
//! the hit point: the true one lies within `goal_radius` of it.
//!
//! **Layout of a trace.** `positions[0]` is the position after the reset and `positions[k]`
//! the position after action k (1-based), so `positions.len() = actions + 1` and
//! `rewards[k - 1]` is the reward of the step that ended at `positions[k]`. At a goal hit,
//! `positions[k]` is the hit point (before the respawn jump), `k` is pushed to `goal_hits`,
//! and the respawn point, from which action k + 1 starts, is pushed to `respawns`. Path j
//! (0-based) therefore runs from its start (`positions[0]` for j = 0, else `respawns[j - 1]`)
//! through `positions[goal_hits[j - 1] + 1 ..= goal_hits[j]]`; it took
//! `goal_hits[j] − goal_hits[j − 1]` actions (`goal_hits[0]` for the first), which is what
//! [`path_lengths`] returns and what [`Arena::paths`] records as `actions`.

use super::arena::{clip_speed, Arena, ArenaSettings, StepResult};

/// The trajectory of one episode (see the module docs for the layout).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EpisodeTrace {
    /// The goal's centre (on the border).
    pub goal: [f64; 2],
    /// Agent position after the reset and after every action (len = actions + 1); at a goal
    /// hit, the position where the step ended, before the respawn jump.
    pub positions: Vec<[f64; 2]>,
    /// Indices into `positions` where the goal was reached (strictly increasing, ≥ 1).
    pub goal_hits: Vec<usize>,
    /// Where the agent was placed after each goal hit (one per entry of `goal_hits`): the
    /// start of the next path. Action `goal_hits[j] + 1` starts here.
    #[serde(default)]
    pub respawns: Vec<[f64; 2]>,
    /// Reward of each action (len = actions).
    pub rewards: Vec<f32>,
}

impl EpisodeTrace {
    /// Actions recorded.
    pub fn actions(&self) -> usize {
        self.rewards.len()
    }

    /// Goals reached.
    pub fn goals(&self) -> usize {
        self.goal_hits.len()
    }

    /// Checks the layout invariants; the message says which one fails.
    pub fn validate(&self) -> Result<(), String> {
        let finite = |p: &[f64; 2]| p[0].is_finite() && p[1].is_finite();
        if !finite(&self.goal) {
            return Err(format!("the goal is not finite: {:?}", self.goal));
        }
        if self.positions.len() != self.rewards.len() + 1 {
            return Err(format!(
                "positions must hold one more entry than rewards (got {} and {})",
                self.positions.len(),
                self.rewards.len()
            ));
        }
        if let Some(k) = self.positions.iter().position(|p| !finite(p)) {
            return Err(format!(
                "position {k} is not finite: {:?}",
                self.positions[k]
            ));
        }
        let mut prev = 0;
        for &h in &self.goal_hits {
            if h <= prev || h >= self.positions.len() {
                return Err(format!(
                    "goal_hits must be strictly increasing in 1..{} (got {:?})",
                    self.positions.len(),
                    self.goal_hits
                ));
            }
            prev = h;
        }
        if self.respawns.len() != self.goal_hits.len() {
            return Err(format!(
                "respawns must hold one entry per goal hit (got {} and {})",
                self.respawns.len(),
                self.goal_hits.len()
            ));
        }
        if let Some(k) = self.respawns.iter().position(|p| !finite(p)) {
            return Err(format!("respawn {k} is not finite: {:?}", self.respawns[k]));
        }
        Ok(())
    }

    /// The polylines of the episode, one per path: each completed path (from its (re)spawn
    /// point to its hit point), then the unfinished last one (from the last (re)spawn to the
    /// episode's end; it is there unless the trace is empty, and is a single point if the
    /// last action reached the goal). Out-of-range hits of a malformed trace are skipped.
    pub fn path_polylines(&self) -> Vec<Vec<[f64; 2]>> {
        let mut out = Vec::new();
        let Some(&first) = self.positions.first() else {
            return out;
        };
        let mut start = first;
        let mut from = 1;
        for (j, &h) in self.goal_hits.iter().enumerate() {
            if h < from || h >= self.positions.len() {
                continue;
            }
            let mut path = vec![start];
            path.extend_from_slice(&self.positions[from..=h]);
            out.push(path);
            from = h + 1;
            start = self
                .respawns
                .get(j)
                .copied()
                .or_else(|| self.positions.get(h + 1).copied())
                .unwrap_or(start);
        }
        let mut tail = vec![start];
        tail.extend_from_slice(&self.positions[from.min(self.positions.len())..]);
        out.push(tail);
        out
    }
}

/// Actions from each (re)spawn to each goal hit, in order: `goal_hits[0]`, then the
/// differences of consecutive hits (equal to the `actions` of [`Arena::paths`]). The
/// unfinished last path is not included.
pub fn path_lengths(trace: &EpisodeTrace) -> Vec<usize> {
    let mut prev = 0;
    trace
        .goal_hits
        .iter()
        .map(|&h| {
            let n = h.saturating_sub(prev);
            prev = h;
            n
        })
        .collect()
}

/// Where one arena step from `old` with `action` ends: [`Arena::step`]'s geometry (speed
/// clipping, radial projection onto the inner circle), the same f64 operations in the same
/// order.
fn step_end(s: &ArenaSettings, old: [f64; 2], action: [f32; 2]) -> [f64; 2] {
    let v = clip_speed([action[0] as f64, action[1] as f64], s.max_speed);
    let target = [
        old[0] + v[0] * s.action_seconds,
        old[1] + v[1] * s.action_seconds,
    ];
    let reach = target[0].hypot(target[1]);
    if reach > s.inner_radius() {
        let scale = s.inner_radius() / reach;
        [target[0] * scale, target[1] * scale]
    } else {
        target
    }
}

/// Records one episode of a batched [`Arena`] while it steps (see the module docs).
#[derive(Clone, Debug)]
pub struct TraceRecorder {
    e: usize,
    settings: ArenaSettings,
    trace: EpisodeTrace,
    /// The agent's position now (after any respawn): where the next action starts.
    current: [f64; 2],
}

impl TraceRecorder {
    /// Starts recording episode `e` (its index in the batch) of `arena`, which must be fresh
    /// from a reset.
    ///
    /// # Panics
    /// If `e` is not in the batch or the arena has already taken actions.
    pub fn start(arena: &Arena, e: usize) -> TraceRecorder {
        assert!(
            e < arena.batch_size(),
            "episode {e} is not in the batch of {}",
            arena.batch_size()
        );
        assert_eq!(
            arena.actions_taken(),
            0,
            "a trace starts right after the arena's reset"
        );
        let p = arena.positions()[e];
        TraceRecorder {
            e,
            settings: *arena.settings(),
            trace: EpisodeTrace {
                goal: arena.goals()[e],
                positions: vec![p],
                goal_hits: Vec::new(),
                respawns: Vec::new(),
                rewards: Vec::new(),
            },
            current: p,
        }
    }

    /// The episode's index in the batch.
    pub fn episode(&self) -> usize {
        self.e
    }

    /// The trace so far.
    pub fn trace(&self) -> &EpisodeTrace {
        &self.trace
    }

    /// Records the step that produced `result`, to be called right after each
    /// [`Arena::step`]. A goal hit is recorded at the goal's centre (the arena does not expose
    /// where the step ended; see the module docs):
    /// [`TraceRecorder::after_step_with_actions`] records the exact point.
    ///
    /// # Panics
    /// If a step was missed, the arena was reset, or `result` is not from this batch.
    pub fn after_step(&mut self, arena: &Arena, result: &StepResult) {
        self.record(arena, None, result);
    }

    /// Like [`TraceRecorder::after_step`], with the `actions` just passed to [`Arena::step`]:
    /// a goal hit is recorded where the step ended (bit-identical to the arena's own end
    /// point).
    ///
    /// # Panics
    /// As [`TraceRecorder::after_step`], and if `actions` is not one action per episode.
    pub fn after_step_with_actions(
        &mut self,
        arena: &Arena,
        actions: &[[f32; 2]],
        result: &StepResult,
    ) {
        assert_eq!(
            actions.len(),
            arena.batch_size(),
            "one action per episode is needed"
        );
        self.record(arena, Some(actions[self.e]), result);
    }

    fn record(&mut self, arena: &Arena, action: Option<[f32; 2]>, result: &StepResult) {
        let e = self.e;
        assert_eq!(
            arena.actions_taken(),
            self.trace.rewards.len() + 1,
            "the recorder must see every step of the episode, once (was a step missed, or \
             the arena reset?)"
        );
        assert!(
            e < arena.batch_size()
                && result.goal_reached.len() == arena.batch_size()
                && result.rewards.len() == arena.batch_size(),
            "the step result does not match the arena's batch"
        );
        assert_eq!(
            arena.goals()[e],
            self.trace.goal,
            "the arena now runs another episode"
        );
        let now = arena.positions()[e];
        if result.goal_reached[e] {
            let s = &self.settings;
            let hit = action
                .map(|a| step_end(s, self.current, a))
                .filter(|p| {
                    let d = (p[0] - self.trace.goal[0]).hypot(p[1] - self.trace.goal[1]);
                    d <= s.goal_radius
                })
                .unwrap_or(self.trace.goal);
            self.trace.goal_hits.push(self.trace.positions.len());
            self.trace.positions.push(hit);
            self.trace.respawns.push(now);
        } else {
            self.trace.positions.push(now);
        }
        self.trace.rewards.push(result.rewards[e]);
        self.current = now;
    }

    /// The recorded trace.
    pub fn finish(self) -> EpisodeTrace {
        self.trace
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rl::baselines::oracle_velocity;

    fn norm(p: [f64; 2]) -> f64 {
        p[0].hypot(p[1])
    }

    fn dist(a: [f64; 2], b: [f64; 2]) -> f64 {
        (a[0] - b[0]).hypot(a[1] - b[1])
    }

    /// An oracle that, for 6 actions out of every 20, pushes outward and sideways instead, so
    /// that the episodes also slide along the wall (wall truncation) between goal hits.
    fn policy(k: usize, p: [f64; 2], g: [f64; 2], max_speed: f64) -> [f32; 2] {
        if k % 20 < 6 {
            let r = norm(p).max(1e-9);
            let (ux, uy) = (p[0] / r, p[1] / r);
            let c = (max_speed / 2f64.sqrt()) as f32;
            [c * (ux - uy) as f32, c * (uy + ux) as f32]
        } else {
            oracle_velocity(p, g, max_speed)
        }
    }

    /// Runs episodes `indices` of run `seed` with [`policy`], recording every episode twice:
    /// with the actions (exact hit points) and without.
    fn run(seed: u64, indices: &[u64]) -> (Arena, Vec<EpisodeTrace>, Vec<EpisodeTrace>) {
        let s = ArenaSettings::default();
        let mut arena = Arena::new(s, seed, indices).unwrap();
        let b = indices.len();
        let mut exact: Vec<TraceRecorder> =
            (0..b).map(|e| TraceRecorder::start(&arena, e)).collect();
        let mut plain = exact.clone();
        let mut k = 0;
        while !arena.done() {
            let actions: Vec<[f32; 2]> = (0..b)
                .map(|e| policy(k, arena.positions()[e], arena.goals()[e], s.max_speed))
                .collect();
            let result = arena.step(&actions);
            for (x, p) in exact.iter_mut().zip(plain.iter_mut()) {
                x.after_step_with_actions(&arena, &actions, &result);
                p.after_step(&arena, &result);
            }
            k += 1;
        }
        let exact = exact.into_iter().map(TraceRecorder::finish).collect();
        let plain = plain.into_iter().map(TraceRecorder::finish).collect();
        (arena, exact, plain)
    }

    #[test]
    fn trace_matches_the_arena() {
        let (arena, exact, plain) = run(5, &[3, 8, 21]);
        let s = *arena.settings();
        let n = s.actions_per_episode();
        let goals = arena.goals_reached();
        let mut wall_steps = 0;
        for (e, t) in exact.iter().enumerate() {
            t.validate().unwrap();
            assert_eq!(t.positions.len(), n + 1);
            assert_eq!(t.rewards.len(), n);
            assert_eq!(t.actions(), n);
            assert_eq!(t.goal, arena.goals()[e]);
            assert_eq!(t.goal_hits.len(), goals[e]);
            assert!(goals[e] >= 2, "episode {e}: {} goals", goals[e]);
            // Rewards add up to the arena's return; each hit carries the goal reward.
            let ret: f64 = t.rewards.iter().map(|&r| r as f64).sum();
            assert!((ret - arena.episode_returns()[e]).abs() < 1e-4);
            for &h in &t.goal_hits {
                assert!(t.rewards[h - 1] >= 0.9, "reward at hit {h}");
            }
            wall_steps += t.rewards.iter().filter(|&&r| r < 0.0).count();
            // Path lengths and distances are the arena's.
            let records = arena.paths(e);
            let lengths = path_lengths(t);
            assert_eq!(
                lengths,
                records.iter().map(|p| p.actions).collect::<Vec<_>>()
            );
            let polylines = t.path_polylines();
            assert_eq!(polylines.len(), goals[e] + 1, "completed paths + the tail");
            for (j, record) in records.iter().enumerate() {
                let path = &polylines[j];
                assert_eq!(path.len(), record.actions + 1);
                let travelled: f64 = path.windows(2).map(|w| dist(w[0], w[1])).sum();
                assert!(
                    (travelled - record.distance).abs() < 1e-12,
                    "episode {e} path {j}: {travelled} vs {}",
                    record.distance
                );
                let hit = *path.last().unwrap();
                assert!(dist(hit, t.goal) <= s.goal_radius);
                assert!(norm(hit) <= s.inner_radius());
                // The start of path j: the reset position, or the respawn after hit j − 1.
                let start = if j == 0 {
                    t.positions[0]
                } else {
                    t.respawns[j - 1]
                };
                assert_eq!(path[0], start);
                assert!(dist(start, t.goal) > s.goal_radius);
            }
            // Every non-hit position is the arena's; the recorder without actions differs
            // only at the hits, where it puts the goal's centre.
            let p = &plain[e];
            assert_eq!(p.goal_hits, t.goal_hits);
            assert_eq!(p.respawns, t.respawns);
            assert_eq!(p.rewards, t.rewards);
            for (k, (a, b)) in t.positions.iter().zip(&p.positions).enumerate() {
                if t.goal_hits.contains(&k) {
                    assert_eq!(*b, t.goal);
                    assert!(dist(*a, t.goal) <= s.goal_radius);
                } else {
                    assert_eq!(a, b, "position {k}");
                }
            }
        }
        assert!(wall_steps > 0, "the policy slides along the wall");
    }

    #[test]
    fn final_position_and_respawns_follow_the_arena() {
        let (arena, exact, _) = run(9, &[0, 1]);
        for (e, t) in exact.iter().enumerate() {
            // The last position is the arena's final one unless the last action hit the goal.
            let last = t.positions.len() - 1;
            if t.goal_hits.last() == Some(&last) {
                assert_eq!(*t.respawns.last().unwrap(), arena.positions()[e]);
            } else {
                assert_eq!(t.positions[last], arena.positions()[e]);
            }
            // After a hit, the next action starts at the respawn point: one step away at most.
            for (&h, &r) in t.goal_hits.iter().zip(&t.respawns) {
                if let Some(&next) = t.positions.get(h + 1) {
                    assert!(dist(r, next) <= arena.settings().max_step() + 1e-12);
                }
            }
        }
    }

    #[test]
    fn path_lengths_of_a_hand_made_trace() {
        let t = EpisodeTrace {
            goal: [1.0, 0.0],
            positions: vec![[0.0, 0.0]; 11],
            goal_hits: vec![3, 4, 9],
            respawns: vec![[0.1, 0.0], [0.2, 0.0], [0.3, 0.0]],
            rewards: vec![0.0; 10],
        };
        t.validate().unwrap();
        assert_eq!(path_lengths(&t), vec![3, 1, 5]);
        let polys = t.path_polylines();
        assert_eq!(
            polys.iter().map(Vec::len).collect::<Vec<_>>(),
            vec![4, 2, 6, 2]
        );
        assert_eq!(polys[1][0], [0.1, 0.0]);
        assert_eq!(polys[3][0], [0.3, 0.0]);
        let none = EpisodeTrace {
            goal_hits: vec![],
            respawns: vec![],
            ..t.clone()
        };
        assert!(path_lengths(&none).is_empty());
        assert_eq!(none.path_polylines().len(), 1);
        assert_eq!(none.path_polylines()[0].len(), 11);
    }

    #[test]
    fn validate_reports_malformed_traces_and_polylines_do_not_panic() {
        let good = EpisodeTrace {
            goal: [0.0, 1.0],
            positions: vec![[0.0, 0.0]; 5],
            goal_hits: vec![2],
            respawns: vec![[0.5, 0.0]],
            rewards: vec![0.0; 4],
        };
        good.validate().unwrap();
        let cases = [
            (
                EpisodeTrace {
                    rewards: vec![0.0; 3],
                    ..good.clone()
                },
                "positions must hold one more entry",
            ),
            (
                EpisodeTrace {
                    goal_hits: vec![7],
                    ..good.clone()
                },
                "goal_hits must be strictly increasing",
            ),
            (
                EpisodeTrace {
                    goal_hits: vec![0],
                    ..good.clone()
                },
                "goal_hits must be strictly increasing",
            ),
            (
                EpisodeTrace {
                    respawns: vec![],
                    ..good.clone()
                },
                "respawns must hold one entry per goal hit",
            ),
            (
                EpisodeTrace {
                    goal: [f64::NAN, 0.0],
                    ..good.clone()
                },
                "the goal is not finite",
            ),
            (
                EpisodeTrace {
                    positions: vec![
                        [0.0, 0.0],
                        [f64::INFINITY, 0.0],
                        [0.0; 2],
                        [0.0; 2],
                        [0.0; 2],
                    ],
                    ..good.clone()
                },
                "position 1 is not finite",
            ),
        ];
        for (t, want) in cases {
            let err = t.validate().unwrap_err();
            assert!(err.starts_with(want), "{err:?} should start with {want:?}");
            let _ = t.path_polylines();
            let _ = path_lengths(&t);
        }
        let empty = EpisodeTrace {
            goal: [1.0, 0.0],
            positions: vec![],
            goal_hits: vec![],
            respawns: vec![],
            rewards: vec![],
        };
        assert!(empty.validate().is_err());
        assert!(empty.path_polylines().is_empty());
    }

    #[test]
    fn trace_round_trips_through_serde() {
        let (_, exact, _) = run(2, &[4]);
        let json = serde_json::to_string(&exact[0]).unwrap();
        let back: EpisodeTrace = serde_json::from_str(&json).unwrap();
        let t = &exact[0];
        // serde_json (without its `float_roundtrip` feature) may parse a float 1 ulp off.
        let near = |a: &[[f64; 2]], b: &[[f64; 2]]| {
            a.len() == b.len()
                && a.iter()
                    .zip(b)
                    .all(|(p, q)| (p[0] - q[0]).abs() <= 1e-15 && (p[1] - q[1]).abs() <= 1e-15)
        };
        assert!(near(&[back.goal], &[t.goal]));
        assert!(near(&back.positions, &t.positions));
        assert!(near(&back.respawns, &t.respawns));
        assert_eq!(back.goal_hits, t.goal_hits);
        assert_eq!(back.rewards, t.rewards);
        // Traces written before `respawns` existed still load.
        let old: EpisodeTrace = serde_json::from_str(
            r#"{"goal":[1,0],"positions":[[0,0]],"goal_hits":[],"rewards":[]}"#,
        )
        .unwrap();
        assert!(old.respawns.is_empty());
    }

    #[test]
    #[should_panic(expected = "not in the batch")]
    fn start_rejects_an_episode_outside_the_batch() {
        let arena = Arena::new(ArenaSettings::default(), 0, &[0, 1]).unwrap();
        TraceRecorder::start(&arena, 2);
    }

    #[test]
    #[should_panic(expected = "must see every step")]
    fn a_missed_step_is_caught() {
        let mut arena = Arena::new(ArenaSettings::default(), 0, &[0]).unwrap();
        let mut rec = TraceRecorder::start(&arena, 0);
        arena.step(&[[0.0, 0.0]]);
        let r = arena.step(&[[0.0, 0.0]]);
        rec.after_step(&arena, &r);
    }
}
