//! Meta reinforcement learning: navigation to a hidden goal (`docs/experiments.md`
//! §4, the paper's §6).
//!
//! An agent moves in a circular arena; each 2 s episode hides a goal on the border. Reaching it
//! gives +1 and puts the agent at a random position, so a network that remembers where the goal
//! was (without any weight change) can return to it directly. This module holds the CPU
//! foundations of that experiment, each a reference that the GPU path and the trainer are
//! checked against:
//!
//! | file            | what                                                                  |
//! |-----------------|-----------------------------------------------------------------------|
//! | [`rng`]         | per-episode random streams keyed by (seed, episode index, purpose)    |
//! | [`arena`]       | the batched environment: geometry, rewards, respawn, path records     |
//! | [`place_cells`] | the observation: place-cell rates and reward-signalling input spikes  |
//! | [`gae`]         | generalised advantage estimation over batched trajectories            |
//! | [`ppo_loss`]    | PPO's clipped objective for a 2-D Gaussian policy, with its gradients |
//! | [`baselines`]   | random-walk and oracle agents, the yardsticks of Fig. 3A/B            |
//! | [`trace`]       | positions and goal hits of an episode, for the path figures           |
//! | [`settings`]    | the config's `rl:` section                                            |
//! | [`agent`]       | the LSNN agent: rollouts as streams of passes, one PPO update         |
//! | [`trainer`]     | the run: updates, metrics, checkpoints, evaluation, figures           |
//! | [`bench`]       | episodes per second and the round trip of one action                  |

pub mod agent;
pub mod arena;
pub mod baselines;
pub mod bench;
pub mod figures;
pub mod gae;
pub mod place_cells;
pub mod ppo_loss;
pub mod rng;
pub mod settings;
pub mod trace;
pub mod trainer;
