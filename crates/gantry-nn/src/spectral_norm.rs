//! Spectral normalisation — Miyato, Kataoka, Koyama & Yoshida, "Spectral Normalization for
//! Generative Adversarial Networks", ICLR 2018, Algorithm 1.
//!
//! A layer's weight `W` (reshaped to a matrix `[out, in·k·k]`) is divided by its largest singular
//! value σ(W), so that the layer is 1-Lipschitz in L2:
//!
//! ```text
//! ṽ ← Wᵀũ / ‖Wᵀũ‖,   ũ ← Wṽ / ‖Wṽ‖          (one power-iteration step per training forward)
//! σ(W) ≈ ũᵀ W ṽ,     W_SN = W / σ(W)
//! ```
//!
//! As in `torch.nn.utils.spectral_norm`: ũ and ṽ persist between steps (they are non-trainable
//! variables of the layer, so they are saved in checkpoints, with the last σ estimate), the power
//! iteration runs without gradient, the gradient flows through σ = ũᵀWṽ with ũ, ṽ held constant,
//! and evaluation-mode forwards reuse the stored vectors without updating them.
//! Each training forward is one iteration, so a D applied to reals and fakes separately iterates
//! twice per step, as in PyTorch.

use tch::nn::{self, ModuleT};
use tch::{Kind, Tensor};

/// The persistent state of one normalised weight: ũ `[out]`, ṽ `[in]`, and the last σ `[]`.
#[derive(Debug)]
pub struct SpectralNorm {
    u: Tensor,
    v: Tensor,
    sigma: Tensor,
    eps: f64,
}

fn normalize(x: &Tensor, eps: f64) -> Tensor {
    x / (x.norm().clamp_min(eps))
}

impl SpectralNorm {
    /// State for a weight with `rows` output rows and `cols` inputs per row, as variables `sn_u`,
    /// `sn_v`, `sn_sigma` under `p` (ũ, ṽ start as normalised N(0, I) draws from libtorch's
    /// generator).
    pub fn new(p: &nn::Path, rows: i64, cols: i64) -> Self {
        let mut u = p.zeros_no_train("sn_u", &[rows]);
        let mut v = p.zeros_no_train("sn_v", &[cols]);
        let sigma = p.ones_no_train("sn_sigma", &[]);
        tch::no_grad(|| {
            let kind = (u.kind(), u.device());
            u.copy_(&normalize(&Tensor::randn([rows], kind), 1e-12));
            v.copy_(&normalize(&Tensor::randn([cols], kind), 1e-12));
        });
        Self { u, v, sigma, eps: 1e-12 }
    }

    /// `steps` power-iteration steps on `w` `[rows, ...]`, updating ũ and ṽ in place.
    pub fn power_iterate(&self, w: &Tensor, steps: usize) {
        tch::no_grad(|| {
            let m = w.detach().flatten(1, -1); // [rows, cols]
            let (mut u, mut v) = (self.u.shallow_clone(), self.v.shallow_clone());
            for _ in 0..steps {
                v.copy_(&normalize(&m.tr().mv(&u), self.eps));
                u.copy_(&normalize(&m.mv(&v), self.eps));
            }
        });
    }

    /// `W / σ(W)` for `w` `[rows, ...]` (same shape); in training one power-iteration step first.
    /// Differentiable in `w`, σ included.
    pub fn normalise(&self, w: &Tensor, train: bool) -> Tensor {
        if train {
            self.power_iterate(w, 1);
        }
        // Copies of ũ, ṽ enter the graph, so that the next forward's in-place power iteration
        // does not invalidate this one's backward (as torch.nn.utils.spectral_norm clones them).
        let (u, v) = (self.u.copy(), self.v.copy());
        let sigma = u.dot(&w.flatten(1, -1).mv(&v)); // ũᵀ W ṽ, []
        tch::no_grad(|| self.sigma.shallow_clone().copy_(&sigma));
        w / sigma
    }

    /// The last σ estimate (a scalar).
    pub fn sigma(&self) -> f64 {
        self.sigma.double_value(&[])
    }
}

/// A linear layer with a spectrally normalised weight: `[N, in] → [N, out]`.
#[derive(Debug)]
pub struct SnLinear {
    /// The unnormalised weight `[out, in]` (what the optimiser steps).
    pub weight: Tensor,
    /// The bias `[out]`, if any.
    pub bias: Option<Tensor>,
    /// The power iteration's state and σ.
    pub sn: SpectralNorm,
}

/// [`SnLinear`] with `nn::linear`'s initialisation and variable names (`weight`, `bias`).
pub fn sn_linear<'a>(
    p: impl std::borrow::Borrow<nn::Path<'a>>,
    inp: i64,
    out: i64,
    c: nn::LinearConfig,
) -> SnLinear {
    let p = p.borrow();
    let weight = p.var("weight", &[out, inp], c.ws_init);
    let bias = c.bias.then(|| {
        let bound = 1.0 / (inp as f64).sqrt();
        p.var("bias", &[out], c.bs_init.unwrap_or(nn::Init::Uniform { lo: -bound, up: bound }))
    });
    SnLinear { weight, bias, sn: SpectralNorm::new(p, out, inp) }
}

impl ModuleT for SnLinear {
    fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        x.linear(&self.sn.normalise(&self.weight, train), self.bias.as_ref())
    }
}

/// A 2-D convolution with a spectrally normalised kernel: `[N, in, H, W] → [N, out, H', W']`.
/// σ is that of the kernel reshaped to `[out, in·k·k]` (Miyato et al.'s choice).
#[derive(Debug)]
pub struct SnConv2d {
    /// The unnormalised kernel `[out, in, k, k]`.
    pub weight: Tensor,
    /// The bias `[out]`, if any.
    pub bias: Option<Tensor>,
    /// The power iteration's state and σ.
    pub sn: SpectralNorm,
    config: nn::ConvConfig,
}

/// [`SnConv2d`] with `nn::conv2d`'s initialisation and variable names.
pub fn sn_conv2d<'a>(
    p: impl std::borrow::Borrow<nn::Path<'a>>,
    inp: i64,
    out: i64,
    k: i64,
    c: nn::ConvConfig,
) -> SnConv2d {
    let p = p.borrow();
    let cols = inp / c.groups * k * k;
    let weight = p.var("weight", &[out, inp / c.groups, k, k], c.ws_init);
    let bias = c.bias.then(|| p.var("bias", &[out], c.bs_init));
    SnConv2d { weight, bias, sn: SpectralNorm::new(p, out, cols), config: c }
}

impl ModuleT for SnConv2d {
    fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        let c = &self.config;
        x.conv2d(
            &self.sn.normalise(&self.weight, train),
            self.bias.as_ref(),
            [c.stride],
            [c.padding],
            [c.dilation],
            c.groups,
        )
    }
}

/// A layer built plain or spectrally normalised, as a configuration chooses.
#[derive(Debug)]
pub enum MaybeSn<P, S> {
    /// The plain layer.
    Plain(P),
    /// The spectrally normalised one.
    Spectral(S),
}

impl<P: ModuleT, S: ModuleT> ModuleT for MaybeSn<P, S> {
    fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        match self {
            MaybeSn::Plain(l) => l.forward_t(x, train),
            MaybeSn::Spectral(l) => l.forward_t(x, train),
        }
    }
}

/// `nn::conv2d`, or [`sn_conv2d`] when `spectral`.
pub fn conv2d<'a>(
    p: impl std::borrow::Borrow<nn::Path<'a>>,
    inp: i64,
    out: i64,
    k: i64,
    c: nn::ConvConfig,
    spectral: bool,
) -> MaybeSn<nn::Conv2D, SnConv2d> {
    if spectral {
        MaybeSn::Spectral(sn_conv2d(p, inp, out, k, c))
    } else {
        MaybeSn::Plain(nn::conv2d(p.borrow(), inp, out, k, c))
    }
}

/// `nn::linear`, or [`sn_linear`] when `spectral`.
pub fn linear<'a>(
    p: impl std::borrow::Borrow<nn::Path<'a>>,
    inp: i64,
    out: i64,
    c: nn::LinearConfig,
    spectral: bool,
) -> MaybeSn<nn::Linear, SnLinear> {
    if spectral {
        MaybeSn::Spectral(sn_linear(p, inp, out, c))
    } else {
        MaybeSn::Plain(nn::linear(p.borrow(), inp, out, c))
    }
}

/// Largest singular value of `w` flattened to `[rows, cols]`, by SVD (for tests and diagnostics).
pub fn largest_singular_value(w: &Tensor) -> f64 {
    w.flatten(1, -1).to_kind(Kind::Double).svd(true, false).1.max().double_value(&[])
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    #[test]
    fn power_iteration_finds_the_largest_singular_value() {
        let _generator = crate::generator_lock();
        tch::manual_seed(0);
        let vs = nn::VarStore::new(Device::Cpu);
        let conv = sn_conv2d(vs.root() / "c", 32, 64, 3, Default::default());
        // Scale the kernel so that σ is far from 1 and from its initial estimate.
        tch::no_grad(|| conv.weight.shallow_clone().copy_(&(&conv.weight * 7.0)));
        let x = Tensor::randn([2, 32, 8, 8], tch::kind::FLOAT_CPU);
        for _ in 0..300 {
            let _ = conv.forward_t(&x, true);
        }
        let svd = largest_singular_value(&conv.weight);
        assert!((conv.sn.sigma() - svd).abs() / svd < 1e-3, "σ {} vs SVD {svd}", conv.sn.sigma());
        let normalised = conv.sn.normalise(&conv.weight, false);
        let top = largest_singular_value(&normalised);
        assert!((top - 1.0).abs() < 1e-3, "normalised weight's top singular value {top}");
        // Evaluation forwards leave ũ, ṽ and σ alone.
        let before = conv.sn.sigma();
        tch::no_grad(|| conv.weight.shallow_clone().copy_(&(&conv.weight * 2.0)));
        let _ = conv.forward_t(&x, false);
        assert!((conv.sn.sigma() - 2.0 * before).abs() < 1e-4 * before, "eval reuses ũ, ṽ");
    }

    #[test]
    fn linear_layer_is_one_lipschitz_and_state_is_saved() {
        let _generator = crate::generator_lock();
        tch::manual_seed(1);
        let vs = nn::VarStore::new(Device::Cpu);
        let lin = sn_linear(vs.root() / "l", 20, 30, Default::default());
        let x = Tensor::randn([8, 20], tch::kind::FLOAT_CPU);
        for _ in 0..200 {
            let _ = lin.forward_t(&x, true);
        }
        let w = lin.sn.normalise(&lin.weight, false);
        assert!((largest_singular_value(&w) - 1.0).abs() < 1e-3);
        // ‖f(a) − f(b)‖ ≤ ‖a − b‖ (up to the σ estimate's tolerance).
        let (a, b) =
            (Tensor::randn([100, 20], tch::kind::FLOAT_CPU), Tensor::randn([100, 20], tch::kind::FLOAT_CPU));
        let ratio = (lin.forward_t(&a, false) - lin.forward_t(&b, false)).norm_scalaropt_dim(
            2,
            [1i64].as_slice(),
            false,
        ) / (a - b).norm_scalaropt_dim(2, [1i64].as_slice(), false);
        assert!(ratio.max().double_value(&[]) <= 1.0 + 1e-3);
        let vars = vs.variables();
        for name in ["l.sn_u", "l.sn_v", "l.sn_sigma"] {
            assert!(!vars[name].requires_grad(), "{name} is state, not a parameter");
        }
        assert!(vars["l.weight"].requires_grad());
        assert_eq!(vs.trainable_variables().len(), 2);
    }

    #[test]
    fn gradient_flows_through_sigma() {
        let _generator = crate::generator_lock();
        // d/dW Σ(W/σ) with σ = uᵀWv: autograd against the closed form (1/σ)·1 − (Σ W / σ²)·u vᵀ.
        tch::manual_seed(2);
        let vs = nn::VarStore::new(Device::Cpu);
        let lin = sn_linear(vs.root(), 4, 3, nn::LinearConfig { bias: false, ..Default::default() });
        lin.sn.power_iterate(&lin.weight, 50);
        let w = lin.sn.normalise(&lin.weight, false);
        w.sum(Kind::Float).backward();
        let (u, v) = (&lin.sn.u, &lin.sn.v);
        let s = lin.sn.sigma();
        let total = lin.weight.sum(Kind::Float).double_value(&[]);
        let want = Tensor::ones([3, 4], tch::kind::FLOAT_CPU) / s - u.outer(v) * (total / (s * s));
        assert!(lin.weight.grad().allclose(&want, 1e-4, 1e-5, false));
    }

    #[test]
    fn two_training_forwards_share_one_backward() {
        let _generator = crate::generator_lock();
        // D(real) and D(fake) as separate calls, one loss: the second call's power iteration must
        // not invalidate the first call's graph.
        let vs = nn::VarStore::new(Device::Cpu);
        let conv = sn_conv2d(vs.root(), 3, 4, 3, Default::default());
        let (a, b) = (
            Tensor::randn([2, 3, 5, 5], tch::kind::FLOAT_CPU),
            Tensor::randn([2, 3, 5, 5], tch::kind::FLOAT_CPU),
        );
        let loss = conv.forward_t(&a, true).sum(Kind::Float) - conv.forward_t(&b, true).sum(Kind::Float);
        loss.backward();
        assert!(conv.weight.grad().isfinite().all().int64_value(&[]) == 1);
    }
}
