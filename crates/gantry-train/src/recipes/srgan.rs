//! SRGAN and SRResNet (`model.arch = "srgan"`, Ledig et al. 2017): super-resolution by ×`scale`
//! of low-resolution inputs that are made on the fly from the training images by bicubic
//! downsampling (with antialiasing, as MATLAB's `imresize` the paper used):
//!
//! ```text
//! I_LR = bicubic↓(I_HR),   I_SR = G(I_LR)
//! l_SR = l_content + 10⁻³·l_adv,           l_adv = −log D(I_SR)            (the run's `loss`)
//! l_content = MSE(I_SR, I_HR)                                               (SRResNet, `mse`)
//!           | mean ((φ(I_SR) − φ(I_HR)) / 12.75)² [+ w·MSE]                (VGG22, VGG54, …)
//! ```
//!
//! φ is a frozen pretrained network's feature map (`train.content`): the paper's VGG19
//! `relu2_2`/`relu5_4` (`vgg22`, `vgg54`; weights from a user's torchvision file through
//! `scripts/convert_vgg19.py`), or the FID Inception-v3's stem (`inception-2b`, `inception-4a`),
//! which is available offline and so is what the presets use. Pixel MSE "over-smooths": the
//! average of the plausible high-resolution images is blurry, and a feature-space content loss
//! with an adversarial term moves the output onto the image manifold instead.
//!
//! Training as the paper: SRResNet with MSE first (`train.adv_weight = 0`: D is not trained),
//! then SRGAN initialised from it (`train.init_from = RUN`, loaded when the run starts, not on
//! resume), Adam(β1 = 0.9) at 10⁻⁴ and ×0.1 from step `train.lr_drop_at`. Phases: `D` on a fresh
//! batch (G's forward happens here once), then `G` on the same batch and output.

use std::path::Path;

use crate::error::{bail, Context, Result};
use gantry_core::checkpoint::Checkpoint;
use gantry_core::optim::AdamConfig;
use gantry_translate::{FeatureLayer, FeatureNet, SrDiscriminator, SrResNet, SrganConfig};
use serde::{Deserialize, Serialize};
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

use super::adversarial::{critic_update, validate_adams, validate_nonnegative, LossChoice, Penalties};
use crate::capability::Translator;
use crate::config::{FamilyConfig, LogConfig, Recipe, RunConfig};
use crate::family::BuildContext;
use crate::family::{Batch, DataNeeds, Family, NetId, Networks, Phase, Scalars};
use crate::presets::Preset;

/// The content loss (`train.content`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Content {
    /// Pixel-wise MSE (SRResNet; the paper's SRGAN-MSE with an adversarial term).
    #[serde(rename = "mse")]
    Mse,
    /// VGG19 relu2_2 (SRGAN-VGG22).
    #[serde(rename = "vgg22")]
    Vgg22,
    /// VGG19 relu5_4 (SRGAN-VGG54, the paper's SRGAN).
    #[serde(rename = "vgg54")]
    Vgg54,
    /// The FID Inception's Conv2d_2b_3x3 (low-level, 64 channels).
    #[serde(rename = "inception-2b")]
    Inception2b,
    /// The FID Inception's Conv2d_4a_3x3 (192 channels, before the mixed blocks).
    #[serde(rename = "inception-4a")]
    Inception4a,
}

impl Content {
    /// The feature layer, for feature-space losses.
    pub fn layer(self) -> Option<FeatureLayer> {
        match self {
            Content::Mse => None,
            Content::Vgg22 => Some(FeatureLayer::Vgg22),
            Content::Vgg54 => Some(FeatureLayer::Vgg54),
            Content::Inception2b => Some(FeatureLayer::Inception2b),
            Content::Inception4a => Some(FeatureLayer::Inception4a),
        }
    }
}

/// SRGAN's optimisation (`[train]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SrTrain {
    /// G's Adam (`train.g_opt`; the paper: lr 10⁻⁴, β1 = 0.9); its lr is the base `lr_drop_at`
    /// scales.
    pub g_opt: AdamConfig,
    /// D's Adam (`train.d_opt`; the paper: as G's).
    pub d_opt: AdamConfig,
    /// The content loss (`train.content`: `mse`, `vgg22`, `vgg54`, `inception-2b`, `inception-4a`).
    pub content: Content,
    /// The feature network's weights: a VGG19 safetensors file (`scripts/convert_vgg19.py`) for
    /// `vgg22`/`vgg54`; for the Inception layers a TorchScript file, "" to find the FID Inception
    /// as `gantry eval` does (`GANTRY_SHARED`, `../shared/weights`, the cache).
    #[serde(default)]
    pub content_weights: String,
    /// Features are multiplied by this before the MSE (the paper: 1/12.75, "to obtain VGG losses
    /// of a scale that is comparable to the MSE loss").
    pub feature_scale: f64,
    /// Weight of a pixel MSE added to a feature-space content loss (the paper: 0). The presets
    /// use 0.1: the FID Inception's first layer has stride 2 and no padding, so pixel-level
    /// patterns are nearly invisible to its features, and without a pixel term G fills them with
    /// grid artefacts (seen in `repro translation`).
    #[serde(default)]
    pub pixel_weight: f64,
    /// Weight of G's adversarial term (the paper: 10⁻³; 0: SRResNet, D not trained).
    pub adv_weight: f64,
    /// From this step on (1-based), both learning rates are ×0.1 (the paper: after 10⁵ of 2·10⁵
    /// updates); 0: never.
    pub lr_drop_at: u64,
    /// A run folder or checkpoint whose `g` initialises G when the run starts (SRGAN from its
    /// SRResNet); "" for none.
    #[serde(default)]
    pub init_from: String,
}

/// An SRGAN run's own settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SrganRun {
    /// The adversarial objective (the paper: `non-saturating`).
    pub loss: LossChoice,
    /// D's penalties (`[reg]`; R1, R2, DRAGAN and drift must be 0 when `train.adv_weight` = 0);
    /// configs without it get the defaults.
    #[serde(default)]
    pub reg: Penalties,
    /// The SRResNet G and SRGAN D, the scale factor and image size (`[model]`).
    pub model: SrganConfig,
    /// Optimisation and the content and adversarial terms (`[train]`).
    pub train: SrTrain,
}

impl Recipe for SrganRun {
    const ARCH: &'static str = "srgan";

    fn data(&self) -> DataNeeds {
        DataNeeds::Images { channels: self.model.channels, size: self.model.size, classes: None }
    }

    fn set_channels(&mut self, channels: i64) {
        self.model.channels = channels;
    }

    /// NHWC: the SRGAN ×4 step (batch 16, 64×64) took 898 ms against NCHW's 982 (medians of 3
    /// interleaved rounds, 2 threads; README's `[perf]` table).
    fn memory_format(&self) -> gantry_core::layout::MemoryFormat {
        gantry_core::layout::MemoryFormat::Nhwc
    }

    fn validate(&self, _run: &RunConfig) -> Result<()> {
        if self.model.channels != 0 {
            self.model.validate().map_err(|e| crate::error::err!("invalid {e}"))?;
        }
        self.reg.validate(self.loss)?;
        let t = &self.train;
        if t.adv_weight == 0.0 {
            let r = &self.reg;
            for (k, v) in
                [("reg.r1", r.r1), ("reg.r2", r.r2), ("reg.dragan", r.dragan), ("reg.drift", r.drift)]
            {
                if v != 0.0 {
                    bail!("invalid {k} = {v}: train.adv_weight = 0 is SRResNet, which trains no D for it to regularise (set train.adv_weight > 0 for SRGAN)");
                }
            }
        }
        validate_adams(&t.g_opt, &t.d_opt)?;
        validate_nonnegative(&[
            ("train.adv_weight", t.adv_weight),
            ("train.feature_scale", t.feature_scale),
            ("train.pixel_weight", t.pixel_weight),
        ])?;
        if t.content.layer().is_some() && t.feature_scale == 0.0 {
            bail!("invalid train.feature_scale: 0 turns the {:?} content loss off", t.content);
        }
        if matches!(t.content, Content::Vgg22 | Content::Vgg54) && t.content_weights.is_empty() {
            bail!(
                "train.content = {:?} needs train.content_weights: VGG19's ImageNet weights are not available offline; convert torchvision's vgg19-dcbb9e9d.pth with scripts/convert_vgg19.py, or use content = \"inception-2b\" / \"inception-4a\"",
                t.content
            );
        }
        Ok(())
    }

    fn build(&self, _run: &RunConfig, cx: &BuildContext) -> Result<Box<dyn Family>> {
        Ok(Box::new(SrganFamily::new(self, cx)?))
    }
}

/// Bicubic downsampling with antialiasing by `scale` (MATLAB's `imresize`, PIL's `BICUBIC`),
/// clamped to [−1, 1]: the low-resolution inputs of super-resolution.
pub fn downsample(hr: &Tensor, scale: i64) -> Tensor {
    let size = hr.size();
    let (h, w) = (size[2] / scale, size[3] / scale);
    tch::no_grad(|| hr.internal_upsample_bicubic2d_aa([h, w], false, None, None).clamp(-1.0, 1.0))
}

/// Plain bicubic upsampling by `scale` (the baseline every SR paper reports), clamped.
pub fn bicubic_upscale(lr: &Tensor, scale: i64) -> Tensor {
    let size = lr.size();
    let (h, w) = (size[2] * scale, size[3] * scale);
    tch::no_grad(|| lr.upsample_bicubic2d([h, w], false, None, None).clamp(-1.0, 1.0))
}

/// SRGAN in training.
#[derive(Debug)]
pub struct SrganFamily {
    s: SrganRun,
    nets: Networks,
    g_id: NetId,
    d_id: NetId,
    g: SrResNet,
    d: SrDiscriminator,
    /// The frozen content network (training only).
    features: Option<FeatureNet>,
    device: Device,
    /// G's output on the current batch, made in the D phase and used again by the G phase.
    sr: Option<Tensor>,
    phases: [Phase; 2],
}

impl SrganFamily {
    /// Builds G and D on `cx.device` (their initial weights come from libtorch's generator: seed
    /// it first) and, when training (`cx.batches_per_epoch` is set), loads the content network
    /// `train.content` needs; fails when its weights cannot be found.
    pub fn new(s: &SrganRun, cx: &BuildContext) -> Result<Self> {
        s.model.validate().map_err(|e| crate::error::err!("invalid {e}"))?;
        let (vs_g, vs_d) = (VarStore::new(cx.device), VarStore::new(cx.device));
        let g = SrResNet::new(vs_g.root(), &s.model);
        let d = SrDiscriminator::new(vs_d.root(), &s.model);
        let mut nets = Networks::new();
        let g_id = nets.trained("g", vs_g, s.train.g_opt, true);
        let d_id = nets.trained("d", vs_d, s.train.d_opt, false);
        // The content network is needed to train, not to upscale.
        let features = match (s.train.content.layer(), cx.batches_per_epoch) {
            (Some(layer), Some(_)) => Some(load_features(layer, &s.train.content_weights, cx.device)?),
            _ => None,
        };
        Ok(Self {
            s: s.clone(),
            nets,
            g_id,
            d_id,
            g,
            d,
            features,
            device: cx.device,
            sr: None,
            phases: [Phase::fresh("D"), Phase::same_batch("G")],
        })
    }

    /// Sets both learning rates for step `k` (0-based); returns the factor.
    fn schedule(&mut self, k: u64) -> f64 {
        let t = &self.s.train;
        let factor = if t.lr_drop_at > 0 && k + 1 >= t.lr_drop_at { 0.1 } else { 1.0 };
        let (lr_g, lr_d) = (t.g_opt.lr, t.d_opt.lr);
        self.nets.opt_mut(self.g_id).config.lr = lr_g * factor;
        self.nets.opt_mut(self.d_id).config.lr = lr_d * factor;
        factor
    }

    fn d_step(&mut self, batch: &Batch, k: u64) -> Result<Scalars> {
        let factor = self.schedule(k);
        let hr = &batch.images;
        let lr = downsample(hr, self.s.model.scale);
        let sr = self.g.forward(&lr, true);
        let mut out = vec![("lr_factor", factor)];
        if self.s.train.adv_weight > 0.0 {
            let detached = sr.detach();
            let fake_out = self.d.forward(&detached, true);
            let real_out = self.d.forward(hr, true);
            let loss = self.s.loss.adversarial();
            let adv = loss.d_loss(&real_out, &fake_out);
            let d = &self.d;
            let critic = |x: &Tensor| d.forward(x, true);
            let constraint = self.s.loss.constraint();
            let extra = self.s.reg.total(constraint, &critic, hr, &detached, k);
            let (nets, reg) = (&mut self.nets, &self.s.reg);
            out.extend(critic_update(nets, self.d_id, constraint, reg, &adv, &extra, &real_out, &fake_out));
        }
        self.sr = Some(sr);
        Ok(out)
    }

    fn g_step(&mut self, batch: &Batch) -> Result<Scalars> {
        let hr = &batch.images;
        let sr = self.sr.take().expect("the D phase made G(LR)");
        let t = &self.s.train;
        let mse = (&sr - hr).square().mean(Kind::Float);
        let content = match (&self.features, t.content.layer()) {
            (Some(net), Some(layer)) => {
                let target = tch::no_grad(|| net.features(hr, layer));
                let features =
                    ((net.features(&sr, layer) - target) * t.feature_scale).square().mean(Kind::Float);
                if t.pixel_weight > 0.0 {
                    features + &mse * t.pixel_weight
                } else {
                    features
                }
            }
            _ => mse.shallow_clone(),
        };
        let mut out = Vec::new();
        let loss = if t.adv_weight > 0.0 {
            let fake_out = self.d.forward(&sr, true);
            let real_out = self.s.loss.adversarial().g_needs_real().then(|| self.d.forward(hr, true));
            let adv = self.s.loss.adversarial().g_loss(&fake_out, real_out.as_ref());
            out.push(("g_adv", adv.double_value(&[])));
            &content + adv * t.adv_weight
        } else {
            content.shallow_clone()
        };
        self.nets.opt_mut(self.g_id).backward_step(&loss);
        let mse = mse.double_value(&[]);
        out.insert(0, ("g_loss", loss.double_value(&[])));
        out.push(("g_content", content.double_value(&[])));
        // PSNR on the batch, images in [−1, 1] (peak-to-peak 2).
        out.push(("psnr", 10.0 * (4.0 / mse.max(1e-12)).log10()));
        Ok(out)
    }

    /// Loads `train.init_from`'s generator into G.
    fn init_from(&self, arg: &str) -> Result<()> {
        let path = crate::run_dir::resolve_checkpoint(Path::new(arg))
            .with_context(|| format!("train.init_from = \"{arg}\""))?;
        let ck = Checkpoint::load(&path)?;
        let cfg = crate::capability::config_of(&ck)?;
        let Some(other) = cfg.family.get::<SrganRun>() else {
            bail!(
                "train.init_from: {} holds a {} model, expected an srgan/srresnet one",
                path.display(),
                cfg.family.arch()
            );
        };
        let (a, b) = (&self.s.model, &other.model);
        if (a.channels, a.scale, a.n_blocks, a.ngf) != (b.channels, b.scale, b.n_blocks, b.ngf) {
            bail!(
                "train.init_from: {} has a generator of channels {}, scale {}, n_blocks {}, ngf {}; this run's has {}, {}, {}, {}",
                path.display(),
                b.channels,
                b.scale,
                b.n_blocks,
                b.ngf,
                a.channels,
                a.scale,
                a.n_blocks,
                a.ngf
            );
        }
        ck.load_varstore("g", self.nets.vs(self.g_id))
            .with_context(|| format!("train.init_from: loading G from {}", path.display()))?;
        eprintln!("G initialised from {}", path.display());
        Ok(())
    }
}

/// The frozen feature network of `layer`, from `weights` ("" for the FID Inception's usual place).
fn load_features(layer: FeatureLayer, weights: &str, device: Device) -> Result<FeatureNet> {
    let path = if weights.is_empty() {
        if layer.is_vgg() {
            bail!("train.content_weights: {} needs a VGG19 safetensors file", layer.label());
        }
        gantry_metrics::weights::locate(gantry_metrics::weights::INCEPTION_FILE, "inception")?
    } else {
        weights.into()
    };
    FeatureNet::load(layer, &path, device)
        .map_err(|e| crate::error::err!("train.content_weights ({}): {e}", layer.label()))
}

impl Family for SrganFamily {
    fn phases(&self) -> &[Phase] {
        &self.phases
    }

    fn run_phase(&mut self, phase: usize, batch: &Batch, k: u64) -> Result<Scalars> {
        match phase {
            0 => self.d_step(batch, k),
            _ => self.g_step(batch),
        }
    }

    fn networks(&self) -> &Networks {
        &self.nets
    }

    fn networks_mut(&mut self) -> &mut Networks {
        &mut self.nets
    }

    fn translator(&self) -> Option<&dyn Translator> {
        Some(self)
    }

    fn initialise(&mut self) -> Result<()> {
        match self.s.train.init_from.as_str() {
            "" => Ok(()),
            arg => self.init_from(arg),
        }
    }
}

impl Translator for SrganFamily {
    fn input_shape(&self) -> (i64, i64) {
        (self.s.model.channels, self.s.model.lr_size())
    }

    fn output_shape(&self) -> (i64, i64) {
        (self.s.model.channels, self.s.model.size)
    }

    /// SRResNet is fully convolutional: any `[N, C, H, W]` becomes `[N, C, s·H, s·W]`.
    fn translate(&self, inputs: &Tensor) -> Result<Tensor> {
        let c = self.s.model.channels;
        let size = inputs.size();
        if size.len() != 4 || size[1] != c {
            bail!("this model upscales [N, {c}, H, W] images, found {size:?}");
        }
        Ok(tch::no_grad(|| self.g.forward(&inputs.to_device(self.device), false)))
    }

    fn degrade(&self, targets: &Tensor) -> Option<Tensor> {
        Some(downsample(targets, self.s.model.scale))
    }

    fn baseline(&self, inputs: &Tensor) -> Option<Tensor> {
        Some(bicubic_upscale(inputs, self.s.model.scale))
    }

    fn any_size(&self) -> bool {
        true
    }

    fn context(&self) -> Option<i64> {
        Some(self.s.model.receptive_radius())
    }
}

/// The paper's optimisation: Adam(10⁻⁴, β1 0.9), content + 10⁻³·adversarial, lr ×0.1 at
/// `lr_drop_at`.
fn paper_train(content: Content, adv_weight: f64, lr_drop_at: u64, init_from: &str) -> SrTrain {
    let adam = AdamConfig { lr: 1e-4, beta1: 0.9, beta2: 0.999, ..AdamConfig::default() };
    SrTrain {
        g_opt: adam,
        d_opt: adam,
        content,
        content_weights: String::new(),
        feature_scale: 1.0 / 12.75,
        pixel_weight: if content.layer().is_some() { 0.1 } else { 0.0 },
        adv_weight,
        lr_drop_at,
        init_from: init_from.into(),
    }
}

fn srgan(
    name: &str,
    data: &str,
    model: SrganConfig,
    (batch, steps): (usize, u64),
    train: SrTrain,
    hflip: bool,
) -> RunConfig {
    let family = FamilyConfig::new(SrganRun {
        loss: LossChoice::NonSaturating,
        reg: Penalties::default(),
        model,
        train,
    });
    RunConfig {
        loader: crate::presets::loader(hflip),
        log: LogConfig { grid: 16, ..Default::default() },
        ..crate::presets::base(name, data, (batch, steps), family)
    }
}

/// CIFAR-10 ×4 (8×8 → 32×32, RGB): the paper's networks (16 blocks, 64 filters), batch 16,
/// MSE. A CPU sized run; the paper trains 10⁶ updates.
fn srresnet_cifar() -> RunConfig {
    let t = paper_train(Content::Mse, 0.0, 0, "");
    srgan("srresnet-cifar", "cifar10-jpg", SrganConfig::paper(32, 3), (16, 3000), t, true)
}

/// SRGAN on CIFAR-10 ×4 from `runs/srresnet-cifar`: the FID Inception's Conv2d_2b features (a
/// 13×13 map of 32×32 images; the deeper 4a is 4×4 there) + 0.1·MSE + 10⁻³ adversarial.
fn srgan_cifar() -> RunConfig {
    let t = paper_train(Content::Inception2b, 1e-3, 2001, "runs/srresnet-cifar");
    srgan("srgan-cifar", "cifar10-jpg", SrganConfig::paper(32, 3), (16, 3000), t, true)
}

/// ORL faces ×4 (16×16 → 64×64, grey; 400 images, flips), MSE.
fn srresnet_orl() -> RunConfig {
    let t = paper_train(Content::Mse, 0.0, 0, "");
    srgan("srresnet-orl", "orl-faces", SrganConfig::paper(64, 1), (16, 3000), t, true)
}

/// SRGAN on ORL faces ×4 from `runs/srresnet-orl`: the FID Inception's Conv2d_4a features (12×12
/// maps of 64×64 faces) + 10⁻³ adversarial.
fn srgan_orl() -> RunConfig {
    let t = paper_train(Content::Inception4a, 1e-3, 2001, "runs/srresnet-orl");
    srgan("srgan-orl", "orl-faces", SrganConfig::paper(64, 1), (16, 3000), t, true)
}

/// The SRGAN presets.
pub const PRESETS: &[Preset] = &[
    Preset {
        name: "srresnet-cifar",
        summary: "SRResNet (MSE), CIFAR-10 x4: 8x8 -> 32x32 (the SRGAN recipe's first stage)",
        build: srresnet_cifar,
    },
    Preset {
        name: "srgan-cifar",
        summary: "SRGAN from runs/srresnet-cifar, CIFAR-10 x4, Inception-feature content loss",
        build: srgan_cifar,
    },
    Preset {
        name: "srresnet-orl",
        summary: "SRResNet (MSE), ORL faces x4: 16x16 -> 64x64 grey",
        build: srresnet_orl,
    },
    Preset {
        name: "srgan-orl",
        summary: "SRGAN from runs/srresnet-orl, ORL faces x4, Inception-feature content loss",
        build: srgan_orl,
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bicubic_down_then_up_keeps_a_constant_and_the_shapes() {
        let x = Tensor::full([2, 3, 32, 32], 0.25, (Kind::Float, Device::Cpu));
        let lr = downsample(&x, 4);
        assert_eq!(lr.size(), [2, 3, 8, 8]);
        assert!((lr - 0.25).abs().max().double_value(&[]) < 1e-6);
        let up = bicubic_upscale(&Tensor::full([1, 1, 8, 8], -0.5, (Kind::Float, Device::Cpu)), 4);
        assert_eq!(up.size(), [1, 1, 32, 32]);
        assert!((up + 0.5).abs().max().double_value(&[]) < 1e-6);
    }

    #[test]
    fn antialiased_downsampling_averages_a_checkerboard() {
        // Without antialiasing a ×4 bicubic point sample of a ±1 checkerboard aliases to ±1-ish
        // values; MATLAB-style antialiasing filters it to (nearly) its mean, 0.
        let row = Tensor::from_slice(&[1.0f32, -1.0]).repeat([16]);
        let board = (row.view([1, 32]) * row.view([32, 1])).view([1, 1, 32, 32]);
        let lr = downsample(&board, 4);
        assert!(lr.abs().max().double_value(&[]) < 0.05, "{}", lr.abs().max().double_value(&[]));
    }
}
