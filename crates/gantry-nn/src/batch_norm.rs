//! BatchNorm (Ioffe & Szegedy 2015) whose batch statistics can be taken over every rank of a
//! data-parallel run — PyTorch's `nn.SyncBatchNorm`:
//!
//! ```text
//! y = γ · (x − μ_B) / √(σ²_B + ε) + β      per channel; μ_B, σ²_B over the batch (and H, W)
//! ```
//!
//! In a data-parallel run each rank holds B of the N·B rows of a batch. By default every rank
//! normalises with its own rows' statistics (PyTorch DDP's default, and what a BatchNorm layer
//! here does when nothing is installed); a run with synchronised BatchNorm installs a
//! [`BatchNormSync`] for the duration of its training steps ([`synchronise`]), and every layer
//! built with [`batch_norm1d`]/[`batch_norm2d`] (or calling [`batch_norm`]) then takes μ_B and σ²_B
//! over all N·B rows, with a backward pass to match — the statistics one process with the whole
//! batch computes. Evaluation (running statistics) never synchronises.
//!
//! The layer's variables are tch's (`weight`, `bias`, `running_mean`, `running_var`), so
//! checkpoints do not change.

use std::cell::RefCell;
use std::rc::Rc;

use tch::nn::{self, ModuleT};
use tch::Tensor;

/// BatchNorm in training mode with statistics over every rank's rows (gantry-train's
/// data-parallel runtime implements it over c10d). Implementations record a failure rather than
/// panic, and return a usable (local) result.
pub trait BatchNormSync {
    /// `x` `[N, C, …]` normalised with the statistics of all ranks' `x`, the running statistics
    /// updated from them.
    #[allow(clippy::too_many_arguments)]
    fn batch_norm(
        &self,
        x: &Tensor,
        weight: Option<&Tensor>,
        bias: Option<&Tensor>,
        running_mean: Option<&Tensor>,
        running_var: Option<&Tensor>,
        momentum: f64,
        eps: f64,
    ) -> Tensor;
}

thread_local! {
    static SYNC: RefCell<Option<Rc<dyn BatchNormSync>>> = const { RefCell::new(None) };
}

/// While alive, training-mode BatchNorm on this thread goes through a [`BatchNormSync`]; dropping
/// it restores what was installed before.
#[must_use = "synchronisation ends when the guard is dropped"]
pub struct Synchronised {
    previous: Option<Rc<dyn BatchNormSync>>,
}

impl std::fmt::Debug for Synchronised {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Synchronised")
    }
}

/// Makes training-mode BatchNorm on this thread synchronised through `sync` until the guard is
/// dropped. Every rank must then run the same BatchNorm layers in the same order (a training
/// step does); work that one rank does alone (previews) must happen outside the guard.
pub fn synchronise(sync: Rc<dyn BatchNormSync>) -> Synchronised {
    Synchronised { previous: SYNC.with(|s| s.borrow_mut().replace(sync)) }
}

impl Drop for Synchronised {
    fn drop(&mut self) {
        let previous = self.previous.take();
        SYNC.with(|s| *s.borrow_mut() = previous);
    }
}

/// `Tensor::batch_norm`, synchronised over ranks when `train` and a [`BatchNormSync`] is
/// installed on this thread.
#[allow(clippy::too_many_arguments)]
pub fn batch_norm(
    x: &Tensor,
    weight: Option<&Tensor>,
    bias: Option<&Tensor>,
    running_mean: Option<&Tensor>,
    running_var: Option<&Tensor>,
    train: bool,
    momentum: f64,
    eps: f64,
) -> Tensor {
    if train {
        if let Some(sync) = SYNC.with(|s| s.borrow().clone()) {
            return sync.batch_norm(x, weight, bias, running_mean, running_var, momentum, eps);
        }
    }
    x.batch_norm(weight, bias, running_mean, running_var, train, momentum, eps, false)
}

/// tch's `nn::BatchNorm` (same variables, same checks), synchronised when a [`BatchNormSync`] is
/// installed.
#[derive(Debug)]
pub struct BatchNorm {
    inner: nn::BatchNorm,
    momentum: f64,
    eps: f64,
}

impl BatchNorm {
    /// The running mean of each channel (eval mode's statistics).
    pub fn running_mean(&self) -> &Tensor {
        &self.inner.running_mean
    }

    /// The running variance of each channel.
    pub fn running_var(&self) -> &Tensor {
        &self.inner.running_var
    }
}

/// BatchNorm over `[N, C]` or `[N, C, L]` (tch's `batch_norm1d`).
pub fn batch_norm1d<'a>(
    p: impl std::borrow::Borrow<nn::Path<'a>>,
    c: i64,
    config: nn::BatchNormConfig,
) -> BatchNorm {
    BatchNorm { inner: nn::batch_norm1d(p, c, config), momentum: config.momentum, eps: config.eps }
}

/// BatchNorm over `[N, C, H, W]` (tch's `batch_norm2d`).
pub fn batch_norm2d<'a>(
    p: impl std::borrow::Borrow<nn::Path<'a>>,
    c: i64,
    config: nn::BatchNormConfig,
) -> BatchNorm {
    BatchNorm { inner: nn::batch_norm2d(p, c, config), momentum: config.momentum, eps: config.eps }
}

impl ModuleT for BatchNorm {
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        let synced = train && SYNC.with(|s| s.borrow().is_some());
        if !synced {
            // tch's own (its shape checks, its cuDNN choice): bit-identical to before.
            return self.inner.forward_t(xs, train);
        }
        let expected = match self.inner.nd {
            1 => xs.dim() == 2 || xs.dim() == 3,
            nd => xs.dim() == nd + 2,
        };
        assert!(expected, "BatchNorm{}d: unexpected input shape {:?}", self.inner.nd, xs.size());
        batch_norm(
            xs,
            self.inner.ws.as_ref(),
            self.inner.bs.as_ref(),
            Some(&self.inner.running_mean),
            Some(&self.inner.running_var),
            true,
            self.momentum,
            self.eps,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind};

    /// Records its calls and answers with the plain kernel's result plus 1.
    struct PlusOne(RefCell<usize>);

    impl BatchNormSync for PlusOne {
        fn batch_norm(
            &self,
            x: &Tensor,
            weight: Option<&Tensor>,
            bias: Option<&Tensor>,
            running_mean: Option<&Tensor>,
            running_var: Option<&Tensor>,
            momentum: f64,
            eps: f64,
        ) -> Tensor {
            *self.0.borrow_mut() += 1;
            x.batch_norm(weight, bias, running_mean, running_var, true, momentum, eps, false) + 1.0
        }
    }

    #[test]
    fn training_batch_norm_goes_through_the_installed_sync_and_only_then() {
        let _generator = crate::generator_lock();
        let vs = nn::VarStore::new(Device::Cpu);
        let bn = batch_norm2d(vs.root() / "bn", 3, Default::default());
        let x = Tensor::arange(2 * 3 * 2 * 2, (Kind::Float, Device::Cpu)).view([2, 3, 2, 2]);
        let plain = bn.forward_t(&x, true);
        let sync = Rc::new(PlusOne(RefCell::new(0)));
        {
            let _guard = synchronise(sync.clone());
            let synced = bn.forward_t(&x, true);
            assert!((&synced - &plain - 1.0).abs().max().double_value(&[]) < 1e-6);
            // Evaluation uses the running statistics: never synchronised.
            let _ = bn.forward_t(&x, false);
            let _ =
                batch_norm(&x, None, None, Some(bn.running_mean()), Some(bn.running_var()), false, 0.1, 1e-5);
            assert_eq!(*sync.0.borrow(), 1);
        }
        // The guard is gone: the plain kernel again.
        assert!(bn.forward_t(&x, true).equal(&plain));
        assert_eq!(*sync.0.borrow(), 1);
        assert_eq!(vs.variables().len(), 4, "weight, bias, running_mean, running_var");
    }
}
