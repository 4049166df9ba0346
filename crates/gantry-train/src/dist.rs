//! Data-parallel training over c10d ([`gantry_dist`]): `gantry train --nproc N` on one machine,
//! or one process per rank started by `torchrun` or `srun`.
//!
//! Each rank builds the same run from the same seed; rank 0 broadcasts every network's variables
//! before the first step, so they start identical whatever happened before. Each step every rank
//! trains on its rows of the whole batch (the single-process data order with `ranks ×
//! batch_size` images per batch; [`crate::data::Source::batch`]), draws its rows of every
//! per-sample random value ([`gantry_core::parallel`]), and averages every optimiser update's
//! gradients over ranks (one flat all-reduce per update, parameters in name order), so the
//! weights stay identical and the run takes the steps one process with `ranks × batch_size`
//! would take. The EMA generator follows from identical weights. Only rank 0 writes the run
//! folder; a stop request on any rank stops every rank after the same step; a rank that dies
//! makes the others' next collective fail, and they stop with one line, leaving the last
//! checkpoint as it was.
//!
//! The process group is gantry-dist's, a C++ shim over c10d, behind gantry-train's `dist` feature
//! (on by default). Built without it, gantry-train needs no C++ compiler, and joining a
//! data-parallel run is one line saying so.

use std::cell::RefCell;
use std::ffi::OsString;
use std::process::{Child, Command};
use std::rc::Rc;
use std::time::Duration;

use crate::error::{bail, Context, Result};
use gantry_core::parallel::GradientSync;
#[cfg(feature = "dist")]
use gantry_dist::{ProcessGroup, Rendezvous};
use tch::{Device, Kind, Tensor};
#[cfg(not(feature = "dist"))]
use without_dist::ProcessGroup;

use crate::family::Networks;

/// Where this process sits in a data-parallel run, from the launcher's environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Launch {
    /// This process's rank, 0..`world` (`RANK` or `SLURM_PROCID`).
    pub rank: i64,
    /// The number of processes in the run, at least 2 (`WORLD_SIZE` or `SLURM_NTASKS`).
    pub world: i64,
    /// Rank on this machine (its GPU: `cuda:LOCAL_RANK`).
    pub local_rank: i64,
    /// Rank 0's host name or address, where the TCP store listens (`MASTER_ADDR`).
    pub addr: String,
    /// The TCP store's port on `addr` (`MASTER_PORT`).
    pub port: u16,
}

/// How long a collective (and the rendezvous) may take before the run gives up:
/// `GANTRY_DIST_TIMEOUT` seconds, default 600.
#[cfg(feature = "dist")]
fn timeout() -> Duration {
    let secs = std::env::var("GANTRY_DIST_TIMEOUT").ok().and_then(|s| s.parse::<u64>().ok()).unwrap_or(600);
    Duration::from_secs(secs.max(1))
}

impl Launch {
    /// torchrun's variables (`RANK`, `WORLD_SIZE`, `LOCAL_RANK`, `MASTER_ADDR`, `MASTER_PORT`),
    /// else SLURM's (`SLURM_PROCID`, `SLURM_NTASKS`, `SLURM_LOCALID`, with `MASTER_ADDR` and
    /// `MASTER_PORT` set by the job script); None for a single process (no world size, or 1).
    pub fn from_env() -> Result<Option<Self>> {
        Self::from_vars(|k| std::env::var(k).ok())
    }

    fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Option<Self>> {
        let (rank_var, world_var, local_var) = if var("WORLD_SIZE").is_some() {
            ("RANK", "WORLD_SIZE", "LOCAL_RANK")
        } else if var("SLURM_NTASKS").is_some() && var("SLURM_PROCID").is_some() {
            ("SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID")
        } else {
            return Ok(None);
        };
        let int = |k: &str| -> Result<Option<i64>> {
            var(k)
                .map(|v| {
                    v.trim().parse::<i64>().with_context(|| format!("{k}: expected an integer, found {v:?}"))
                })
                .transpose()
        };
        let world = int(world_var)?.unwrap_or(1);
        if world <= 1 {
            return Ok(None);
        }
        let Some(rank) = int(rank_var)? else { bail!("{world_var} is {world} but {rank_var} is not set") };
        if !(0..world).contains(&rank) {
            bail!("{rank_var} {rank} is outside 0..{world} ({world_var} {world})");
        }
        let local_rank = int(local_var)?.unwrap_or(rank);
        let (Some(addr), Some(port)) = (var("MASTER_ADDR"), var("MASTER_PORT")) else {
            bail!("a data-parallel run ({world_var} {world}) needs MASTER_ADDR and MASTER_PORT (rank 0's address and a free port)");
        };
        let port = port
            .trim()
            .parse::<u16>()
            .with_context(|| format!("MASTER_PORT: expected a port, found {port:?}"))?;
        Ok(Some(Self { rank, world, local_rank, addr, port }))
    }

    /// The device of this rank for `device` (a CUDA device becomes `cuda:LOCAL_RANK`).
    pub fn device(&self, device: Device) -> Device {
        match device {
            Device::Cuda(_) => Device::Cuda(self.local_rank as usize),
            d => d,
        }
    }
}

/// Averages gradients over the group's ranks (see [`GradientSync`]).
struct GroupSync {
    group: ProcessGroup,
    failure: RefCell<Option<String>>,
    /// Seconds spent averaging gradients (with the copies) since last taken.
    comm: std::cell::Cell<f64>,
    /// Where the group's buffers live: the CPU for Gloo, this rank's GPU for NCCL.
    device: Device,
}

impl GroupSync {
    fn fail(&self, e: impl std::fmt::Display) {
        self.failure.borrow_mut().get_or_insert_with(|| e.to_string());
    }
}

impl GradientSync for GroupSync {
    fn average(&self, grads: &mut [Tensor]) {
        if self.failure.borrow().is_some() {
            return;
        }
        let defined: Vec<usize> = (0..grads.len()).filter(|&i| grads[i].defined()).collect();
        if defined.is_empty() {
            return;
        }
        let t0 = std::time::Instant::now();
        let device = grads[defined[0]].device();
        let flat: Vec<Tensor> = defined
            .iter()
            .map(|&i| grads[i].to_device(self.device).to_kind(Kind::Float).reshape([-1]))
            .collect();
        let mut bucket = Tensor::cat(&flat, 0);
        if let Err(e) = self.group.all_reduce_mean(&mut bucket) {
            return self.fail(e);
        }
        let mut offset = 0;
        for &i in &defined {
            let g = &grads[i];
            let n = g.numel() as i64;
            grads[i] =
                bucket.narrow(0, offset, n).view(g.size().as_slice()).to_device(device).to_kind(g.kind());
            offset += n;
        }
        self.comm.set(self.comm.get() + t0.elapsed().as_secs_f64());
    }

    fn failure(&self) -> Option<String> {
        self.failure.borrow().clone()
    }
}

/// Synchronised BatchNorm over the group (`dist.sync_batchnorm`); after a failure, each rank's own
/// statistics (the run is stopping: [`Dist::check`] reports it after the step).
impl gantry_nn::BatchNormSync for GroupSync {
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
        if self.failure.borrow().is_none() {
            match self.group.sync_batch_norm(x, weight, bias, running_mean, running_var, momentum, eps) {
                Ok(y) => return y,
                Err(e) => self.fail(e),
            }
        }
        x.batch_norm(weight, bias, running_mean, running_var, true, momentum, eps, false)
    }
}

/// This process's membership of a data-parallel run; leaving it (drop) returns the thread to a
/// single process.
pub struct Dist {
    sync: Rc<GroupSync>,
    /// The rank, world size and rendezvous address this process joined with.
    pub launch: Launch,
}

impl std::fmt::Debug for Dist {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dist")
            .field("launch", &self.launch)
            .field("device", &self.sync.device)
            .finish_non_exhaustive()
    }
}

impl Dist {
    /// Without the `dist` feature: refused in one line.
    #[cfg(not(feature = "dist"))]
    pub fn join(launch: &Launch, _device: Device) -> Result<Self> {
        bail!(
            "rank {} of {}: this program was built without gantry-train's `dist` feature, so it cannot train data-parallel (build it with the feature, the default)",
            launch.rank,
            launch.world
        )
    }

    /// Joins the run `launch` describes (rank 0 serves the TCP store) and makes this thread that
    /// rank ([`gantry_core::parallel::join`]).
    /// On CUDA with the `nccl` feature the group is NCCL's on this rank's GPU; otherwise Gloo's
    /// (CUDA gradients then pass through the CPU).
    #[cfg(feature = "dist")]
    pub fn join(launch: &Launch, device: Device) -> Result<Self> {
        let at = || format!("rendezvous at {}:{}", launch.addr, launch.port);
        #[cfg(feature = "nccl")]
        if let Device::Cuda(gpu) = device {
            let group =
                ProcessGroup::nccl(&launch.addr, launch.port, launch.rank, launch.world, timeout(), gpu)
                    .with_context(at)?;
            return Ok(Self::with_group(launch, group, device));
        }
        let _ = device;
        let rendezvous = Rendezvous::Tcp { addr: launch.addr.clone(), port: launch.port };
        let loopback = launch.addr == "127.0.0.1" || launch.addr == "localhost";
        let bind =
            std::env::var("GANTRY_DIST_BIND").ok().or_else(|| loopback.then(|| "127.0.0.1".to_string()));
        let group = ProcessGroup::new(&rendezvous, launch.rank, launch.world, timeout(), bind.as_deref())
            .with_context(at)?;
        Ok(Self::with_group(launch, group, Device::Cpu))
    }

    #[cfg(feature = "dist")]
    fn with_group(launch: &Launch, group: ProcessGroup, device: Device) -> Self {
        let comm = std::cell::Cell::new(0.0);
        let sync = Rc::new(GroupSync { group, failure: RefCell::new(None), comm, device });
        gantry_core::parallel::join(launch.rank, launch.world, sync.clone());
        Self { sync, launch: launch.clone() }
    }

    /// This process's rank, 0..[`Dist::world`] (rank 0 writes the run folder).
    pub fn rank(&self) -> i64 {
        self.launch.rank
    }

    /// The number of ranks in the run.
    pub fn world(&self) -> i64 {
        self.launch.world
    }

    /// Whether this rank writes the run folder.
    pub fn writes(&self) -> bool {
        self.launch.rank == 0
    }

    fn lost(&self, e: impl std::fmt::Display) -> crate::error::Error {
        crate::error::err!(
            "rank {} of {}: the data-parallel group failed ({e}); another rank has probably stopped — the last checkpoint is untouched",
            self.rank(),
            self.world()
        )
    }

    /// Copies rank 0's value of every variable of `nets` to every rank (by kind, in name order).
    pub fn broadcast(&self, nets: &Networks) -> Result<()> {
        let vars = nets.all_variables();
        let mut kinds: Vec<Kind> = Vec::new();
        for t in &vars {
            if !kinds.contains(&t.kind()) {
                kinds.push(t.kind());
            }
        }
        for kind in kinds {
            let of_kind: Vec<&Tensor> = vars.iter().filter(|t| t.kind() == kind).collect();
            let flat: Vec<Tensor> =
                of_kind.iter().map(|t| t.to_device(self.sync.device).reshape([-1])).collect();
            let mut bucket = Tensor::cat(&flat, 0);
            self.sync.group.broadcast(&mut bucket, 0).map_err(|e| self.lost(e))?;
            let mut offset = 0;
            tch::no_grad(|| {
                for t in of_kind {
                    let n = t.numel() as i64;
                    t.shallow_clone()
                        .copy_(&bucket.narrow(0, offset, n).view(t.size().as_slice()).to_device(t.device()));
                    offset += n;
                }
            });
        }
        Ok(())
    }

    /// Seconds this rank spent averaging gradients (flattening, all-reduce, copying back) since
    /// the last call.
    pub fn take_comm_seconds(&self) -> f64 {
        self.sync.comm.replace(0.0)
    }

    /// All `n` rows of a tensor whose rows are spread over the ranks as
    /// [`gantry_core::parallel::rows`] spreads them, from this rank's `local` rows; on every rank.
    pub fn gather_rows(&self, local: &Tensor, n: i64) -> Result<Tensor> {
        let world = self.world();
        let most = (0..world).map(|r| gantry_core::parallel::rows_of(r, world, n).1).max().unwrap_or(0);
        let mut shape = local.size();
        let have = shape[0];
        shape[0] = most - have;
        let padded = Tensor::cat(
            &[
                local.to_device(self.sync.device),
                Tensor::zeros(shape.as_slice(), (local.kind(), self.sync.device)),
            ],
            0,
        );
        let parts = self.sync.group.all_gather(&padded).map_err(|e| self.lost(e))?;
        let rows: Vec<Tensor> = parts
            .iter()
            .enumerate()
            .map(|(r, t)| t.narrow(0, 0, gantry_core::parallel::rows_of(r as i64, world, n).1))
            .collect();
        Ok(Tensor::cat(&rows, 0).to_device(local.device()))
    }

    /// Replaces every floating-point buffer of `nets` by its mean over ranks (after each step).
    /// A running mean over the batch (StyleGAN's w̄, BatchNorm's running mean) is linear in the
    /// batch mean, so the mean over ranks of the per-rank updates is the update one process
    /// makes with the whole batch; buffers that are the same on every rank stay bit-identical.
    pub fn average_buffers(&self, nets: &Networks) -> Result<()> {
        let bufs = nets.float_buffers();
        if bufs.is_empty() {
            return Ok(());
        }
        let flat: Vec<Tensor> =
            bufs.iter().map(|t| t.to_device(self.sync.device).to_kind(Kind::Float).reshape([-1])).collect();
        let mut bucket = Tensor::cat(&flat, 0);
        self.sync.group.all_reduce_mean(&mut bucket).map_err(|e| self.lost(e))?;
        let mut offset = 0;
        tch::no_grad(|| {
            for t in &bufs {
                let n = t.numel() as i64;
                let v = bucket
                    .narrow(0, offset, n)
                    .view(t.size().as_slice())
                    .to_device(t.device())
                    .to_kind(t.kind());
                t.shallow_clone().copy_(&v);
                offset += n;
            }
        });
        Ok(())
    }

    /// Whether any rank has `flag` set (every rank gets the same answer).
    pub fn any(&self, flag: bool) -> Result<bool> {
        let mut t = Tensor::from_slice(&[flag as i64 as f32]).to_device(self.sync.device);
        self.sync.group.all_reduce_sum(&mut t).map_err(|e| self.lost(e))?;
        Ok(t.double_value(&[0]) > 0.0)
    }

    /// Makes training-mode BatchNorm on this thread synchronised over the ranks until the guard
    /// is dropped (around each training step when `dist.sync_batchnorm` is set).
    pub fn synchronise_batch_norm(&self) -> gantry_nn::batch_norm::Synchronised {
        gantry_nn::batch_norm::synchronise(self.sync.clone())
    }

    /// Fails with one line when a collective of the last step (a gradient all-reduce, a
    /// synchronised BatchNorm's) failed.
    pub fn check(&self) -> Result<()> {
        match self.sync.group.take_backward_failure() {
            // The same on every rank, and no peer is gone: say it plainly.
            #[cfg(feature = "dist")]
            Some(e @ gantry_dist::DistError::Unsupported { .. }) => {
                bail!("rank {} of {}: {e}", self.rank(), self.world())
            }
            Some(e) => self.sync.fail(e),
            None => {}
        }
        match self.sync.failure() {
            Some(e) => Err(self.lost(e)),
            None => Ok(()),
        }
    }
}

/// Without the `dist` feature: a process group that cannot exist ([`Dist::join`] refuses first),
/// so the code above type-checks unchanged.
#[cfg(not(feature = "dist"))]
mod without_dist {
    use std::convert::Infallible;

    use tch::Tensor;

    pub enum ProcessGroup {}

    type Result<T> = std::result::Result<T, Infallible>;

    impl ProcessGroup {
        pub fn all_reduce_sum(&self, _t: &mut Tensor) -> Result<()> {
            match *self {}
        }
        pub fn all_reduce_mean(&self, _t: &mut Tensor) -> Result<()> {
            match *self {}
        }
        pub fn broadcast(&self, _t: &mut Tensor, _root: i64) -> Result<()> {
            match *self {}
        }
        pub fn all_gather(&self, _t: &Tensor) -> Result<Vec<Tensor>> {
            match *self {}
        }
        #[allow(clippy::too_many_arguments)]
        pub fn sync_batch_norm(
            &self,
            _x: &Tensor,
            _weight: Option<&Tensor>,
            _bias: Option<&Tensor>,
            _running_mean: Option<&Tensor>,
            _running_var: Option<&Tensor>,
            _momentum: f64,
            _eps: f64,
        ) -> Result<Tensor> {
            match *self {}
        }
        pub fn take_backward_failure(&self) -> Option<Infallible> {
            match *self {}
        }
    }
}

impl Drop for Dist {
    fn drop(&mut self) {
        gantry_core::parallel::leave();
    }
}

/// `gantry train --nproc N`: runs this program N times with `args` (its arguments without
/// `--nproc`), as ranks 0..N of a data-parallel run on this machine (a TCP store on 127.0.0.1 at
/// a free port), each with its share of the CPU cores unless the config sets `threads`, and waits.
/// Rank 0's output is the run's; a rank that fails makes the others stop. The exit status is
/// the first failing rank's (0 when all succeed).
pub fn launch_local(nproc: usize, args: &[OsString]) -> Result<i32> {
    if nproc < 2 {
        bail!("--nproc: expected ≥ 2 processes, found {nproc}");
    }
    let exe = std::env::current_exe().context("cannot find this program to start its ranks")?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .context("cannot find a free port on 127.0.0.1 for the rendezvous")?
        .port();
    let mut children: Vec<Child> = Vec::new();
    for rank in 0..nproc {
        let child = Command::new(&exe)
            .args(args)
            .env("RANK", rank.to_string())
            .env("LOCAL_RANK", rank.to_string())
            .env("WORLD_SIZE", nproc.to_string())
            .env("LOCAL_WORLD_SIZE", nproc.to_string())
            .env("MASTER_ADDR", "127.0.0.1")
            .env("MASTER_PORT", port.to_string())
            .spawn()
            .with_context(|| format!("cannot start rank {rank}"))?;
        eprintln!("gantry: rank {rank} of {nproc} is pid {}", child.id());
        children.push(child);
    }
    let mut status: Vec<Option<std::process::ExitStatus>> = vec![None; nproc];
    while status.iter().any(Option::is_none) {
        for (i, c) in children.iter_mut().enumerate() {
            if status[i].is_none() {
                status[i] = c.try_wait().with_context(|| format!("waiting for rank {i}"))?;
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    for (rank, s) in status.iter().enumerate() {
        let s = s.expect("all done");
        if !s.success() {
            use std::os::unix::process::ExitStatusExt;
            let how = match (s.code(), s.signal()) {
                (Some(c), _) => format!("exit status {c}"),
                (None, Some(sig)) => format!("signal {sig}"),
                _ => format!("{s}"),
            };
            eprintln!("gantry: rank {rank} ended with {how}");
            return Ok(s.code().unwrap_or(1));
        }
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: std::collections::HashMap<String, String> =
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k| m.get(k).cloned()
    }

    #[test]
    fn launches_read_torchrun_and_slurm_variables() {
        assert_eq!(Launch::from_vars(vars(&[])).unwrap(), None);
        assert_eq!(Launch::from_vars(vars(&[("WORLD_SIZE", "1"), ("RANK", "0")])).unwrap(), None);
        let torchrun = [
            ("RANK", "5"),
            ("WORLD_SIZE", "16"),
            ("LOCAL_RANK", "1"),
            ("MASTER_ADDR", "node0"),
            ("MASTER_PORT", "29500"),
        ];
        let l = Launch::from_vars(vars(&torchrun)).unwrap().unwrap();
        assert_eq!(l, Launch { rank: 5, world: 16, local_rank: 1, addr: "node0".into(), port: 29500 });
        assert_eq!(l.device(Device::Cuda(0)), Device::Cuda(1));
        assert_eq!(l.device(Device::Cpu), Device::Cpu);
        let slurm = [
            ("SLURM_PROCID", "3"),
            ("SLURM_NTASKS", "4"),
            ("SLURM_LOCALID", "3"),
            ("MASTER_ADDR", "n1"),
            ("MASTER_PORT", "12345"),
        ];
        let l = Launch::from_vars(vars(&slurm)).unwrap().unwrap();
        assert_eq!((l.rank, l.world, l.local_rank, l.port), (3, 4, 3, 12345));
        let e = Launch::from_vars(vars(&slurm[..3])).unwrap_err().to_string();
        assert!(e.contains("MASTER_ADDR and MASTER_PORT"), "{e}");
        let e = Launch::from_vars(vars(&[("WORLD_SIZE", "2"), ("RANK", "2")])).unwrap_err().to_string();
        assert!(e.contains("RANK 2 is outside 0..2"), "{e}");
        let e = Launch::from_vars(vars(&[("WORLD_SIZE", "two")])).unwrap_err().to_string();
        assert!(e.contains("WORLD_SIZE: expected an integer"), "{e}");
    }
}
