//! Class accuracy of a conditional model's samples, and the matching that scores an
//! unsupervised one (InfoGAN's categories) by its best assignment of codes to classes.

use crate::error::{bail, Result};
use tch::Tensor;

use crate::capability::Model;
use crate::generate::latents;

/// The best one-to-one assignment of rows to columns of a square count matrix: (total, row → col).
pub fn best_matching(counts: &[Vec<usize>]) -> (usize, Vec<usize>) {
    let n = counts.len();
    // best[mask] = the largest total assigning rows 0..popcount(mask) to the columns in mask.
    let mut best = vec![None::<usize>; 1 << n];
    let mut choice = vec![0usize; 1 << n];
    best[0] = Some(0);
    for mask in 0usize..(1 << n) {
        let Some(here) = best[mask] else { continue };
        let row = mask.count_ones() as usize;
        if row == n {
            continue;
        }
        for (col, &c) in counts[row].iter().enumerate() {
            if mask & (1 << col) == 0 {
                let next = mask | (1 << col);
                if best[next].is_none_or(|b| here + c > b) {
                    best[next] = Some(here + c);
                    choice[next] = col;
                }
            }
        }
    }
    let full = (1 << n) - 1;
    let mut assign = vec![0; n];
    let mut mask = full;
    for row in (0..n).rev() {
        assign[row] = choice[mask];
        mask &= !(1 << choice[mask]);
    }
    (best[full].unwrap_or(0), assign)
}

/// What [`class_accuracy`] measures.
#[derive(Debug)]
pub struct ClassAccuracy {
    /// Share of samples the classifier assigns to the requested class.
    pub accuracy: f64,
    /// The same per requested class.
    pub per_class: Vec<f64>,
    /// Share of samples in the best one-to-one matching of requested classes (or InfoGAN code
    /// values) to predicted classes: InfoGAN's categorical-code purity; ≥ `accuracy`.
    pub purity: f64,
    /// That matching: requested class → predicted class.
    pub matching: Vec<usize>,
    /// counts[requested][predicted].
    pub confusion: Vec<Vec<usize>>,
    /// The u8 samples `[n, C, H, W]`.
    pub samples: Tensor,
    /// The requested classes `[n]`.
    pub classes: Tensor,
}

/// Class-conditional accuracy: `n` samples of a conditional model (sample i asks for class
/// i mod K, latents seeded by `seed`; for InfoGAN, categorical code value i mod K), judged by a
/// domain classifier.
pub fn class_accuracy(
    m: &Model,
    classifier: &gantry_metrics::classifier::Classifier,
    n: usize,
    seed: u64,
) -> Result<ClassAccuracy> {
    let c = m.class_sampler()?;
    let k = c.classes();
    if n < k as usize {
        bail!("--n must be at least the number of classes ({k}), found {n}");
    }
    let z = latents(n, m.sampler()?.z_dim(), seed, "class-accuracy");
    let y = Tensor::arange(n as i64, (tch::Kind::Int64, tch::Device::Cpu)).remainder(k);
    let x = gantry_core::image::to_u8(&c.generate_class(&z, &y)?).to_device(tch::Device::Cpu);
    let pred = classifier.predict(&x)?.to_device(tch::Device::Cpu);
    let (accuracy, per_class) = accuracy_per_class(&pred, &y, k);
    let confusion = confusion(&pred, &y, k)?;
    let (matched, matching) = best_matching(&confusion);
    Ok(ClassAccuracy {
        accuracy,
        per_class,
        purity: matched as f64 / n as f64,
        matching,
        confusion,
        samples: x,
        classes: y,
    })
}

/// counts[target][pred] over predictions and targets `[N]` in 0..k (predictions outside are
/// clamped into range).
pub fn confusion(pred: &Tensor, target: &Tensor, k: i64) -> Result<Vec<Vec<usize>>> {
    let (p, t): (Vec<i64>, Vec<i64>) = (Vec::try_from(pred)?, Vec::try_from(target)?);
    let mut counts = vec![vec![0usize; k as usize]; k as usize];
    for (&p, &t) in p.iter().zip(&t) {
        counts[t.clamp(0, k - 1) as usize][p.clamp(0, k - 1) as usize] += 1;
    }
    Ok(counts)
}

/// The share of predictions `[N]` equal to the targets `[N]`, overall and per target class 0..k
/// (NaN for a class with no targets).
pub fn accuracy_per_class(pred: &Tensor, target: &Tensor, k: i64) -> (f64, Vec<f64>) {
    let hit = pred.eq_tensor(target).to_kind(tch::Kind::Float);
    let per_class =
        (0..k).map(|c| hit.masked_select(&target.eq(c)).mean(tch::Kind::Float).double_value(&[])).collect();
    (hit.mean(tch::Kind::Float).double_value(&[]), per_class)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn best_matching_by_hand() {
        // Greedy would take 9 (row 0 → col 0) and then 1; the optimum crosses: 8 + 7.
        let (total, assign) = best_matching(&[vec![9, 8], vec![7, 1]]);
        assert_eq!((total, assign), (15, vec![1, 0]));
        let id: Vec<Vec<usize>> =
            (0..10).map(|i| (0..10).map(|j| usize::from(i == (j + 3) % 10) * 5).collect()).collect();
        let (total, assign) = best_matching(&id);
        assert_eq!(total, 50);
        assert!(assign.iter().enumerate().all(|(i, &j)| i == (j + 3) % 10));
    }
}
