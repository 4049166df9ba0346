//! Mixed precision as training code sees it: the training loop runs each phase of a step under
//! autocast ([`autocast`]: convolutions and matrix products in bfloat16 or float16, weights and
//! optimiser state staying float32), and code that needs float32 inside a phase — the gradient
//! penalties, R1, the path-length term, the losses' reductions — runs it under
//! [`full_precision`] or casts with [`fp32`].
//!
//! Like [`crate::parallel`], this is per-thread state the loop sets once ([`install`]). libtorch's
//! autocast switch for the CPU is not reachable through tch, so the switch itself comes through
//! a hook ([`Autocast`]; gantry-train installs gantry-dist's C++ shim for `perf.precision`),
//! keeping this crate free of C++. Without one installed every function here runs its closure
//! as it is: float32 throughout.

use std::cell::RefCell;
use std::sync::Arc;

use tch::{Device, Kind, Tensor};

/// The autocast switch of one device type (libtorch's `at::autocast::set_autocast_enabled` and
/// `set_autocast_dtype`, which tch does not expose).
pub trait Autocast: std::fmt::Debug + Send + Sync {
    /// Autocast on `device`'s type to `kind` (bfloat16 or float16), or off with `None`, for this
    /// thread; returns the state before.
    fn set(&self, device: Device, kind: Option<Kind>) -> std::result::Result<Option<Kind>, String>;
}

#[derive(Debug, Clone)]
struct Amp {
    switch: Arc<dyn Autocast>,
    device: Device,
    kind: Kind,
}

thread_local! {
    static AMP: RefCell<Option<Amp>> = const { RefCell::new(None) };
}

/// From now on, on this thread, [`autocast`] runs its closure with autocast on `device` to `kind`
/// (`Kind::BFloat16` or `Kind::Half`) through `switch`, until the returned guard is dropped.
#[must_use = "mixed precision ends when the guard is dropped"]
pub fn install(switch: Arc<dyn Autocast>, device: Device, kind: Kind) -> Installed {
    AMP.with(|a| *a.borrow_mut() = Some(Amp { switch, device, kind }));
    Installed(())
}

/// Ends [`install`] when dropped.
#[derive(Debug)]
pub struct Installed(());

impl Drop for Installed {
    fn drop(&mut self) {
        AMP.with(|a| a.borrow_mut().take());
    }
}

/// The lower precision installed on this thread (None: float32 throughout).
pub fn precision() -> Option<Kind> {
    AMP.with(|a| a.borrow().as_ref().map(|a| a.kind))
}

/// Runs `f` with the switch on (at the installed precision) or off, then puts it back.
fn with_switch<T>(on: bool, f: impl FnOnce() -> T) -> T {
    let Some(amp) = AMP.with(|a| a.borrow().clone()) else { return f() };
    let set = |k: Option<Kind>| {
        amp.switch
            .set(amp.device, k)
            .unwrap_or_else(|e| panic!("the autocast switch failed (a bug in gantry, not bad input): {e}"))
    };
    let before = set(on.then_some(amp.kind));
    let out = f();
    set(before);
    out
}

/// Runs `f` under autocast to the installed precision (as it is when none is installed): what
/// the loop does with each phase of a step.
pub fn autocast<T>(f: impl FnOnce() -> T) -> T {
    with_switch(true, f)
}

/// Runs `f` with autocast off (then as it was): float32 for what needs it inside a phase, such
/// as a gradient penalty's second derivative. Its inputs may still be in lower precision (a
/// generator's output): cast them with [`fp32`].
pub fn full_precision<T>(f: impl FnOnce() -> T) -> T {
    with_switch(false, f)
}

/// `t` in float32 when it is in a lower floating-point precision (bfloat16, float16), else `t`
/// itself (no copy).
pub fn fp32(t: &Tensor) -> Tensor {
    match t.kind() {
        Kind::BFloat16 | Kind::Half => t.to_kind(Kind::Float),
        _ => t.shallow_clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// A switch that records what it was set to.
    #[derive(Debug, Default)]
    struct Recorder(Mutex<(Option<Kind>, Vec<Option<Kind>>)>);

    impl Autocast for Recorder {
        fn set(&self, _: Device, kind: Option<Kind>) -> std::result::Result<Option<Kind>, String> {
            let mut s = self.0.lock().unwrap();
            s.1.push(kind);
            Ok(std::mem::replace(&mut s.0, kind))
        }
    }

    #[test]
    fn regions_switch_on_and_off_and_restore_what_was_there() {
        // Nothing installed: closures run as they are.
        assert_eq!(autocast(precision), None);
        let rec = Arc::new(Recorder::default());
        let guard = install(rec.clone(), Device::Cpu, Kind::BFloat16);
        let inner = autocast(|| {
            let inside = full_precision(|| rec.0.lock().unwrap().0);
            (rec.0.lock().unwrap().0, inside)
        });
        assert_eq!(inner, (Some(Kind::BFloat16), None));
        let s = rec.0.lock().unwrap().clone();
        assert_eq!(s.0, None, "off again after the region");
        assert_eq!(s.1, vec![Some(Kind::BFloat16), None, Some(Kind::BFloat16), None]);
        drop(guard);
        assert_eq!(precision(), None);
        let b = Tensor::ones([2], (Kind::BFloat16, Device::Cpu));
        assert_eq!(fp32(&b).kind(), Kind::Float);
        let d = Tensor::ones([2], (Kind::Double, Device::Cpu));
        assert_eq!(fp32(&d).kind(), Kind::Double);
    }
}
