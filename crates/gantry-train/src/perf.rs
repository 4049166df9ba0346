//! `[perf]` applied to a family's networks: the memory format ([`gantry_core::layout`]), the
//! multi-tensor Adam kernel (libtorch's `_fused_adam_`) and mixed precision (libtorch's autocast
//! switch, [`gantry_core::amp`]) — the last two through gantry-dist's C++ shim, which this crate
//! has with its `dist` feature.

use std::sync::Arc;

use gantry_core::optim::{AdamConfig, FusedAdam};
use tch::Tensor;

use crate::config::RunConfig;
use crate::error::{bail, Result};
use crate::family::Networks;

/// Lays out `nets` and chooses their optimisers' kernel as `cfg.perf` says (`auto` resolved for
/// its family). Values are unchanged; what differs afterwards is rounding.
pub fn apply(cfg: &RunConfig, nets: &mut Networks) -> Result<()> {
    nets.set_memory_format(cfg.memory_format());
    nets.set_fused_adam(if cfg.perf.fused_adam { Some(fused_adam()?) } else { None });
    let fp16 = cfg.perf.precision == crate::config::Precision::Fp16;
    let scaler = gantry_core::optim::LossScaler { scale: cfg.perf.loss_scale, ..Default::default() };
    nets.set_loss_scaler(fp16.then_some(scaler));
    Ok(())
}

/// Mixed precision for this thread's training as `cfg.perf.precision` says, on `device`, until
/// the guard is dropped (None for fp32); an error naming `perf.precision` where gantry-train was
/// built without its `dist` feature (no C++ shim).
pub fn mixed_precision(cfg: &RunConfig, device: tch::Device) -> Result<Option<gantry_core::amp::Installed>> {
    let Some(kind) = cfg.perf.precision.kind() else { return Ok(None) };
    Ok(Some(gantry_core::amp::install(autocast_switch()?, device, kind)))
}

/// libtorch's autocast switch; an error naming `perf.precision` where gantry-train was built
/// without its `dist` feature (no C++ shim).
pub fn autocast_switch() -> Result<Arc<dyn gantry_core::amp::Autocast>> {
    if !cfg!(feature = "dist") {
        bail!("invalid perf.precision: autocast comes through gantry-dist's C++ shim, and this gantry was built without its dist feature (use \"fp32\")");
    }
    Ok(Arc::new(Switch))
}

/// libtorch's autocast switch ([`gantry_dist::set_autocast`]).
#[derive(Debug)]
struct Switch;

impl gantry_core::amp::Autocast for Switch {
    #[cfg(feature = "dist")]
    fn set(
        &self,
        device: tch::Device,
        kind: Option<tch::Kind>,
    ) -> std::result::Result<Option<tch::Kind>, String> {
        gantry_dist::set_autocast(device, kind).map_err(|e| e.to_string())
    }

    #[cfg(not(feature = "dist"))]
    fn set(&self, _: tch::Device, _: Option<tch::Kind>) -> std::result::Result<Option<tch::Kind>, String> {
        Err("built without the dist feature".into())
    }
}

/// The multi-tensor Adam kernel; an error naming `perf.fused_adam` where gantry-train was built
/// without its `dist` feature (no C++ shim).
pub fn fused_adam() -> Result<Arc<dyn FusedAdam>> {
    if cfg!(feature = "dist") {
        Ok(Arc::new(Fused))
    } else {
        bail!("invalid perf.fused_adam = true: libtorch's fused Adam kernel comes through gantry-dist's C++ shim, and this gantry was built without its dist feature")
    }
}

/// libtorch's `_fused_adam_` ([`gantry_dist::fused_adam`]).
#[derive(Debug)]
struct Fused;

impl FusedAdam for Fused {
    #[cfg(feature = "dist")]
    fn step(
        &self,
        c: &AdamConfig,
        step: i64,
        params: &[Tensor],
        grads: &[Tensor],
        m: &[Tensor],
        v: &[Tensor],
    ) -> std::result::Result<(), String> {
        gantry_dist::fused_adam(params, grads, m, v, step, c.lr, (c.beta1, c.beta2), c.weight_decay, c.eps)
            .map_err(|e| e.to_string())
    }

    #[cfg(not(feature = "dist"))]
    fn step(
        &self,
        _: &AdamConfig,
        _: i64,
        _: &[Tensor],
        _: &[Tensor],
        _: &[Tensor],
        _: &[Tensor],
    ) -> std::result::Result<(), String> {
        Err("built without the dist feature".into())
    }
}

#[cfg(all(test, feature = "dist"))]
mod tests {
    use super::*;
    use gantry_core::layout::MemoryFormat;
    use gantry_core::optim::Adam;
    use tch::nn::{self, VarStore};
    use tch::{Device, Kind};

    /// A store with a convolution (4-D weight) and a linear layer, filled with fixed values.
    fn store() -> VarStore {
        let vs = VarStore::new(Device::Cpu);
        let _ = nn::conv2d(vs.root() / "c", 3, 8, 3, Default::default());
        let _ = nn::linear(vs.root() / "l", 5, 4, Default::default());
        let mut vars: Vec<_> = vs.variables().into_iter().collect();
        vars.sort_by(|a, b| a.0.cmp(&b.0));
        tch::no_grad(|| {
            for (i, (_, mut t)) in vars.into_iter().enumerate() {
                let n = t.numel() as i64;
                let v = (Tensor::arange(n, (Kind::Float, Device::Cpu)) * 0.37 + i as f64).sin() * 0.3;
                t.copy_(&v.view(t.size().as_slice()));
            }
        });
        vs
    }

    /// The gradients of step `k`: fixed values of every scale, NCHW whatever the parameter's
    /// layout (as a backward pass may return them).
    fn grads(adam: &Adam, k: i64) -> Vec<Tensor> {
        adam.params()
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let n = p.numel() as i64;
                let g = (Tensor::arange(n, (Kind::Float, Device::Cpu)) * (0.71 + k as f64) + i as f64).cos();
                g.view(p.size().as_slice()) * 10f64.powi((k % 3 - 1) as i32)
            })
            .collect()
    }

    #[test]
    fn the_fused_kernel_takes_adams_steps_in_either_layout() {
        let config = AdamConfig { lr: 1e-2, beta1: 0.5, beta2: 0.99, eps: 1e-8, weight_decay: 0.01 };
        for format in [MemoryFormat::Nchw, MemoryFormat::Nhwc] {
            let (a, b) = (store(), store());
            let mut plain = Adam::new(&a, config);
            let mut fused = Adam::new(&b, config);
            gantry_core::layout::to_store(&b, format);
            fused.set_memory_format(format);
            fused.set_fused(Some(fused_adam().unwrap()));
            for k in 0..5 {
                plain.apply(&grads(&plain, k));
                fused.apply(&grads(&fused, k));
            }
            assert_eq!(fused.steps(), 5);
            let (pm, pv, _) = plain.moments();
            let (fm, fv, _) = fused.moments();
            for (i, (x, y)) in plain.params().iter().zip(fused.params()).enumerate() {
                // Five steps of lr 1e-2: the two roundings of Adam's arithmetic stay within 1e-6.
                let d = (x - y).abs().max().double_value(&[]);
                assert!(d < 1e-6, "{format:?}: parameter {i} differs by {d}");
                for (what, u, w) in [("m", &pm[i], &fm[i]), ("v", &pv[i], &fv[i])] {
                    let r = ((u - w).norm().double_value(&[])) / u.norm().double_value(&[]);
                    assert!(r < 1e-5, "{format:?}: {what} of parameter {i} differs by {r} relatively");
                }
            }
            // The parameters moved (the kernel ran), and kept their layout.
            let moved = (a.variables()["c.weight"].shallow_clone()
                - store().variables()["c.weight"].shallow_clone())
            .abs()
            .max()
            .double_value(&[]);
            assert!(moved > 1e-3, "{moved}");
            assert_eq!(MemoryFormat::of(&b.variables()["c.weight"]), format);
        }
    }

    #[test]
    fn a_missing_gradient_leaves_its_parameter_as_it_was() {
        let config = AdamConfig { lr: 1e-2, beta1: 0.5, beta2: 0.99, eps: 1e-8, weight_decay: 0.0 };
        let vs = store();
        let mut adam = Adam::new(&vs, config);
        adam.set_fused(Some(fused_adam().unwrap()));
        let before: Vec<Tensor> = adam.params().iter().map(Tensor::copy).collect();
        let mut g = grads(&adam, 0);
        g[0] = Tensor::new();
        adam.apply(&g);
        assert!(adam.params()[0].equal(&before[0]));
        assert!(!adam.params()[1].equal(&before[1]));
    }
}
