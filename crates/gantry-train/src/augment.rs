//! What a discriminator sees of an image under `[augment]`: DiffAugment's policies, or
//! StyleGAN2-ADA's pipe at a fixed or adaptive p — one [`Augment`] per family, used by [`Game`]
//! and by families with critics of their own (CycleGAN).
//!
//! ADA's state — p, and the signs of D's real scores gathered since the last adjustment — lives
//! in a state store `ada` of the family's [`Networks`], so a checkpoint holds it and a resumed
//! run continues with the same p (StyleGAN2-ADA's users' complaint in their issue #81).
//!
//! [`Game`]: crate::recipes::adversarial::Game

use gantry_augment::{Adaptive, AugmentPipe, DiffAugment};
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

use crate::config::AugmentConfig;
use crate::family::{Networks, Scalars};

/// StyleGAN2-ADA's pipe and its p.
#[derive(Debug)]
struct Ada {
    pipe: AugmentPipe,
    /// (target, interval, kimg) when p adapts.
    adaptive: Option<(f64, u64, f64)>,
    /// `[p, Σ sign, count, steps, last r_t]` (float32, as their p; the sums are small integers),
    /// the store's one variable.
    state: Tensor,
}

/// Augmentation of every image a discriminator sees (see the module docs); none by default.
#[derive(Debug, Default)]
pub struct Augment {
    diffaug: DiffAugment,
    ada: Option<Ada>,
}

impl Augment {
    /// The augmentation `cfg` asks for (validated); ADA registers its state store `ada` in
    /// `nets`.
    pub fn new(cfg: &AugmentConfig, nets: &mut Networks, device: Device) -> Self {
        let ada = cfg.ada().then(|| {
            let vs = VarStore::new(device);
            let p0 = cfg.p.unwrap_or(0.0) as f32;
            let state = vs.root().zeros_no_train("state", &[5]);
            let init = Tensor::from_slice(&[p0, 0.0, 0.0, 0.0, f32::NAN]).to_device(device);
            tch::no_grad(|| state.shallow_clone().copy_(&init));
            nets.state("ada", vs);
            Ada {
                pipe: AugmentPipe::from_spec(cfg.pipe),
                adaptive: cfg.ada_target.map(|t| (t, cfg.ada_interval, cfg.ada_kimg)),
                state,
            }
        });
        Augment { diffaug: cfg.diffaug.clone(), ada }
    }

    /// Whether nothing is augmented.
    pub fn is_off(&self) -> bool {
        self.diffaug.is_empty() && self.ada.is_none()
    }

    /// ADA's current p (None without ADA).
    pub fn p(&self) -> Option<f64> {
        self.ada.as_ref().map(|a| a.state.double_value(&[0]))
    }

    /// Images `x` as D sees them: through DiffAugment's policies or ADA's pipe at the current p,
    /// differentiably, with fresh draws per call (reals and fakes are augmented independently);
    /// `x` itself when augmentation is off.
    pub fn apply(&self, x: &Tensor) -> Tensor {
        match &self.ada {
            Some(a) => a.pipe.apply(x, a.state.double_value(&[0])),
            None => self.diffaug.apply(x),
        }
    }

    /// Ends a D step whose critics scored the (augmented) reals `real_outs`: with adaptive p,
    /// gathers sign(D(real)) (summed over data-parallel ranks and micro-batches) and every
    /// `interval` updates moves p. A micro-batch before an update's last reports nothing.
    /// Scalars: `ada_p` (the p of the next step) and, adaptive, `ada_rt` (the last adjustment's
    /// r_t, or the running mean before the first).
    pub fn end_d_step(&self, real_outs: &[&Tensor]) -> Scalars {
        let Some(a) = &self.ada else { return Vec::new() };
        let Some((target, interval, kimg)) = a.adaptive else {
            return vec![("ada_p", a.state.double_value(&[0]))];
        };
        let v: Vec<f64> = Vec::<f32>::try_from(a.state.to_device(Device::Cpu))
            .expect("5 values")
            .into_iter()
            .map(f64::from)
            .collect();
        let mut ctl = Adaptive::new(target, interval, kimg, v[0] as f32);
        (ctl.sign_sum, ctl.sign_count, ctl.steps, ctl.last_rt) = (v[1], v[2], v[3] as u64, v[4]);
        let sum: Tensor = real_outs.iter().map(|o| o.detach().sign().sum(Kind::Float)).sum();
        let count = real_outs.iter().map(|o| o.numel() as f64).sum::<f64>();
        let batch = real_outs[0].size()[0];
        let ranks = gantry_core::parallel::processes();
        let stats = Tensor::stack(&[sum, Tensor::from(count as f32).to_device(a.state.device())], 0);
        let stats = gantry_core::parallel::mean_over_ranks(&[stats]).remove(0);
        let stats = Vec::<f32>::try_from(stats.to_device(Device::Cpu)).expect("2 values");
        ctl.observe(f64::from(stats[0]) * ranks as f64, f64::from(stats[1]) * ranks as f64);
        let running = ctl.sign_sum / ctl.sign_count;
        // Once per update, on its whole batch (ranks × micro-batches); the micro-batches before
        // the last only add their signs.
        let done = gantry_core::parallel::completes_update();
        if done {
            ctl.step((batch * gantry_core::parallel::shard().1) as u64);
        }
        let rt = if ctl.last_rt.is_nan() { running } else { ctl.last_rt };
        let next = [ctl.p, ctl.sign_sum as f32, ctl.sign_count as f32, ctl.steps as f32, ctl.last_rt as f32];
        tch::no_grad(|| {
            a.state.shallow_clone().copy_(&Tensor::from_slice(&next).to_device(a.state.device()))
        });
        if !done {
            return Vec::new();
        }
        vec![("ada_p", f64::from(ctl.p)), ("ada_rt", rt)]
    }
}
