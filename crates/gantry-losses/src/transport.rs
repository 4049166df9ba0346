//! Discrete optimal transport solved exactly, as the lectures pose Wasserstein distance.
//!
//! **Primal** (a linear program over the transport plan P, n×m):
//!
//! ```text
//! minimise  Σ_ij P_ij c_ij   subject to  Σ_j P_ij = p_i,  Σ_i P_ij = q_j,  P ≥ 0
//! ```
//!
//! **Dual** (two potentials): maximise `Σ_i u_i p_i + Σ_j v_j q_j` subject to `u_i + v_j ≤ c_ij`.
//! When both distributions live on the same points and c is a metric, one potential suffices
//! (Kantorovich–Rubinstein): maximise `Σ_i f_i (p_i − q_i)` subject to `f_i − f_j ≤ c_ij`
//! ([`kantorovich_rubinstein`]).
//!
//! The solver is the transportation simplex (Dantzig 1951; the "MODI" / u–v method): a basis is
//! a spanning tree of n + m − 1 cells of the bipartite row/column graph; its potentials satisfy
//! `u_i + v_j = c_ij` on the tree; a cell with negative reduced cost `c_ij − u_i − v_j` enters,
//! the cycle it closes is traversed alternately (+θ, −θ) and the first cell to reach zero leaves.
//! Degenerate bases (which can make the simplex cycle) are avoided with Orden's perturbation: the
//! supplies are raised by δ and the last demand by nδ, which makes every basic flow positive;
//! the final basis is then re-solved with the exact masses. At the optimum every reduced cost is
//! ≥ 0 (dual feasibility) and basic cells have reduced cost 0 (complementary slackness), so the
//! primal and dual objectives agree.

use std::collections::VecDeque;

/// A solved transport problem.
#[derive(Debug, Clone)]
pub struct Transport {
    /// Points of the first distribution (rows).
    pub n: usize,
    /// Points of the second (columns).
    pub m: usize,
    /// The optimal plan, row-major n×m.
    pub plan: Vec<f64>,
    /// Row potentials (n).
    pub u: Vec<f64>,
    /// Column potentials (m).
    pub v: Vec<f64>,
    /// `Σ P_ij c_ij`.
    pub primal: f64,
    /// `Σ u_i p_i + Σ v_j q_j`.
    pub dual: f64,
    /// Simplex pivots taken.
    pub pivots: usize,
}

/// Input that does not describe a transport problem.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[allow(missing_docs)] // the fields: what each variant's message names
pub enum TransportError {
    /// The cost matrix is not n×m.
    #[error("cost matrix has {found} entries, expected {n}x{m} = {}", n * m)]
    CostShape { n: usize, m: usize, found: usize },
    /// A negative or non-finite mass.
    #[error("masses must be finite and non-negative, found {0}")]
    BadMass(f64),
    /// A non-finite cost.
    #[error("costs must be finite, found {0}")]
    BadCost(f64),
    /// The two distributions' masses differ.
    #[error("total masses differ: Σp = {p}, Σq = {q}")]
    Unbalanced { p: f64, q: f64 },
    /// A distribution without points.
    #[error("both distributions must have at least one point")]
    Empty,
    /// The network simplex ran out of pivots.
    #[error("the simplex did not converge in {0} pivots")]
    NoConvergence(usize),
}

struct Tree {
    n: usize,
    m: usize,
    basic: Vec<bool>,
    row_adj: Vec<Vec<usize>>,
    col_adj: Vec<Vec<usize>>,
}

impl Tree {
    fn new(n: usize, m: usize) -> Self {
        Self { n, m, basic: vec![false; n * m], row_adj: vec![Vec::new(); n], col_adj: vec![Vec::new(); m] }
    }

    fn add(&mut self, i: usize, j: usize) {
        self.basic[i * self.m + j] = true;
        self.row_adj[i].push(j);
        self.col_adj[j].push(i);
    }

    fn remove(&mut self, i: usize, j: usize) {
        self.basic[i * self.m + j] = false;
        self.row_adj[i].retain(|&c| c != j);
        self.col_adj[j].retain(|&r| r != i);
    }

    /// Neighbours of node `a` (rows are 0..n, columns n..n+m).
    fn neighbours(&self, a: usize) -> Vec<usize> {
        if a < self.n {
            self.row_adj[a].iter().map(|&j| self.n + j).collect()
        } else {
            self.col_adj[a - self.n].clone()
        }
    }

    fn cell(&self, a: usize, b: usize) -> (usize, usize) {
        if a < self.n {
            (a, b - self.n)
        } else {
            (b, a - self.n)
        }
    }

    /// Potentials with u_0 = 0 and u_i + v_j = c_ij on every tree cell.
    fn potentials(&self, cost: &[f64]) -> (Vec<f64>, Vec<f64>) {
        let (n, m) = (self.n, self.m);
        let mut pot = vec![f64::NAN; n + m];
        pot[0] = 0.0;
        let mut queue = VecDeque::from([0usize]);
        while let Some(a) = queue.pop_front() {
            for b in self.neighbours(a) {
                if pot[b].is_nan() {
                    let (i, j) = self.cell(a, b);
                    pot[b] = cost[i * m + j] - pot[a];
                    queue.push_back(b);
                }
            }
        }
        (pot[..n].to_vec(), pot[n..].to_vec())
    }

    /// Nodes on the tree path from `from` to `to`, both included.
    fn path(&self, from: usize, to: usize) -> Vec<usize> {
        let mut parent = vec![usize::MAX; self.n + self.m];
        parent[from] = from;
        let mut queue = VecDeque::from([from]);
        while let Some(a) = queue.pop_front() {
            if a == to {
                break;
            }
            for b in self.neighbours(a) {
                if parent[b] == usize::MAX {
                    parent[b] = a;
                    queue.push_back(b);
                }
            }
        }
        let mut path = vec![to];
        let mut a = to;
        while a != from {
            a = parent[a];
            path.push(a);
        }
        path.reverse();
        path
    }

    /// Flows on the tree's cells that meet the marginals exactly (peeling leaves).
    fn flows(&self, p: &[f64], q: &[f64]) -> Vec<f64> {
        let (n, m) = (self.n, self.m);
        let mut rest: Vec<f64> = p.iter().chain(q).copied().collect();
        let mut degree: Vec<usize> = (0..n + m).map(|a| self.neighbours(a).len()).collect();
        let mut done = vec![false; n * m];
        let mut flow = vec![0.0; n * m];
        let mut leaves: Vec<usize> = (0..n + m).filter(|&a| degree[a] == 1).collect();
        while let Some(a) = leaves.pop() {
            if degree[a] != 1 {
                continue;
            }
            let Some(b) = self.neighbours(a).into_iter().find(|&b| {
                let (i, j) = self.cell(a, b);
                !done[i * m + j]
            }) else {
                continue;
            };
            let (i, j) = self.cell(a, b);
            done[i * m + j] = true;
            flow[i * m + j] = rest[a];
            rest[b] -= rest[a];
            rest[a] = 0.0;
            degree[a] -= 1;
            degree[b] -= 1;
            if degree[b] == 1 {
                leaves.push(b);
            }
        }
        flow
    }
}

/// Solves the transport problem from `p` (n) to `q` (m) with costs `cost` (row-major n×m).
/// The masses must balance (to 1e-9 relative).
pub fn solve(p: &[f64], q: &[f64], cost: &[f64]) -> Result<Transport, TransportError> {
    let (n, m) = (p.len(), q.len());
    if n == 0 || m == 0 {
        return Err(TransportError::Empty);
    }
    if cost.len() != n * m {
        return Err(TransportError::CostShape { n, m, found: cost.len() });
    }
    if let Some(&x) = p.iter().chain(q).find(|x| !(x.is_finite() && **x >= 0.0)) {
        return Err(TransportError::BadMass(x));
    }
    if let Some(&c) = cost.iter().find(|c| !c.is_finite()) {
        return Err(TransportError::BadCost(c));
    }
    let (sp, sq) = (p.iter().sum::<f64>(), q.iter().sum::<f64>());
    if (sp - sq).abs() > 1e-9 * sp.max(sq).max(f64::MIN_POSITIVE) {
        return Err(TransportError::Unbalanced { p: sp, q: sq });
    }

    let mut a: Vec<f64> = p.to_vec();
    let mut b: Vec<f64> = q.to_vec();
    b[m - 1] += sp - sq; // absorb the (tolerated) imbalance

    // North-west corner start: n + m − 1 cells forming a spanning tree.
    let mut tree = Tree::new(n, m);
    let mut flow = vec![0.0; n * m];
    let (mut i, mut j) = (0, 0);
    loop {
        let x = a[i].min(b[j]);
        tree.add(i, j);
        flow[i * m + j] = x;
        a[i] -= x;
        b[j] -= x;
        if i == n - 1 && j == m - 1 {
            break;
        }
        if (a[i] <= b[j] && i < n - 1) || j == m - 1 {
            i += 1;
        } else {
            j += 1;
        }
    }

    let scale = cost.iter().fold(0.0f64, |s, c| s.max(c.abs())).max(1.0);
    let tol = 1e-12 * scale;
    let mass_tol = 1e-15 * sp.max(f64::MIN_POSITIVE);
    let max_pivots = 50 * (n + m) * (n + m) + 1000;
    let (mut pivots, mut degenerate_run) = (0, 0usize);
    loop {
        let (u, v) = tree.potentials(cost);
        let bland = degenerate_run > 2 * (n + m);
        // Dantzig: the most negative reduced cost enters; Bland: the first negative one.
        let mut best = (-tol, usize::MAX);
        'scan: for i in 0..n {
            let row = &cost[i * m..(i + 1) * m];
            for j in 0..m {
                let r = row[j] - u[i] - v[j];
                if r < best.0 && !tree.basic[i * m + j] {
                    best = (r, i * m + j);
                    if bland {
                        break 'scan;
                    }
                }
            }
        }
        if best.1 == usize::MAX {
            break;
        }
        if pivots == max_pivots {
            return Err(TransportError::NoConvergence(pivots));
        }
        pivots += 1;
        let (ei, ej) = (best.1 / m, best.1 % m);
        // The tree path from row ei to column ej closes a cycle with the entering cell; its
        // cells alternate −θ, +θ, …, −θ starting from the column end.
        let path = tree.path(ei, n + ej);
        let edges: Vec<(usize, usize)> = path.windows(2).map(|w| tree.cell(w[0], w[1])).collect();
        let minus: Vec<usize> = (0..edges.len()).rev().step_by(2).collect();
        let theta = minus.iter().map(|&e| flow[edges[e].0 * m + edges[e].1]).fold(f64::INFINITY, f64::min);
        // Leaving: among the cells reaching θ, the first on the cycle (Dantzig) or the one of
        // smallest index (Bland).
        let ties = minus.iter().copied().filter(|&e| flow[edges[e].0 * m + edges[e].1] <= theta + mass_tol);
        let leave =
            if bland { ties.min_by_key(|&e| edges[e].0 * m + edges[e].1) } else { ties.into_iter().next() }
                .expect("a cycle has a −θ cell");
        degenerate_run = if theta <= mass_tol { degenerate_run + 1 } else { 0 };
        for (e, &(i, j)) in edges.iter().enumerate() {
            if minus.contains(&e) {
                flow[i * m + j] -= theta;
            } else {
                flow[i * m + j] += theta;
            }
        }
        flow[ei * m + ej] = theta;
        let (li, lj) = edges[leave];
        flow[li * m + lj] = 0.0;
        tree.remove(li, lj);
        tree.add(ei, ej);
    }

    // Re-solve the optimal basis with the exact masses; tiny negatives are rounding.
    let plan: Vec<f64> = tree.flows(p, q).into_iter().map(|x| x.max(0.0)).collect();
    let (u, v) = tree.potentials(cost);
    let primal = plan.iter().zip(cost).map(|(x, c)| x * c).sum();
    let dual =
        u.iter().zip(p).map(|(a, b)| a * b).sum::<f64>() + v.iter().zip(q).map(|(a, b)| a * b).sum::<f64>();
    Ok(Transport { n, m, plan, u, v, primal, dual, pivots })
}

/// Euclidean distances between every point of `xs` and every point of `ys` (each a list of
/// coordinates): the cost matrix of W1.
pub fn euclidean_costs(xs: &[Vec<f64>], ys: &[Vec<f64>]) -> Vec<f64> {
    xs.iter()
        .flat_map(|x| {
            ys.iter().map(move |y| x.iter().zip(y).map(|(a, b)| (a - b).powi(2)).sum::<f64>().sqrt())
        })
        .collect()
}

/// W1 between weighted point sets (weights normalised): the optimal transport cost under
/// Euclidean distance.
pub fn w1(xs: &[Vec<f64>], p: &[f64], ys: &[Vec<f64>], q: &[f64]) -> Result<Transport, TransportError> {
    let (sp, sq) = (p.iter().sum::<f64>(), q.iter().sum::<f64>());
    let p: Vec<f64> = p.iter().map(|x| x / sp).collect();
    let q: Vec<f64> = q.iter().map(|x| x / sq).collect();
    solve(&p, &q, &euclidean_costs(xs, ys))
}

/// The one-potential dual of W1 on a shared support: from a solution with a *metric* cost
/// `cost` (n×n, the same points for p and q), `f_i = min_k (c_ik − v_k)` (the c-transform of v).
/// Then `f_i − f_j ≤ c_ij` for all i, j (by the triangle inequality) and
/// `Σ f_i (p_i − q_i)` equals the optimal transport cost. Returns f and that objective.
pub fn kantorovich_rubinstein(t: &Transport, cost: &[f64], p: &[f64], q: &[f64]) -> (Vec<f64>, f64) {
    assert_eq!(t.n, t.m, "a shared support has n = m");
    let n = t.n;
    let f: Vec<f64> =
        (0..n).map(|i| (0..n).map(|k| cost[i * n + k] - t.v[k]).fold(f64::INFINITY, f64::min)).collect();
    let value = f.iter().zip(p.iter().zip(q)).map(|(fi, (a, b))| fi * (a - b)).sum();
    (f, value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::divergence::w1_1d;
    use proptest::prelude::*;

    fn marginals_hold(t: &Transport, p: &[f64], q: &[f64]) -> bool {
        let rows = (0..t.n).all(|i| ((0..t.m).map(|j| t.plan[i * t.m + j]).sum::<f64>() - p[i]).abs() < 1e-9);
        let cols = (0..t.m).all(|j| ((0..t.n).map(|i| t.plan[i * t.m + j]).sum::<f64>() - q[j]).abs() < 1e-9);
        rows && cols && t.plan.iter().all(|&x| x >= 0.0)
    }

    fn dual_feasible(t: &Transport, cost: &[f64]) -> bool {
        (0..t.n).all(|i| (0..t.m).all(|j| t.u[i] + t.v[j] <= cost[i * t.m + j] + 1e-9))
    }

    #[test]
    fn a_hand_checked_problem() {
        // Supplies 3, 2 to demands 1, 4; moving from row 0 costs 1 to col 0 and 2 to col 1,
        // from row 1 costs 3 and 1: optimum sends 1→(0,0), 2→(0,1), 2→(1,1): 1 + 4 + 2 = 7.
        let t = solve(&[3.0, 2.0], &[1.0, 4.0], &[1.0, 2.0, 3.0, 1.0]).unwrap();
        assert!((t.primal - 7.0).abs() < 1e-12 && (t.dual - 7.0).abs() < 1e-12, "{t:?}");
        assert_eq!(t.plan, vec![1.0, 2.0, 0.0, 2.0]);
    }

    #[test]
    fn degenerate_problems_solve() {
        // Identity transport (every supply equals a demand) is maximally degenerate.
        let n = 12;
        let pts: Vec<Vec<f64>> = (0..n).map(|i| vec![i as f64, (i * i % 7) as f64]).collect();
        let w = vec![1.0; n];
        let t = w1(&pts, &w, &pts, &w).unwrap();
        assert!(t.primal.abs() < 1e-12 && t.dual.abs() < 1e-9, "{} {}", t.primal, t.dual);
        // Zero masses on some points.
        let t = solve(&[0.0, 1.0, 0.0], &[0.5, 0.0, 0.5], &[0.0, 1.0, 2.0, 1.0, 0.0, 1.0, 2.0, 1.0, 0.0])
            .unwrap();
        assert!((t.primal - 1.0).abs() < 1e-12 && (t.dual - 1.0).abs() < 1e-12);
    }

    #[test]
    fn bad_problems_are_refused() {
        assert_eq!(solve(&[1.0], &[2.0], &[0.0]).unwrap_err(), TransportError::Unbalanced { p: 1.0, q: 2.0 });
        assert!(matches!(solve(&[1.0], &[1.0], &[0.0, 1.0]), Err(TransportError::CostShape { .. })));
        assert!(matches!(solve(&[-1.0, 2.0], &[1.0], &[0.0, 1.0]), Err(TransportError::BadMass(_))));
        assert!(matches!(solve(&[], &[], &[]), Err(TransportError::Empty)));
    }

    #[test]
    fn two_hundred_by_two_hundred() {
        // Correctness at the size the lectures' figures use; its speed is measured in
        // benches/transport.rs, not here.
        let pts = |seed: f64| -> Vec<Vec<f64>> {
            (0..200).map(|i| vec![(i as f64 * seed).sin() * 3.0, (i as f64 * 0.37 + seed).cos()]).collect()
        };
        let (xs, ys) = (pts(1.3), pts(2.9));
        let p: Vec<f64> = (0..200).map(|i| 1.0 + (i % 5) as f64).collect();
        let q: Vec<f64> = (0..200).map(|i| 1.0 + (i % 3) as f64).collect();
        let t = w1(&xs, &p, &ys, &q).unwrap();
        let (sp, sq) = (p.iter().sum::<f64>(), q.iter().sum::<f64>());
        let (pn, qn): (Vec<f64>, Vec<f64>) =
            (p.iter().map(|x| x / sp).collect(), q.iter().map(|x| x / sq).collect());
        assert!(marginals_hold(&t, &pn, &qn));
        assert!(dual_feasible(&t, &euclidean_costs(&xs, &ys)));
        assert!((t.primal - t.dual).abs() < 1e-9, "{} vs {}", t.primal, t.dual);
    }

    fn dist(n: usize) -> impl Strategy<Value = Vec<f64>> {
        proptest::collection::vec(0.0f64..1.0, n).prop_filter("mass", |v| v.iter().sum::<f64>() > 1e-2)
    }

    proptest! {
        #[test]
        fn strong_duality_feasibility_and_the_1d_formula(
            xs in proptest::collection::vec(-5.0f64..5.0, 1..9),
            ys in proptest::collection::vec(-5.0f64..5.0, 1..9),
            seed in 0u64..1000,
        ) {
            let wx: Vec<f64> = (0..xs.len()).map(|i| 1.0 + ((seed + i as u64 * 7) % 5) as f64).collect();
            let wy: Vec<f64> = (0..ys.len()).map(|i| 1.0 + ((seed + i as u64 * 3) % 4) as f64).collect();
            let px: Vec<Vec<f64>> = xs.iter().map(|&x| vec![x]).collect();
            let py: Vec<Vec<f64>> = ys.iter().map(|&y| vec![y]).collect();
            let t = w1(&px, &wx, &py, &wy).unwrap();
            let (sp, sq) = (wx.iter().sum::<f64>(), wy.iter().sum::<f64>());
            let pn: Vec<f64> = wx.iter().map(|w| w / sp).collect();
            let qn: Vec<f64> = wy.iter().map(|w| w / sq).collect();
            prop_assert!(marginals_hold(&t, &pn, &qn));
            prop_assert!(dual_feasible(&t, &euclidean_costs(&px, &py)));
            prop_assert!((t.primal - t.dual).abs() < 1e-9);
            prop_assert!((t.primal - w1_1d(&xs, &wx, &ys, &wy)).abs() < 1e-9);
        }

        #[test]
        fn one_potential_dual_on_a_shared_support(p in dist(7), q in dist(7), coords in proptest::collection::vec(-3.0f64..3.0, 14)) {
            let pts: Vec<Vec<f64>> = coords.chunks(2).map(|c| c.to_vec()).collect();
            let (sp, sq) = (p.iter().sum::<f64>(), q.iter().sum::<f64>());
            let pn: Vec<f64> = p.iter().map(|x| x / sp).collect();
            let qn: Vec<f64> = q.iter().map(|x| x / sq).collect();
            let cost = euclidean_costs(&pts, &pts);
            let t = solve(&pn, &qn, &cost).unwrap();
            let (f, value) = kantorovich_rubinstein(&t, &cost, &pn, &qn);
            for i in 0..7 {
                for j in 0..7 {
                    prop_assert!(f[i] - f[j] <= cost[i * 7 + j] + 1e-9);
                }
            }
            prop_assert!((value - t.primal).abs() < 1e-9, "{} vs {}", value, t.primal);
        }

        #[test]
        fn w1_is_a_metric_on_point_clouds(
            a in proptest::collection::vec(-4.0f64..4.0, 2..10),
            b in proptest::collection::vec(-4.0f64..4.0, 2..10),
            c in proptest::collection::vec(-4.0f64..4.0, 2..10),
        ) {
            let cloud = |v: &Vec<f64>| -> Vec<Vec<f64>> { v.chunks(2).filter(|c| c.len() == 2).map(|c| c.to_vec()).collect() };
            let (pa, pb, pc) = (cloud(&a), cloud(&b), cloud(&c));
            let w = |v: &Vec<Vec<f64>>| vec![1.0; v.len()];
            let d = |x: &Vec<Vec<f64>>, y: &Vec<Vec<f64>>| w1(x, &w(x), y, &w(y)).unwrap().primal;
            prop_assert!(d(&pa, &pc) <= d(&pa, &pb) + d(&pb, &pc) + 1e-9);
            prop_assert!((d(&pa, &pb) - d(&pb, &pa)).abs() < 1e-9);
            prop_assert!(d(&pa, &pa).abs() < 1e-9);
        }
    }
}
