//! Adam with state that can be saved and restored (tch's optimizers cannot export theirs).
//!
//! Follows `torch.optim.Adam` (Kingma & Ba 2015, Algorithm 1, with PyTorch's placement of ε):
//!
//! ```text
//! g ← ∇θ + λθ                       (λ: weight_decay, L2 as in torch.optim.Adam)
//! m ← β1·m + (1 − β1)·g
//! v ← β2·v + (1 − β2)·g²
//! θ ← θ − lr/(1 − β1ᵗ) · m / (√v / √(1 − β2ᵗ) + ε)
//! ```

use serde::{Deserialize, Serialize};
use tch::{nn::VarStore, Tensor};

use crate::checkpoint::Checkpoint;
use crate::{CoreError, Result};

/// Adam's hyper-parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdamConfig {
    /// Learning rate.
    pub lr: f64,
    /// Decay of the first-moment estimate.
    pub beta1: f64,
    /// Decay of the second-moment estimate.
    pub beta2: f64,
    /// Added to the denominator for numerical stability.
    pub eps: f64,
    /// L2 penalty added to the gradient (0 = none).
    pub weight_decay: f64,
}

impl Default for AdamConfig {
    /// PyTorch's defaults.
    fn default() -> Self {
        Self { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.0 }
    }
}

impl AdamConfig {
    /// DCGAN's setting (Radford et al. 2015): lr 2e-4, β1 = 0.5.
    pub fn dcgan() -> Self {
        Self { lr: 2e-4, beta1: 0.5, beta2: 0.999, ..Self::default() }
    }

    /// The two time-scale update rule's pair as SAGAN and SNGAN use it (Heusel et al. 2017; Zhang
    /// et al. 2019): β1 = 0, β2 = 0.9, lr 1e-4 for G and 4e-4 for D. Returns (G, D).
    pub fn ttur() -> (Self, Self) {
        let g = Self { lr: 1e-4, beta1: 0.0, beta2: 0.9, ..Self::default() };
        (g, Self { lr: 4e-4, ..g })
    }

    /// WGAN-GP's setting (Gulrajani et al. 2017, Algorithm 1): lr 1e-4, β1 = 0, β2 = 0.9, for both
    /// networks, with n_critic = 5.
    pub fn wgan_gp() -> Self {
        Self { lr: 1e-4, beta1: 0.0, beta2: 0.9, ..Self::default() }
    }
}

/// A multi-tensor Adam kernel: one call updates every parameter of an optimiser (libtorch's
/// `_fused_adam_`, which tch does not expose; gantry-train provides it from gantry-dist's C++
/// shim for `perf.fused_adam`). Installed with [`Adam::set_fused`].
pub trait FusedAdam: std::fmt::Debug + Send + Sync {
    /// One update of `params` in place, with `grads` and the moments `m`, `v` (equal lengths;
    /// each moment laid out as its parameter), `step` being this update's count (1 for the
    /// first): the arithmetic of [`Adam::apply`], in the kernel's rounding.
    fn step(
        &self,
        config: &AdamConfig,
        step: i64,
        params: &[Tensor],
        grads: &[Tensor],
        m: &[Tensor],
        v: &[Tensor],
    ) -> std::result::Result<(), String>;
}

/// Adam over the trainable variables of a `VarStore`.
#[derive(Debug)]
pub struct Adam {
    /// Its hyper-parameters.
    pub config: AdamConfig,
    names: Vec<String>,
    params: Vec<Tensor>,
    m: Vec<Tensor>,
    v: Vec<Tensor>,
    step: i64,
    /// The multi-tensor kernel its updates go through, if one is installed.
    fused: Option<std::sync::Arc<dyn FusedAdam>>,
    /// The gradients summed over this update's micro-batches so far (gradient accumulation).
    pending: Vec<Tensor>,
    /// Dynamic loss scaling (float16 mixed precision), if on.
    scaler: Option<LossScaler>,
}

/// Dynamic loss scaling for float16 mixed precision, as `torch.amp.GradScaler`: the loss is
/// multiplied by `scale` before differentiation (so small gradients survive float16), the
/// gradients divided by it after; an update whose gradients are not all finite is skipped and
/// halves the scale, and `growth_interval` finite updates in a row double it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LossScaler {
    /// The current scale (GradScaler's `init_scale`: 65536).
    pub scale: f64,
    /// Finite updates in a row since the scale last changed.
    pub good: i64,
    /// Finite updates in a row after which the scale doubles (GradScaler's 2000).
    pub growth_interval: i64,
    /// Updates skipped for non-finite gradients since [`Adam::take_skipped`] last asked.
    pub skipped: u64,
}

impl Default for LossScaler {
    /// GradScaler's defaults: scale 2¹⁶, doubling after 2000 finite updates, halving on overflow.
    fn default() -> Self {
        Self { scale: 65536.0, good: 0, growth_interval: 2000, skipped: 0 }
    }
}

impl Adam {
    /// Adam over every variable of `vs` that requires a gradient, in name order.
    pub fn new(vs: &VarStore, config: AdamConfig) -> Self {
        Self::over_named(vs.variables().into_iter().collect(), config)
    }

    /// Adam over the trainable variables of several stores (one update of several networks on one
    /// loss: an autoencoder's encoder and decoder), its state named `<store>.<var>`.
    pub fn over(stores: &[(&str, &VarStore)], config: AdamConfig) -> Self {
        let named = stores
            .iter()
            .flat_map(|(prefix, vs)| {
                vs.variables().into_iter().map(move |(n, t)| (format!("{prefix}.{n}"), t))
            })
            .collect();
        Self::over_named(named, config)
    }

    /// Adam over the `named` variables that require a gradient, in name order.
    fn over_named(named: Vec<(String, Tensor)>, config: AdamConfig) -> Self {
        let mut named: Vec<(String, Tensor)> = named.into_iter().filter(|(_, t)| t.requires_grad()).collect();
        named.sort_by(|a, b| a.0.cmp(&b.0));
        let (names, params): (Vec<_>, Vec<_>) = named.into_iter().unzip();
        let m = params.iter().map(Tensor::zeros_like).collect();
        let v = params.iter().map(Tensor::zeros_like).collect();
        Self { config, names, params, m, v, step: 0, fused: None, pending: Vec::new(), scaler: None }
    }

    /// Updates taken so far (t in the bias corrections).
    pub fn steps(&self) -> i64 {
        self.step
    }

    /// Clears the gradients of every parameter.
    pub fn zero_grad(&mut self) {
        for p in &mut self.params {
            p.zero_grad();
        }
    }

    /// The parameters, in the order of [`Self::apply`]'s gradients.
    pub fn params(&self) -> &[Tensor] {
        &self.params
    }

    /// Differentiates the scalar `loss` with respect to this optimiser's parameters only and
    /// takes one update. Nothing is accumulated into `.grad` (so no `zero_grad` is needed), and
    /// the backward pass skips the gradients of every other tensor — e.g. the discriminator's
    /// weights during a generator update.
    pub fn backward_step(&mut self, loss: &Tensor) {
        let grads = self.gradients(loss, false);
        self.apply(&grads);
    }

    /// The gradients of `loss` with respect to this optimiser's parameters, keeping the graph
    /// when `keep_graph` (several networks updated from one forward pass, each on its own loss:
    /// take every gradient first, then [`Self::apply`] each).
    /// With loss scaling ([`Self::set_loss_scaler`]) the loss is differentiated times the scale
    /// and the gradients divided by it.
    pub fn gradients(&self, loss: &Tensor, keep_graph: bool) -> Vec<Tensor> {
        match &self.scaler {
            None => Tensor::run_backward(&[loss], &self.params, keep_graph, false),
            Some(s) => {
                let grads = Tensor::run_backward(&[loss * s.scale], &self.params, keep_graph, false);
                tch::no_grad(|| {
                    grads.into_iter().map(|g| if g.defined() { g / s.scale } else { g }).collect()
                })
            }
        }
    }

    /// One update from the gradients accumulated in each parameter's `.grad`.
    pub fn step(&mut self) {
        let grads: Vec<Tensor> = self.params.iter().map(Tensor::grad).collect();
        self.apply(&grads);
    }

    /// One update with `grads` (one per parameter, in [`Self::params`] order; undefined tensors
    /// leave their parameter unchanged).
    /// In a data-parallel run the gradients are first averaged over ranks
    /// ([`crate::parallel`]). In micro-batch i of k of an accumulated update
    /// ([`crate::parallel::micro_batch`]) they are kept (summed with the earlier micro-batches')
    /// and nothing moves until the last, which updates once with their mean; a parameter without a
    /// gradient in some micro-batch counts zero there. One update per optimiser per micro-batch.
    pub fn apply(&mut self, grads: &[Tensor]) {
        assert_eq!(grads.len(), self.params.len(), "one gradient per parameter");
        let (i, k) = crate::parallel::micro();
        let accumulated;
        let grads = if k > 1 {
            if i == 0 || self.pending.len() != grads.len() {
                self.pending = grads.iter().map(|_| Tensor::new()).collect();
            }
            tch::no_grad(|| {
                for (sum, g) in self.pending.iter_mut().zip(grads).filter(|(_, g)| g.defined()) {
                    if sum.defined() {
                        let _ = sum.g_add_(g);
                    } else {
                        *sum = g.detach().copy();
                    }
                }
            });
            if i < k - 1 {
                return;
            }
            accumulated = tch::no_grad(|| {
                std::mem::take(&mut self.pending)
                    .into_iter()
                    .map(|s| if s.defined() { s / k as f64 } else { s })
                    .collect::<Vec<_>>()
            });
            &accumulated[..]
        } else {
            grads
        };
        let averaged = crate::parallel::average_gradients(grads);
        let grads = averaged.as_deref().unwrap_or(grads);
        if let Some(s) = &mut self.scaler {
            // One check over every gradient (after averaging: every rank decides alike).
            let finite = tch::no_grad(|| {
                let sums: Vec<Tensor> =
                    grads.iter().filter(|g| g.defined()).map(|g| g.sum(tch::Kind::Float)).collect();
                sums.is_empty() || Tensor::stack(&sums, 0).isfinite().all().int64_value(&[]) != 0
            });
            if !finite {
                (s.scale, s.good, s.skipped) = (s.scale * 0.5, 0, s.skipped + 1);
                return;
            }
            s.good += 1;
            if s.good >= s.growth_interval {
                (s.scale, s.good) = (s.scale * 2.0, 0);
            }
        }
        let AdamConfig { lr, beta1, beta2, eps, weight_decay } = self.config;
        self.step += 1;
        let t = self.step as i32;
        let bias1 = 1.0 - beta1.powi(t);
        let bias2_sqrt = (1.0 - beta2.powi(t)).sqrt();
        // θ −= lr/b1 · m / (√v/√b2 + ε), computed as θ += m / d with
        // d = (√v + ε·√b2) · (−b1 / (lr·√b2)): four kernels, one temporary (tch's addcdiv_ and
        // addcmul_ take no scalar factor, so the factor goes into d).
        let d_scale = -bias1 / (lr * bias2_sqrt);
        if let Some(kernel) = &self.fused {
            let (mut p, mut g, mut m, mut v) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
            for (((pi, mi), vi), gi) in self.params.iter().zip(&self.m).zip(&self.v).zip(grads) {
                if gi.defined() {
                    p.push(pi.shallow_clone());
                    g.push(gi.shallow_clone());
                    m.push(mi.shallow_clone());
                    v.push(vi.shallow_clone());
                }
            }
            // Its inputs are this optimiser's own tensors, checked when it was installed: a
            // failure is a bug in gantry, not bad input.
            kernel
                .step(&self.config, self.step, &p, &g, &m, &v)
                .unwrap_or_else(|e| panic!("the fused Adam kernel failed: {e}"));
            return;
        }
        tch::no_grad(|| {
            for (((p, m), v), g) in self.params.iter_mut().zip(&mut self.m).zip(&mut self.v).zip(grads) {
                if !g.defined() {
                    continue;
                }
                let g = if weight_decay != 0.0 { g + &*p * weight_decay } else { g.shallow_clone() };
                let _ = m.lerp_(&g, 1.0 - beta1); // β1·m + (1 − β1)·g
                let _ = v.lerp_(&g.square(), 1.0 - beta2); // β2·v + (1 − β2)·g²
                let mut d = v.sqrt();
                let _ = d.g_add_scalar_(eps * bias2_sqrt);
                let _ = d.g_mul_scalar_(d_scale);
                let _ = p.addcdiv_(m, &d);
            }
        });
    }

    /// Takes `other`'s moments and step count (for an optimiser over a copy of `other`'s
    /// network, as unrolled GANs use). The two must hold the same parameter names and shapes.
    pub fn copy_state_from(&mut self, other: &Adam) {
        assert_eq!(self.names, other.names, "Adam::copy_state_from: different parameters");
        self.step = other.step;
        tch::no_grad(|| {
            for (dst, src) in self.m.iter_mut().zip(&other.m).chain(self.v.iter_mut().zip(&other.v)) {
                dst.copy_(src);
            }
        });
    }

    /// Sends its updates through `kernel` (a multi-tensor step) instead of the per-tensor
    /// arithmetic of [`Self::apply`], or back with `None`. The state is the same either way, so
    /// checkpoints and resumes do not depend on it; the rounding does. The kernel walks a
    /// parameter and its moments in memory order: a network laid out anew takes its optimiser's
    /// moments with it ([`Self::set_memory_format`]).
    pub fn set_fused(&mut self, kernel: Option<std::sync::Arc<dyn FusedAdam>>) {
        self.fused = kernel;
    }

    /// Turns dynamic loss scaling on (float16 mixed precision) or off. Its scale and count are part
    /// of the state ([`Self::save_state`] writes them while it is on).
    pub fn set_loss_scaler(&mut self, scaler: Option<LossScaler>) {
        self.scaler = scaler;
    }

    /// The loss scaler, when on.
    pub fn loss_scaler(&self) -> Option<&LossScaler> {
        self.scaler.as_ref()
    }

    /// Updates skipped for non-finite gradients since the last call (0 without loss scaling).
    pub fn take_skipped(&mut self) -> u64 {
        self.scaler.as_mut().map_or(0, |s| std::mem::take(&mut s.skipped))
    }

    /// Lays the moments out in `format` (as [`crate::layout::to_store`] does the parameters), so
    /// each update reads and writes one layout. Values are unchanged.
    pub fn set_memory_format(&mut self, format: crate::layout::MemoryFormat) {
        for t in self.m.iter_mut().chain(self.v.iter_mut()) {
            *t = format.apply(t);
        }
    }

    /// Its parameters' names, in [`Self::params`] order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The moments `m`, `v` (one per parameter, in [`Self::params`] order) and the step count.
    pub fn moments(&self) -> (&[Tensor], &[Tensor], i64) {
        (&self.m, &self.v, self.step)
    }

    /// The full state as `<prefix>.m.<var>`, `<prefix>.v.<var>` and `<prefix>.step`, and with loss
    /// scaling `<prefix>.loss_scale` (float64) and `<prefix>.loss_scale_good`.
    pub fn save_state(&self, prefix: &str, ck: &mut Checkpoint) {
        for ((name, m), v) in self.names.iter().zip(&self.m).zip(&self.v) {
            ck.insert(format!("{prefix}.m.{name}"), m);
            ck.insert(format!("{prefix}.v.{name}"), v);
        }
        ck.insert_i64(format!("{prefix}.step"), self.step);
        if let Some(s) = &self.scaler {
            ck.insert(format!("{prefix}.loss_scale"), &Tensor::from(s.scale));
            ck.insert_i64(format!("{prefix}.loss_scale_good"), s.good);
        }
    }

    /// Restores the state written by [`Self::save_state`].
    pub fn load_state(&mut self, prefix: &str, ck: &Checkpoint) -> Result<()> {
        self.step = ck.get_i64(&format!("{prefix}.step"))?;
        for ((name, m), v) in self.names.iter().zip(&mut self.m).zip(&mut self.v) {
            for (slot, dst) in [("m", &mut *m), ("v", &mut *v)] {
                let key = format!("{prefix}.{slot}.{name}");
                let src = ck.get(&key)?;
                if src.size() != dst.size() {
                    return Err(CoreError::ShapeMismatch {
                        path: ck.source.clone(),
                        name: key,
                        expected: dst.size(),
                        found: src.size(),
                    });
                }
                tch::no_grad(|| dst.copy_(src));
            }
        }
        if self.step < 0 {
            return Err(CoreError::OptimizerState(format!("{prefix}.step is negative ({})", self.step)));
        }
        // A checkpoint written without loss scaling (another precision) starts the scaler afresh.
        if let Some(s) = &mut self.scaler {
            let key = format!("{prefix}.loss_scale");
            if ck.tensors.contains_key(&key) {
                s.scale = ck.get(&key)?.double_value(&[]);
                s.good = ck.get_i64(&format!("{prefix}.loss_scale_good"))?;
                if !(s.scale.is_finite() && s.scale > 0.0) {
                    return Err(CoreError::OptimizerState(format!(
                        "{key} is not a positive number ({})",
                        s.scale
                    )));
                }
            }
        }
        Ok(())
    }

    /// A copy of the state (m, v on their device, and the step count) that [`Self::restore`]
    /// puts back: undoing an update (a step skipped for a non-finite loss).
    pub fn snapshot(&self) -> AdamSnapshot {
        let copy = |ts: &[Tensor]| ts.iter().map(Tensor::copy).collect();
        AdamSnapshot { m: copy(&self.m), v: copy(&self.v), step: self.step, scaler: self.scaler }
    }

    /// Puts back the state of [`Self::snapshot`] (the parameters are their store's business).
    pub fn restore(&mut self, snap: &AdamSnapshot) {
        tch::no_grad(|| {
            for (dst, src) in self.m.iter_mut().zip(&snap.m).chain(self.v.iter_mut().zip(&snap.v)) {
                dst.copy_(src);
            }
        });
        self.step = snap.step;
        self.scaler = snap.scaler;
    }
}

/// One Adam update as a differentiable function: the parameters `params` after a step with
/// `grads` from moments `m`, `v` at step count `step` (this one is `step + 1`), and the new
/// moments — the same arithmetic as [`Adam::apply`] (equal values, tested), out of place, so the
/// result stays in the autograd graph of `params` and `grads`. What the second-order unrolled
/// GAN differentiates through (Metz et al. 2017). `v` is clamped at the smallest normal float
/// before its square root, so a zero moment has a finite derivative (the value is unchanged
/// beside ε).
pub fn adam_step(
    config: &AdamConfig,
    params: &[Tensor],
    grads: &[Tensor],
    m: &[Tensor],
    v: &[Tensor],
    step: i64,
) -> (Vec<Tensor>, Vec<Tensor>, Vec<Tensor>) {
    let AdamConfig { lr, beta1, beta2, eps, weight_decay } = *config;
    let t = (step + 1) as i32;
    let bias1 = 1.0 - beta1.powi(t);
    let bias2_sqrt = (1.0 - beta2.powi(t)).sqrt();
    let d_scale = -bias1 / (lr * bias2_sqrt);
    let mut out = (Vec::new(), Vec::new(), Vec::new());
    for (((p, g), m), v) in params.iter().zip(grads).zip(m).zip(v) {
        let g = if weight_decay != 0.0 { g + p * weight_decay } else { g.shallow_clone() };
        let m = m.lerp(&g, 1.0 - beta1);
        let v = v.lerp(&g.square(), 1.0 - beta2);
        let d = (v.clamp_min(f32::MIN_POSITIVE as f64).sqrt() + eps * bias2_sqrt) * d_scale;
        out.0.push(p + &m / d);
        out.1.push(m);
        out.2.push(v);
    }
    out
}

/// Adam's state at one moment ([`Adam::snapshot`]).
#[derive(Debug)]
pub struct AdamSnapshot {
    m: Vec<Tensor>,
    v: Vec<Tensor>,
    step: i64,
    scaler: Option<LossScaler>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{nn, Kind};

    #[test]
    fn loss_scaling_skips_overflowing_updates_and_grows_after_good_ones() {
        let vs = nn::VarStore::new(tch::Device::Cpu);
        let p = vs.root().ones("p", &[2]);
        let mut opt = Adam::new(&vs, AdamConfig { lr: 0.1, ..Default::default() });
        let plain = Adam::new(&vs, AdamConfig { lr: 0.1, ..Default::default() });
        opt.set_loss_scaler(Some(LossScaler { growth_interval: 2, ..Default::default() }));
        // The gradients are of the loss itself, whatever the scale: a quarter of float16's range
        // would overflow it, not the float32 arithmetic here.
        let loss = (&p * Tensor::from_slice(&[3.0f32, -0.5])).sum(Kind::Float);
        let (scaled, unscaled) = (opt.gradients(&loss, true), plain.gradients(&loss, false));
        assert!(scaled[0].allclose(&unscaled[0], 0.0, 0.0, false), "{:?}", scaled[0]);
        // An infinite gradient: no update, the scale halves, the skip is counted once.
        let before = p.copy();
        opt.apply(&[Tensor::from_slice(&[f32::INFINITY, 1.0])]);
        assert!(p.equal(&before) && opt.steps() == 0);
        assert_eq!(
            (opt.loss_scaler().unwrap().scale, opt.take_skipped(), opt.take_skipped()),
            (32768.0, 1, 0)
        );
        // Two finite updates double it.
        opt.apply(&scaled);
        opt.apply(&scaled);
        assert_eq!(
            (opt.loss_scaler().unwrap().scale, opt.loss_scaler().unwrap().good, opt.steps()),
            (65536.0, 0, 2)
        );
        // Saved and loaded with the rest of the state; a checkpoint without it leaves it as is.
        opt.apply(&scaled);
        let mut ck = Checkpoint::new();
        opt.save_state("o", &mut ck);
        let mut other = Adam::new(&vs, AdamConfig::default());
        other.set_loss_scaler(Some(LossScaler::default()));
        other.load_state("o", &ck).unwrap();
        assert_eq!(other.loss_scaler().map(|s| (s.scale, s.good)), Some((65536.0, 1)));
        let mut without = Checkpoint::new();
        plain.save_state("o", &mut without);
        assert!(!without.tensors.contains_key("o.loss_scale"));
        other.load_state("o", &without).unwrap();
        assert_eq!(other.loss_scaler().map(|s| s.scale), Some(65536.0));
    }

    /// Overwrites every variable with fixed values: tests in one process share libtorch's global
    /// generator, so seeded initialisation is not reproducible across concurrently running tests.
    fn fill_fixed(vs: &VarStore) {
        let mut vars: Vec<_> = vs.variables().into_iter().collect();
        vars.sort_by(|a, b| a.0.cmp(&b.0));
        tch::no_grad(|| {
            for (i, (_, mut t)) in vars.into_iter().enumerate() {
                let n = t.numel() as i64;
                let v = (Tensor::arange(n, tch::kind::FLOAT_CPU) * 0.7 + i as f64).sin() * 0.5;
                t.copy_(&v.reshape(t.size()));
            }
        });
    }

    /// The differentiable step takes Adam's steps bit for bit (with weight decay, over several
    /// steps), and its result differentiates back to the gradients it was given.
    #[test]
    fn the_differentiable_step_is_adams_step() {
        let vs = VarStore::new(tch::Device::Cpu);
        let w = vs.root().zeros("w", &[3, 2]);
        fill_fixed(&vs);
        let config = AdamConfig { lr: 0.05, beta1: 0.5, beta2: 0.9, eps: 1e-8, weight_decay: 0.01 };
        let mut adam = Adam::new(&vs, config);
        let target = Tensor::from_slice(&[1.0f32, -2.0, 0.5, 3.0, 0.0, 1.5]).view([3, 2]);
        let (mut p, mut m, mut v) = (vec![w.detach().copy()], vec![w.zeros_like()], vec![w.zeros_like()]);
        for step in 0..4 {
            let loss = (&w - &target).square().sum(Kind::Float);
            adam.backward_step(&loss);
            let g = vec![(&p[0] - &target) * 2.0];
            (p, m, v) = adam_step(&config, &p, &g, &m, &v, step);
            assert!(p[0].equal(&w), "step {step}: {p:?} vs {w:?}");
        }
        // d(θ')/d(g) flows: a step of zero gradient moves nothing, and the derivative is not zero.
        let g = Tensor::ones([3, 2], tch::kind::FLOAT_CPU).set_requires_grad(true);
        let (p2, _, _) = adam_step(&config, &[w.detach()], &[g.shallow_clone()], &m, &v, 4);
        let dg = Tensor::run_backward(&[p2[0].sum(Kind::Float)], &[&g], false, false).remove(0);
        assert!(dg.abs().min().double_value(&[]) > 0.0 && dg.isfinite().all().int64_value(&[]) == 1);
    }

    /// The derivative through the step (what the second-order unrolled GAN takes) equals the
    /// central difference of the step as a function, in float64.
    #[test]
    fn the_differentiable_step_differentiates_correctly() {
        let config = AdamConfig { lr: 0.05, beta1: 0.5, beta2: 0.9, eps: 1e-8, weight_decay: 0.01 };
        let f64s = |v: &[f64]| Tensor::from_slice(v);
        let (m, v) = (vec![f64s(&[0.1, -0.3]), f64s(&[0.2])], vec![f64s(&[0.01, 0.04]), f64s(&[0.02])]);
        let out = |x: &Tensor| -> Tensor {
            let params = vec![Tensor::cat(&[x * 2.0, x.square()], 0), x.sin() * 3.0];
            let grads = vec![Tensor::cat(&[x.sin(), x.pow_tensor_scalar(3)], 0), x.cos() - 0.5];
            let (p, m2, v2) = adam_step(&config, &params, &grads, &m, &v, 2);
            p[0].sum(Kind::Double)
                + p[1].sum(Kind::Double) * 0.7
                + m2[0].sum(Kind::Double)
                + v2[1].sum(Kind::Double)
        };
        let x = f64s(&[0.8]).set_requires_grad(true);
        let d = Tensor::run_backward(&[out(&x)], &[&x], false, false).remove(0).double_value(&[0]);
        let h = 1e-6;
        let fd =
            (out(&f64s(&[0.8 + h])).double_value(&[]) - out(&f64s(&[0.8 - h])).double_value(&[])) / (2.0 * h);
        assert!((d - fd).abs() < 1e-7 * fd.abs().max(1.0), "autograd {d} vs central difference {fd}");
    }

    /// Reference values from torch.optim.Adam(lr=0.1, betas=(0.9, 0.999)) minimising (w - 3)^2
    /// from w = 0, three steps (computed by hand from the update rule: the first steps of Adam move
    /// each coordinate by ≈ lr because m/√v ≈ ±1).
    #[test]
    fn matches_the_update_rule() {
        let vs = VarStore::new(tch::Device::Cpu);
        let w = vs.root().zeros("w", &[1]);
        let mut opt = Adam::new(&vs, AdamConfig { lr: 0.1, ..Default::default() });
        let (mut m, mut v, mut x) = (0.0f64, 0.0f64, 0.0f64);
        for t in 1..=3 {
            opt.zero_grad();
            let loss = (&w - 3.0).square().sum(Kind::Float);
            loss.backward();
            opt.step();
            let g = 2.0 * (x - 3.0);
            m = 0.9 * m + 0.1 * g;
            v = 0.999 * v + 0.001 * g * g;
            let mhat = m / (1.0 - 0.9f64.powi(t));
            let denom = (v / (1.0 - 0.999f64.powi(t))).sqrt() + 1e-8;
            x -= 0.1 * mhat / denom;
            assert!((w.double_value(&[0]) - x).abs() < 1e-6, "step {t}: {} vs {x}", w.double_value(&[0]));
        }
        assert!((x - 0.3).abs() < 1e-3);
    }

    #[test]
    fn a_restored_snapshot_continues_as_if_the_steps_between_never_happened() {
        let vs = VarStore::new(tch::Device::Cpu);
        let w = vs.root().zeros("w", &[2]);
        let mut opt = Adam::new(&vs, AdamConfig { lr: 0.1, ..Default::default() });
        let step = |opt: &mut Adam, target: f64| {
            let loss = (&w - target).square().sum(Kind::Float);
            opt.backward_step(&loss);
        };
        step(&mut opt, 3.0);
        let (w1, snap) = (w.copy(), opt.snapshot());
        step(&mut opt, 3.0); // the path taken from here
        let (w2, steps2) = (w.copy(), opt.steps());
        step(&mut opt, -50.0); // a step to undo
        tch::no_grad(|| w.shallow_clone().copy_(&w1));
        opt.restore(&snap);
        assert_eq!(opt.steps(), 1);
        step(&mut opt, 3.0);
        assert!(w.equal(&w2) && opt.steps() == steps2, "{w:?} vs {w2:?}");
    }

    #[test]
    fn backward_step_equals_backward_then_step() {
        let _generator = crate::generator_lock();
        let run = |explicit: bool| {
            let vs = VarStore::new(tch::Device::Cpu);
            let a = nn::linear(vs.root() / "a", 3, 3, Default::default());
            let other = VarStore::new(tch::Device::Cpu);
            let b = nn::linear(other.root() / "b", 3, 1, Default::default());
            fill_fixed(&vs);
            fill_fixed(&other);
            let mut opt = Adam::new(&vs, AdamConfig::dcgan());
            let x = Tensor::from_slice(&[1.0f32, -2.0, 0.5]).reshape([1, 3]);
            for _ in 0..3 {
                let loss = nn::Module::forward(&b, &nn::Module::forward(&a, &x)).square().sum(Kind::Float);
                if explicit {
                    opt.backward_step(&loss);
                } else {
                    opt.zero_grad();
                    loss.backward();
                    opt.step();
                }
            }
            // backward_step leaves every .grad alone, including the other network's.
            let b_grad = other.variables()["b.weight"].grad();
            (vs.variables()["a.weight"].copy(), b_grad.defined())
        };
        let (w1, touched1) = run(true);
        let (w2, touched2) = run(false);
        assert!(w1.allclose(&w2, 1e-6, 1e-7, false));
        assert!(!touched1 && touched2);
    }

    #[test]
    fn state_round_trips_and_resumes_identically() {
        let _generator = crate::generator_lock();
        let make = || {
            let vs = VarStore::new(tch::Device::Cpu);
            let lin = nn::linear(vs.root() / "fc", 4, 2, Default::default());
            fill_fixed(&vs);
            (vs, lin)
        };
        let x = Tensor::from_slice(&[0.5f32, -1.0, 2.0, 0.25]).reshape([1, 4]);
        let train = |lin: &nn::Linear, opt: &mut Adam, n: usize| {
            for _ in 0..n {
                opt.zero_grad();
                nn::Module::forward(lin, &x).square().sum(Kind::Float).backward();
                opt.step();
            }
        };
        let (vs_a, lin_a) = make();
        let mut opt_a = Adam::new(&vs_a, AdamConfig::dcgan());
        train(&lin_a, &mut opt_a, 5);

        let (vs_b, lin_b) = make();
        let mut opt_b = Adam::new(&vs_b, AdamConfig::dcgan());
        train(&lin_b, &mut opt_b, 2);
        let mut ck = Checkpoint::new();
        ck.insert_varstore("p", &vs_b);
        opt_b.save_state("opt", &mut ck);
        let ck = Checkpoint::from_bytes(&ck.to_bytes().unwrap(), std::path::Path::new("mem")).unwrap();

        let (vs_c, lin_c) = make();
        ck.load_varstore("p", &vs_c).unwrap();
        let mut opt_c = Adam::new(&vs_c, AdamConfig::dcgan());
        opt_c.load_state("opt", &ck).unwrap();
        assert_eq!(opt_c.steps(), 2);
        train(&lin_c, &mut opt_c, 3);
        for (name, t) in vs_a.variables() {
            assert!(t.equal(&vs_c.variables()[&name]), "{name} differs after resume");
        }
    }
}
