//! gantry-dist: data-parallel training over PyTorch's own distributed engine, c10d.
//!
//! A [`ProcessGroup`] is libtorch's `ProcessGroupGloo` (CPU tensors; what `torchrun` with the
//! `gloo` backend runs) over a `TCPStore` served by rank 0 or a `FileStore`; its collectives —
//! all-reduce (sum, mean), broadcast, all-gather, barrier — block until done or until the group's
//! timeout, and every failure (a peer gone, a timeout, a C++ exception) comes back as a
//! [`DistError`] naming the collective: nothing unwinds across the C++ boundary.
//!
//! Collectives must be issued in the same order with the same shapes on every rank: a different
//! order gives silently wrong values, then a timeout. [`Bucket`] flattens a fixed, sorted list of
//! tensors into one buffer so a whole model's gradients are one call.
//!
//! The C++ side (`shim/c10d_shim.cpp`) is compiled against the libtorch headers that torch-sys
//! links; the torch wheel lacks gloo's headers, so `shim/gloo/` declares the few gloo types that
//! `ProcessGroupGloo.hpp` names, with `static_assert`s on the layouts libtorch 2.11.0 has. The
//! `nccl` feature adds [`ProcessGroup::nccl`] (`shim/c10d_nccl.cpp`), built against a CUDA
//! libtorch and the CUDA runtime and NCCL wheels' headers (`GANTRY_CUDA_INCLUDE`).
//!
//! Being the one crate that calls C++, it also holds the one libtorch kernel gantry needs that
//! tch does not expose: [`fused_adam`] (`shim/optim.cpp`), the multi-tensor Adam step, and
//! [`set_autocast`] (`shim/amp.cpp`), autocast on the CPU and to a chosen dtype.

#![warn(missing_docs, missing_debug_implementations)]

use std::ffi::{CStr, CString};
use std::path::Path;
use std::ptr::NonNull;
use std::time::Duration;

use tch::{Device, Kind, Tensor};

/// A failed collective or group set-up.
#[derive(Debug, thiserror::Error)]
#[allow(missing_docs)] // the fields: what each variant's message names
pub enum DistError {
    /// c10d refused or failed (the first line of its message).
    #[error("{what}: {message}")]
    C10d { what: String, message: String },
    /// A tensor c10d's Gloo group cannot take.
    #[error("{what}: {message}")]
    BadTensor { what: String, message: String },
    /// A use an operation does not support (a second derivative through synchronised BatchNorm):
    /// the same on every rank, not a sign that a peer is gone.
    #[error("{what}: {message}")]
    Unsupported { what: String, message: String },
}

/// Result with [`DistError`].
pub type Result<T> = std::result::Result<T, DistError>;

#[allow(unsafe_code)]
mod ffi {
    use std::os::raw::{c_char, c_int, c_void};

    #[repr(C)]
    pub struct Group {
        _private: [u8; 0],
    }

    extern "C" {
        pub fn gd_new(
            host: *const c_char,
            port: u16,
            file: *const c_char,
            rank: c_int,
            world: c_int,
            timeout_ms: i64,
            device_host: *const c_char,
            err: *mut *mut c_char,
        ) -> *mut Group;
        pub fn gd_free(g: *mut Group);
        pub fn gd_free_message(m: *mut c_char);
        pub fn gd_allreduce_sum(g: *mut Group, t: *mut c_void, err: *mut *mut c_char) -> c_int;
        pub fn gd_broadcast(g: *mut Group, t: *mut c_void, root: c_int, err: *mut *mut c_char) -> c_int;
        pub fn gd_allgather(
            g: *mut Group,
            outputs: *mut *mut c_void,
            n: c_int,
            input: *mut c_void,
            err: *mut *mut c_char,
        ) -> c_int;
        pub fn gd_barrier(g: *mut Group, err: *mut *mut c_char) -> c_int;
        pub fn gd_sync_batch_norm(
            g: *mut Group,
            x: *mut c_void,
            weight: *mut c_void,
            bias: *mut c_void,
            running_mean: *mut c_void,
            running_var: *mut c_void,
            momentum: f64,
            eps: f64,
            out: *mut *mut c_void,
            err: *mut *mut c_char,
        ) -> c_int;
        pub fn gd_take_sync_failure(g: *mut Group, err: *mut *mut c_char) -> c_int;
        pub fn gd_autocast_set(
            cuda: c_int,
            enabled: c_int,
            scalar_type: c_int,
            previous: *mut c_int,
            err: *mut *mut c_char,
        ) -> c_int;
        pub fn gd_fused_adam(
            params: *mut *mut c_void,
            grads: *mut *mut c_void,
            exp_avgs: *mut *mut c_void,
            exp_avg_sqs: *mut *mut c_void,
            n: c_int,
            step: f64,
            lr: f64,
            beta1: f64,
            beta2: f64,
            weight_decay: f64,
            eps: f64,
            err: *mut *mut c_char,
        ) -> c_int;
        #[cfg(feature = "nccl")]
        pub fn gd_new_nccl(
            host: *const c_char,
            port: u16,
            rank: c_int,
            world: c_int,
            timeout_ms: i64,
            device: c_int,
            err: *mut *mut c_char,
        ) -> *mut Group;
    }

    #[cfg(feature = "nccl")]
    pub fn new_nccl(
        host: &super::CString,
        port: u16,
        rank: i32,
        world: i32,
        timeout_ms: i64,
        device: i32,
    ) -> Result<*mut Group, String> {
        let mut err: *mut c_char = std::ptr::null_mut();
        // SAFETY: the string outlives the call; the shim copies it.
        let g = unsafe { gd_new_nccl(host.as_ptr(), port, rank, world, timeout_ms, device, &mut err) };
        if g.is_null() {
            Err(take_message(err))
        } else {
            Ok(g)
        }
    }

    /// Takes a message the shim allocated.
    pub fn take_message(m: *mut c_char) -> String {
        if m.is_null() {
            return "failed without a message".into();
        }
        // SAFETY: the shim returns a NUL-terminated malloc'd string, freed once here.
        let s = unsafe { super::CStr::from_ptr(m) }.to_string_lossy().into_owned();
        // SAFETY: allocated by the shim with malloc, not used after this.
        unsafe { gd_free_message(m) };
        s
    }

    /// Runs a shim call that reports failure through `err`.
    pub fn call(what: &str, f: impl FnOnce(*mut *mut c_char) -> c_int) -> super::Result<()> {
        let mut err: *mut c_char = std::ptr::null_mut();
        if f(&mut err) == 0 {
            return Ok(());
        }
        Err(super::DistError::C10d { what: what.into(), message: take_message(err) })
    }

    pub fn new_group(
        host: &super::CString,
        port: u16,
        file: &super::CString,
        rank: i32,
        world: i32,
        timeout_ms: i64,
        device_host: &super::CString,
    ) -> Result<*mut Group, String> {
        let mut err: *mut c_char = std::ptr::null_mut();
        // SAFETY: the strings outlive the call; the shim copies them.
        let g = unsafe {
            gd_new(
                host.as_ptr(),
                port,
                file.as_ptr(),
                rank,
                world,
                timeout_ms,
                device_host.as_ptr(),
                &mut err,
            )
        };
        if g.is_null() {
            Err(take_message(err))
        } else {
            Ok(g)
        }
    }

    pub fn free(g: *mut Group) {
        // SAFETY: `g` came from gd_new and is freed once (ProcessGroup's Drop).
        unsafe { gd_free(g) }
    }

    pub fn allreduce_sum(g: *mut Group, t: &mut tch::Tensor, err: *mut *mut c_char) -> c_int {
        // SAFETY: `g` is live; tch's C_tensor is an at::Tensor*, valid while `t` is borrowed.
        unsafe { gd_allreduce_sum(g, t.as_mut_ptr() as *mut c_void, err) }
    }

    pub fn broadcast(g: *mut Group, t: &mut tch::Tensor, root: i32, err: *mut *mut c_char) -> c_int {
        // SAFETY: as allreduce_sum.
        unsafe { gd_broadcast(g, t.as_mut_ptr() as *mut c_void, root, err) }
    }

    pub fn allgather(
        g: *mut Group,
        outputs: &mut [tch::Tensor],
        input: &mut tch::Tensor,
        err: *mut *mut c_char,
    ) -> c_int {
        let mut ptrs: Vec<*mut c_void> = outputs.iter_mut().map(|t| t.as_mut_ptr() as *mut c_void).collect();
        // SAFETY: as allreduce_sum; `ptrs` outlives the call.
        unsafe {
            gd_allgather(g, ptrs.as_mut_ptr(), ptrs.len() as c_int, input.as_mut_ptr() as *mut c_void, err)
        }
    }

    /// `at::_fused_adam_` over the four lists (equal lengths), in place.
    #[allow(clippy::too_many_arguments)]
    pub fn fused_adam(
        params: &[tch::Tensor],
        grads: &[tch::Tensor],
        m: &[tch::Tensor],
        v: &[tch::Tensor],
        step: f64,
        [lr, beta1, beta2, weight_decay, eps]: [f64; 5],
        err: *mut *mut c_char,
    ) -> c_int {
        // The shim reads each at::Tensor handle and writes through it into the tensors' storage,
        // as any in-place libtorch operator does; the handles themselves are not changed.
        let ptrs = |ts: &[tch::Tensor]| -> Vec<*mut c_void> {
            ts.iter().map(|t| t.as_ptr() as *mut c_void).collect()
        };
        let (mut p, mut g, mut m, mut v) = (ptrs(params), ptrs(grads), ptrs(m), ptrs(v));
        // SAFETY: four arrays of `n` live at::Tensor* borrowed for the call; the shim keeps no
        // pointer after it returns.
        unsafe {
            gd_fused_adam(
                p.as_mut_ptr(),
                g.as_mut_ptr(),
                m.as_mut_ptr(),
                v.as_mut_ptr(),
                p.len() as c_int,
                step,
                lr,
                beta1,
                beta2,
                weight_decay,
                eps,
                err,
            )
        }
    }

    pub fn autocast_set(cuda: bool, kind: Option<i32>, previous: &mut c_int, err: *mut *mut c_char) -> c_int {
        // SAFETY: plain values in, one int out through a live reference.
        unsafe { gd_autocast_set(cuda as c_int, kind.is_some() as c_int, kind.unwrap_or(0), previous, err) }
    }

    pub fn barrier(g: *mut Group, err: *mut *mut c_char) -> c_int {
        // SAFETY: `g` is live.
        unsafe { gd_barrier(g, err) }
    }

    fn ptr(t: Option<&mut tch::Tensor>) -> *mut c_void {
        t.map_or(std::ptr::null_mut(), |t| t.as_mut_ptr() as *mut c_void)
    }

    /// The shim's synchronised BatchNorm; the output tensor on success.
    #[allow(clippy::too_many_arguments)]
    pub fn sync_batch_norm(
        g: *mut Group,
        x: &mut tch::Tensor,
        weight: Option<&mut tch::Tensor>,
        bias: Option<&mut tch::Tensor>,
        running_mean: Option<&mut tch::Tensor>,
        running_var: Option<&mut tch::Tensor>,
        momentum: f64,
        eps: f64,
    ) -> Result<tch::Tensor, String> {
        let mut err: *mut c_char = std::ptr::null_mut();
        let mut out: *mut c_void = std::ptr::null_mut();
        // SAFETY: `g` is live; every tensor pointer is an at::Tensor* borrowed for the call (the
        // shim copies the handles it keeps); `out` receives a `new at::Tensor`.
        let rc = unsafe {
            gd_sync_batch_norm(
                g,
                x.as_mut_ptr() as *mut c_void,
                ptr(weight),
                ptr(bias),
                ptr(running_mean),
                ptr(running_var),
                momentum,
                eps,
                &mut out,
                &mut err,
            )
        };
        if rc != 0 || out.is_null() {
            return Err(take_message(err));
        }
        // SAFETY: a heap at::Tensor the shim allocated with `new`; tch owns and frees it.
        Ok(unsafe { tch::Tensor::from_ptr(out as *mut torch_sys::C_tensor) })
    }

    /// The failure and whether it was an unsupported use.
    pub fn take_sync_failure(g: *mut Group) -> Option<(String, bool)> {
        let mut err: *mut c_char = std::ptr::null_mut();
        // SAFETY: `g` is live.
        match unsafe { gd_take_sync_failure(g, &mut err) } {
            0 => None,
            code => Some((take_message(err), code == 2)),
        }
    }
}

/// Where the ranks meet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rendezvous {
    /// A TCP store that rank 0 serves at (address, port): `MASTER_ADDR`, `MASTER_PORT`.
    #[allow(missing_docs)] // the store's address and port
    Tcp { addr: String, port: u16 },
    /// A file store on a file system every rank sees (the file must not exist beforehand).
    File(std::path::PathBuf),
}

/// Which c10d backend a group runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// ProcessGroupGloo: CPU tensors, any transport Gloo has (TCP).
    Gloo,
    /// ProcessGroupNCCL: CUDA tensors on this rank's GPU (the `nccl` feature).
    Nccl,
}

/// A c10d process group: this process is rank [`Self::rank`] of [`Self::world`].
pub struct ProcessGroup {
    ptr: NonNull<ffi::Group>,
    rank: i64,
    world: i64,
    backend: Backend,
}

// The group is used from one thread at a time (`&mut self` is not needed: c10d's process groups
// are thread-safe for issuing work); moving it between threads is fine.
#[allow(unsafe_code)]
// SAFETY: ProcessGroupGloo and its store are not tied to the creating thread.
unsafe impl Send for ProcessGroup {}

impl std::fmt::Debug for ProcessGroup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ProcessGroup({:?}, rank {} of {})", self.backend, self.rank, self.world)
    }
}

fn check_rank(what: &str, rank: i64, world: i64) -> Result<()> {
    if world < 1 || !(0..world).contains(&rank) {
        return Err(DistError::C10d {
            what: what.into(),
            message: format!("rank must be in 0..{world}, found {rank}"),
        });
    }
    Ok(())
}

fn cstring(what: &str, s: &str) -> Result<CString> {
    CString::new(s)
        .map_err(|_| DistError::BadTensor { what: what.into(), message: format!("{s:?} holds a NUL byte") })
}

impl ProcessGroup {
    /// Joins (rank 0: serves) the group of `world` ranks meeting at `rendezvous`; every
    /// collective, and the rendezvous itself, gives up after `timeout`. Gloo binds `bind` (an
    /// address of this machine; None: its hostname's, else loopback).
    pub fn new(
        rendezvous: &Rendezvous,
        rank: i64,
        world: i64,
        timeout: Duration,
        bind: Option<&str>,
    ) -> Result<Self> {
        let what = format!("joining the process group (rank {rank} of {world})");
        check_rank(&what, rank, world)?;
        let (host, port, file) = match rendezvous {
            Rendezvous::Tcp { addr, port } => (addr.clone(), *port, String::new()),
            Rendezvous::File(p) => (String::new(), 0, p.display().to_string()),
        };
        let ptr = ffi::new_group(
            &cstring(&what, &host)?,
            port,
            &cstring(&what, &file)?,
            rank as i32,
            world as i32,
            timeout.as_millis().min(i64::MAX as u128) as i64,
            &cstring(&what, bind.unwrap_or(""))?,
        )
        .map_err(|message| DistError::C10d { what, message })?;
        Ok(Self { ptr: NonNull::new(ptr).expect("checked non-null"), rank, world, backend: Backend::Gloo })
    }

    /// A NCCL group over the TCP store rank 0 serves at `addr:port`, this rank on GPU `device`
    /// (`LOCAL_RANK`).
    #[cfg(feature = "nccl")]
    pub fn nccl(
        addr: &str,
        port: u16,
        rank: i64,
        world: i64,
        timeout: Duration,
        device: usize,
    ) -> Result<Self> {
        let what = format!("joining the NCCL group (rank {rank} of {world}, cuda:{device})");
        check_rank(&what, rank, world)?;
        let ptr = ffi::new_nccl(
            &cstring(&what, addr)?,
            port,
            rank as i32,
            world as i32,
            timeout.as_millis().min(i64::MAX as u128) as i64,
            device as i32,
        )
        .map_err(|message| DistError::C10d { what, message })?;
        Ok(Self { ptr: NonNull::new(ptr).expect("checked non-null"), rank, world, backend: Backend::Nccl })
    }

    /// Gloo's or NCCL's.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A group over a file store at `path` (tests, shared file systems).
    pub fn with_file(path: &Path, rank: i64, world: i64, timeout: Duration) -> Result<Self> {
        Self::new(&Rendezvous::File(path.to_path_buf()), rank, world, timeout, Some("127.0.0.1"))
    }

    /// This process's rank, 0..world.
    pub fn rank(&self) -> i64 {
        self.rank
    }

    /// The number of ranks.
    pub fn world(&self) -> i64 {
        self.world
    }

    fn check(&self, what: &str, t: &Tensor) -> Result<()> {
        let bad = |message: String| Err(DistError::BadTensor { what: what.into(), message });
        match (self.backend, t.device()) {
            (Backend::Gloo, Device::Cpu) | (Backend::Nccl, Device::Cuda(_)) => {}
            (Backend::Gloo, d) => {
                return bad(format!("the Gloo group takes CPU tensors, found one on {d:?}"))
            }
            (Backend::Nccl, d) => {
                return bad(format!("the NCCL group takes CUDA tensors, found one on {d:?}"))
            }
        }
        if !t.is_contiguous() {
            return bad("expected a contiguous tensor".into());
        }
        Ok(())
    }

    /// In place: the element-wise sum of `t` over ranks.
    pub fn all_reduce_sum(&self, t: &mut Tensor) -> Result<()> {
        self.check("all-reduce", t)?;
        ffi::call("all-reduce", |err| ffi::allreduce_sum(self.ptr.as_ptr(), t, err))
    }

    /// In place: the element-wise mean of `t` over ranks (the sum, then divided by the world
    /// size, as DDP averages gradients).
    pub fn all_reduce_mean(&self, t: &mut Tensor) -> Result<()> {
        self.all_reduce_sum(t)?;
        if self.world > 1 {
            let _ = t.g_div_scalar_(self.world as f64);
        }
        Ok(())
    }

    /// In place: rank `root`'s values of `t` on every rank.
    pub fn broadcast(&self, t: &mut Tensor, root: i64) -> Result<()> {
        self.check("broadcast", t)?;
        ffi::call("broadcast", |err| ffi::broadcast(self.ptr.as_ptr(), t, root as i32, err))
    }

    /// Every rank's `t`, in rank order.
    pub fn all_gather(&self, t: &Tensor) -> Result<Vec<Tensor>> {
        let mut input = t.contiguous();
        self.check("all-gather", &input)?;
        let mut out: Vec<Tensor> = (0..self.world).map(|_| input.empty_like()).collect();
        ffi::call("all-gather", |err| ffi::allgather(self.ptr.as_ptr(), &mut out, &mut input, err))?;
        Ok(out)
    }

    /// Waits until every rank has reached its barrier.
    pub fn barrier(&self) -> Result<()> {
        ffi::call("barrier", |err| ffi::barrier(self.ptr.as_ptr(), err))
    }

    /// Synchronised BatchNorm in training mode (PyTorch's `nn.SyncBatchNorm`): `x` `[N, C, …]`
    /// normalised with the mean and biased variance per channel of every rank's `x` together,
    /// scaled by `weight` and shifted by `bias` (both or neither), the running statistics moved
    /// by `momentum` towards them (the variance unbiased over all ranks' count). Its backward
    /// all-reduces Σdy and Σdy·(x − μ) per channel, so `x`'s gradient is the one a single process
    /// holding the whole batch computes; `weight`'s and `bias`'s are this rank's rows' share (the
    /// gradient averaging that follows makes them the whole batch's).
    ///
    /// Every rank must call it in the same order with the same channel count. A failure in the
    /// forward is returned; one in the backward pass (a rank gone, or a second derivative, which
    /// the layer does not have) leaves this rank's local gradients and is reported by
    /// [`Self::take_backward_failure`].
    #[allow(clippy::too_many_arguments)]
    pub fn sync_batch_norm(
        &self,
        x: &Tensor,
        weight: Option<&Tensor>,
        bias: Option<&Tensor>,
        running_mean: Option<&Tensor>,
        running_var: Option<&Tensor>,
        momentum: f64,
        eps: f64,
    ) -> Result<Tensor> {
        let what = "synchronised BatchNorm";
        let bad = |message: String| Err(DistError::BadTensor { what: what.into(), message });
        if x.dim() < 2 {
            return bad(format!("expected an input [N, C, …], found shape {:?}", x.size()));
        }
        let c = x.size()[1];
        for (name, t) in
            [("weight", weight), ("bias", bias), ("running mean", running_mean), ("running var", running_var)]
        {
            if let Some(t) = t {
                if t.size() != [c] {
                    return bad(format!("{name}: expected shape [{c}], found {:?}", t.size()));
                }
            }
        }
        if weight.is_some() != bias.is_some() {
            return bad("expected both a weight and a bias, or neither".into());
        }
        let handle = |t: Option<&Tensor>| t.map(Tensor::shallow_clone);
        let (mut w, mut b, mut rm, mut rv) =
            (handle(weight), handle(bias), handle(running_mean), handle(running_var));
        ffi::sync_batch_norm(
            self.ptr.as_ptr(),
            &mut x.shallow_clone(),
            w.as_mut(),
            b.as_mut(),
            rm.as_mut(),
            rv.as_mut(),
            momentum,
            eps,
        )
        .map_err(|message| DistError::C10d { what: what.into(), message })
    }

    /// The first failure of a synchronised BatchNorm's backward pass since the last call.
    pub fn take_backward_failure(&self) -> Option<DistError> {
        let what = "synchronised BatchNorm's backward".to_string();
        ffi::take_sync_failure(self.ptr.as_ptr()).map(|(message, unsupported)| match unsupported {
            true => DistError::Unsupported { what, message },
            false => DistError::C10d { what, message },
        })
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        ffi::free(self.ptr.as_ptr());
    }
}

/// A fixed list of same-kind tensors (a model's gradients, in a sorted order every rank shares)
/// moved through one flat buffer, so that they take one collective.
#[derive(Debug)]
pub struct Bucket {
    flat: Tensor,
    sizes: Vec<i64>,
}

impl Bucket {
    /// Copies `tensors` into one contiguous float buffer.
    pub fn gather(tensors: &[Tensor]) -> Self {
        let sizes: Vec<i64> = tensors.iter().map(|t| t.numel() as i64).collect();
        let flat = if tensors.is_empty() {
            Tensor::zeros([0], (Kind::Float, Device::Cpu))
        } else {
            Tensor::cat(&tensors.iter().map(|t| t.reshape([-1])).collect::<Vec<_>>(), 0)
        };
        Self { flat, sizes }
    }

    /// The flat buffer.
    pub fn flat(&mut self) -> &mut Tensor {
        &mut self.flat
    }

    /// Copies the buffer back into `tensors` (the ones it was gathered from).
    pub fn scatter(&self, tensors: &[Tensor]) {
        let mut offset = 0;
        tch::no_grad(|| {
            for (t, &n) in tensors.iter().zip(&self.sizes) {
                t.shallow_clone().copy_(&self.flat.narrow(0, offset, n).view_as(t));
                offset += n;
            }
        });
    }
}

/// Autocast on `device`'s type (CPU or CUDA) to `kind` (`Kind::BFloat16` or `Kind::Half`), or off
/// with `None`, on this thread from now on: what `torch.autocast(device_type, dtype)` turns on.
/// Returns the state before (its dtype, or `None` when it was off), to restore. Autocast's cache
/// of lower-precision weight copies stays off, so weights updated in place are cast afresh.
pub fn set_autocast(device: Device, kind: Option<Kind>) -> Result<Option<Kind>> {
    let code = match kind {
        None => None,
        Some(Kind::BFloat16) => Some(15),
        Some(Kind::Half) => Some(5),
        Some(other) => {
            return Err(DistError::Unsupported {
                what: "autocast".into(),
                message: format!("expected bfloat16 or float16, found {other:?}"),
            })
        }
    };
    let mut previous = -1;
    ffi::call("autocast", |err| ffi::autocast_set(device.is_cuda(), code, &mut previous, err))?;
    Ok(match previous {
        15 => Some(Kind::BFloat16),
        5 => Some(Kind::Half),
        _ => None,
    })
}

/// libtorch's multi-tensor Adam kernel, `at::_fused_adam_` (what `torch.optim.Adam(fused=True)`
/// runs): one update of every parameter in `params` in place, with `grads` and the moments `m`,
/// `v` (all four lists of equal length, each moment laid out as its parameter), `step` being this
/// update's count (1 for the first). L2 weight decay added to the gradient, as `torch.optim.Adam`.
/// The arithmetic is Adam's; its rounding is the kernel's.
#[allow(clippy::too_many_arguments)]
pub fn fused_adam(
    params: &[Tensor],
    grads: &[Tensor],
    m: &[Tensor],
    v: &[Tensor],
    step: i64,
    lr: f64,
    betas: (f64, f64),
    weight_decay: f64,
    eps: f64,
) -> Result<()> {
    let n = params.len();
    if grads.len() != n || m.len() != n || v.len() != n {
        return Err(DistError::BadTensor {
            what: "fused Adam".into(),
            message: format!(
                "expected {n} gradients and moments, found {}, {} and {}",
                grads.len(),
                m.len(),
                v.len()
            ),
        });
    }
    ffi::call("fused Adam", |err| {
        ffi::fused_adam(params, grads, m, v, step as f64, [lr, betas.0, betas.1, weight_decay, eps], err)
    })
}
