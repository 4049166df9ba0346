//! The training loop: one place that owns the device, the thread count, libtorch's global RNG,
//! the data order, logging, sampling and checkpoints. It runs a [`Family`]'s phases and knows
//! nothing of what the networks are.
//!
//! Reproducibility: before step `s` the global generator is re-seeded from (run seed, "step", s);
//! the k-th fresh batch of the run is batch `k` of the epoch order derived from (run seed, epoch);
//! sample latents come from gantry's own generator; the CPU thread count is stored in every
//! checkpoint. So on the CPU, `--steps k` then `--resume --steps N` ends bit-identical to one run
//! of `--steps N`.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::error::{bail, Context, Result};
use gantry_core::checkpoint::Checkpoint;
use gantry_core::device::{device_name, seed_torch};
use gantry_data::toy::coverage;
use tch::Device;

use crate::config::{OnNonFinite, RunConfig, MAX_CONSECUTIVE_SKIPS};
use crate::data::Source;
use crate::dist::Dist;
use crate::eval::TrainingEval;
use crate::family::BuildContext;
use crate::family::{Batch, Family, Scalars};
use crate::preview::Preview;
use crate::run_dir::{KeepBest, RunDir, RunLock};
use crate::tensorboard::EventWriter;

/// Threads to use: the configured count, or for 0 this process's share of the cores (all of
/// them, or an equal share among the `LOCAL_WORLD_SIZE` ranks of a data-parallel run).
pub fn resolve_threads(n: usize) -> usize {
    if n > 0 {
        return n;
    }
    let local = std::env::var("LOCAL_WORLD_SIZE").ok().and_then(|s| s.parse::<usize>().ok()).unwrap_or(1);
    (std::thread::available_parallelism().map_or(1, |n| n.get()) / local.max(1)).max(1)
}

/// What a run is made of besides its config and folder.
struct Parts {
    data: Source,
    family: Box<dyn Family>,
    preview: Preview,
    eval: Option<TrainingEval>,
    /// `train.accumulate` in force for the session (`gantry_core::parallel::accumulate`).
    _accumulation: gantry_core::parallel::Accumulation,
    /// `perf.precision` in force for the session (`gantry_core::amp::install`).
    _precision: Option<gantry_core::amp::Installed>,
}

/// Everything a running training session holds.
struct Session {
    cfg: RunConfig,
    run: RunDir,
    parts: Parts,
    device: Device,
    threads: usize,
    /// `log.keep_best`'s checkpoint so far: (metric, step, value).
    best: Option<(String, u64, f64)>,
    /// This process's place in a data-parallel run (None: the only process).
    dist: Option<Dist>,
    /// The run folder's writer lock, held by the process that writes (rank 0) for the session.
    _lock: Option<RunLock>,
}

impl Session {
    /// Whether this process writes the run folder (every process but ranks 1.. of a
    /// data-parallel run).
    fn writes(&self) -> bool {
        self.dist.as_ref().is_none_or(Dist::writes)
    }
}

/// Joins the data-parallel run the environment describes (torchrun's or SLURM's variables, as
/// `gantry train --nproc` sets them), if any, training on `device` (a GPU becomes this rank's).
fn join_run(device: Device) -> Result<Option<Dist>> {
    crate::dist::Launch::from_env()?.map(|l| Dist::join(&l, l.device(device))).transpose()
}

/// What a finished run reports.
#[derive(Debug)]
pub struct Summary {
    /// The run folder.
    pub run: PathBuf,
    /// The step the run reached: its target, or where a stop request ended it.
    pub steps: u64,
    /// The last checkpoint written (`checkpoints/step-NNNNNNN.safetensors`).
    pub checkpoint: PathBuf,
    /// The last sample grid written (`samples/step-NNNNNNN.png`).
    pub samples: PathBuf,
    /// The run's `metrics.jsonl`.
    pub metrics: PathBuf,
    /// Wall-clock seconds of this session's training loop (not of earlier sessions of a resumed
    /// run).
    pub seconds: f64,
    /// What the trained model can do (see [`Family::abilities`]).
    pub translates: bool,
    /// `log.keep_best`'s checkpoint: (metric, step, value).
    pub best: Option<(String, u64, f64)>,
    /// The run stopped at `steps` on a stop request ([`crate::stop`]) before reaching its
    /// target, which is this; a checkpoint of `steps` was written.
    pub interrupted: Option<u64>,
}

/// Each name's mean over `runs` (the scalars of a phase's micro-batches), in the order names first
/// appear; a name some runs lack (an EMA's β, reported by the last) averages over those that have it.
fn mean_scalars(runs: &[Scalars]) -> Scalars {
    let mut sums: Vec<(&'static str, f64, u32)> = Vec::new();
    for (name, v) in runs.iter().flatten() {
        match sums.iter_mut().find(|(n, _, _)| n == name) {
            Some((_, s, c)) => (*s, *c) = (*s + v, *c + 1),
            None => sums.push((name, *v, 1)),
        }
    }
    sums.into_iter().map(|(n, s, c)| (n, s / f64::from(c))).collect()
}

/// Loads the data (the whole batch of every rank and micro-batch of an update: ranks ×
/// `train.accumulate` × `batch_size`), builds the family (seeded) and what draws its previews and
/// evaluations.
fn prepare(cfg: &mut RunConfig, device: Device) -> Result<Parts> {
    let accumulation = gantry_core::parallel::accumulate(cfg.family.accumulate.into());
    let per_rank = cfg.batch_size;
    cfg.batch_size =
        per_rank * (gantry_core::parallel::shard().1 * gantry_core::parallel::accumulation()) as usize;
    let data = Source::load(cfg);
    cfg.batch_size = per_rank;
    let data = data?;
    seed_torch(cfg.seed, "init", 0);
    let cx = BuildContext { device, batches_per_epoch: Some(data.batches_per_epoch()) };
    let mut family = cfg.family.build(cfg, &cx)?;
    crate::perf::apply(cfg, family.networks_mut())?;
    let precision = crate::perf::mixed_precision(cfg, device)?;
    let preview = Preview::new(cfg, &data, family.as_ref())?;
    let eval = match data.real_images() {
        Some(images) if cfg.eval.every > 0 => {
            Some(TrainingEval::new(cfg, images, &data, family.as_ref(), device)?)
        }
        _ => None,
    };
    Ok(Parts { data, family, preview, eval, _accumulation: accumulation, _precision: precision })
}

/// Starts a new run in `out` (which must not exist or be empty).
///
/// In a data-parallel run (see [`crate::dist`]) every rank calls this with the same arguments;
/// rank 0 alone writes `out`.
pub fn start(mut cfg: RunConfig, out: &Path, device: Device) -> Result<Summary> {
    cfg.validate()?;
    let dist = join_run(device)?;
    let writes = dist.as_ref().is_none_or(Dist::writes);
    let device = dist.as_ref().map_or(device, |d| d.launch.device(device));
    if writes && out.exists() && (!out.is_dir() || std::fs::read_dir(out)?.next().is_some()) {
        bail!(
            "refusing to write into {}: it exists and is not an empty folder (choose another --out, or continue it with --resume {})",
            out.display(),
            out.display()
        );
    }
    let threads = resolve_threads(cfg.threads);
    tch::set_num_threads(threads as i32);
    cfg.threads = threads;
    // `auto` resolved once, stored with the run: its resumes keep the format it started in.
    cfg.perf.memory_format = cfg.memory_format().into();
    // Everything that can fail on bad input happens before the run folder is created.
    let mut parts = prepare(&mut cfg, device)?;
    parts.family.initialise()?;
    if let Some(d) = &dist {
        d.broadcast(parts.family.networks())?;
    }
    let run = RunDir::new(out);
    let lock = if writes {
        std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
        let lock = run.lock()?;
        // Another `gantry train` may have started the same folder while this one prepared.
        if run.config().exists() {
            bail!("refusing to write into {}: another run started there meanwhile", out.display());
        }
        gantry_core::fs::write_atomic(&run.config(), cfg.to_toml()?.as_bytes())?;
        parts.data.write_skipped(out)?;
        if let Some(ev) = &parts.eval {
            ev.write_protocol(out)?;
        }
        Some(lock)
    } else {
        None
    };
    let steps = cfg.steps;
    Session { cfg, run, parts, device, threads, best: None, dist, _lock: lock }.train(0, steps)
}

/// Continues the run in `dir` from its newest checkpoint up to `steps` (default: the config's).
pub fn resume(dir: &Path, steps: Option<u64>, device: Device) -> Result<Summary> {
    if !dir.is_dir() {
        bail!("run folder {} does not exist", dir.display());
    }
    let run = RunDir::new(dir);
    let mut cfg = RunConfig::load(&run.config())?;
    cfg.validate()?;
    let dist = join_run(device)?;
    let writes = dist.as_ref().is_none_or(Dist::writes);
    let device = dist.as_ref().map_or(device, |d| d.launch.device(device));
    let (ck_step, ck_path) = run.latest_checkpoint()?;
    let target = steps.unwrap_or(cfg.steps);
    if target < ck_step {
        bail!("--steps {target} is below the checkpoint's step {ck_step} ({})", ck_path.display());
    }
    let ck = Checkpoint::load(&ck_path)?;
    let seed = ck.get_i64("meta.seed")? as u64;
    if seed != cfg.seed {
        bail!(
            "{}: seed {seed} disagrees with {} (seed {})",
            ck_path.display(),
            run.config().display(),
            cfg.seed
        );
    }
    let threads = ck.get_i64("meta.threads")?.max(1) as usize;
    tch::set_num_threads(threads as i32);
    cfg.threads = threads;
    let mut parts = prepare(&mut cfg, device)?;
    parts.family.networks_mut().load(&ck)?;
    if let Some(d) = &dist {
        d.broadcast(parts.family.networks())?;
    }
    cfg.steps = target;
    // The checkpoint loaded: only now touch the folder, as its one writer (a refused resume,
    // here or above, leaves it as it was).
    let lock = if writes { Some(run.lock()?) } else { None };
    for (path, size) in if writes { run.remove_stale_temps()? } else { Vec::new() } {
        eprintln!(
            "removed {} ({:.1} MB): a write that was killed before it finished left it",
            path.display(),
            size as f64 / 1e6
        );
    }
    if writes {
        run.truncate_metrics(ck_step)?;
        gantry_core::fs::write_atomic(&run.config(), cfg.to_toml()?.as_bytes())?;
        parts.data.write_skipped(dir)?;
        if let Some(ev) = &parts.eval {
            ev.write_protocol(dir)?;
        }
    }
    let session = Session { cfg, run, parts, device, threads, best: None, dist, _lock: lock };
    if writes && target == ck_step {
        eprintln!("{} is already at step {target}; nothing to do", dir.display());
    }
    session.train(ck_step, target)
}

/// A JSON line for `metrics.jsonl` at `step`.
/// The steps between two `metrics.jsonl` lines: their scalars summed, and how many there were.
struct LogWindow {
    sums: Vec<(&'static str, f64)>,
    /// Steps whose scalars are in `sums` (an undone step's are not).
    kept: u64,
    /// Steps since the last line, undone ones included.
    steps: u64,
    /// Steps undone (`train.on_nonfinite = skip`) since the last line.
    skipped: u64,
    since: Instant,
}

impl LogWindow {
    fn new() -> Self {
        Self { sums: Vec::new(), kept: 0, steps: 0, skipped: 0, since: Instant::now() }
    }

    /// A kept step's scalars.
    fn add(&mut self, scalars: Scalars) {
        for (k, v) in scalars {
            match self.sums.iter_mut().find(|(n, _)| *n == k) {
                Some(s) => s.1 += v,
                None => self.sums.push((k, v)),
            }
        }
        self.kept += 1;
    }

    /// The metrics line of `step` (`images` seen so far; the run started at `t0`), the progress
    /// message, the seconds per step; the window starts afresh.
    fn close(
        &mut self,
        step: u64,
        images: f64,
        t0: Instant,
        dist: Option<&Dist>,
    ) -> (serde_json::Map<String, serde_json::Value>, String, f64) {
        let secs = self.since.elapsed().as_secs_f64();
        let per_step = secs / self.steps as f64;
        let mut obj = metrics_line(step);
        obj.insert("kimg".into(), (images / 1000.0).into());
        for (k, v) in &self.sums {
            obj.insert((*k).into(), (v / self.kept as f64).into());
        }
        if self.skipped > 0 {
            obj.insert("skipped_steps".into(), self.skipped.into());
        }
        obj.insert("sec_per_step".into(), per_step.into());
        if let Some(d) = dist {
            // The share of a step rank 0 spent averaging gradients over ranks.
            obj.insert("allreduce_share".into(), (d.take_comm_seconds() / secs.max(1e-9)).into());
        }
        obj.insert("elapsed_sec".into(), t0.elapsed().as_secs_f64().into());
        let msg = self
            .sums
            .iter()
            .map(|(k, v)| format!("{k} {:.3}", v / self.kept as f64))
            .collect::<Vec<_>>()
            .join("  ");
        *self = Self::new();
        (obj, msg, per_step)
    }
}

fn metrics_line(step: u64) -> serde_json::Map<String, serde_json::Value> {
    let mut m = serde_json::Map::new();
    m.insert("step".into(), step.into());
    m
}

impl Session {
    fn write_checkpoint(&mut self, step: u64) -> Result<PathBuf> {
        let mut ck = Checkpoint::new();
        self.parts.family.networks().save(&mut ck);
        ck.insert_i64("meta.step", step as i64);
        ck.insert_i64("meta.seed", self.cfg.seed as i64);
        ck.insert_i64("meta.threads", self.threads as i64);
        ck.metadata.insert("gantry.config".into(), self.cfg.to_toml()?);
        ck.metadata.insert("gantry.version".into(), env!("CARGO_PKG_VERSION").into());
        let path = self.run.checkpoint(step);
        ck.save(&path)?;
        let best = match self.cfg.log.keep_best.as_str() {
            "" => None,
            spec => Some(KeepBest::parse(spec)?),
        };
        let kept = self.run.prune_checkpoints(self.cfg.log.keep_checkpoints, best.as_ref())?;
        self.best = best.zip(kept).map(|(b, (step, value))| (b.metric, step, value));
        crate::report::write(&self.run.root, None)?;
        Ok(path)
    }

    /// The line a run stops with when step `step` left `what` non-finite (after `skipped` steps
    /// undone in a row).
    fn nonfinite_stop(&self, step: u64, what: &str, skipped: u64) -> String {
        let last = match self.run.latest_checkpoint() {
            Ok((_, path)) => format!(
                "the last good checkpoint, {}, is untouched (continue with `gantry train --resume {}`)",
                path.display(),
                self.run.root.display()
            ),
            Err(_) => "no checkpoint had been written yet".to_string(),
        };
        let policy = match skipped {
            0 => format!(
                "train.on_nonfinite = stop; \"skip\" in {} undoes such steps",
                self.run.config().display()
            ),
            n => format!("train.on_nonfinite = skip gave up after {n} steps undone in a row"),
        };
        format!("step {step}: {what}; stopped without writing a checkpoint ({policy}); {last}")
    }

    /// Runs every phase of step `step` (`fresh_per_step` fresh batches each step); the scalars of
    /// each phase's last run (averaged over its micro-batches with `train.accumulate`).
    fn step(&mut self, step: u64, fresh_per_step: u64) -> Result<Vec<(&'static str, f64)>> {
        seed_torch(self.cfg.seed, "step", step);
        // Every rank runs the same BatchNorm layers in the same order within a step.
        let _bn = match &self.dist {
            Some(d) if self.cfg.dist.sync_batchnorm => Some(d.synchronise_batch_norm()),
            _ => None,
        };
        let phases = self.parts.family.phases().to_vec();
        let format = self.cfg.memory_format();
        let mut scalars: Vec<(&'static str, f64)> = Vec::new();
        let mut batch: Option<Batch> = None;
        let mut fresh = (step - 1) * fresh_per_step;
        for (i, phase) in phases.iter().enumerate() {
            let mut last = Vec::new();
            for j in 0..phase.repeat as u64 {
                if phase.fresh_batch || batch.is_none() {
                    batch = Some(self.parts.data.batch(fresh, self.device).in_format(format));
                    fresh += 1;
                }
                let b = batch.as_ref().expect("drawn above");
                let k = (step - 1) * phase.repeat as u64 + j;
                let family = &mut self.parts.family;
                let context = || format!("phase {}", phase.name);
                // Under autocast with `perf.precision` (the phase's float32 parts leave it).
                let mut run = |b: &Batch| gantry_core::amp::autocast(|| family.run_phase(i, b, k));
                last = match gantry_core::parallel::accumulation() {
                    1 => run(b).with_context(context)?,
                    micro => {
                        let mut runs = Vec::with_capacity(micro as usize);
                        for m in 0..micro {
                            let part = b.micro_batch(m, micro);
                            runs.push(
                                gantry_core::parallel::micro_batch(m, || run(&part)).with_context(context)?,
                            );
                        }
                        mean_scalars(&runs)
                    }
                };
            }
            scalars.extend(last);
        }
        if let Some((scale, skipped)) = self.parts.family.networks_mut().take_loss_scaling() {
            scalars.extend([("fp16_scale", scale), ("fp16_skipped", skipped as f64)]);
        }
        Ok(scalars)
    }

    /// The run's first line: what trains on what, where.
    fn announce(&self, world: i64) {
        let cfg = &self.cfg;
        let counts: Vec<String> =
            self.parts.family.networks().parameter_counts().iter().map(|(n, c)| format!("{n} {c}")).collect();
        let ranks = match world {
            1 => String::new(),
            n => format!(
                " × {n} data-parallel ranks (batch {} each{})",
                cfg.batch_size,
                if cfg.dist.sync_batchnorm { ", synchronised BatchNorm" } else { "" }
            ),
        };
        let ranks = match cfg.family.accumulate {
            1 => ranks,
            k => format!(
                "{ranks}; {k} micro-batches of {} per update ({} samples)",
                cfg.batch_size,
                cfg.batch_size * k as usize * world as usize
            ),
        };
        eprintln!(
            "{} ({}): {} parameters; {}; device {}, {} threads{ranks}; run folder {}",
            cfg.preset,
            cfg.family.arch(),
            counts.join(" / "),
            self.parts.data.describe(),
            device_name(self.device),
            self.threads,
            self.run.root.display()
        );
    }

    /// Fresh batches per step: the data order is counted in them (a phase with `fresh_batch =
    /// false` at the start of a step draws one too).
    fn fresh_per_step(&self) -> u64 {
        self.parts
            .family
            .phases()
            .iter()
            .enumerate()
            .map(|(i, p)| match (p.fresh_batch, i) {
                (true, _) => p.repeat as u64,
                (false, 0) => 1,
                (false, _) => 0,
            })
            .sum()
    }

    /// What is not finite after a step: a loss term, else a parameter.
    fn nonfinite(&self, scalars: &Scalars) -> Option<String> {
        scalars.iter().find(|(_, v)| !v.is_finite()).map(|(k, v)| format!("loss term '{k}' is {v}")).or_else(
            || {
                self.parts
                    .family
                    .networks()
                    .first_nonfinite()
                    .map(|name| format!("parameter '{name}' holds a NaN or an infinity"))
            },
        )
    }

    /// Rank 0's outputs of `step` after its metrics `line` (if one is due): the sample grid (and
    /// a toy's mode coverage), FID during training, the line itself (`metrics.jsonl`,
    /// TensorBoard). Returns the grid's path when one was written.
    fn write_outputs(
        &mut self,
        step: u64,
        to: u64,
        mut line: Option<serde_json::Map<String, serde_json::Value>>,
        tb: &mut Option<EventWriter>,
        tty: bool,
    ) -> Result<Option<PathBuf>> {
        let cfg = &self.cfg;
        let mut grid = None;
        if step.is_multiple_of(cfg.log.sample_every) || step == to {
            seed_torch(cfg.seed, "sample-grid", step);
            let samples = self.parts.preview.write(self.parts.family.as_ref(), &self.run.sample(step))?;
            if let (Some(toy), Some(x)) = (self.parts.data.toy(), samples) {
                let c = coverage(toy, &x, 0.01);
                let obj = line.get_or_insert_with(|| metrics_line(step));
                obj.insert("modes_covered".into(), c.modes_covered.into());
                obj.insert("high_quality".into(), c.high_quality.into());
            }
            if let Some(tb) = tb.as_mut().filter(|_| self.run.sample(step).is_file()) {
                tb.png(step, "samples", &self.run.sample(step))?;
            }
            grid = Some(self.run.sample(step));
        }
        if let Some(ev) =
            self.parts.eval.as_ref().filter(|_| step.is_multiple_of(cfg.eval.every) || step == to)
        {
            seed_torch(cfg.seed, "eval", step);
            let fid = ev.fid(self.parts.family.as_ref(), self.dist.as_ref())?.expect("rank 0 gets the value");
            if !tty {
                eprintln!("step {step}/{to}  {} {fid:.3}", ev.key());
            }
            line.get_or_insert_with(|| metrics_line(step)).insert(ev.key(), fid.into());
        }
        if let Some(obj) = line {
            if let Some(tb) = tb.as_mut() {
                tb.scalars(step, &obj)?;
            }
            self.run.append_metrics(&serde_json::Value::Object(obj))?;
        }
        Ok(grid)
    }

    /// Steps `from + 1 ..= to`.
    fn train(mut self, from: u64, to: u64) -> Result<Summary> {
        let cfg = self.cfg.clone();
        let writes = self.writes();
        let world = self.dist.as_ref().map_or(1, Dist::world);
        if writes {
            self.announce(world);
        }
        let fresh_per_step = self.fresh_per_step();
        let tty = writes && std::io::stderr().is_terminal();
        let bar = if tty { indicatif::ProgressBar::new(to) } else { indicatif::ProgressBar::hidden() };
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:30} {pos}/{len} steps  {per_sec}  eta {eta}  {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar.set_position(from);
        let mut tb = match cfg.log.tensorboard && writes {
            true => Some(EventWriter::create(&self.run.root, (from > 0).then_some(from))?),
            false => None,
        };
        let t0 = Instant::now();
        let mut window = LogWindow::new();
        let mut last_ck = None;
        let mut last_sample = None;
        let mut reached = to;
        let policy = cfg.family.on_nonfinite;
        let mut skipped_in_row = 0u64;
        for step in from + 1..=to {
            let before = (policy == OnNonFinite::Skip).then(|| self.parts.family.networks().snapshot());
            let scalars = self.step(step, fresh_per_step)?;
            if let Some(d) = &self.dist {
                d.check()?;
                d.average_buffers(self.parts.family.networks())?;
            }
            match (self.nonfinite(&scalars), before) {
                (None, _) => {
                    skipped_in_row = 0;
                    window.add(scalars);
                }
                (Some(what), Some(before)) if skipped_in_row < MAX_CONSECUTIVE_SKIPS => {
                    self.parts.family.networks_mut().restore(&before);
                    skipped_in_row += 1;
                    window.skipped += 1;
                    bar.suspend(|| eprintln!("step {step}: {what}; step undone (train.on_nonfinite = skip)"));
                }
                (Some(what), _) => {
                    bar.finish_and_clear();
                    bail!("{}", self.nonfinite_stop(step, &what, skipped_in_row));
                }
            }
            window.steps += 1;
            bar.inc(1);
            // Every rank stops after the same step.
            let stop_now = match &self.dist {
                Some(d) => d.any(crate::stop::requested())?,
                None => crate::stop::requested(),
            };
            if !writes {
                // The other ranks embed their share of the evaluation samples.
                if let Some(ev) =
                    self.parts.eval.as_ref().filter(|_| step.is_multiple_of(cfg.eval.every) || step == to)
                {
                    seed_torch(cfg.seed, "eval", step);
                    ev.fid(self.parts.family.as_ref(), self.dist.as_ref())?;
                }
                if stop_now && step < to {
                    reached = step;
                    break;
                }
                continue;
            }
            let line = (step.is_multiple_of(cfg.log.every) || step == to).then(|| {
                let images =
                    (step * (cfg.batch_size * world as usize * cfg.family.accumulate as usize) as u64) as f64;
                let (obj, msg, per_step) = window.close(step, images, t0, self.dist.as_ref());
                if tty {
                    bar.set_message(msg);
                } else {
                    eprintln!("step {step}/{to}  {msg}  ({per_step:.3} s/step)");
                }
                obj
            });
            if let Some(grid) = self.write_outputs(step, to, line, &mut tb, tty)? {
                last_sample = Some(grid);
            }
            // A stop request checkpoints the step it arrived in.
            if step.is_multiple_of(cfg.log.checkpoint_every) || step == to || stop_now {
                last_ck = Some(self.write_checkpoint(step)?);
            }
            if stop_now && step < to {
                reached = step;
                break;
            }
        }
        bar.finish_and_clear();
        let seconds = t0.elapsed().as_secs_f64();
        let checkpoint = match last_ck {
            Some(p) => p,
            None if !writes => self.run.checkpoint(reached),
            None => self.run.latest_checkpoint()?.1,
        };
        let samples = last_sample.unwrap_or_else(|| self.run.sample(to));
        Ok(Summary {
            run: self.run.root.clone(),
            steps: reached,
            interrupted: (reached < to).then_some(to),
            checkpoint,
            samples,
            metrics: self.run.metrics(),
            seconds,
            translates: self.parts.family.translator().is_some(),
            best: self.best.clone(),
        })
    }
}
