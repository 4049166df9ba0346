//! GAN inversion for StyleGAN2 (`gantry invert`): find the latent whose image is a given one.
//!
//! - [`Method::Optim`] — StyleGAN2's projector (Karras et al. 2020, §5 and `projector.py`): start
//!   at w̄, optimise w (or w⁺, one w per layer) and the per-layer noise maps (from the stored
//!   ones; the reference re-draws them) with Adam (lr 0.1,
//!   cosine ramp-down, 5% warm-up), perturbing w by annealed Gaussian noise, minimising pixel L2
//!   plus a feature distance (the domain classifier's features instead of the reference's LPIPS
//!   VGG, which gantry cannot ship) plus the noise maps' autocorrelation at every scale.
//! - [`Method::Encoder`] — an encoder image → w trained on generated (image, w) pairs, its
//!   output then refined by the optimiser (Zhu et al. 2020's "encoder + optimisation").
//! - [`Method::Pti`] — pivotal tuning (Roich et al. 2022): the optimiser's w is the pivot; G's
//!   synthesis weights are then fine-tuned to reproduce the image from it, with a locality
//!   regulariser keeping G(w_r) unchanged at w_r = w_p + α·(w_z − w_p)/‖w_z − w_p‖.
//!
//! Reconstruction error is reported as PSNR over pixels in [0, 1]. What the caller knows of the
//! image domain comes in as [`Aids`]: a feature network for the feature distance (gantry's domain
//! classifiers in `gantry-train`) and the encoder's architecture; this crate imports neither.
//!
//! Editing ([`class_means`], [`edit`]): the inverted ws move along a direction in W, here the
//! difference of two class means `w̄_B − w̄_A` (mean w of samples a domain classifier reads as
//! each class; the simplest of the linear latent directions of Shen et al. 2020), and G redraws
//! them: `G(w + α·(w̄_B − w̄_A))`.

use crate::error::{bail, BoxError, Result, StyleError};
use gantry_core::optim::{Adam, AdamConfig};
use tch::nn::{ModuleT, VarStore};
use tch::{Device, Kind, Tensor};

use crate::{Generator, NoiseMode, StyleGan2Config, SynthesisOptions, Truncation};

/// Features of images `[N, C, R, R]` in [−1, 1], differentiable (the feature distance).
pub type FeatureFn<'a> = &'a dyn Fn(&Tensor) -> std::result::Result<Tensor, BoxError>;

/// Class predictions `[N]` (i64) of images `[N, C, R, R]` in [−1, 1] (class-mean edits).
pub type ClassifyFn<'a> = &'a dyn Fn(&Tensor) -> std::result::Result<Tensor, BoxError>;

/// An encoder image → w for a generator of this configuration, built on a path (its initial
/// weights drawn from libtorch's generator).
pub type EncoderFn<'a> = &'a dyn Fn(tch::nn::Path, &StyleGan2Config) -> Box<dyn ModuleT>;

/// A fresh, untouched copy of the generator being inverted (pivotal tuning's locality reference).
pub type FrozenFn<'a> = &'a dyn Fn() -> std::result::Result<Generator, BoxError>;

/// What the caller brings to an inversion.
#[derive(Clone, Copy, Default)]
pub struct Aids<'a> {
    /// The feature network of the feature distance (none: pixels only).
    pub features: Option<FeatureFn<'a>>,
    /// The encoder of [`Method::Encoder`].
    pub encoder: Option<EncoderFn<'a>>,
    /// The frozen copy [`Method::Pti`] tunes against.
    pub frozen: Option<FrozenFn<'a>>,
}

impl std::fmt::Debug for Aids<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Aids")
            .field("features", &self.features.map(|_| "<fn>"))
            .field("encoder", &self.encoder.map(|_| "<fn>"))
            .field("frozen", &self.frozen.map(|_| "<fn>"))
            .finish_non_exhaustive()
    }
}

/// How to invert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// StyleGAN2's projector from w̄ (`--method optim`).
    Optim,
    /// A trained encoder's w, refined by the projector (`--method encoder`).
    Encoder,
    /// Pivotal tuning: the projector's w, then G's synthesis weights tuned (`--method pti`).
    Pti,
}

impl std::str::FromStr for Method {
    type Err = StyleError;
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "optim" => Method::Optim,
            "encoder" => Method::Encoder,
            "pti" => Method::Pti,
            _ => bail!("invalid --method: expected optim, encoder or pti, found '{s}'"),
        })
    }
}

/// Where the latent lives: one w for every layer, or one per layer (w⁺).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Space {
    /// One w shared by every layer (`--space w`).
    W,
    /// One w per layer, `[1, num_ws, w_dim]` (`--space w+`).
    WPlus,
}

impl std::str::FromStr for Space {
    type Err = StyleError;
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "w" => Space::W,
            "w+" | "wplus" => Space::WPlus,
            _ => bail!("invalid --space: expected w or w+, found '{s}'"),
        })
    }
}

/// Inversion settings (defaults: the StyleGAN2 projector's, fewer steps for a CPU).
#[derive(Debug, Clone)]
pub struct InvertConfig {
    /// How to invert (default [`Method::Optim`]).
    pub method: Method,
    /// Where the latent lives (default [`Space::W`]).
    pub space: Space,
    /// Optimiser steps (the projector: 1,000).
    pub steps: usize,
    /// The optimiser's peak learning rate (the projector: 0.1): linear warm-up over the first 5%
    /// of steps, cosine ramp-down over the last 25%.
    pub lr: f64,
    /// Weight of the squared feature distance (0: pixels only).
    pub feature_weight: f64,
    /// Weight of the noise autocorrelation regulariser (the projector: 1e5).
    pub noise_weight: f64,
    /// Encoder training steps (batch 32) for `encoder`.
    pub encoder_steps: usize,
    /// Fine-tuning steps for `pti` (lr 3e-4) and the locality regulariser's weight and radius.
    pub pti_steps: usize,
    /// Weight of the locality regulariser (0: off).
    pub pti_locality: f64,
    /// Radius α of the locality regulariser: w_r lies α from the pivot, towards a random w_z.
    pub pti_alpha: f64,
}

impl Default for InvertConfig {
    fn default() -> Self {
        Self {
            method: Method::Optim,
            space: Space::W,
            steps: 300,
            lr: 0.1,
            feature_weight: 0.05,
            noise_weight: 1e5,
            encoder_steps: 1000,
            pti_steps: 150,
            pti_locality: 1.0,
            pti_alpha: 3.0,
        }
    }
}

/// PSNR (dB) between images in [−1, 1], over pixels mapped to [0, 1].
pub fn psnr(a: &Tensor, b: &Tensor) -> f64 {
    let mse = ((a - b) / 2.0).square().mean(Kind::Float).double_value(&[]);
    10.0 * (1.0 / mse.max(1e-12)).log10()
}

/// The result of an inversion.
#[derive(Debug)]
pub struct Inversion {
    /// `[1, num_ws, w_dim]`.
    pub ws: Tensor,
    /// G(ws) with the optimised noise, `[1, C, R, R]`.
    pub image: Tensor,
    /// PSNR (dB) of `image` against the target.
    pub psnr: f64,
    /// PSNR where the search started (w̄, the encoder's w, or the pivot before tuning).
    pub start_psnr: f64,
}

fn noise_layers(g: &mut Generator) -> Vec<&mut crate::layers::SynthesisLayer> {
    let mut out = Vec::new();
    for (_, b) in g.synthesis.blocks.iter_mut() {
        if let Some(c) = b.conv0.as_mut() {
            out.push(c);
        }
        out.push(&mut b.conv1);
    }
    out
}

/// Σ over noise maps and scales (down to 8×8) of the squared mean autocorrelation at shifts of
/// one pixel in x and y (the projector's noise regulariser).
fn noise_regulariser(maps: &[Tensor]) -> Tensor {
    let mut total = Tensor::zeros([], (Kind::Float, maps[0].device()));
    for m in maps {
        let mut n = m.view([1, 1, m.size()[0], m.size()[1]]);
        loop {
            total += (&n * n.roll([1], [3])).mean(Kind::Float).square();
            total += (&n * n.roll([1], [2])).mean(Kind::Float).square();
            if n.size()[2] <= 8 {
                break;
            }
            n = n.avg_pool2d([2, 2], [2, 2], [0, 0], false, true, None::<i64>);
        }
    }
    total
}

/// w̄ and the scalar spread of w from 10,000 mapped latents (seeded).
fn w_stats(g: &Generator, device: Device) -> (Tensor, f64) {
    let z = gantry_core::latent::latents(10_000, g.cfg.z_dim, 123, "invert-w-stats").to_device(device);
    tch::no_grad(|| {
        let w = g.mapping.forward(Some(&z), None, Truncation::default(), false).select(1, 0); // [N, w_dim]
        let mean = w.mean_dim([0i64].as_slice(), true, Kind::Float); // [1, w_dim]
        let std = ((&w - &mean).square().sum(Kind::Float).double_value(&[]) / 10_000.0).sqrt();
        (mean, std)
    })
}

/// The loss of a reconstruction: pixel MSE + feature distance.
fn distance(
    x: &Tensor,
    target: &Tensor,
    target_feat: Option<&Tensor>,
    feat: Option<FeatureFn>,
    wf: f64,
) -> Result<Tensor> {
    let mut d = (x - target).square().mean(Kind::Float);
    if let (Some(f), Some(tf)) = (feat, target_feat) {
        d += (f(x)? - tf).square().mean(Kind::Float) * wf;
    }
    Ok(d)
}

/// The projector: optimise w (or w⁺, from `init` `[1, L, w_dim]` or w̄) and the noise maps.
pub fn optimise(
    g: &mut Generator,
    target: &Tensor,
    init: Option<&Tensor>,
    cfg: &InvertConfig,
    feat: Option<FeatureFn>,
) -> Result<Inversion> {
    let device = target.device();
    let num_ws = g.synthesis.num_ws;
    let (w_avg, w_std) = w_stats(g, device);
    let start = match (init, cfg.space) {
        (Some(ws), Space::WPlus) => ws.shallow_clone(),
        (Some(ws), Space::W) => ws.mean_dim([1i64].as_slice(), true, Kind::Float),
        (None, Space::WPlus) => w_avg.unsqueeze(1).repeat([1, num_ws, 1]),
        (None, Space::W) => w_avg.unsqueeze(1),
    };
    let vs = VarStore::new(device);
    let w_opt = vs.root().var_copy("w", &start.detach());
    let mut maps = Vec::new();
    for (i, layer) in noise_layers(g).into_iter().enumerate() {
        let n = vs.root().var_copy(&format!("noise{i:02}"), &layer.noise_const);
        layer.noise_const = n.shallow_clone();
        maps.push(n);
    }
    let target_feat = feat.map(|f| tch::no_grad(|| f(target))).transpose()?;
    let mut opt =
        Adam::new(&vs, AdamConfig { lr: cfg.lr, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.0 });
    let o = SynthesisOptions { noise: NoiseMode::Const, fused: false };
    let ws_of = |w: &Tensor| if w.size()[1] == 1 { w.repeat([1, num_ws, 1]) } else { w.shallow_clone() };
    let fused = SynthesisOptions { noise: NoiseMode::Const, fused: true };
    let start_psnr = psnr(&tch::no_grad(|| g.synthesis.forward(&ws_of(&w_opt), fused)), target);
    for step in 0..cfg.steps {
        let t = step as f64 / cfg.steps as f64;
        let noise_scale = w_std * 0.05 * (1.0 - t / 0.75).max(0.0).powi(2);
        let ramp = ((1.0 - t) / 0.25).min(1.0);
        opt.config.lr =
            cfg.lr * (0.5 - 0.5 * (ramp * std::f64::consts::PI).cos()) * (t / 0.05).clamp(1e-3, 1.0);
        let ws = ws_of(&(&w_opt + w_opt.randn_like() * noise_scale));
        let x = g.synthesis.forward(&ws, o);
        let loss = distance(&x, target, target_feat.as_ref(), feat, cfg.feature_weight)?
            + noise_regulariser(&maps) * cfg.noise_weight;
        opt.backward_step(&loss);
        tch::no_grad(|| {
            for m in &maps {
                let mut m = m.shallow_clone();
                let mean = m.mean(Kind::Float);
                let _ = m.g_sub_(&mean);
                let scale = m.square().mean(Kind::Float).rsqrt();
                let _ = m.g_mul_(&scale);
            }
        });
    }
    for m in &maps {
        let _ = m.shallow_clone().requires_grad_(false);
    }
    let ws = ws_of(&w_opt.detach());
    let image = tch::no_grad(|| g.synthesis.forward(&ws, fused));
    let psnr = psnr(&image, target);
    Ok(Inversion { ws, image, psnr, start_psnr })
}

/// Trains an encoder image → w (built by `build`) on `steps` batches of 32 generated pairs (MSE
/// in W); returns it with its store.
pub fn train_encoder(
    g: &Generator,
    build: EncoderFn,
    steps: usize,
    device: Device,
    seed: u64,
) -> Result<(VarStore, Box<dyn ModuleT>)> {
    tch::manual_seed(seed as i64);
    let vs = VarStore::new(device);
    let net = build(vs.root(), &g.cfg);
    let mut opt =
        Adam::new(&vs, AdamConfig { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.0 });
    let o = SynthesisOptions { noise: NoiseMode::Const, fused: true };
    for _ in 0..steps {
        let (x, w) = tch::no_grad(|| {
            let z = Tensor::randn([32, g.cfg.z_dim], (Kind::Float, device));
            let ws = g.mapping.forward(Some(&z), None, Truncation::default(), false);
            (g.synthesis.forward(&ws, o), ws.select(1, 0))
        });
        let pred = net.forward_t(&x, true);
        opt.backward_step(&(&pred - &w).square().mean(Kind::Float));
    }
    Ok((vs, net))
}

/// Pivotal tuning: the optimiser's ws become the pivot; G's synthesis weights are tuned on the
/// image with a locality regulariser against a frozen copy of G.
pub fn pivotal_tuning(
    (vs, g): (&VarStore, &Generator),
    frozen: &Generator,
    target: &Tensor,
    pivot: &Tensor,
    cfg: &InvertConfig,
    feat: Option<FeatureFn>,
) -> Result<Inversion> {
    let device = target.device();
    let target_feat = feat.map(|f| tch::no_grad(|| f(target))).transpose()?;
    // Only the synthesis network is tuned (the mapping, w̄ and noise stay).
    for (name, mut t) in vs.variables() {
        if !name.starts_with("synthesis.") || name.ends_with("noise_const") {
            let _ = t.requires_grad_(false);
        }
    }
    let mut opt =
        Adam::new(vs, AdamConfig { lr: 3e-4, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.0 });
    let o = SynthesisOptions { noise: NoiseMode::Const, fused: false };
    // The frozen copy keeps its own noise maps, so locality compares both without noise.
    let quiet = SynthesisOptions { noise: NoiseMode::None, fused: false };
    let fused = SynthesisOptions { noise: NoiseMode::Const, fused: true };
    let start_psnr = psnr(&tch::no_grad(|| g.synthesis.forward(pivot, fused)), target);
    for _ in 0..cfg.pti_steps {
        let x = g.synthesis.forward(pivot, o);
        let mut loss = distance(&x, target, target_feat.as_ref(), feat, cfg.feature_weight)?;
        if cfg.pti_locality > 0.0 {
            let z = Tensor::randn([4, g.cfg.z_dim], (Kind::Float, device));
            let wz = tch::no_grad(|| frozen.mapping.forward(Some(&z), None, Truncation::default(), false));
            let dir = &wz - pivot;
            let norm =
                dir.square().sum_dim_intlist([2i64].as_slice(), true, Kind::Float).sqrt().clamp_min(1e-8);
            let wr = pivot + dir / norm * cfg.pti_alpha;
            let before = tch::no_grad(|| frozen.synthesis.forward(&wr, quiet));
            loss += (g.synthesis.forward(&wr, quiet) - before).square().mean(Kind::Float) * cfg.pti_locality;
        }
        opt.backward_step(&loss);
    }
    let image = tch::no_grad(|| g.synthesis.forward(pivot, fused));
    let psnr = psnr(&image, target);
    Ok(Inversion { ws: pivot.shallow_clone(), image, psnr, start_psnr })
}

/// Mean w `[K, w_dim]` of each of K = 10 classes among `n` seeded samples, as `classify` reads
/// the images, with the number of samples per class. Noise maps are the stored ones.
pub fn class_means(g: &Generator, classify: ClassifyFn, n: usize, seed: u64) -> Result<(Tensor, Vec<i64>)> {
    let device = g.mapping.fcs[0].weight.device();
    let (mut ws, mut labels) = (Vec::new(), Vec::new());
    let z = gantry_core::latent::latents(n, g.cfg.z_dim, seed, "edit-class-means").to_device(device);
    for chunk in z.split(500, 0) {
        let (w, x) = tch::no_grad(|| {
            let w = g.mapping.forward(Some(&chunk), None, Truncation::default(), false);
            let x = g.synthesis.forward(&w, SynthesisOptions { noise: NoiseMode::Const, fused: true });
            (w.select(1, 0), x)
        });
        labels.push(classify(&x)?.to_device(Device::Cpu));
        ws.push(w.to_device(Device::Cpu));
    }
    let (ws, labels) = (Tensor::cat(&ws, 0), Tensor::cat(&labels, 0));
    let k = 10;
    let onehot = labels.one_hot(k).to_kind(Kind::Float); // [n, K]
    let counts = onehot.sum_dim_intlist([0i64].as_slice(), false, Kind::Float); // [K]
    let means = onehot.tr().mm(&ws) / counts.clamp_min(1.0).unsqueeze(1);
    let counts: Vec<f32> = Vec::try_from(counts)?;
    Ok((means.to_device(device), counts.iter().map(|&c| c as i64).collect()))
}

/// Which classes an edit moves between: `--edit A:B`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EditClasses {
    /// The class the edit moves away from, 0–9.
    pub from: i64,
    /// The class it moves towards, 0–9 (another than `from`).
    pub to: i64,
}

impl std::str::FromStr for EditClasses {
    type Err = StyleError;

    fn from_str(s: &str) -> Result<Self> {
        let parse = |t: &str| t.trim().parse::<i64>().ok().filter(|k| (0..10).contains(k));
        match s.split_once(':').map(|(a, b)| (parse(a), parse(b))) {
            Some((Some(from), Some(to))) if from != to => Ok(Self { from, to }),
            _ => {
                bail!("invalid --edit: expected two different classes 0–9 as FROM:TO (e.g. 3:8), found '{s}'")
            }
        }
    }
}

/// G's images `[S, C, R, R]` for the ws `[1, L, w_dim]` moved by each `strengths` α along
/// `direction` `[w_dim]` (every layer alike), with the stored noise maps.
pub fn edit(g: &Generator, ws: &Tensor, direction: &Tensor, strengths: &[f64]) -> Tensor {
    let moved: Vec<Tensor> = strengths.iter().map(|&a| ws + direction.view([1, 1, -1]) * a).collect();
    let o = SynthesisOptions { noise: NoiseMode::Const, fused: true };
    tch::no_grad(|| g.synthesis.forward(&Tensor::cat(&moved, 0), o))
}

/// The class-mean direction `w̄_to − w̄_from` from 5,000 samples (an error names a class the
/// generator never draws).
pub fn class_direction(g: &Generator, classify: ClassifyFn, classes: EditClasses) -> Result<Tensor> {
    let (means, counts) = class_means(g, classify, 5000, 0)?;
    for k in [classes.from, classes.to] {
        if counts[k as usize] == 0 {
            bail!(
                "--edit: the generator drew no sample the classifier reads as {k} among 5,000 (per class: {counts:?})"
            );
        }
    }
    Ok(means.get(classes.to) - means.get(classes.from))
}

/// Runs `cfg.method` on `target` `[1, C, R, R]` in [−1, 1] with the generator `g` on `vs`.
/// Optimisation changes `g`'s noise maps and tuning its weights: edits of the result use `g`
/// afterwards.
pub fn invert(
    (vs, g): (&VarStore, &mut Generator),
    target: &Tensor,
    cfg: &InvertConfig,
    seed: u64,
    aids: Aids,
) -> Result<Inversion> {
    let device = vs.device();
    let r = g.cfg.resolution;
    let c = g.cfg.channels.max(1);
    if target.size() != [1, c, r, r] {
        bail!("invert: the image must be [1, {c}, {r}, {r}] for this generator, found {:?}", target.size());
    }
    let target = target.to_device(device);
    let feat = aids.features.filter(|_| cfg.feature_weight > 0.0);
    tch::manual_seed(seed as i64);
    match cfg.method {
        Method::Optim => optimise(g, &target, None, cfg, feat),
        Method::Encoder => {
            let build =
                aids.encoder.ok_or_else(|| invalid("the encoder method needs an encoder architecture"))?;
            let (_vs, enc) = train_encoder(g, build, cfg.encoder_steps, device, seed)?;
            let w = tch::no_grad(|| enc.forward_t(&target, false));
            let init = w.unsqueeze(1).repeat([1, g.synthesis.num_ws, 1]);
            let direct = {
                let x = tch::no_grad(|| {
                    g.synthesis.forward(&init, SynthesisOptions { noise: NoiseMode::Const, fused: true })
                });
                psnr(&x, &target)
            };
            eprintln!("encoder alone: PSNR {direct:.2} dB; refining");
            optimise(g, &target, Some(&init), cfg, feat)
        }
        Method::Pti => {
            let frozen =
                aids.frozen.ok_or_else(|| invalid("pivotal tuning needs a frozen copy of the generator"))?()?;
            let pivot = optimise(g, &target, None, cfg, feat)?;
            eprintln!("pivot: PSNR {:.2} dB; tuning G", pivot.psnr);
            pivotal_tuning((vs, g), &frozen, &target, &pivot.ws, cfg, feat)
        }
    }
}

fn invalid(what: &str) -> StyleError {
    StyleError::Invalid(what.to_string())
}
