//! Connection probabilities between neuron populations, as in Fig. 1C of Bellec et al. 2018:
//! inputs split by the sign of their outgoing weights (X_E, X_I), recurrent neurons into
//! excitatory, inhibitory and adaptive ones (E, I, A), and the readout (Y). A connection is a
//! non-zero effective weight, so this measures the sparsity left by DEEP R (or 100 % when
//! dense).

use ndarray::{ArrayView1, ArrayView2};
use serde::{Deserialize, Serialize};

use super::network::Network;

/// A population of neurons (or input channels, or readouts).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Population {
    pub name: String,
    pub size: usize,
}

/// Connections from population `pre` to population `post`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Edge {
    pub pre: String,
    pub post: String,
    /// Non-zero weights.
    pub connections: usize,
    /// |pre|·|post|, less the self-connections when pre and post are the same recurrent
    /// population (autapses are never allowed).
    pub possible: usize,
    /// `connections / possible`.
    pub probability: f64,
}

/// The overall fraction of non-zero weights of one matrix.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct MatrixDensity {
    /// "w_in", "w_rec" or "w_out".
    pub name: String,
    pub active: usize,
    /// Entries that may be non-zero (w_rec: without the diagonal).
    pub possible: usize,
    /// `active / possible`; 0 when nothing is possible.
    pub density: f64,
}

/// The populations of a network and the connection probability between every pair of them
/// joined by a weight matrix (Fig. 1C).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Connectivity {
    /// In the order X_E, X_I, X, E, I, R, A, Y; empty populations are left out.
    pub populations: Vec<Population>,
    /// Pre-major, in population order: inputs→recurrent, recurrent→recurrent,
    /// recurrent→Y. Pairs with no possible connection (a one-neuron population onto itself)
    /// are absent.
    pub edges: Vec<Edge>,
    /// w_in, w_rec, w_out.
    pub matrices: Vec<MatrixDensity>,
}

impl Connectivity {
    pub fn population(&self, name: &str) -> Option<&Population> {
        self.populations.iter().find(|p| p.name == name)
    }

    pub fn edge(&self, pre: &str, post: &str) -> Option<&Edge> {
        self.edges.iter().find(|e| e.pre == pre && e.post == post)
    }

    pub fn matrix(&self, name: &str) -> Option<&MatrixDensity> {
        self.matrices.iter().find(|m| m.name == name)
    }
}

/// Whether a population holds input channels ("X…"), recurrent neurons or readouts ("Y").
pub fn is_input_population(name: &str) -> bool {
    name.starts_with('X')
}

pub fn is_readout_population(name: &str) -> bool {
    name == "Y"
}

/// Sign class of a row of outgoing weights: Some(true) if all non-zero ones are positive
/// (and there is one), Some(false) if all are negative, None if mixed or empty.
fn sign_class<'a>(rows: impl IntoIterator<Item = ArrayView1<'a, f32>>) -> Option<bool> {
    let (mut pos, mut neg, mut other) = (false, false, false);
    for row in rows {
        for &w in row {
            if w > 0.0 {
                pos = true;
            } else if w < 0.0 {
                neg = true;
            } else if w != 0.0 {
                other = true; // NaN: neither sign
            }
        }
    }
    match (pos, neg, other) {
        (true, false, false) => Some(true),
        (false, true, false) => Some(false),
        _ => None,
    }
}

/// Non-zero entries of `w` in rows `pre` × columns `post`, skipping the diagonal if
/// `no_diagonal`; returns (count, possible).
fn count(w: ArrayView2<f32>, pre: &[usize], post: &[usize], no_diagonal: bool) -> (usize, usize) {
    let (mut n, mut possible) = (0, 0);
    for &i in pre {
        for &j in post {
            if no_diagonal && i == j {
                continue;
            }
            possible += 1;
            n += (w[[i, j]] != 0.0) as usize;
        }
    }
    (n, possible)
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// Splits `net` into populations and counts the connections between them (Fig. 1C).
///
/// Inputs: X_E if every non-zero weight of the channel's w_in row is positive, X_I if every
/// one is negative, X otherwise (mixed or unconnected; all inputs without Dale's law).
/// Recurrent: A for the adaptive neurons; regular ones are E/I when all their non-zero
/// outgoing weights (w_rec and w_out rows) are positive/negative, R otherwise.
pub fn connection_probabilities(net: &Network) -> Connectivity {
    let p = &net.params;
    let (n_in, n_rec, n_out) = (net.n_in(), net.n_rec(), net.n_out());
    let n_regular = net.n_regular.min(n_rec);

    let mut inputs: [(&str, Vec<usize>); 3] = [("X_E", vec![]), ("X_I", vec![]), ("X", vec![])];
    for i in 0..n_in {
        let g = match sign_class([p.w_in.row(i)]) {
            Some(true) => 0,
            Some(false) => 1,
            None => 2,
        };
        inputs[g].1.push(i);
    }
    let mut recurrent: [(&str, Vec<usize>); 4] = [
        ("E", vec![]),
        ("I", vec![]),
        ("R", vec![]),
        ("A", (n_regular..n_rec).collect()),
    ];
    for k in 0..n_regular {
        // The diagonal is zero, so it does not affect the sign.
        let g = match sign_class([p.w_rec.row(k), p.w_out.row(k)]) {
            Some(true) => 0,
            Some(false) => 1,
            None => 2,
        };
        recurrent[g].1.push(k);
    }
    let readout: Vec<usize> = (0..n_out).collect();
    let inputs: Vec<_> = inputs.into_iter().filter(|g| !g.1.is_empty()).collect();
    let recurrent: Vec<_> = recurrent.into_iter().filter(|g| !g.1.is_empty()).collect();

    let mut populations: Vec<Population> = inputs
        .iter()
        .chain(&recurrent)
        .map(|(name, members)| Population {
            name: name.to_string(),
            size: members.len(),
        })
        .collect();
    if n_out > 0 {
        populations.push(Population {
            name: "Y".to_string(),
            size: n_out,
        });
    }

    let mut edges = Vec::new();
    let mut push = |pre: &str, post: &str, (connections, possible): (usize, usize)| {
        if possible > 0 {
            edges.push(Edge {
                pre: pre.to_string(),
                post: post.to_string(),
                connections,
                possible,
                probability: ratio(connections, possible),
            });
        }
    };
    for (pre, members) in &inputs {
        for (post, targets) in &recurrent {
            push(pre, post, count(p.w_in.view(), members, targets, false));
        }
    }
    for (pre, members) in &recurrent {
        for (post, targets) in &recurrent {
            push(pre, post, count(p.w_rec.view(), members, targets, true));
        }
        if n_out > 0 {
            push(pre, "Y", count(p.w_out.view(), members, &readout, false));
        }
    }

    let all_in: Vec<usize> = (0..n_in).collect();
    let all_rec: Vec<usize> = (0..n_rec).collect();
    let density = |name: &str, (active, possible): (usize, usize)| MatrixDensity {
        name: name.to_string(),
        active,
        possible,
        density: ratio(active, possible),
    };
    let matrices = vec![
        density("w_in", count(p.w_in.view(), &all_in, &all_rec, false)),
        density("w_rec", count(p.w_rec.view(), &all_rec, &all_rec, true)),
        density("w_out", count(p.w_out.view(), &all_rec, &readout, false)),
    ];

    Connectivity {
        populations,
        edges,
        matrices,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, DaleConfig};
    use crate::model::init::initialise;
    use ndarray::arr2;

    fn small(n_regular: usize, n_adaptive: usize, dale: bool) -> Config {
        let mut cfg = Config::default();
        cfg.model.n_regular = n_regular;
        cfg.model.n_adaptive = n_adaptive;
        cfg.model.dale = dale.then(DaleConfig::default);
        cfg
    }

    /// 4 inputs, 4 regular + 2 adaptive neurons, 2 outputs, with a hand-made pattern.
    fn hand_built() -> Network {
        let mut net = initialise(&small(4, 2, false).init_settings(), 4, 2).network;
        net.params.w_in = arr2(&[
            [1.0, 0.0, 2.0, 0.0, 0.0, 1.0],   // X_E
            [0.0, -1.0, 0.0, 0.0, -3.0, 0.0], // X_I
            [1.0, -1.0, 0.0, 0.0, 0.0, 0.0],  // X (mixed)
            [0.0; 6],                         // X (unconnected)
        ]);
        net.params.w_rec = arr2(&[
            [0.0, -1.0, -1.0, 0.0, 0.0, 0.0], // I
            [1.0, 5.0, 0.0, 0.0, 1.0, 0.0],   // E (diagonal 5 must be ignored)
            [0.0, 1.0, 0.0, 1.0, 0.0, 0.0],   // E (no readout weight)
            [1.0, 0.0, 0.0, 0.0, 0.0, 0.0],   // R (negative readout weight)
            [0.0, 1.0, 1.0, 0.0, 0.0, 1.0],   // A
            [-1.0, 0.0, 0.0, 0.0, 0.0, 0.0],  // A (sign irrelevant)
        ]);
        net.params.w_out = arr2(&[
            [-1.0, 0.0],
            [0.0, 1.0],
            [0.0, 0.0],
            [-1.0, 0.0],
            [1.0, 1.0],
            [0.0, 0.0],
        ]);
        net
    }

    fn edge(c: &Connectivity, pre: &str, post: &str) -> (usize, usize) {
        let e = c
            .edge(pre, post)
            .unwrap_or_else(|| panic!("no edge {pre}->{post}"));
        assert_eq!(e.probability, e.connections as f64 / e.possible as f64);
        (e.connections, e.possible)
    }

    #[test]
    fn hand_built_populations() {
        let c = connection_probabilities(&hand_built());
        let pops: Vec<(&str, usize)> = c
            .populations
            .iter()
            .map(|p| (p.name.as_str(), p.size))
            .collect();
        assert_eq!(
            pops,
            [
                ("X_E", 1),
                ("X_I", 1),
                ("X", 2),
                ("E", 2),
                ("I", 1),
                ("R", 1),
                ("A", 2),
                ("Y", 2)
            ]
        );
    }

    #[test]
    fn hand_built_probabilities() {
        let c = connection_probabilities(&hand_built());
        let expected = [
            // inputs -> recurrent (w_in)
            ("X_E", "E", 1, 2),
            ("X_E", "I", 1, 1),
            ("X_E", "R", 0, 1),
            ("X_E", "A", 1, 2),
            ("X_I", "E", 1, 2),
            ("X_I", "I", 0, 1),
            ("X_I", "R", 0, 1),
            ("X_I", "A", 1, 2),
            ("X", "E", 1, 4),
            ("X", "I", 1, 2),
            ("X", "R", 0, 2),
            ("X", "A", 0, 4),
            // recurrent -> recurrent (w_rec, no diagonal)
            ("E", "E", 1, 2),
            ("E", "I", 1, 2),
            ("E", "R", 1, 2),
            ("E", "A", 1, 4),
            ("E", "Y", 1, 4),
            ("I", "E", 2, 2),
            ("I", "R", 0, 1),
            ("I", "A", 0, 2),
            ("I", "Y", 1, 2),
            ("R", "E", 0, 2),
            ("R", "I", 1, 1),
            ("R", "A", 0, 2),
            ("R", "Y", 1, 2),
            ("A", "E", 2, 4),
            ("A", "I", 1, 2),
            ("A", "R", 0, 2),
            ("A", "A", 1, 2),
            ("A", "Y", 2, 4),
        ];
        for (pre, post, n, possible) in expected {
            assert_eq!(edge(&c, pre, post), (n, possible), "{pre}->{post}");
        }
        // One-neuron populations onto themselves have nothing possible; no X->Y matrix.
        for (pre, post) in [("I", "I"), ("R", "R"), ("X", "Y"), ("X_E", "Y")] {
            assert!(c.edge(pre, post).is_none(), "{pre}->{post}");
        }
        assert_eq!(c.edges.len(), expected.len());
        assert_eq!(c.edge("A", "Y").unwrap().probability, 0.5);
        // Edge order: pre-major, in population order.
        assert_eq!(
            (c.edges[0].pre.as_str(), c.edges[0].post.as_str()),
            ("X_E", "E")
        );
        assert_eq!(c.edges.last().unwrap().post, "Y");

        let m = |name| {
            let m = c.matrix(name).unwrap();
            (m.active, m.possible, m.density)
        };
        assert_eq!(m("w_in"), (7, 24, 7.0 / 24.0));
        assert_eq!(m("w_rec"), (11, 30, 11.0 / 30.0));
        assert_eq!(m("w_out"), (5, 12, 5.0 / 12.0));
        // Edges partition each matrix.
        let sum = |pre: fn(&str) -> bool, post: fn(&str) -> bool| -> usize {
            c.edges
                .iter()
                .filter(|e| pre(&e.pre) && post(&e.post))
                .map(|e| e.connections)
                .sum()
        };
        let rec = |n: &str| !is_input_population(n) && !is_readout_population(n);
        assert_eq!(sum(is_input_population, rec), 7);
        assert_eq!(sum(rec, rec), 11);
        assert_eq!(sum(rec, is_readout_population), 5);
    }

    #[test]
    fn dense_without_dale_is_x_and_r_at_full_probability() {
        let net = initialise(&small(6, 4, false).init_settings(), 5, 3).network;
        let c = connection_probabilities(&net);
        let names: Vec<&str> = c.populations.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["X", "R", "A", "Y"]);
        for e in &c.edges {
            assert_eq!(e.probability, 1.0, "{}->{}", e.pre, e.post);
        }
        assert_eq!(edge(&c, "R", "R"), (30, 30));
        assert_eq!(edge(&c, "A", "R"), (24, 24));
        assert_eq!(c.matrix("w_rec").unwrap().possible, 90);
    }

    #[test]
    fn dale_init_splits_by_sign() {
        let init = initialise(&small(12, 4, true).init_settings(), 8, 2);
        let dale = init.dale.as_ref().unwrap();
        let c = connection_probabilities(&init.network);
        let count = |v: &[f32], s: f32| v.iter().filter(|&&x| x == s).count();
        let size = |n: &str| c.population(n).map_or(0, |p| p.size);
        assert_eq!(size("X_E"), count(&dale.input, 1.0));
        assert_eq!(size("X_I"), count(&dale.input, -1.0));
        assert_eq!(size("X"), 0);
        assert_eq!(size("I"), count(&dale.recurrent, -1.0));
        assert_eq!(size("E"), 12 - size("I"));
        assert_eq!(size("R"), 0);
        assert_eq!(size("A"), 4);
        assert_eq!(size("Y"), 2);
        assert!(size("I") > 0 && size("E") > 0 && size("X_I") > 0);
        let json = serde_json::to_string(&c).unwrap();
        let back: Connectivity = serde_json::from_str(&json).unwrap();
        assert_eq!(back, c);
    }
}
