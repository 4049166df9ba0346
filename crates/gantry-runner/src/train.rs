//! The training loop: one place that owns the device, the thread count, libtorch's global RNG,
//! the data order, logging, sampling and checkpoints.
//!
//! Reproducibility: before step `s` the global generator is re-seeded from (run seed, "step", s);
//! real batch `k` is batch `k` of the epoch order derived from (run seed, epoch); sample latents
//! come from gantry's own generator; the CPU thread count is stored in every checkpoint. So on the
//! CPU, `--steps k` then `--resume --steps N` ends bit-identical to one run of `--steps N`.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use gantry_core::checkpoint::Checkpoint;
use gantry_core::device::{derive_seed, device_name, seed_torch};
use gantry_data::toy::{coverage, Toy};
use gantry_data::{Batcher, ImageDataset, LoadOptions};
use tch::{Device, Tensor};

use crate::config::{ModelConfig, RunConfig};
use crate::generate::{latents, write_output};
use crate::recipe::{Real, Recipe};
use crate::run_dir::RunDir;

/// Where real examples come from.
enum RealData {
    Images { ds: ImageDataset, batcher: Batcher },
    Toy(Toy),
}

/// The toy distribution an MLP run trains on (`data = "ring" | "grid" | "gaussian1d"`).
pub fn toy_of(cfg: &RunConfig) -> Result<Toy> {
    let toy = match cfg.data.as_str() {
        "ring" => Toy::ring(),
        "grid" => Toy::grid(),
        "gaussian1d" => Toy::Gaussian1d { mean: 7.0, std: 1.0 }, // the lectures' toy (G(z) = z + θ from θ = 3)
        other => bail!("invalid data for an mlp model: expected ring, grid or gaussian1d, found '{other}'"),
    };
    if let ModelConfig::Mlp(m) = &cfg.model {
        if m.data_dim != toy.dim() as i64 {
            bail!(
                "invalid model.data_dim: '{}' is {}-dimensional, found {}",
                cfg.data,
                toy.dim(),
                m.data_dim
            );
        }
    }
    Ok(toy)
}

/// Threads to use: the configured count, or all available cores for 0.
fn resolve_threads(n: usize) -> usize {
    if n > 0 {
        n
    } else {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    }
}

/// Loads the data and resolves what depends on it (DCGAN `channels = 0`).
fn load_data(cfg: &mut RunConfig) -> Result<RealData> {
    match cfg.model.image() {
        Some((channels, size)) => {
            let opts = LoadOptions {
                split: cfg.loader.split,
                size: Some(size),
                channels: (channels > 0).then_some(channels),
                fit: cfg.loader.fit,
            };
            let ds = gantry_data::load(&cfg.data, &opts)?;
            if channels == 0 {
                cfg.model.set_channels(ds.image_shape()[0]);
            }
            if cfg.model.needs_labels() {
                let Some(labels) = &ds.labels else {
                    bail!("a {} model trains on labelled data; {} has no labels", cfg.model.arch(), ds.name);
                };
                if let ModelConfig::Cond(c) = &cfg.model {
                    let top = labels.max().int64_value(&[]);
                    if top >= c.classes {
                        bail!(
                            "invalid model.classes: {} has labels up to {top}, the model has {} classes",
                            ds.name,
                            c.classes
                        );
                    }
                }
            }
            let batcher =
                Batcher::new(ds.len(), cfg.batch_size, cfg.loader.last_batch, cfg.seed, cfg.loader.hflip)?;
            Ok(RealData::Images { ds, batcher })
        }
        None => Ok(RealData::Toy(toy_of(cfg)?)),
    }
}

/// Everything a running training session holds.
struct Session {
    cfg: RunConfig,
    run: RunDir,
    data: RealData,
    recipe: Box<dyn Recipe>,
    device: Device,
    threads: usize,
    eval: Option<crate::eval::TrainingEval>,
}

/// The FID evaluator of a run with `eval.every` > 0 (built before anything is written).
fn evaluator(cfg: &RunConfig, data: &RealData, device: Device) -> Result<Option<crate::eval::TrainingEval>> {
    match data {
        RealData::Images { ds, .. } if cfg.eval.every > 0 => Ok(Some(crate::eval::TrainingEval::new(
            &cfg.eval.features,
            &ds.images,
            cfg.eval.n,
            cfg.model.z_dim(),
            cfg.seed,
            device,
        )?)),
        _ => Ok(None),
    }
}

/// What a finished run reports.
#[derive(Debug)]
pub struct Summary {
    pub run: PathBuf,
    pub steps: u64,
    pub checkpoint: PathBuf,
    pub samples: PathBuf,
    pub metrics: PathBuf,
    pub seconds: f64,
}

fn describe_data(data: &RealData) -> String {
    match data {
        RealData::Images { ds, .. } => {
            let [c, h, w] = ds.image_shape();
            let skipped = if ds.skipped > 0 {
                format!(", {} non-image files skipped", ds.skipped)
            } else {
                String::new()
            };
            format!("{}: {} images {c}x{h}x{w}{skipped}", ds.name, ds.len())
        }
        RealData::Toy(t) => format!("toy distribution {t:?}"),
    }
}

/// Starts a new run in `out` (which must not exist or be empty).
pub fn start(mut cfg: RunConfig, out: &Path, device: Device) -> Result<Summary> {
    cfg.validate()?;
    if out.exists() && (!out.is_dir() || std::fs::read_dir(out)?.next().is_some()) {
        bail!(
            "refusing to write into {}: it exists and is not an empty folder (choose another --out, or continue it with --resume {})",
            out.display(),
            out.display()
        );
    }
    let threads = resolve_threads(cfg.threads);
    tch::set_num_threads(threads as i32);
    cfg.threads = threads;
    // Everything that can fail on bad input happens before the run folder is created.
    let data = load_data(&mut cfg)?;
    seed_torch(cfg.seed, "init", 0);
    let recipe = crate::recipe::build(&cfg.model, cfg.loss, &cfg.reg, &cfg.train, device)?;
    let eval = evaluator(&cfg, &data, device)?;
    let run = RunDir::new(out);
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    gantry_core::fs::write_atomic(&run.config(), cfg.to_toml()?.as_bytes())?;
    let steps = cfg.steps;
    let session = Session { cfg, run, data, recipe, device, threads, eval };
    session.train(0, steps)
}

/// Continues the run in `dir` from its newest checkpoint up to `steps` (default: the config's).
pub fn resume(dir: &Path, steps: Option<u64>, device: Device) -> Result<Summary> {
    if !dir.is_dir() {
        bail!("run folder {} does not exist", dir.display());
    }
    let run = RunDir::new(dir);
    let mut cfg = RunConfig::load(&run.config())?;
    cfg.validate()?;
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
    let data = load_data(&mut cfg)?;
    seed_torch(cfg.seed, "init", 0);
    let mut recipe = crate::recipe::build(&cfg.model, cfg.loss, &cfg.reg, &cfg.train, device)?;
    recipe.load(&ck)?;
    let eval = evaluator(&cfg, &data, device)?;
    // The checkpoint loaded: only now touch the folder.
    run.truncate_metrics(ck_step)?;
    cfg.steps = target;
    gantry_core::fs::write_atomic(&run.config(), cfg.to_toml()?.as_bytes())?;
    let session = Session { cfg, run, data, recipe, device, threads, eval };
    if target == ck_step {
        eprintln!("{} is already at step {target}; nothing to do", dir.display());
    }
    session.train(ck_step, target)
}

impl Session {
    fn real_batch(&mut self, k: u64) -> Real {
        match &mut self.data {
            RealData::Images { ds, batcher } => {
                let b = batcher.batch(ds, k, self.device);
                Real { images: b.images, labels: b.labels.map(|l| l.to_device(self.device)) }
            }
            RealData::Toy(t) => Real::unlabelled(
                t.sample(self.cfg.batch_size, derive_seed(self.cfg.seed, "toy-batch", k))
                    .to_device(self.device),
            ),
        }
    }

    fn write_checkpoint(&self, step: u64) -> Result<PathBuf> {
        let mut ck = Checkpoint::new();
        self.recipe.save(&mut ck);
        ck.insert_i64("meta.step", step as i64);
        ck.insert_i64("meta.seed", self.cfg.seed as i64);
        ck.insert_i64("meta.threads", self.threads as i64);
        ck.metadata.insert("gantry.config".into(), self.cfg.to_toml()?);
        ck.metadata.insert("gantry.version".into(), env!("CARGO_PKG_VERSION").into());
        let path = self.run.checkpoint(step);
        ck.save(&path)?;
        self.run.prune_checkpoints(self.cfg.log.keep_checkpoints)?;
        Ok(path)
    }

    /// Writes the fixed-latent sample grid; for toys also returns the mode coverage.
    fn write_samples(&self, step: u64, z: &Tensor) -> Result<Option<gantry_data::toy::Coverage>> {
        let nrow = (self.cfg.log.grid as f64).sqrt().ceil() as usize;
        write_output(&self.cfg, self.recipe.as_ref(), z, nrow, &self.run.sample(step))?;
        Ok(match &self.data {
            RealData::Toy(t) => Some(coverage(t, &self.recipe.generate(z), 0.01)),
            RealData::Images { .. } => None,
        })
    }

    /// Steps `from + 1 ..= to`.
    fn train(mut self, from: u64, to: u64) -> Result<Summary> {
        let cfg = self.cfg.clone();
        let (pg, pd) = self.recipe.parameter_counts();
        eprintln!(
            "{} ({}): G {pg} / D {pd} parameters; {}; device {}, {} threads; run folder {}",
            cfg.preset,
            cfg.model.arch(),
            describe_data(&self.data),
            device_name(self.device),
            self.threads,
            self.run.root.display()
        );
        let z_grid = latents(cfg.log.grid, self.recipe.z_dim(), cfg.seed, "sample-grid");
        let tty = std::io::stderr().is_terminal();
        let bar = if tty { indicatif::ProgressBar::new(to) } else { indicatif::ProgressBar::hidden() };
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:30} {pos}/{len} steps  {per_sec}  eta {eta}  {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar.set_position(from);
        let t0 = Instant::now();
        let mut t_log = Instant::now();
        let mut sums: Vec<(&'static str, f64)> = Vec::new();
        let mut n_in_log = 0u64;
        let mut last_ck = None;
        let mut last_sample = None;
        let d_steps = cfg.train.d_steps as u64;
        for step in from + 1..=to {
            seed_torch(cfg.seed, "step", step);
            let mut scalars = Vec::new();
            let mut real = Real::unlabelled(Tensor::new());
            for j in 0..d_steps {
                let k = (step - 1) * d_steps + j;
                real = self.real_batch(k);
                scalars = self.recipe.d_step(&real, k);
            }
            scalars.extend(self.recipe.g_step(&real));
            for (k, v) in scalars {
                match sums.iter_mut().find(|(n, _)| *n == k) {
                    Some(s) => s.1 += v,
                    None => sums.push((k, v)),
                }
            }
            n_in_log += 1;
            bar.inc(1);

            let mut line = None;
            if step % cfg.log.every == 0 || step == to {
                let secs = t_log.elapsed().as_secs_f64();
                let mut obj = serde_json::Map::new();
                obj.insert("step".into(), step.into());
                obj.insert("kimg".into(), (step as f64 * cfg.batch_size as f64 / 1000.0).into());
                for (k, v) in &sums {
                    obj.insert((*k).into(), (v / n_in_log as f64).into());
                }
                obj.insert("sec_per_step".into(), (secs / n_in_log as f64).into());
                obj.insert("elapsed_sec".into(), t0.elapsed().as_secs_f64().into());
                let msg = sums
                    .iter()
                    .map(|(k, v)| format!("{k} {:.3}", v / n_in_log as f64))
                    .collect::<Vec<_>>()
                    .join("  ");
                if tty {
                    bar.set_message(msg);
                } else {
                    eprintln!("step {step}/{to}  {msg}  ({:.3} s/step)", secs / n_in_log as f64);
                }
                line = Some(obj);
                sums.clear();
                n_in_log = 0;
                t_log = Instant::now();
            }
            if step % cfg.log.sample_every == 0 || step == to {
                if let Some(c) = self.write_samples(step, &z_grid)? {
                    let obj = line.get_or_insert_with(|| {
                        let mut m = serde_json::Map::new();
                        m.insert("step".into(), step.into());
                        m
                    });
                    obj.insert("modes_covered".into(), c.modes_covered.into());
                    obj.insert("high_quality".into(), c.high_quality.into());
                }
                last_sample = Some(self.run.sample(step));
            }
            if let Some(ev) = &self.eval {
                if step % cfg.eval.every == 0 || step == to {
                    let fid = ev.fid(self.recipe.as_ref())?;
                    if !tty {
                        eprintln!("step {step}/{to}  {} {fid:.3}", ev.key());
                    }
                    let obj = line.get_or_insert_with(|| {
                        let mut m = serde_json::Map::new();
                        m.insert("step".into(), step.into());
                        m
                    });
                    obj.insert(ev.key(), fid.into());
                }
            }
            if let Some(obj) = line {
                self.run.append_metrics(&serde_json::Value::Object(obj))?;
            }
            if step % cfg.log.checkpoint_every == 0 || step == to {
                last_ck = Some(self.write_checkpoint(step)?);
            }
        }
        bar.finish_and_clear();
        let seconds = t0.elapsed().as_secs_f64();
        let checkpoint = match last_ck {
            Some(p) => p,
            None => self.run.latest_checkpoint()?.1,
        };
        let samples = last_sample.unwrap_or_else(|| self.run.sample(to));
        Ok(Summary {
            run: self.run.root.clone(),
            steps: to,
            checkpoint,
            samples,
            metrics: self.run.metrics(),
            seconds,
        })
    }
}
