//! The circular arena of the meta-RL experiment (`docs/experiments.md` §4), batched
//! over B independent episodes that step together.
//!
//! Paper: a circular arena; in each 2 s episode a goal is placed at a random point on the
//! border; reaching it gives +1 and places the agent at a random position; hitting the wall
//! gives −0.02 and the velocity is truncated so that the agent stays inside. Everything else is
//! ours and is a field of [`ArenaSettings`]:
//!
//! - **Units.** Lengths are in one unit (the default arena radius is 1, so lengths read as arena
//!   radii), times in seconds, velocities in length units per second.
//! - **Goal.** Its centre is uniform on the border circle (uniform angle, radius
//!   `arena_radius`), so half of the goal disc lies outside the arena. The goal stays put for
//!   the whole episode; that it is the same after every respawn is what the network must learn
//!   to remember.
//! - **Action.** A velocity, held for `action_seconds`. Its norm is clipped to `max_speed`
//!   (direction kept), and the agent moves by v · `action_seconds`.
//! - **Wall.** If the intended end point lies beyond the circle of radius
//!   `arena_radius − wall_margin`, the end point is projected radially back onto that circle
//!   and the step earns `wall_penalty`. Projecting (rather than stopping where the segment
//!   meets the wall) removes only the outward part of the motion, so an agent pushing
//!   obliquely slides along the wall instead of sticking to it: exploring the border, which is
//!   what a trained agent does on its first path (paper, Fig. 3), stays possible. The margin
//!   keeps positions strictly inside, also after rounding to f32 for the network.
//! - **Goal check.** On the end point of each step: the goal is reached when the end point is
//!   within `goal_radius` of the goal centre (closed disc). `validate` requires a step at top
//!   speed to be shorter than the goal's diameter, so a straight approach cannot step over the
//!   goal. If a step both touches the wall and reaches the goal, the rewards add up.
//! - **Respawn.** At the start of an episode and after each goal, the agent is placed uniformly
//!   (in area) in the disc of radius `arena_radius − wall_margin`, redrawn while it falls inside
//!   the goal disc (ours: so that every path has a positive length and no reward is free).
//! - **Randomness.** Each episode draws from its own stream
//!   ([`rl_episode_rng`] with [`RlRngPurpose::Arena`]): the goal first, then the first position,
//!   then one position per respawn. An episode is a pure function of (seed, episode index) and
//!   of its own actions.
//! - **Path records.** For Fig. 3B (lengths of the first, second and last path of an episode),
//!   every path from a (re)spawn to a goal hit is recorded with its number of actions, the
//!   distance travelled and the shortest possible distance.

use std::f64::consts::PI;

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::rng::{rl_episode_rng, RlRngPurpose};

/// Parameters of the arena (config section `rl`).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ArenaSettings {
    /// Radius of the circular arena (ours: 1, so lengths read as arena radii).
    pub arena_radius: f64,
    /// Radius of the goal disc, whose centre sits on the border (ours: 0.1).
    pub goal_radius: f64,
    /// Top speed, length units per second (ours: 4). At 4 the agent crosses the arena's
    /// diameter in 0.5 s (a quarter of an episode) and can sweep the whole border (2π) in
    /// ~1.6 s, so one episode leaves time to search the border for the goal and then return to
    /// it several times; at 2 the border sweep alone (3.1 s) would outlast the 2 s episode. An
    /// oracle that heads straight for the goal then reaches ~7 goals per episode (see
    /// `rl::baselines`).
    pub max_speed: f64,
    /// Length of an episode in seconds (paper: 2).
    pub episode_seconds: f64,
    /// How long one action (velocity) is held, seconds (ours: 0.01 = 10 ms of network time, one
    /// action every `steps_per_action` = 10 network steps at dt = 1 ms; 200 actions per
    /// episode).
    pub action_seconds: f64,
    /// Reward for reaching the goal (paper: +1).
    pub goal_reward: f64,
    /// Reward for a step that runs into the wall (paper: −0.02).
    pub wall_penalty: f64,
    /// How far inside the border a wall-truncated step ends (ours: 1e-6): positions stay
    /// strictly inside the arena, and the gap survives rounding to f32 (relative precision
    /// ~6e-8 at radius 1).
    pub wall_margin: f64,
}

impl Default for ArenaSettings {
    fn default() -> Self {
        ArenaSettings {
            arena_radius: 1.0,
            goal_radius: 0.1,
            max_speed: 4.0,
            episode_seconds: 2.0,
            action_seconds: 0.01,
            goal_reward: 1.0,
            wall_penalty: -0.02,
            wall_margin: 1e-6,
        }
    }
}

fn finite(field: &str, v: f64) -> Result<(), String> {
    if v.is_finite() {
        Ok(())
    } else {
        Err(format!("rl.{field} must be a finite number (got {v})"))
    }
}

fn positive(field: &str, v: f64) -> Result<(), String> {
    finite(field, v)?;
    if v > 0.0 {
        Ok(())
    } else {
        Err(format!("rl.{field} must be > 0 (got {v})"))
    }
}

impl ArenaSettings {
    /// Checks every field; the message names the field at fault.
    pub fn validate(&self) -> Result<(), String> {
        positive("arena_radius", self.arena_radius)?;
        positive("goal_radius", self.goal_radius)?;
        if self.goal_radius >= self.arena_radius {
            return Err(format!(
                "rl.goal_radius must be < rl.arena_radius, so that there is room to respawn \
                 outside the goal (got {} and {})",
                self.goal_radius, self.arena_radius
            ));
        }
        positive("max_speed", self.max_speed)?;
        positive("episode_seconds", self.episode_seconds)?;
        positive("action_seconds", self.action_seconds)?;
        if self.action_seconds > self.episode_seconds {
            return Err(format!(
                "rl.action_seconds must be <= rl.episode_seconds (got {} and {})",
                self.action_seconds, self.episode_seconds
            ));
        }
        if self.max_step() >= 2.0 * self.goal_radius {
            return Err(format!(
                "rl.max_speed × rl.action_seconds (the longest step, {}) must be < 2 × \
                 rl.goal_radius ({}), or a straight approach could step over the goal",
                self.max_step(),
                2.0 * self.goal_radius
            ));
        }
        finite("goal_reward", self.goal_reward)?;
        finite("wall_penalty", self.wall_penalty)?;
        if self.wall_penalty > 0.0 {
            return Err(format!(
                "rl.wall_penalty must be <= 0, it is a penalty (got {})",
                self.wall_penalty
            ));
        }
        finite("wall_margin", self.wall_margin)?;
        if !(self.wall_margin >= 0.0 && self.wall_margin < self.goal_radius) {
            return Err(format!(
                "rl.wall_margin must be >= 0 and < rl.goal_radius, or an agent on the wall \
                 could never reach the goal (got {})",
                self.wall_margin
            ));
        }
        Ok(())
    }

    /// Actions per episode: `episode_seconds / action_seconds`, rounded to the nearest integer
    /// (200 with the defaults).
    pub fn actions_per_episode(&self) -> usize {
        (self.episode_seconds / self.action_seconds).round() as usize
    }

    /// The longest step: `max_speed · action_seconds`.
    pub fn max_step(&self) -> f64 {
        self.max_speed * self.action_seconds
    }

    /// Radius of the disc the agent lives in: `arena_radius − wall_margin`.
    pub fn inner_radius(&self) -> f64 {
        self.arena_radius - self.wall_margin
    }
}

/// One path of an episode: from a (re)spawn to a goal hit.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct PathRecord {
    /// Actions taken, the one reaching the goal included.
    pub actions: usize,
    /// Distance travelled (sum of the lengths of the steps actually made, after wall
    /// truncation).
    pub distance: f64,
    /// The shortest possible distance: from the path's start to the edge of the goal disc,
    /// |start − goal| − `goal_radius`.
    pub shortest_distance: f64,
}

/// What one step did to each episode of the batch.
#[derive(Clone, Debug, PartialEq)]
pub struct StepResult {
    /// Reward of each episode: `goal_reward` if the goal was reached plus `wall_penalty` if the
    /// wall was hit, else 0.
    pub rewards: Vec<f32>,
    /// Whether each episode reached its goal (and was respawned).
    pub goal_reached: Vec<bool>,
    /// Whether each episode's step ran into the wall.
    pub hit_wall: Vec<bool>,
    /// Whether the episodes are over (`actions_per_episode` actions taken).
    pub done: bool,
}

/// A point uniform in area in the disc of `radius` about the origin: r = radius · √u,
/// θ = 2πv (the square root undoes the growth of the circumference with r).
pub fn uniform_in_disc(rng: &mut impl Rng, radius: f64) -> [f64; 2] {
    let r = radius * rng.random::<f64>().sqrt();
    let theta = 2.0 * PI * rng.random::<f64>();
    [r * theta.cos(), r * theta.sin()]
}

/// A point uniform on the circle of `radius` about the origin (uniform angle).
pub fn uniform_on_circle(rng: &mut impl Rng, radius: f64) -> [f64; 2] {
    let theta = 2.0 * PI * rng.random::<f64>();
    [radius * theta.cos(), radius * theta.sin()]
}

/// `velocity` with its norm clipped to `max_speed`, direction kept.
pub fn clip_speed(velocity: [f64; 2], max_speed: f64) -> [f64; 2] {
    let speed = norm(velocity);
    if speed > max_speed {
        let scale = max_speed / speed;
        [velocity[0] * scale, velocity[1] * scale]
    } else {
        velocity
    }
}

fn norm(v: [f64; 2]) -> f64 {
    v[0].hypot(v[1])
}

fn distance(a: [f64; 2], b: [f64; 2]) -> f64 {
    norm([a[0] - b[0], a[1] - b[1]])
}

/// B independent episodes of the arena, stepping together.
#[derive(Clone, Debug)]
pub struct Arena {
    settings: ArenaSettings,
    rngs: Vec<ChaCha8Rng>,
    positions: Vec<[f64; 2]>,
    goals: Vec<[f64; 2]>,
    actions_taken: usize,
    path_starts: Vec<[f64; 2]>,
    path_actions: Vec<usize>,
    path_distances: Vec<f64>,
    paths: Vec<Vec<PathRecord>>,
    returns: Vec<f64>,
    wall_hits: Vec<usize>,
}

impl Arena {
    /// Validated settings and episodes `episode_indices` of run `seed`, reset.
    pub fn new(
        settings: ArenaSettings,
        seed: u64,
        episode_indices: &[u64],
    ) -> Result<Self, String> {
        settings.validate()?;
        let mut arena = Arena {
            settings,
            rngs: Vec::new(),
            positions: Vec::new(),
            goals: Vec::new(),
            actions_taken: 0,
            path_starts: Vec::new(),
            path_actions: Vec::new(),
            path_distances: Vec::new(),
            paths: Vec::new(),
            returns: Vec::new(),
            wall_hits: Vec::new(),
        };
        arena.reset(seed, episode_indices);
        Ok(arena)
    }

    /// Starts episodes `episode_indices` of run `seed` (the batch size becomes their number):
    /// each draws its goal, then its first position, from its own stream.
    pub fn reset(&mut self, seed: u64, episode_indices: &[u64]) {
        let b = episode_indices.len();
        self.rngs = episode_indices
            .iter()
            .map(|&i| rl_episode_rng(seed, i, RlRngPurpose::Arena))
            .collect();
        let border = self.settings.arena_radius;
        self.goals = self
            .rngs
            .iter_mut()
            .map(|rng| uniform_on_circle(rng, border))
            .collect();
        self.positions = vec![[0.0; 2]; b];
        for e in 0..b {
            self.positions[e] = self.spawn_position(e);
        }
        self.actions_taken = 0;
        self.path_starts = self.positions.clone();
        self.path_actions = vec![0; b];
        self.path_distances = vec![0.0; b];
        self.paths = vec![Vec::new(); b];
        self.returns = vec![0.0; b];
        self.wall_hits = vec![0; b];
    }

    /// A position uniform in the inner disc and outside episode `e`'s goal disc.
    fn spawn_position(&mut self, e: usize) -> [f64; 2] {
        let inner = self.settings.inner_radius();
        loop {
            let p = uniform_in_disc(&mut self.rngs[e], inner);
            if distance(p, self.goals[e]) > self.settings.goal_radius {
                return p;
            }
        }
    }

    /// One action per episode: `actions[e]` is episode e's velocity.
    ///
    /// # Panics
    /// If `actions` does not hold one action per episode, if an action is not finite (a
    /// policy producing NaN is a bug to surface, not to hide), or if the episodes are done.
    pub fn step(&mut self, actions: &[[f32; 2]]) -> StepResult {
        assert_eq!(
            actions.len(),
            self.batch_size(),
            "one action per episode is needed"
        );
        assert!(!self.done(), "the episodes are over; reset first");
        let s = self.settings;
        let b = self.batch_size();
        let mut result = StepResult {
            rewards: vec![0.0; b],
            goal_reached: vec![false; b],
            hit_wall: vec![false; b],
            done: false,
        };
        for (e, &action) in actions.iter().enumerate() {
            assert!(
                action[0].is_finite() && action[1].is_finite(),
                "action of episode {e} is not finite: {action:?}"
            );
            let v = clip_speed([action[0] as f64, action[1] as f64], s.max_speed);
            let old = self.positions[e];
            let target = [
                old[0] + v[0] * s.action_seconds,
                old[1] + v[1] * s.action_seconds,
            ];
            let reach = norm(target);
            let hit_wall = reach > s.inner_radius();
            let new = if hit_wall {
                let scale = s.inner_radius() / reach;
                [target[0] * scale, target[1] * scale]
            } else {
                target
            };
            self.positions[e] = new;
            self.path_actions[e] += 1;
            self.path_distances[e] += distance(old, new);
            let mut reward = 0.0;
            if hit_wall {
                reward += s.wall_penalty;
                self.wall_hits[e] += 1;
            }
            let reached = distance(new, self.goals[e]) <= s.goal_radius;
            if reached {
                reward += s.goal_reward;
                self.paths[e].push(PathRecord {
                    actions: self.path_actions[e],
                    distance: self.path_distances[e],
                    shortest_distance: distance(self.path_starts[e], self.goals[e]) - s.goal_radius,
                });
                self.positions[e] = self.spawn_position(e);
                self.path_starts[e] = self.positions[e];
                self.path_actions[e] = 0;
                self.path_distances[e] = 0.0;
            }
            self.returns[e] += reward;
            result.rewards[e] = reward as f32;
            result.goal_reached[e] = reached;
            result.hit_wall[e] = hit_wall;
        }
        self.actions_taken += 1;
        result.done = self.done();
        result
    }

    /// The settings.
    pub fn settings(&self) -> &ArenaSettings {
        &self.settings
    }

    /// Episodes in the batch.
    pub fn batch_size(&self) -> usize {
        self.positions.len()
    }

    /// The agents' positions (after any respawn of the last step).
    pub fn positions(&self) -> &[[f64; 2]] {
        &self.positions
    }

    /// The goals' centres (on the border).
    pub fn goals(&self) -> &[[f64; 2]] {
        &self.goals
    }

    /// Actions taken since the reset (the same for every episode).
    pub fn actions_taken(&self) -> usize {
        self.actions_taken
    }

    /// Whether `actions_per_episode` actions have been taken.
    pub fn done(&self) -> bool {
        self.actions_taken >= self.settings.actions_per_episode()
    }

    /// Goals reached so far by each episode.
    pub fn goals_reached(&self) -> Vec<usize> {
        self.paths.iter().map(Vec::len).collect()
    }

    /// The completed paths (spawn to goal) of episode `e`, in order.
    pub fn paths(&self, e: usize) -> &[PathRecord] {
        &self.paths[e]
    }

    /// Sum of the rewards of each episode so far.
    pub fn episode_returns(&self) -> &[f64] {
        &self.returns
    }

    /// Steps of each episode that ran into the wall.
    pub fn wall_hits(&self) -> &[usize] {
        &self.wall_hits
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An arena of one episode with the agent and goal placed by hand.
    fn placed(position: [f64; 2], goal: [f64; 2]) -> Arena {
        let mut a = Arena::new(ArenaSettings::default(), 1, &[0]).unwrap();
        a.positions[0] = position;
        a.path_starts[0] = position;
        a.goals[0] = goal;
        a
    }

    /// A goal far from every position the tests move through.
    const FAR_GOAL: [f64; 2] = [-1.0, 0.0];

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn defaults_validate_and_round_trip_through_serde() {
        let s = ArenaSettings::default();
        s.validate().unwrap();
        assert_eq!(s.actions_per_episode(), 200);
        let json = serde_json::to_string(&s).unwrap();
        let back: ArenaSettings = serde_json::from_str(&json).unwrap();
        assert_eq!(back, s);
        let partial: ArenaSettings = serde_json::from_str(r#"{"max_speed": 3.0}"#).unwrap();
        assert_eq!(partial.max_speed, 3.0);
        assert_eq!(partial.goal_radius, s.goal_radius);
        assert!(serde_json::from_str::<ArenaSettings>(r#"{"speed": 3.0}"#).is_err());
    }

    #[test]
    fn validate_names_the_field_at_fault() {
        let d = ArenaSettings::default();
        let cases: Vec<(ArenaSettings, &str)> = vec![
            (
                ArenaSettings {
                    arena_radius: 0.0,
                    ..d
                },
                "rl.arena_radius must be > 0",
            ),
            (
                ArenaSettings {
                    goal_radius: -0.1,
                    ..d
                },
                "rl.goal_radius must be > 0",
            ),
            (
                ArenaSettings {
                    goal_radius: 1.0,
                    ..d
                },
                "rl.goal_radius must be < rl.arena_radius",
            ),
            (
                ArenaSettings {
                    max_speed: f64::NAN,
                    ..d
                },
                "rl.max_speed must be a finite number",
            ),
            (
                ArenaSettings {
                    episode_seconds: 0.0,
                    ..d
                },
                "rl.episode_seconds must be > 0",
            ),
            (
                ArenaSettings {
                    action_seconds: 3.0,
                    ..d
                },
                "rl.action_seconds must be <= rl.episode_seconds",
            ),
            (
                ArenaSettings {
                    max_speed: 20.0,
                    ..d
                },
                "rl.max_speed × rl.action_seconds",
            ),
            (
                ArenaSettings {
                    goal_reward: f64::INFINITY,
                    ..d
                },
                "rl.goal_reward must be a finite number",
            ),
            (
                ArenaSettings {
                    wall_penalty: 0.5,
                    ..d
                },
                "rl.wall_penalty must be <= 0",
            ),
            (
                ArenaSettings {
                    wall_margin: 0.1,
                    ..d
                },
                "rl.wall_margin must be >= 0 and < rl.goal_radius",
            ),
        ];
        for (s, want) in cases {
            let err = s.validate().unwrap_err();
            assert!(err.starts_with(want), "{err:?} should start with {want:?}");
        }
        assert!(Arena::new(
            ArenaSettings {
                arena_radius: -1.0,
                ..d
            },
            0,
            &[0]
        )
        .is_err());
    }

    #[test]
    fn step_straight_out_stops_just_inside_the_wall_with_penalty() {
        let mut a = placed([0.99, 0.0], FAR_GOAL);
        let r = a.step(&[[4.0, 0.0]]);
        let p = a.positions()[0];
        let inner = a.settings().inner_radius();
        assert!(close(norm(p), inner, 1e-12), "{p:?}");
        assert!(norm(p) < a.settings().arena_radius);
        assert!(close(p[1], 0.0, 1e-15));
        assert!(r.hit_wall[0]);
        assert_eq!(r.rewards[0], -0.02);
        assert_eq!(a.wall_hits()[0], 1);
        // Pushing on from the wall: the agent stays put and is penalised again.
        let r = a.step(&[[4.0, 0.0]]);
        assert!(close(norm(a.positions()[0]), inner, 1e-12));
        assert!(r.hit_wall[0]);
        assert!(close(a.episode_returns()[0], -0.04, 1e-12));
    }

    #[test]
    fn oblique_push_against_the_wall_slides_along_it() {
        let start = [0.0, 0.999];
        let mut a = placed(start, FAR_GOAL);
        // Top speed at 45° between tangential (+x) and outward (+y).
        let c = (4.0f64 / 2f64.sqrt()) as f32;
        let r = a.step(&[[c, c]]);
        assert!(r.hit_wall[0]);
        let p = a.positions()[0];
        let inner = a.settings().inner_radius();
        assert!(close(norm(p), inner, 1e-12));
        // The end point is the radial projection of the intended one.
        let step = c as f64 * 0.01;
        let target = [start[0] + step, start[1] + step];
        let scale = inner / norm(target);
        assert!(close(p[0], target[0] * scale, 1e-12) && close(p[1], target[1] * scale, 1e-12));
        assert!(p[0] > 0.02, "the agent moved along the wall: {p:?}");
    }

    #[test]
    fn tangential_step_inside_moves_exactly_and_is_not_penalised() {
        let mut a = placed([0.5, 0.0], FAR_GOAL);
        let r = a.step(&[[0.0, 4.0]]);
        assert_eq!(a.positions()[0], [0.5, 0.04]);
        assert!(!r.hit_wall[0] && !r.goal_reached[0]);
        assert_eq!(r.rewards[0], 0.0);
    }

    #[test]
    fn speed_is_clipped_to_max_speed_keeping_direction() {
        assert_eq!(clip_speed([30.0, 40.0], 4.0), [2.4, 3.2]);
        assert_eq!(clip_speed([1.0, -2.0], 4.0), [1.0, -2.0]);
        let mut a = placed([0.0, 0.0], FAR_GOAL);
        a.step(&[[30.0, 40.0]]);
        let p = a.positions()[0];
        assert!(
            close(p[0], 0.024, 1e-12) && close(p[1], 0.032, 1e-12),
            "{p:?}"
        );
        let mut slow = placed([0.0, 0.0], FAR_GOAL);
        slow.step(&[[1.0, -2.0]]);
        let p = slow.positions()[0];
        assert!(
            close(p[0], 0.01, 1e-12) && close(p[1], -0.02, 1e-12),
            "{p:?}"
        );
    }

    #[test]
    fn goal_hit_rewards_respawns_and_records_the_path() {
        let goal = [1.0, 0.0];
        let mut a = placed([0.81, 0.0], goal);
        // 0.81 → 0.85 → 0.89: still outside the goal disc (distance 0.11).
        for _ in 0..2 {
            let r = a.step(&[[4.0, 0.0]]);
            assert!(!r.goal_reached[0]);
            assert_eq!(r.rewards[0], 0.0);
        }
        // 0.93 is within 0.1 of the goal centre.
        let r = a.step(&[[4.0, 0.0]]);
        assert!(r.goal_reached[0] && !r.hit_wall[0]);
        assert_eq!(r.rewards[0], 1.0);
        assert_eq!(a.goals_reached(), vec![1]);
        let path = a.paths(0)[0];
        assert_eq!(path.actions, 3);
        assert!(close(path.distance, 0.12, 1e-12));
        assert!(close(path.shortest_distance, 0.09, 1e-12));
        // The agent is elsewhere: inside the arena, outside the goal disc.
        let p = a.positions()[0];
        assert!(norm(p) < a.settings().arena_radius);
        assert!(distance(p, goal) > a.settings().goal_radius);
        assert_eq!(a.goals()[0], goal, "the goal stays for the whole episode");
        assert!(close(a.episode_returns()[0], 1.0, 0.0));
    }

    #[test]
    fn respawns_are_uniform_in_area_and_avoid_the_goal() {
        let goal = [1.0, 0.0];
        let mut a = placed([0.95, 0.0], goal);
        let s = *a.settings();
        let n = 8000;
        let mut within_half = 0;
        for _ in 0..n {
            // Put the agent next to the goal; a zero-velocity step reaches it.
            a.positions[0] = [0.95, 0.0];
            let r = a.step(&[[0.0, 0.0]]);
            assert!(r.goal_reached[0]);
            let p = a.positions()[0];
            assert!(norm(p) <= s.inner_radius());
            assert!(distance(p, goal) > s.goal_radius);
            within_half += usize::from(norm(p) < 0.5 * s.arena_radius);
            a.actions_taken = 0;
        }
        let fraction = within_half as f64 / n as f64;
        // 1/4 of the area (slightly more: the goal disc's half inside, 0.5 % of the area, is
        // excluded). Binomial sd at n = 8000 is ~0.005.
        assert!(
            close(fraction, 0.25, 0.025),
            "fraction within r/2: {fraction}"
        );
        assert_eq!(a.goals_reached(), vec![n]);
    }

    #[test]
    fn wall_and_goal_in_one_step_add_up() {
        let mut a = placed([0.98, 0.0], [1.0, 0.0]);
        let r = a.step(&[[4.0, 0.0]]);
        assert!(r.hit_wall[0] && r.goal_reached[0]);
        assert!(close(r.rewards[0] as f64, 0.98, 1e-7));
    }

    #[test]
    fn episode_is_done_after_episode_seconds() {
        let mut a = Arena::new(ArenaSettings::default(), 3, &[0, 1]).unwrap();
        for k in 1..=200 {
            assert!(!a.done());
            let r = a.step(&[[0.0, 0.0], [0.0, 0.0]]);
            assert_eq!(r.done, k == 200);
        }
        assert!(a.done());
        assert_eq!(a.actions_taken(), 200);
        a.reset(3, &[0, 1]);
        assert!(!a.done());
    }

    #[test]
    #[should_panic(expected = "reset first")]
    fn stepping_past_the_end_panics() {
        let s = ArenaSettings {
            episode_seconds: 0.02,
            ..ArenaSettings::default()
        };
        let mut a = Arena::new(s, 0, &[0]).unwrap();
        a.step(&[[0.0, 0.0]]);
        a.step(&[[0.0, 0.0]]);
        a.step(&[[0.0, 0.0]]);
    }

    /// Positions after each of `steps` actions that spiral outwards (they hit the wall, and
    /// sweep past goals).
    fn trajectory(seed: u64, indices: &[u64], steps: usize) -> Vec<Vec<[f64; 2]>> {
        let mut a = Arena::new(ArenaSettings::default(), seed, indices).unwrap();
        let mut out = vec![a.positions().to_vec()];
        for k in 0..steps {
            let angle = 0.1 * k as f32;
            let act = vec![[4.0 * angle.cos(), 4.0 * angle.sin()]; indices.len()];
            a.step(&act);
            out.push(a.positions().to_vec());
        }
        out
    }

    #[test]
    fn same_seed_and_index_give_the_same_episode() {
        assert_eq!(trajectory(11, &[4, 5], 200), trajectory(11, &[4, 5], 200));
        let a = Arena::new(ArenaSettings::default(), 11, &[4, 5]).unwrap();
        let b = Arena::new(ArenaSettings::default(), 11, &[4, 6]).unwrap();
        let c = Arena::new(ArenaSettings::default(), 12, &[4, 5]).unwrap();
        assert_eq!(a.goals()[0], b.goals()[0]);
        assert_ne!(a.goals()[1], b.goals()[1], "another index, another goal");
        assert_ne!(a.goals()[0], c.goals()[0], "another seed, another goal");
        assert_ne!(a.goals()[0], a.goals()[1]);
    }

    #[test]
    fn an_episode_does_not_depend_on_its_batch() {
        let alone = trajectory(5, &[9], 200);
        let batched = trajectory(5, &[2, 9, 30], 200);
        for (t, row) in alone.iter().enumerate() {
            assert_eq!(row[0], batched[t][1], "step {t}");
        }
    }

    #[test]
    fn goals_are_uniform_on_the_border() {
        let n = 20_000u64;
        let indices: Vec<u64> = (0..n).collect();
        let a = Arena::new(ArenaSettings::default(), 2, &indices).unwrap();
        let (mut c1, mut s1, mut c2, mut s2) = (0.0, 0.0, 0.0, 0.0);
        let bins = 8;
        let mut counts = vec![0usize; bins];
        for g in a.goals() {
            assert!(close(norm(*g), 1.0, 1e-12), "{g:?}");
            let theta = g[1].atan2(g[0]);
            c1 += theta.cos();
            s1 += theta.sin();
            c2 += (2.0 * theta).cos();
            s2 += (2.0 * theta).sin();
            let bin = ((theta + PI) / (2.0 * PI) * bins as f64) as usize;
            counts[bin.min(bins - 1)] += 1;
        }
        let nf = n as f64;
        // Mean resultant length of uniform angles is ~1/√n = 0.007; P(> 0.03) ≈ e^(−18).
        let r1 = c1.hypot(s1) / nf;
        let r2 = c2.hypot(s2) / nf;
        assert!(r1 < 0.03 && r2 < 0.03, "resultant lengths {r1} {r2}");
        let expected = nf / bins as f64;
        let sd = (nf * (1.0 / bins as f64) * (1.0 - 1.0 / bins as f64)).sqrt();
        for (k, &c) in counts.iter().enumerate() {
            assert!(
                (c as f64 - expected).abs() < 5.0 * sd,
                "bin {k}: {c} vs {expected}"
            );
        }
    }

    #[test]
    fn first_positions_are_uniform_in_area() {
        let n = 20_000u64;
        let indices: Vec<u64> = (0..n).collect();
        let a = Arena::new(ArenaSettings::default(), 3, &indices).unwrap();
        let s = a.settings();
        let (mut within_half, mut within_root_half) = (0usize, 0usize);
        for (p, g) in a.positions().iter().zip(a.goals()) {
            assert!(norm(*p) <= s.inner_radius());
            assert!(distance(*p, *g) > s.goal_radius);
            within_half += usize::from(norm(*p) < 0.5);
            within_root_half += usize::from(norm(*p) < 0.5f64.sqrt());
        }
        // Area fractions 1/4 and 1/2 (uniform in radius would give 1/2 and 0.71). Binomial sd
        // at n = 20000 is ~0.0035.
        let f_half = within_half as f64 / n as f64;
        let f_root = within_root_half as f64 / n as f64;
        assert!(close(f_half, 0.25, 0.015), "{f_half}");
        assert!(close(f_root, 0.5, 0.015), "{f_root}");
    }
}
