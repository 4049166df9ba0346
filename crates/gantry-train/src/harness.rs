//! The checks every registered family passes, in this process and with no family named: a family
//! gets them by being registered (gantry's own in `tests/families.rs`, a crate's own by calling
//! [`check`] from its tests, as `examples/custom_family.rs` does).
//!
//! For a family's first preset, at the preset's network sizes on small data made for the family's
//! [`DataNeeds`] (the embedded digits, pairs and domains derived from them, or the preset's toy):
//!
//! 1. **two steps** from scratch, writing a checkpoint after each;
//! 2. **save/load and resume**: a second run stopped after step 1 and resumed from its checkpoint
//!    ends with every tensor of the first run's step-2 checkpoint, bit for bit;
//! 3. **capabilities**: the step-2 checkpoint loaded for inference ([`Model::load`]) and each
//!    capability the family declares exercised once, its outputs checked for shape and finiteness;
//! 4. **every switch takes effect**: each `reg.*` setting that is off in the preset (a number 0 or
//!    `false`), `augment.diffaug` and ADA's `augment.p`, switched on, changes the step-1 checkpoint or is refused
//!    in a line naming it — a setting accepted and validated but never applied (as `reg.drift`
//!    once was in three families) fails here;
//! 5. **`[perf]` agrees**: a run with `perf.memory_format = nhwc` and `perf.fused_adam = true`
//!    (where this build has the kernel) resumes bit-identically, and one step of it and one with
//!    `nchw` and per-tensor Adam, from the same weights and draws, end with checkpoints that
//!    differ only by rounding: at most
//!    1% of the networks' elements by more than 1e-5, none by more than 1e-2 (Adam's first step
//!    moves an element by ±lr whatever its gradient's size, so a gradient that is rounding noise,
//!    such as that of a bias a BatchNorm cancels, can flip sign), and the optimisers' moments
//!    (which hold the gradients) within 1e-2 relatively. Any family trains in either format;
//!    this is where a reshape that assumes NCHW strides (`view`) would fail;
//! 6. **`perf.precision` agrees**: one step under autocast to bfloat16 and one to float16 (with
//!    loss scaling), where this build has the autocast switch, against check 5's float32 step:
//!    within [`BF16_GAP`] and [`FP16_GAP`]; and a float16 run (its loss scale in the checkpoint)
//!    resumes bit-identically. Any family trains under autocast; this is where an in-place op
//!    that mixes precisions, or a loss computed in bfloat16, would fail.

use std::path::{Path, PathBuf};

use crate::error::{bail, ensure, Context, Result};
use gantry_core::checkpoint::Checkpoint;
use tch::{Device, Kind, Tensor};

use crate::capability::Model;
use crate::config::RunConfig;
use crate::family::DataNeeds;
use crate::registry::Kind as FamilyKind;

/// What [`check`] did for one family.
#[derive(Debug, Clone)]
pub struct Report {
    /// `model.arch`.
    pub arch: &'static str,
    /// The preset it started from.
    pub preset: &'static str,
    /// Tensors of the step-2 checkpoint, each equal after the resume.
    pub tensors: usize,
    /// The capabilities exercised.
    pub capabilities: Vec<&'static str>,
    /// The `reg.*` settings (and `augment.diffaug`, `augment.p`) switched on, each with the value it took.
    pub switches: Vec<(String, toml::Value)>,
    /// The settings the preset refuses to switch on, with the line it says why.
    pub refused: Vec<(String, String)>,
    /// NHWC with the fused Adam kernel against NCHW with per-tensor Adam after one step
    /// (check 5).
    pub perf: PerfGap,
    /// One step under autocast to bfloat16 against float32 (check 6; zeros where this build has
    /// no autocast switch).
    pub bf16: PerfGap,
    /// The same for float16 with loss scaling.
    pub fp16: PerfGap,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let switches: Vec<String> = self.switches.iter().map(|(k, v)| format!("{k}={v}")).collect();
        write!(
            f,
            "{} ({}): resume equal in {} tensors; capabilities: {}; switches that took effect: {}",
            self.arch,
            self.preset,
            self.tensors,
            if self.capabilities.is_empty() { "none".into() } else { self.capabilities.join(", ") },
            if switches.is_empty() { "none".into() } else { switches.join(", ") }
        )?;
        for (key, why) in &self.refused {
            write!(f, "; {key} refused: {why}")?;
        }
        write!(
            f,
            "; NHWC + fused Adam vs NCHW after one step: variables max |Δ| {:.1e}, {:.3}% of elements > 1e-5, moments ‖Δ‖/‖m‖ ≤ {:.1e}",
            self.perf.max,
            self.perf.share * 100.0,
            self.perf.moments
        )?;
        for (name, g) in [("bf16", &self.bf16), ("fp16", &self.fp16)] {
            write!(
                f,
                "; {name} vs fp32: max |Δ| {:.1e}, {:.1}% > 1e-5, moments ≤ {:.1e}",
                g.max,
                g.share * 100.0,
                g.moments
            )?;
        }
        Ok(())
    }
}

/// Runs the checks of the module docs for `kind` in folders under `dir` (which must exist); the
/// error names the check that failed.
pub fn check(kind: &FamilyKind, dir: &Path) -> Result<Report> {
    let preset =
        kind.presets.first().with_context(|| format!("{}: the family has no preset to check", kind.arch))?;
    let dir = dir.join(kind.arch);
    std::fs::create_dir_all(&dir)?;
    let base = small(preset.config(), &dir)?;
    let device = Device::Cpu;
    let at = |n: u64| -> Result<RunConfig> { base.clone().with_overrides(&[format!("steps={n}")]) };

    // 1, 2: two steps; one step, then resumed to two.
    let (whole, split) = (dir.join("whole"), dir.join("split"));
    let a = crate::train::start(at(2)?, &whole, device).context("two steps from scratch")?;
    crate::train::start(at(1)?, &split, device).context("one step from scratch")?;
    let b = crate::train::resume(&split, Some(2), device).context("resuming after step 1")?;
    let tensors = same_tensors(&a.checkpoint, &b.checkpoint).context("the resumed run differs")?;
    // `perf.memory_format = "auto"` is resolved when a run starts and stored so.
    let stored = RunConfig::load(&whole.join("config.toml"))?;
    ensure!(
        stored.perf.memory_format != crate::config::MemoryFormatChoice::Auto,
        "the run's config.toml keeps perf.memory_format = \"auto\" unresolved"
    );

    // 3: the capabilities.
    let model = Model::load(&whole, device)?;
    let capabilities = exercise(&model).with_context(|| format!("{}: capability check", kind.arch))?;

    // 4: each switch that is off, on.
    let step1 = crate::run_dir::RunDir::new(&whole).checkpoint(1);
    let (mut switches, mut refused) = (Vec::new(), Vec::new());
    for (key, on) in switches_off(&base)? {
        let set = format!("{key}={on}");
        let run = dir.join(format!("switch-{}", key.replace('.', "-")));
        let started = at(1)?
            .with_overrides(std::slice::from_ref(&set))
            .and_then(|cfg| crate::train::start(cfg, &run, device));
        let s = match started {
            Ok(s) => s,
            // Refused before training, in a line that names it: not silently ignored.
            Err(e) if e.to_string().contains(&key) && !run.join("config.toml").exists() => {
                refused.push((key, e.to_string()));
                continue;
            }
            Err(e) => return Err(e.context(format!("one step with {set}"))),
        };
        if same_tensors(&step1, &s.checkpoint).is_ok() {
            bail!(
                "{}: {set} is accepted but changes nothing: the step-1 checkpoint is the same as without it",
                kind.arch
            );
        }
        switches.push((key, on));
    }
    // 5: [perf]: NHWC and the fused Adam kernel against NCHW and per-tensor Adam, and a resume
    // under them.
    let perf =
        perf_agrees(&at(1)?, &at(2)?, &dir, device).with_context(|| format!("{}: [perf]", kind.arch))?;
    // 6: mixed precision against float32.
    let plain = crate::run_dir::RunDir::new(dir.join("perf-plain")).checkpoint(1);
    let (bf16, fp16) = precision_agrees(&at(1)?, &at(2)?, &plain, &dir, device)
        .with_context(|| format!("{}: perf.precision", kind.arch))?;
    Ok(Report {
        arch: kind.arch,
        preset: preset.name,
        tensors,
        capabilities,
        switches,
        refused,
        perf,
        bf16,
        fp16,
    })
}

/// Check 5 of the module docs: a run under `[perf]`'s other settings (NHWC, and the fused Adam
/// kernel where this build has it) resumes bit-identically, and its step-1 checkpoint against an
/// NCHW run's with per-tensor Adam: the networks' variables (largest |Δ|, share of elements with
/// |Δ| > 1e-5) and the optimisers' moments (the largest ‖Δ‖/‖m‖ of one optimiser's `m` or `v`:
/// they hold the gradients, which differ by the rounding of another summation order, relatively).
fn perf_agrees(one: &RunConfig, two: &RunConfig, dir: &Path, device: Device) -> Result<PerfGap> {
    let mut tuned = vec!["perf.memory_format=nhwc".to_string()];
    if crate::perf::fused_adam().is_ok() {
        tuned.push("perf.fused_adam=true".into());
    }
    let plain = ["perf.memory_format=nchw".to_string(), "perf.fused_adam=false".to_string()];
    let a = crate::train::start(one.clone().with_overrides(&plain)?, &dir.join("perf-plain"), device)
        .context("one step in NCHW with per-tensor Adam")?;
    let what = tuned.join(", ");
    let whole = crate::train::start(two.clone().with_overrides(&tuned)?, &dir.join("perf-whole"), device)
        .with_context(|| format!("two steps with {what}"))?;
    let split = dir.join("perf-split");
    let b = crate::train::start(one.clone().with_overrides(&tuned)?, &split, device)
        .with_context(|| format!("one step with {what}"))?;
    let resumed =
        crate::train::resume(&split, Some(2), device).with_context(|| format!("resuming with {what}"))?;
    same_tensors(&whole.checkpoint, &resumed.checkpoint)
        .with_context(|| format!("the resumed run with {what} differs"))?;
    let (f, at, moment_at) = gap(&a.checkpoint, &b.checkpoint, false)?;
    ensure!(
        f.max < 1e-2 && f.share < 0.01 && f.moments < 1e-2,
        "{what} against NCHW and per-tensor Adam after one step: variables max |Δ| {:.2e} (at {at}), {:.3}% of elements > 1e-5; optimiser moments ‖Δ‖/‖m‖ up to {:.2e} (at {moment_at}) (expected < 1e-2, < 1%, < 1e-2)",
        f.max,
        f.share * 100.0,
        f.moments
    );
    Ok(f)
}

/// Check 6 of the module docs: one step under autocast to bfloat16 and one to float16 (with
/// loss scaling) against the float32 run of check 5 (`plain`, its step-1 checkpoint), and a
/// float16 run resumed after step 1 against an uninterrupted one; (bf16 gap, fp16 gap).
fn precision_agrees(
    one: &RunConfig,
    two: &RunConfig,
    plain: &Path,
    dir: &Path,
    device: Device,
) -> Result<(PerfGap, PerfGap)> {
    if crate::perf::mixed_precision(one, device).is_err() {
        return Ok(Default::default());
    }
    let mut gaps = Vec::new();
    for (precision, bound) in [("bf16", BF16_GAP), ("fp16", FP16_GAP)] {
        // Loss scale 1: the default, 2¹⁶, skips the first updates of most of these networks (as
        // GradScaler's does, until it has halved enough), and one step must compare with fp32's.
        // The scaling itself is gantry-core's unit test; its state's resume is tested below.
        let set = [
            format!("perf.precision={precision:?}"),
            "perf.loss_scale=1".into(),
            "perf.memory_format=nchw".into(),
            "perf.fused_adam=false".into(),
        ];
        let s = crate::train::start(
            one.clone().with_overrides(&set)?,
            &dir.join(format!("{precision}-one")),
            device,
        )
        .with_context(|| format!("one step in {precision}"))?;
        let (f, at, moment_at) = gap(plain, &s.checkpoint, true)?;
        ensure!(
            f.max < bound.max && f.share < bound.share && f.moments < bound.moments,
            "{precision} against fp32 after one step: variables max |Δ| {:.2e} (at {at}), {:.3}% of elements > 1e-5; optimiser moments ‖Δ‖/‖m‖ up to {:.2e} (at {moment_at}) (expected < {:.0e}, < {}%, < {:.0e})",
            f.max,
            f.share * 100.0,
            f.moments,
            bound.max,
            bound.share * 100.0,
            bound.moments
        );
        gaps.push(f);
        if precision == "fp16" {
            let whole =
                crate::train::start(two.clone().with_overrides(&set)?, &dir.join("fp16-whole"), device)
                    .context("two steps in fp16")?;
            let split = dir.join("fp16-split");
            crate::train::start(one.clone().with_overrides(&set)?, &split, device)
                .context("one step in fp16")?;
            let resumed = crate::train::resume(&split, Some(2), device).context("resuming in fp16")?;
            same_tensors(&whole.checkpoint, &resumed.checkpoint).context("the resumed fp16 run differs")?;
        }
    }
    Ok((gaps[0], gaps[1]))
}

/// How far one step under autocast to bfloat16 may take a family's checkpoint from float32's
/// (check 6): trained variables by 2e-2 (Adam's first step moves an element by ±lr whatever
/// its gradient's size; StyleGAN2's 2.5e-3 twice, D's main and R1 steps, reach 9.6e-3), half of
/// their elements by more than 1e-5, and the gradients (`m`) by 50% of their norm. Measured, the
/// worst: InfoGAN's G at 42% and CycleGAN's at 31% — BatchNorm's backward over the harness's 4
/// rows (instance norm's over one image's pixels) subtracts means that cancel most of the
/// gradient, and bfloat16's 8-bit mantissa leaves the remainder a few bits; the other families
/// stay within 17% (SRGAN 0.6%).
pub const BF16_GAP: PerfGap = PerfGap { max: 2e-2, share: 0.5, moments: 0.5 };
/// The same for float16 (a 10-bit mantissa): the gradients within 16% (InfoGAN; CycleGAN 10%).
pub const FP16_GAP: PerfGap = PerfGap { max: 2e-2, share: 0.5, moments: 0.5 };

/// Two checkpoints' networks' variables (largest |Δ|, share of elements with |Δ| > 1e-5) and
/// optimisers' moments (the largest ‖Δ‖/‖m‖ of one optimiser's `m` or `v`: they hold the
/// gradients, which differ by the rounding of another summation order, relatively), with the
/// names where the largest were. With `trained_only` (mixed precision), the variables compared
/// are those an optimiser updates (buffers such as BatchNorm's statistics, in their own units,
/// left out) and the moments only `m`.
fn gap(a: &Path, b: &Path, trained_only: bool) -> Result<(PerfGap, String, String)> {
    let (a, b) = (Checkpoint::load(a)?, Checkpoint::load(b)?);
    // Loss scaling's state is only in a float16 run's checkpoint.
    let scaling = |n: &&String| n.contains(".loss_scale");
    let count = |c: &Checkpoint| c.tensors.keys().filter(|n| !scaling(n)).count();
    ensure!(count(&a) == count(&b), "{} tensors against {}", count(&a), count(&b));
    let mut f = PerfGap::default();
    let (mut at, mut moment_at, mut off, mut total) = (String::new(), String::new(), 0i64, 0i64);
    let mut moments: std::collections::BTreeMap<String, (f64, f64)> = Default::default();
    // The variables some optimiser updates: `opt_g.m.fc.weight` is `g.fc.weight`'s moment; a
    // shared optimiser's names carry their store (`opt_ae.m.enc.fc.weight`).
    let trained: std::collections::HashSet<String> = a
        .tensors
        .keys()
        .filter_map(|k| {
            let (opt, var) = k.strip_prefix("opt_")?.split_once(".m.")?;
            Some([format!("{opt}.{var}"), var.to_string()])
        })
        .flatten()
        .collect();
    for (name, x) in a.tensors.iter().filter(|(n, _)| !scaling(n)) {
        let y = b.tensors.get(name).with_context(|| format!("{name} missing from the tuned run"))?;
        ensure!(x.size() == y.size() && x.kind() == y.kind(), "{name}: shapes or kinds differ");
        if !x.is_floating_point() {
            ensure!(x.equal(y), "{name} differs");
            continue;
        }
        let (x, y) = (x.to_kind(Kind::Double), y.to_kind(Kind::Double));
        let d = (&x - &y).abs();
        if name.starts_with("opt_") {
            // Per optimiser and moment (`opt_g.m`), over all its tensors: a bias that a
            // normalisation cancels has a gradient of pure rounding, whose own relative
            // difference means nothing.
            let group: String = name.splitn(3, '.').take(2).collect::<Vec<_>>().join(".");
            let e = moments.entry(group).or_insert((0.0, 0.0));
            e.0 += (&x - &y).square().sum(Kind::Double).double_value(&[]);
            e.1 += x.square().sum(Kind::Double).double_value(&[]);
            continue;
        }
        if trained_only && !trained.contains(name.as_str()) {
            continue;
        }
        let m = d.max().double_value(&[]);
        if m.is_nan() || m > f.max {
            (f.max, at) = (m, name.clone());
        }
        off += d.gt(1e-5).sum(Kind::Int64).int64_value(&[]);
        total += x.numel() as i64;
    }
    f.share = off as f64 / total.max(1) as f64;
    // Under mixed precision, the first moments alone: after one step `m` is (1 − β1)·∇, so this
    // is the gradients' relative error; `v` squares it and is led by the few largest elements
    // (the rounding-noise gradients of biases a normalisation cancels, far larger in bfloat16).
    for (group, (diff, norm)) in moments.into_iter().filter(|(g, _)| !trained_only || g.ends_with(".m")) {
        let r = if norm > 0.0 { (diff / norm).sqrt() } else { diff.sqrt() };
        if r.is_nan() || r > f.moments {
            (f.moments, moment_at) = (r, group);
        }
    }
    Ok((f, at, moment_at))
}

/// What checks 5 and 6 measured.
#[derive(Debug, Clone, Copy, Default)]
pub struct PerfGap {
    /// The largest difference of a network variable.
    pub max: f64,
    /// The share of network variables' elements that differ by more than 1e-5.
    pub share: f64,
    /// The largest relative difference ‖Δ‖/‖m‖ of one optimiser's moment (`m` or `v`, all its
    /// tensors together).
    pub moments: f64,
}

/// `cfg` at its network sizes with two steps' worth of everything else, on data made in `dir`
/// for what it trains on.
fn small(cfg: RunConfig, dir: &Path) -> Result<RunConfig> {
    let data: String = match cfg.family.data() {
        DataNeeds::Images { .. } => gantry_data::source::EMBEDDED.into(),
        DataNeeds::Toy { .. } => cfg.data.clone(),
        DataNeeds::Paired { .. } => made(dir, "pairs", |p| gantry_data::derive::edges_of_digits(p, 16, 4))?,
        DataNeeds::Unpaired { .. } => {
            made(dir, "domains", |p| gantry_data::derive::inverted_digits(p, 16, 4))?
        }
    };
    let sets = [
        format!("data={data:?}"),
        "batch_size=4".into(),
        "threads=2".into(),
        "log.every=1".into(),
        "log.sample_every=2".into(),
        "log.checkpoint_every=1".into(),
        "log.keep_checkpoints=0".into(),
        "log.grid=4".into(),
        "log.tensorboard=false".into(),
        "eval.every=0".into(),
    ];
    cfg.with_overrides(&sets)
}

/// A dataset `make` writes into `dir/name`, once.
fn made(dir: &Path, name: &str, make: impl FnOnce(&Path) -> gantry_data::Result<()>) -> Result<String> {
    let path: PathBuf = dir.join(name);
    if !path.exists() {
        make(&path)?;
    }
    Ok(path.display().to_string())
}

/// The number of tensors of two checkpoints when every one is equal bit for bit; else the first
/// that differs.
fn same_tensors(a: &Path, b: &Path) -> Result<usize> {
    let (a, b) = (Checkpoint::load(a)?, Checkpoint::load(b)?);
    let mut names: Vec<&String> = a.tensors.keys().collect();
    names.sort();
    ensure!(names.len() == b.tensors.len(), "{} tensors against {}", names.len(), b.tensors.len());
    for name in &names {
        let (x, y) = (&a.tensors[*name], b.tensors.get(*name).with_context(|| format!("{name} missing"))?);
        ensure!(x.size() == y.size() && x.kind() == y.kind() && x.equal(y), "{name} differs");
    }
    Ok(names.len())
}

/// The `reg.*` settings of `cfg` that are off (0 or false), then `augment.diffaug` and
/// `augment.p` when augmentation is off, each with a value that turns it on.
fn switches_off(cfg: &RunConfig) -> Result<Vec<(String, toml::Value)>> {
    let value = toml::Value::try_from(cfg)?;
    let mut off: Vec<(String, toml::Value)> = match value.get("reg").and_then(|r| r.as_table()) {
        Some(reg) => reg
            .iter()
            .filter_map(|(k, v)| {
                let on = match v {
                    toml::Value::Float(f) if *f == 0.0 => toml::Value::Float(0.5),
                    toml::Value::Integer(0) => toml::Value::Integer(1),
                    toml::Value::Boolean(false) => toml::Value::Boolean(true),
                    _ => return None,
                };
                Some((format!("reg.{k}"), on))
            })
            .collect(),
        None => Vec::new(),
    };
    if cfg.augment.is_off() {
        off.push(("augment.diffaug".into(), toml::Value::String("color,translation,cutout".into())));
        off.push(("augment.p".into(), toml::Value::Float(0.5)));
    }
    Ok(off)
}

/// `t` has `shape` and only finite values.
fn shaped(what: &str, t: &Tensor, shape: &[i64]) -> Result<()> {
    ensure!(t.size() == shape, "{what}: expected shape {shape:?}, found {:?}", t.size());
    ensure!(t.isfinite().all().int64_value(&[]) != 0, "{what}: not finite");
    Ok(())
}

/// Calls each capability `model` declares once; their names.
fn exercise(model: &Model) -> Result<Vec<&'static str>> {
    let f = model.family.as_ref();
    let mut done = Vec::new();
    let n = 3i64;
    // What the generator's outputs look like: images, or toy points.
    let out = |first: i64| -> Vec<i64> {
        match model.cfg.family.data() {
            DataNeeds::Toy { dim } => vec![first, dim],
            d => {
                let (c, s) = d.image().unwrap_or((0, 0));
                vec![first, c, s, s]
            }
        }
    };
    let images = |c: i64, s: i64| Tensor::rand([2, c, s, s], (Kind::Float, model.device)) * 2.0 - 1.0;
    // The latents every sampling capability draws from (they all extend the sampler).
    let z = f.sampler().map(|s| gantry_core::latent::latents(n as usize, s.z_dim(), 0, "harness"));
    let latents = |what: &str| z.as_ref().with_context(|| format!("the model has a {what} but no sampler"));
    if let Some(s) = f.sampler() {
        shaped("sampler", &s.generate(latents("sampler")?), &out(n))?;
        done.push("sampler");
    }
    if let Some(c) = f.class_sampler() {
        let z = latents("class sampler")?;
        let classes = Tensor::arange(n, (Kind::Int64, Device::Cpu)).remainder(c.classes());
        shaped("class sampler", &c.generate_class(z, &classes)?, &out(n))?;
        let beyond = Tensor::full([n], c.classes(), (Kind::Int64, Device::Cpu));
        ensure!(c.generate_class(z, &beyond).is_err(), "class sampler: class {} accepted", c.classes());
        done.push("class sampler");
    }
    if let Some(c) = f.code_sampler() {
        let z = latents("code sampler")?;
        let (cat, cont) = c.codes();
        let codes = Tensor::zeros([n], (Kind::Int64, Device::Cpu)).remainder(cat.max(1));
        shaped(
            "code sampler",
            &c.generate_codes(z, &codes, &Tensor::zeros([n, cont], (Kind::Float, Device::Cpu)))?,
            &out(n),
        )?;
        done.push("code sampler");
    }
    if let Some(t) = f.w_truncation() {
        let z = latents("truncation in W")?;
        shaped("truncation in W", &t.generate_psi(z, 0.5, None)?, &out(n))?;
        done.push("truncation in W");
    }
    if let Some(t) = f.translator() {
        let ((ci, si), (co, so)) = (t.input_shape(), t.output_shape());
        shaped("translator", &t.translate(&images(ci, si))?, &[2, co, so, so])?;
        if t.reversible() {
            shaped("translator, back", &t.translate_back(&images(co, so))?, &[2, ci, si, si])?;
        }
        if let Some(lr) = t.degrade(&images(co, so)) {
            shaped("translator, degrade", &lr, &[2, ci, si, si])?;
            if let Some(up) = t.baseline(&lr) {
                shaped("translator, baseline", &up, &[2, co, so, so])?;
            }
        }
        done.push("translator");
    }
    if f.style().is_some() {
        let g = model.style_generator()?;
        ensure!(
            g.cfg.z_dim == f.sampler().map_or(g.cfg.z_dim, |s| s.z_dim()),
            "style generator: z_dim differs from the sampler's"
        );
        done.push("style-based generator");
    }
    if let Some(a) = f.autoencoder() {
        let (c, s) = a.image_shape();
        let codes = a.encode(&images(c, s))?;
        shaped("autoencoder, encode", &codes, &[2, a.code_dim()])?;
        shaped("autoencoder, decode", &a.decode(&codes)?, &[2, c, s, s])?;
        shaped("autoencoder, prior", &a.prior_samples(4, 0), &[4, a.code_dim()])?;
        done.push("autoencoder");
    }
    Ok(done)
}
