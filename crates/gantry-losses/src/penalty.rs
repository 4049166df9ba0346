//! Constraints and gradient penalties on the discriminator (critic).
//!
//! A critic is any closure `x [N, ...] → scores [N]`; a conditional critic closes over its labels
//! (`|x| d.forward(x, &labels)`), so every penalty works for conditional models too. Penalties are
//! differentiable in the critic's parameters (the input gradient is built with `create_graph`),
//! so adding them to D's loss and backpropagating is a double backward.
//!
//! | penalty | value | reference |
//! |---|---|---|
//! | [`gradient_penalty`] two-sided | E_x̂ (‖∇D(x̂)‖₂ − 1)², x̂ = εx + (1 − ε)x̃, ε ~ U[0, 1] | Gulrajani et al. 2017, eq. 3 (λ = 10) |
//! | [`gradient_penalty`] one-sided | E_x̂ max(0, ‖∇D(x̂)‖₂ − 1)² | Gulrajani et al. 2017, App. D; Petzka et al. 2018 |
//! | [`r1_penalty`] | γ/2 · E_x ‖∇D(x)‖² on real data | Mescheder et al. 2018, eq. 9 |
//! | [`r2_penalty`] | γ/2 · E_x̃ ‖∇D(x̃)‖² on fakes | Mescheder et al. 2018, eq. 10 |
//! | [`dragan_penalty`] | E (‖∇D(x̂)‖₂ − 1)², x̂ between x and x + ½·std(x)·U[0, 1] | Kodali et al. 2017 |
//! | [`clip_weights`] | every critic weight clamped to [−c, c] after each critic step | Arjovsky et al. 2017, Alg. 1 (c = 0.01) |
//! | [`drift_penalty`] | ε · E_x D(x)² on the critic's real scores (keeps them near 0) | Karras et al. 2018, App. A.1 (ProGAN, ε = 0.001) |
//! | [`path_length_penalty`] (on G) | E_w,y (‖J_wᵀy‖₂ − a)², y ~ N(0, I/(HW)), a the running mean length | Karras et al. 2020, eq. 4 (StyleGAN2) |
//!
//! Interpolation weights and perturbations are drawn from libtorch's generator on the input's
//! device (the training loop seeds it per step).

use tch::nn::VarStore;
use tch::{Kind, Tensor};

/// Which deviations of the gradient norm from 1 the gradient penalty punishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GpSide {
    /// (‖∇‖ − 1)²: norms below 1 are punished too (WGAN-GP as published).
    TwoSided,
    /// max(0, ‖∇‖ − 1)²: only norms above 1 (the Lipschitz constraint itself).
    OneSided,
}

/// ∇ₓ Σ D(x) for a batch `x` `[N, ...]`: per-sample input gradients `[N, ...]`, differentiable
/// in the critic's parameters. In float32 under mixed precision (`gantry_core::amp`): the
/// critic's pass, its input and the second derivative the penalties take through it.
pub fn input_gradients(critic: &dyn Fn(&Tensor) -> Tensor, x: &Tensor) -> Tensor {
    gantry_core::amp::full_precision(|| {
        let x = gantry_core::amp::fp32(&x.detach()).set_requires_grad(true);
        let out = critic(&x).sum(Kind::Float);
        let mut g = Tensor::run_backward(&[out], &[&x], true, true);
        g.pop().expect("one input, one gradient")
    })
}

/// Per-sample squared L2 norms `[N]` of a gradient batch `[N, ...]`.
fn squared_norms(g: &Tensor) -> Tensor {
    g.flatten(1, -1).square().sum_dim_intlist([1i64].as_slice(), false, Kind::Float)
}

/// Per-sample L2 norms `[N]` (with PyTorch's zero subgradient at 0).
fn norms(g: &Tensor) -> Tensor {
    g.flatten(1, -1).norm_scalaropt_dim(2.0, [1i64].as_slice(), false)
}

/// The shape `[N, 1, 1, …]` of per-sample weights broadcastable against `x` `[N, ...]`.
pub fn per_sample_shape(x: &Tensor) -> Vec<i64> {
    let mut shape = vec![x.size()[0]];
    shape.extend(std::iter::repeat_n(1, x.dim() - 1));
    shape
}

/// Uniform [0, 1) weights `[N, 1, 1, …]` broadcastable against `x` `[N, ...]`.
fn per_sample_uniform(x: &Tensor) -> Tensor {
    Tensor::rand(per_sample_shape(x).as_slice(), (x.kind(), x.device()))
}

fn unit_norm_penalty(norms: Tensor, side: GpSide) -> Tensor {
    let dev = norms - 1.0;
    match side {
        GpSide::TwoSided => dev.square().mean(Kind::Float),
        GpSide::OneSided => dev.relu().square().mean(Kind::Float),
    }
}

/// The WGAN-GP penalty (unweighted; multiply by λ = 10) on random interpolates of `real` and
/// `fake` (both `[N, ...]`, same shape).
pub fn gradient_penalty(
    critic: &dyn Fn(&Tensor) -> Tensor,
    real: &Tensor,
    fake: &Tensor,
    side: GpSide,
) -> Tensor {
    gradient_penalty_at(critic, real, fake, &per_sample_uniform(real), side)
}

/// [`gradient_penalty`] at the interpolates `ε·real + (1 − ε)·fake` for given per-sample
/// weights `eps` `[N, 1, 1, …]` in [0, 1) (a caller that draws them itself: data-parallel ranks
/// take their rows of the whole batch's draw).
pub fn gradient_penalty_at(
    critic: &dyn Fn(&Tensor) -> Tensor,
    real: &Tensor,
    fake: &Tensor,
    eps: &Tensor,
    side: GpSide,
) -> Tensor {
    let x_hat = real.detach() * eps + fake.detach() * (1.0 - eps);
    unit_norm_penalty(norms(&input_gradients(critic, &x_hat)), side)
}

/// R1: `γ/2 · E‖∇D(x)‖²` on a real batch `[N, ...]`.
pub fn r1_penalty(critic: &dyn Fn(&Tensor) -> Tensor, real: &Tensor, gamma: f64) -> Tensor {
    squared_norms(&input_gradients(critic, real)).mean(Kind::Float) * (gamma / 2.0)
}

/// R2: `γ/2 · E‖∇D(x̃)‖²` on a fake batch `[N, ...]`.
pub fn r2_penalty(critic: &dyn Fn(&Tensor) -> Tensor, fake: &Tensor, gamma: f64) -> Tensor {
    r1_penalty(critic, fake, gamma)
}

/// DRAGAN (unweighted; the paper uses λ = 10): the two-sided unit-norm penalty at points between
/// each real sample and a perturbation `x + ½·std(x)·U[0, 1]` of it (the authors' reference code).
pub fn dragan_penalty(critic: &dyn Fn(&Tensor) -> Tensor, real: &Tensor) -> Tensor {
    let u = Tensor::rand_like(real);
    dragan_penalty_at(critic, real, &u, &per_sample_uniform(real))
}

/// [`dragan_penalty`] with given draws: `u` U[0, 1) shaped as `real` (the perturbation) and
/// per-sample weights `alpha` `[N, 1, 1, …]`.
pub fn dragan_penalty_at(
    critic: &dyn Fn(&Tensor) -> Tensor,
    real: &Tensor,
    u: &Tensor,
    alpha: &Tensor,
) -> Tensor {
    let real = real.detach();
    let std = real.std(true);
    let perturbed = &real + u * std * 0.5;
    let x_hat = &real * alpha + perturbed * (1.0 - alpha);
    unit_norm_penalty(norms(&input_gradients(critic, &x_hat)), GpSide::TwoSided)
}

/// WGAN's weight clipping: clamps every trainable variable of `vs` to `[−c, c]` in place.
pub fn clip_weights(vs: &VarStore, c: f64) {
    tch::no_grad(|| {
        for mut t in vs.trainable_variables() {
            let _ = t.clamp_(-c, c);
        }
    });
}

/// ProGAN's ε-drift term (Karras et al. 2018, App. A.1): `ε · E_x D(x)²` on the critic's scores
/// `[N]` of a real batch, which stops a WGAN critic's outputs drifting far from 0 (the loss alone
/// only sees differences of scores).
pub fn drift_penalty(real_scores: &Tensor, eps: f64) -> Tensor {
    real_scores.square().mean(Kind::Float) * eps
}

/// Path lengths `[N]` of fakes `img` `[N, C, H, W]` made from `ws` `[N, L, w_dim]` (which
/// requires grad), projected on `y` (shaped as `img`): `√(mean_l ‖∂(Σ img·y)/∂w_l‖²)`, as
/// StyleGAN2-ADA. Differentiable in G's parameters (`create_graph`).
pub fn path_lengths(img: &Tensor, ws: &Tensor, y: &Tensor) -> Tensor {
    let out = (img * y).sum(Kind::Float);
    let g = Tensor::run_backward(&[out], &[ws], true, true).pop().expect("one input, one gradient");
    g.square()
        .sum_dim_intlist([2i64].as_slice(), false, Kind::Float)
        .mean_dim([1i64].as_slice(), false, Kind::Float)
        .sqrt()
}

/// StyleGAN2's path length regulariser (Karras et al. 2020, §3.2): with y ~ N(0, I)/√(H·W),
/// `E (‖J_wᵀ y‖ − a)²` where `a` is the running mean length, moved by `decay` (0.01) towards
/// this batch's mean and returned (detached) as the second value for the caller to keep.
pub fn path_length_penalty(img: &Tensor, ws: &Tensor, pl_mean: &Tensor, decay: f64) -> (Tensor, Tensor) {
    path_length_penalty_at(img, ws, pl_mean, decay, &img.randn_like())
}

/// [`path_length_penalty`] with a given N(0, I) draw `noise` shaped as `img` (y = noise/√(H·W)).
pub fn path_length_penalty_at(
    img: &Tensor,
    ws: &Tensor,
    pl_mean: &Tensor,
    decay: f64,
    noise: &Tensor,
) -> (Tensor, Tensor) {
    let (lengths, mean) = lengths_and_mean(img, ws, pl_mean, decay, noise);
    let mean = mean.detach();
    ((lengths - &mean).square().mean(Kind::Float), mean)
}

/// The path lengths of `noise`'s projection `[N]` and the running mean moved towards their mean
/// (in the graph).
fn lengths_and_mean(
    img: &Tensor,
    ws: &Tensor,
    pl_mean: &Tensor,
    decay: f64,
    noise: &Tensor,
) -> (Tensor, Tensor) {
    let (h, w) = (img.size()[2], img.size()[3]);
    let lengths = path_lengths(img, ws, &(noise / ((h * w) as f64).sqrt()));
    let mean = pl_mean.lerp(&lengths.mean(Kind::Float), decay);
    (lengths, mean)
}

/// [`path_length_penalty_at`] as StyleGAN2-ADA's `StyleGAN2Loss` computes it: the new running
/// mean `a' = a + decay·(mean length − a)` stays in the graph, so the penalty's gradient also
/// flows through this batch's `decay` share of it (the other keeps `a'` fixed); `ws` may be the
/// mapping network's output, whose graph the gradient then reaches. Returns (penalty, `a'`
/// detached).
pub fn path_length_penalty_stylegan2ada(
    img: &Tensor,
    ws: &Tensor,
    pl_mean: &Tensor,
    decay: f64,
    noise: &Tensor,
) -> (Tensor, Tensor) {
    let (lengths, mean) = lengths_and_mean(img, ws, pl_mean, decay, noise);
    ((lengths - &mean).square().mean(Kind::Float), mean.detach())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::nn::{self, Module};
    use tch::Device;

    fn batch() -> Tensor {
        (Tensor::arange(24, (Kind::Float, Device::Cpu)).reshape([4, 2, 3]) * 0.37).sin()
    }

    /// f(x) = a·x on flattened samples.
    fn linear(a: Vec<f32>) -> impl Fn(&Tensor) -> Tensor {
        let a = Tensor::from_slice(&a);
        move |x: &Tensor| x.flatten(1, -1).matmul(&a)
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-5 * (1.0 + b.abs())
    }

    #[test]
    fn linear_critics_have_the_closed_form_penalties() {
        let _generator = crate::generator_lock();
        let (real, fake) = (batch(), batch().flip([0]) * 2.0);
        // ‖a‖ = 1: the gradient norm is 1 everywhere.
        let unit = linear(vec![0.6, 0.0, 0.8, 0.0, 0.0, 0.0]);
        assert!(close(gradient_penalty(&unit, &real, &fake, GpSide::TwoSided).double_value(&[]), 0.0));
        assert!(close(dragan_penalty(&unit, &real).double_value(&[]), 0.0));
        // ‖a‖ = 2: (2 − 1)² = 1 on both sides; ‖a‖ = 0.5: 0.25 two-sided, 0 one-sided.
        let double = linear(vec![1.2, 0.0, 1.6, 0.0, 0.0, 0.0]);
        assert!(close(gradient_penalty(&double, &real, &fake, GpSide::TwoSided).double_value(&[]), 1.0));
        assert!(close(gradient_penalty(&double, &real, &fake, GpSide::OneSided).double_value(&[]), 1.0));
        let half = linear(vec![0.3, 0.0, 0.4, 0.0, 0.0, 0.0]);
        assert!(close(gradient_penalty(&half, &real, &fake, GpSide::TwoSided).double_value(&[]), 0.25));
        assert!(close(gradient_penalty(&half, &real, &fake, GpSide::OneSided).double_value(&[]), 0.0));
        // R1 of f(x) = a·x is γ/2·‖a‖²: γ = 10, ‖a‖² = 4 → 20.
        assert!(close(r1_penalty(&double, &real, 10.0).double_value(&[]), 20.0));
        assert!(close(r2_penalty(&half, &fake, 4.0).double_value(&[]), 0.5));
    }

    #[test]
    fn r1_of_a_quadratic_critic_is_half_gamma_times_the_mean_squared_norm() {
        // f(x) = ½‖x‖², ∇f = x.
        let quad = |x: &Tensor| {
            x.flatten(1, -1).square().sum_dim_intlist([1i64].as_slice(), false, Kind::Float) * 0.5
        };
        let x = batch();
        let want = x.flatten(1, -1).square().sum(Kind::Double).double_value(&[]) / 4.0 * 0.5;
        assert!(close(r1_penalty(&quad, &x, 1.0).double_value(&[]), want));
    }

    #[test]
    fn conditional_critics_close_over_their_labels() {
        // D(x, y) = a_y · x, with ‖a_0‖ = 1 and ‖a_1‖ = 3: R1 with γ = 2 is mean(‖a_y‖²) = 5.
        let table = Tensor::from_slice(&[1.0f32, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 3.0, 0.0, 0.0, 0.0, 0.0])
            .reshape([2, 6]);
        let labels = Tensor::from_slice(&[0i64, 1, 0, 1]);
        let critic = |x: &Tensor| {
            (x.flatten(1, -1) * table.index_select(0, &labels)).sum_dim_intlist(
                [1i64].as_slice(),
                false,
                Kind::Float,
            )
        };
        assert!(close(r1_penalty(&critic, &batch(), 2.0).double_value(&[]), 5.0));
    }

    #[test]
    fn penalties_backpropagate_into_the_critic() {
        let _generator = crate::generator_lock();
        // A linear critic's GP is (‖w‖ − 1)², whose gradient is 2(‖w‖ − 1)·w/‖w‖.
        let vs = VarStore::new(Device::Cpu);
        let lin = nn::linear(vs.root() / "c", 6, 1, nn::LinearConfig { bias: false, ..Default::default() });
        let mut w = vs.variables()["c.weight"].shallow_clone();
        tch::no_grad(|| w.copy_(&Tensor::from_slice(&[0.0f32, 2.0, 0.0, 0.0, 0.0, 0.0]).reshape([1, 6])));
        let critic = |x: &Tensor| lin.forward(&x.flatten(1, -1)).flatten(0, -1);
        let gp = gradient_penalty(&critic, &batch(), &(batch() * -1.0), GpSide::TwoSided);
        assert!(close(gp.double_value(&[]), 1.0));
        let g = Tensor::run_backward(&[gp], &[&w], false, false).pop().unwrap();
        assert!(close(g.double_value(&[0, 1]), 2.0), "{g}");
        assert!(close(g.double_value(&[0, 0]), 0.0));
    }

    #[test]
    fn drift_is_epsilon_times_the_mean_square() {
        let scores = Tensor::from_slice(&[1.0f32, -3.0, 2.0, 0.0]);
        // ε · (1 + 9 + 4 + 0) / 4
        assert!(close(drift_penalty(&scores, 0.001).double_value(&[]), 0.001 * 3.5));
    }

    #[test]
    fn clipping_bounds_every_weight() {
        let _generator = crate::generator_lock();
        let vs = VarStore::new(Device::Cpu);
        let _ = nn::linear(vs.root() / "a", 8, 8, Default::default());
        tch::no_grad(|| {
            for mut t in vs.trainable_variables() {
                let _ = t.fill_(0.5);
            }
        });
        clip_weights(&vs, 0.01);
        for t in vs.trainable_variables() {
            assert!(t.abs().max().double_value(&[]) <= 0.01 + 1e-9);
        }
    }

    #[test]
    fn path_lengths_of_a_linear_generator() {
        let _generator = crate::generator_lock();
        // img_i = M·w_{i,0} (the other ws unused): ∂(yᵢ·img_i)/∂w_{i,0} = Mᵀyᵢ, so the length is
        // ‖Mᵀyᵢ‖ / √L with L = 3 ws.
        let m = Tensor::randn([16, 5], tch::kind::FLOAT_CPU);
        let ws = Tensor::randn([4, 3, 5], tch::kind::FLOAT_CPU).set_requires_grad(true);
        let img = ws.select(1, 0).matmul(&m.tr()).view([4, 1, 4, 4]);
        let y = Tensor::randn([4, 1, 4, 4], tch::kind::FLOAT_CPU);
        let got = path_lengths(&img, &ws, &y);
        let want =
            y.view([4, 16]).matmul(&m).square().sum_dim_intlist([1i64].as_slice(), false, Kind::Float).sqrt()
                / 3f64.sqrt();
        assert!(got.allclose(&want, 1e-5, 1e-6, false), "{got} vs {want}");
        // The penalty: the running mean moves by `decay` towards the batch mean.
        let (pen, mean) = path_length_penalty(&img, &ws, &Tensor::from(1.0f32), 0.5);
        assert!(pen.double_value(&[]) >= 0.0);
        assert!(mean.double_value(&[]) > 0.5 && !mean.requires_grad());
    }
}
