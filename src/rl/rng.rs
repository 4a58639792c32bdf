//! Random streams of the meta-RL experiment (`docs/experiments.md` §4).
//!
//! Every episode draws its random numbers from its own ChaCha8 stream keyed by (seed, purpose)
//! on stream `episode index`, the pattern of [`crate::tasks::l2l_family::episode_rng`] with
//! salts of its own. An episode is therefore a pure function of (seed, episode index): it does
//! not depend on which batch it runs in or on its neighbours, and one purpose's draws never
//! shift another's (the agent's exploration noise cannot change where the goal is).

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// What an episode's random numbers are for; each purpose has its own key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RlRngPurpose {
    /// The environment: goal placement, the agent's first position and its respawns.
    Arena,
    /// The Bernoulli input spikes of the place cells and reward neurons.
    InputSpikes,
    /// The Gaussian exploration noise of the policy's actions.
    PolicyNoise,
    /// The random choices of the baseline agents (the random walk's headings).
    Baseline,
}

impl RlRngPurpose {
    /// A distinct 64-bit key per purpose: the purpose's name in ASCII, so keys are readable in a
    /// debugger and cannot collide with the l2l task's salts ("L2L_…").
    fn salt(self) -> u64 {
        match self {
            RlRngPurpose::Arena => 0x524C_5F41_5245_4E41, // "RL_ARENA"
            RlRngPurpose::InputSpikes => 0x524C_5F53_5049_4B45, // "RL_SPIKE"
            RlRngPurpose::PolicyNoise => 0x524C_5F4E_4F49_5345, // "RL_NOISE"
            RlRngPurpose::Baseline => 0x524C_5F42_4153_4531, // "RL_BASE1"
        }
    }
}

/// The random numbers of episode `index` of run `seed` for `purpose`: ChaCha8 keyed by
/// (seed, purpose) on stream `index`. Use disjoint index ranges for training and evaluation
/// episodes (e.g. iteration × batch + b for training, 2⁴⁰ + i for tests).
pub fn rl_episode_rng(seed: u64, index: u64, purpose: RlRngPurpose) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ purpose.salt());
    rng.set_stream(index);
    rng
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    fn first_draws(seed: u64, index: u64, purpose: RlRngPurpose) -> Vec<u64> {
        let mut rng = rl_episode_rng(seed, index, purpose);
        (0..4).map(|_| rng.random::<u64>()).collect()
    }

    #[test]
    fn same_key_gives_same_stream() {
        assert_eq!(
            first_draws(7, 3, RlRngPurpose::Arena),
            first_draws(7, 3, RlRngPurpose::Arena)
        );
    }

    #[test]
    fn seed_index_and_purpose_each_change_the_stream() {
        let base = first_draws(7, 3, RlRngPurpose::Arena);
        assert_ne!(base, first_draws(8, 3, RlRngPurpose::Arena));
        assert_ne!(base, first_draws(7, 4, RlRngPurpose::Arena));
        for p in [
            RlRngPurpose::InputSpikes,
            RlRngPurpose::PolicyNoise,
            RlRngPurpose::Baseline,
        ] {
            assert_ne!(base, first_draws(7, 3, p), "{p:?}");
        }
    }

    #[test]
    fn salts_are_distinct() {
        let salts = [
            RlRngPurpose::Arena.salt(),
            RlRngPurpose::InputSpikes.salt(),
            RlRngPurpose::PolicyNoise.salt(),
            RlRngPurpose::Baseline.salt(),
        ];
        for i in 0..salts.len() {
            for j in i + 1..salts.len() {
                assert_ne!(salts[i], salts[j]);
            }
        }
    }
}
