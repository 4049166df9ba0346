//! Orthogonal regularisation (Brock, Donahue, Simonyan 2019, §3.1 eq. 3), in the paper's form
//! and in their code's.
//!
//! The paper: `R_β(W) = β ‖WᵀW ⊙ (1 − I)‖²_F`, over each weight viewed as a matrix of filters
//! (their code views W as `[out, −1]`, rows = filters, so the Gram matrix is `W Wᵀ`): only the
//! filters' pairwise similarities are penalised, not their norms. Its gradient is
//! `4β ((W Wᵀ) ⊙ (1 − I)) W`.
//!
//! Their code (`utils.ortho`, what `--G_ortho`/`--D_ortho` apply) adds `2β ((W Wᵀ) ⊙ (1 − I)) W`
//! straight to each weight's gradient: half the paper's gradient, i.e. the paper's penalty at
//! β/2. [`penalty`] is the sum over weights of `‖(W Wᵀ) ⊙ (1 − I)‖²_F`; a run scales it by β
//! (`train.ortho_form = "paper"`) or β/2 (`"code"`, their strength), so either is a loss term
//! whose autograd gradient is the form it names. Weights: every parameter with ≥ 2 axes (biases
//! and attention's γ excluded; their code also excludes G's shared embedding).

use tch::{Kind, Tensor};

/// `‖(W Wᵀ) ⊙ (1 − I)‖²_F` of `w` viewed `[w.size()[0], −1]`.
pub fn off_diagonal_gram(w: &Tensor) -> Tensor {
    let m = w.reshape([w.size()[0], -1]);
    let gram = m.matmul(&m.tr());
    let off = gram.ones_like() - Tensor::eye(gram.size()[0], (gram.kind(), gram.device()));
    (gram * off).square().sum(Kind::Float)
}

/// Σ [`off_diagonal_gram`] over `weights` (a scalar; 0 for none).
pub fn penalty(weights: &[Tensor]) -> Tensor {
    weights
        .iter()
        .map(off_diagonal_gram)
        .fold(None, |acc: Option<Tensor>, t| Some(acc.map_or(t.shallow_clone(), |a| a + t)))
        .unwrap_or_else(|| Tensor::zeros([], tch::kind::FLOAT_CPU))
}

/// Their code's gradient term for strength β: `2β ((W Wᵀ) ⊙ (1 − I)) W`, in `w`'s shape.
pub fn code_gradient(w: &Tensor, beta: f64) -> Tensor {
    let m = w.reshape([w.size()[0], -1]);
    let gram = m.matmul(&m.tr());
    let off = gram.ones_like() - Tensor::eye(gram.size()[0], (gram.kind(), gram.device()));
    ((gram * off).matmul(&m) * (2.0 * beta)).view_as(w)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_papers_gradient_is_twice_their_codes_at_the_same_beta() {
        tch::manual_seed(3);
        let w = Tensor::randn([6, 3, 3, 3], tch::kind::FLOAT_CPU).set_requires_grad(true);
        let beta = 1e-4;
        let paper = off_diagonal_gram(&w) * beta;
        let g = Tensor::run_backward(&[paper], &[&w], false, false).remove(0);
        let code = code_gradient(&w, beta);
        let d = (&g - &code * 2.0).abs().max().double_value(&[]) / g.abs().max().double_value(&[]);
        assert!(d < 1e-6, "paper gradient = 2 × code gradient, off by {d:.2e}");
        // A matrix with orthogonal rows is not penalised, whatever their norms.
        let q = Tensor::from_slice(&[3.0f32, 0.0, 0.0, 0.5]).view([2, 2]);
        assert_eq!(off_diagonal_gram(&q).double_value(&[]), 0.0);
        let s = Tensor::from_slice(&[1.0f32, 1.0, 1.0, 0.0]).view([2, 2]);
        // W Wᵀ = [[2, 1], [1, 1]]: off-diagonal 1 twice.
        assert_eq!(off_diagonal_gram(&s).double_value(&[]), 2.0);
    }
}
