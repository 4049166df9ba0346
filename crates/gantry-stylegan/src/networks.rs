//! StyleGAN2's generator (mapping + skip synthesis network) and residual discriminator, as
//! StyleGAN2-ADA's `Generator` and `Discriminator` (architectures `skip` and `resnet`, config F).

use gantry_nn::InvalidConfig;
use gantry_nn::MinibatchStdDev;
use serde::{Deserialize, Serialize};
use tch::nn::{self, ModuleT};
use tch::{Kind, Tensor};

use crate::layers::{
    Conv2dLayer, FullyConnected, MappingNetwork, NoiseMode, StyleOp, SynthesisLayer, ToRgb, Truncation,
};
use crate::ops::{setup_filter, upsample2d, Act};

/// The networks' sizes. Channels at resolution r: `min(channel_base / r, channel_max)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StyleGan2Config {
    /// Output resolution (a power of two ≥ 8).
    pub resolution: i64,
    /// Image channels (1 or 3; 0 = from the data).
    pub channels: i64,
    /// Dimension of the latent z (512 in the paper).
    pub z_dim: i64,
    /// Dimension of w, the mapping network's output and every layer's style input (512).
    pub w_dim: i64,
    /// Classes of a conditional model (labels one-hot into both mapping networks); 0 = none.
    #[serde(default)]
    pub c_dim: i64,
    /// Layers of G's mapping network (8 in the paper).
    pub mapping_layers: i64,
    /// Learning-rate multiplier of the mapping layers (0.01).
    pub mapping_lr_multiplier: f64,
    /// Decay of the running mean w̄ (0.995).
    pub w_avg_beta: f64,
    /// Numerator of the channel count above (StyleGAN2-ADA's `channel_base`; 16384 in `paper256`).
    pub channel_base: i64,
    /// The most channels at any resolution (512).
    pub channel_max: i64,
    /// Minibatch standard deviation group size in D's epilogue (4).
    pub mbstd_group: i64,
    /// Its number of statistics channels (1).
    pub mbstd_channels: i64,
    /// Clamp convolution outputs to ±this (256 in StyleGAN2-ADA's mixed-precision configs); none if absent.
    #[serde(default)]
    pub conv_clamp: Option<f64>,
    /// How the synthesis layers apply styles: `modulated` (StyleGAN2's weight demodulation) or
    /// `adain` (StyleGAN's adaptive instance normalisation) in the same skip architecture.
    #[serde(default)]
    pub style_op: StyleOp,
}

impl StyleGan2Config {
    /// StyleGAN2-ADA's `paper256` configuration (FFHQ/LSUN at 256×256).
    pub fn paper256() -> Self {
        Self {
            resolution: 256,
            channels: 3,
            z_dim: 512,
            w_dim: 512,
            c_dim: 0,
            mapping_layers: 8,
            mapping_lr_multiplier: 0.01,
            w_avg_beta: 0.995,
            channel_base: 16384,
            channel_max: 512,
            mbstd_group: 4,
            mbstd_channels: 1,
            conv_clamp: Some(256.0),
            style_op: StyleOp::Modulated,
        }
    }

    /// A small StyleGAN2 that learns 32×32 digits on a CPU in minutes.
    pub fn small32() -> Self {
        Self {
            resolution: 32,
            channels: 0,
            z_dim: 64,
            w_dim: 64,
            mapping_layers: 2,
            channel_base: 1024,
            channel_max: 64,
            conv_clamp: None,
            ..Self::paper256()
        }
    }

    /// Channels at resolution `r`.
    pub fn channels_at(&self, r: i64) -> i64 {
        (self.channel_base / r).min(self.channel_max)
    }

    /// One clear line for a configuration the networks cannot be built from.
    pub fn validate(&self) -> Result<(), InvalidConfig> {
        gantry_nn::validate_image(self.resolution, self.channels)?;
        let r = self.resolution;
        for (name, v) in
            [("z_dim", self.z_dim), ("w_dim", self.w_dim), ("mapping_layers", self.mapping_layers)]
        {
            if v < 1 {
                return Err(InvalidConfig(format!("model.{name}: expected ≥ 1, found {v}")));
            }
        }
        if self.c_dim < 0 {
            return Err(InvalidConfig(format!("model.c_dim: expected ≥ 0, found {}", self.c_dim)));
        }
        if self.channels_at(r) < 1 {
            return Err(InvalidConfig(format!(
                "model.channel_base: {} / resolution {r} leaves no channels; raise channel_base",
                self.channel_base
            )));
        }
        if self.mbstd_channels > 0 && self.channels_at(4) % self.mbstd_channels != 0 {
            return Err(InvalidConfig(format!(
                "model.mbstd_channels: must divide the 4×4 channels ({}), found {}",
                self.channels_at(4),
                self.mbstd_channels
            )));
        }
        if self.mapping_lr_multiplier.is_nan()
            || self.mapping_lr_multiplier <= 0.0
            || !(0.0..1.0).contains(&self.w_avg_beta)
        {
            return Err(InvalidConfig(
                "model.mapping_lr_multiplier must be > 0 and model.w_avg_beta in [0, 1)".to_string(),
            ));
        }
        Ok(())
    }

    fn block_resolutions(&self) -> Vec<i64> {
        let log2 = self.resolution.trailing_zeros() as i64;
        (2..=log2).map(|i| 1 << i).collect()
    }
}

/// A synthesis block at resolution r: (×2 up-convolution unless first) two modulated layers
/// (the first block: a learned 4×4 constant and one layer), and a toRGB added to the upsampled
/// image of the previous blocks (the skip architecture).
#[derive(Debug)]
pub struct SynthesisBlock {
    /// The learned constant input `[out_c, r, r]` (`const`, drawn N(0, 1); first block only).
    pub constant: Option<Tensor>,
    /// The ×2 upsampling layer `in_c → out_c` (absent in the first block).
    pub conv0: Option<SynthesisLayer>,
    /// The layer `out_c → out_c` at this resolution.
    pub conv1: SynthesisLayer,
    /// toRGB: the features to an image `[N, img_channels, r, r]`, added to the upsampled image.
    pub torgb: ToRgb,
    filter: Tensor,
    /// ws this block reads: its convolutions plus toRGB.
    pub num_ws: i64,
    /// Synthesis layers in this block: 1 in the first, 2 in the others.
    pub num_conv: i64,
}

/// How a synthesis pass runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SynthesisOptions {
    /// Where the layers' noise comes from.
    pub noise: NoiseMode,
    /// Modulated convolutions as grouped convolutions (inference) or as scaled activations
    /// (training); equal up to rounding.
    pub fused: bool,
}

impl SynthesisOptions {
    /// StyleGAN2-ADA's defaults: random noise; fused unless training.
    pub fn new(train: bool) -> Self {
        Self { noise: NoiseMode::Random, fused: !train }
    }
}

impl SynthesisBlock {
    /// The block at `resolution` taking `in_c` channels (0: the first block, which starts from the
    /// learned constant) to `out_c`, and toRGB to `img_channels`; the layer arguments are as
    /// [`SynthesisLayer::new`]'s.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        p: nn::Path,
        in_c: i64,
        out_c: i64,
        w_dim: i64,
        resolution: i64,
        img_channels: i64,
        conv_clamp: Option<f64>,
        op: StyleOp,
    ) -> Self {
        let constant = (in_c == 0).then(|| {
            p.var("const", &[out_c, resolution, resolution], nn::Init::Randn { mean: 0.0, stdev: 1.0 })
        });
        let conv0 = (in_c != 0)
            .then(|| SynthesisLayer::new(&p / "conv0", in_c, out_c, w_dim, resolution, 2, conv_clamp, op));
        let conv1 = SynthesisLayer::new(&p / "conv1", out_c, out_c, w_dim, resolution, 1, conv_clamp, op);
        let torgb = ToRgb::new(&p / "torgb", out_c, img_channels, w_dim, conv_clamp);
        let num_conv = 1 + i64::from(in_c != 0);
        Self {
            constant,
            conv0,
            conv1,
            torgb,
            filter: setup_filter(&[1.0, 3.0, 3.0, 1.0], p.device()),
            num_ws: num_conv + 1,
            num_conv,
        }
    }

    /// Features `x` (None for the first block), image `img` so far, this block's ws
    /// `[N, num_ws, w_dim]` → (features, image) at this resolution.
    pub fn forward(
        &self,
        x: Option<&Tensor>,
        img: Option<&Tensor>,
        ws: &Tensor,
        o: SynthesisOptions,
    ) -> (Tensor, Tensor) {
        let w = |i: i64| ws.select(1, i);
        let x = match (&self.constant, &self.conv0, x) {
            (Some(c), _, _) => {
                let n = ws.size()[0];
                let x = c.unsqueeze(0).repeat([n, 1, 1, 1]);
                self.conv1.forward(&x, &w(0), o.noise, o.fused, 1.0)
            }
            (None, Some(conv0), Some(x)) => {
                let x = conv0.forward(x, &w(0), o.noise, o.fused, 1.0);
                self.conv1.forward(&x, &w(1), o.noise, o.fused, 1.0)
            }
            _ => panic!("a synthesis block after the first takes features"),
        };
        let y = self.torgb.forward(&x, &w(self.num_conv), o.fused);
        let img = match img {
            Some(img) => upsample2d(img, &self.filter, 2) + y,
            None => y,
        };
        (x, img)
    }
}

/// The synthesis network g: W⁺ → images, blocks 4×4 … resolution.
#[derive(Debug)]
pub struct SynthesisNetwork {
    /// (resolution, block) from 4×4 up, under `b4`, `b8`, ….
    pub blocks: Vec<(i64, SynthesisBlock)>,
    /// Total ws: each block's convolutions, plus the last block's toRGB (block i's toRGB shares
    /// the w of block i+1's first layer).
    pub num_ws: i64,
    /// Dimension of each w.
    pub w_dim: i64,
}

impl SynthesisNetwork {
    /// The blocks of `cfg` under `p` (`channels` 0 builds one image channel).
    pub fn new(p: nn::Path, cfg: &StyleGan2Config) -> Self {
        let img_channels = cfg.channels.max(1);
        let mut num_ws = 0;
        let resolutions = cfg.block_resolutions();
        let blocks: Vec<_> = resolutions
            .iter()
            .map(|&r| {
                let in_c = if r > 4 { cfg.channels_at(r / 2) } else { 0 };
                let block = SynthesisBlock::new(
                    &p / format!("b{r}"),
                    in_c,
                    cfg.channels_at(r),
                    cfg.w_dim,
                    r,
                    img_channels,
                    cfg.conv_clamp,
                    cfg.style_op,
                );
                num_ws += block.num_conv;
                (r, block)
            })
            .collect();
        num_ws += 1; // the last toRGB
        Self { blocks, num_ws, w_dim: cfg.w_dim }
    }

    /// ws `[N, num_ws, w_dim]` → images `[N, C, R, R]` (≈ [-1, 1]).
    pub fn forward(&self, ws: &Tensor, o: SynthesisOptions) -> Tensor {
        assert_eq!(
            ws.size()[1..],
            [self.num_ws, self.w_dim],
            "ws: expected [N, {}, {}]",
            self.num_ws,
            self.w_dim
        );
        let ws = ws.to_kind(Kind::Float);
        let (mut x, mut img) = (None::<Tensor>, None::<Tensor>);
        let mut w_idx = 0;
        for (_, block) in &self.blocks {
            let cur = ws.narrow(1, w_idx, block.num_ws);
            w_idx += block.num_conv;
            let (nx, nimg) = block.forward(x.as_ref(), img.as_ref(), &cur, o);
            (x, img) = (Some(nx), Some(nimg));
        }
        img.expect("at least one block")
    }
}

/// StyleGAN2's generator: mapping f then synthesis g.
#[derive(Debug)]
pub struct Generator {
    /// f: z (and labels) → ws `[N, num_ws, w_dim]`, tracking w̄ (`mapping`).
    pub mapping: MappingNetwork,
    /// g: ws → images (`synthesis`).
    pub synthesis: SynthesisNetwork,
    /// The configuration it was built from.
    pub cfg: StyleGan2Config,
}

impl Generator {
    /// G of `cfg` under `p`, its variables named as the reference's state dict (`mapping.*`,
    /// `synthesis.*`). `cfg` should have passed [`StyleGan2Config::validate`].
    pub fn new(p: nn::Path, cfg: &StyleGan2Config) -> Self {
        let synthesis = SynthesisNetwork::new(&p / "synthesis", cfg);
        let mapping = MappingNetwork::new(
            &p / "mapping",
            cfg.z_dim,
            cfg.c_dim,
            cfg.w_dim,
            Some(synthesis.num_ws),
            cfg.mapping_layers,
            cfg.mapping_lr_multiplier,
            Some(cfg.w_avg_beta),
        );
        Self { mapping, synthesis, cfg: cfg.clone() }
    }

    /// Images `[N, C, R, R]` of latents `z` `[N, z_dim]` (labels `c` `[N, c_dim]` if conditional),
    /// truncated in W by `trunc`.
    pub fn forward(&self, z: &Tensor, c: Option<&Tensor>, trunc: Truncation, o: SynthesisOptions) -> Tensor {
        let ws = self.mapping.forward(Some(z), c, trunc, false);
        self.synthesis.forward(&ws, o)
    }
}

/// A residual discriminator block at resolution r: (fromRGB in the first) two 3×3 convolutions,
/// the second ×½, plus a ×½ 1×1 skip; both branches scaled by √½.
#[derive(Debug)]
pub struct DiscriminatorBlock {
    /// fromRGB: a 1×1 LReLU convolution of the image to `tmp_c` channels (first block only).
    pub fromrgb: Option<Conv2dLayer>,
    /// 3×3 LReLU convolution `tmp_c → tmp_c`.
    pub conv0: Conv2dLayer,
    /// 3×3 LReLU convolution `tmp_c → out_c`, ×½.
    pub conv1: Conv2dLayer,
    /// The residual skip: 1×1 linear convolution `tmp_c → out_c`, ×½, no bias, no clamp.
    pub skip: Conv2dLayer,
}

impl DiscriminatorBlock {
    /// A block to `out_c` channels at half the resolution, `tmp_c` inside: `in_c` 0 makes it the
    /// first block, which reads the image (`img_channels`) through fromRGB; the others take
    /// `tmp_c` channels. `clamp` is the convolutions' `conv_clamp` (the skip has none).
    pub fn new(
        p: nn::Path,
        in_c: i64,
        tmp_c: i64,
        out_c: i64,
        img_channels: i64,
        clamp: Option<f64>,
    ) -> Self {
        let fromrgb = (in_c == 0)
            .then(|| Conv2dLayer::new(&p / "fromrgb", img_channels, tmp_c, 1, true, Act::Lrelu, 1, 1, clamp));
        Self {
            fromrgb,
            conv0: Conv2dLayer::new(&p / "conv0", tmp_c, tmp_c, 3, true, Act::Lrelu, 1, 1, clamp),
            conv1: Conv2dLayer::new(&p / "conv1", tmp_c, out_c, 3, true, Act::Lrelu, 1, 2, clamp),
            skip: Conv2dLayer::new(&p / "skip", tmp_c, out_c, 1, false, Act::Linear, 1, 2, None),
        }
    }

    /// Features `x` `[N, tmp_c, r, r]`, or in the first block the image `img` `[N, C, r, r]`
    /// (`x` None) → `[N, out_c, r/2, r/2]`. Panics when the first block gets features or
    /// another block gets none.
    pub fn forward(&self, x: Option<&Tensor>, img: &Tensor) -> Tensor {
        let x = match (&self.fromrgb, x) {
            (Some(f), None) => f.forward(img, 1.0),
            (None, Some(x)) => x.shallow_clone(),
            _ => panic!("the first discriminator block takes the image, the others features"),
        };
        let half = std::f64::consts::FRAC_1_SQRT_2;
        let y = self.skip.forward(&x, half);
        let x = self.conv0.forward(&x, 1.0);
        let x = self.conv1.forward(&x, half);
        y + x
    }
}

/// StyleGAN2's residual discriminator: blocks resolution … 8×8, then the 4×4 epilogue
/// (minibatch stddev, 3×3 conv, FC, output; with labels, the projection ⟨out, cmap⟩/√cmap_dim).
#[derive(Debug)]
pub struct Discriminator {
    /// (resolution, block) from the output resolution down to 8×8, under `b{r}`.
    pub blocks: Vec<(i64, DiscriminatorBlock)>,
    /// The label mapping c → cmap `[N, cmap_dim]` of the projection (conditional models only).
    pub mapping: Option<MappingNetwork>,
    /// The epilogue's minibatch standard deviation layer (None when `mbstd_channels` is 0).
    pub mbstd: Option<MinibatchStdDev>,
    /// The epilogue's 3×3 LReLU convolution (`b4.conv`): `channels_at(4)` plus the mbstd
    /// channels → `channels_at(4)`.
    pub conv: Conv2dLayer,
    /// The epilogue's fully connected LReLU layer (`b4.fc`): the flattened 4×4 features
    /// `[N, 16·channels_at(4)]` → `[N, channels_at(4)]`.
    pub fc: FullyConnected,
    /// The output layer (`b4.out`): one logit, or `cmap_dim` features to project on cmap.
    pub out: FullyConnected,
    cmap_dim: i64,
}

impl Discriminator {
    /// D of `cfg` under `p`, its variables named as the reference's state dict (`b{r}.*`, `b4.*`,
    /// `mapping.*` when conditional). `cfg` should have passed [`StyleGan2Config::validate`].
    pub fn new(p: nn::Path, cfg: &StyleGan2Config) -> Self {
        let img_channels = cfg.channels.max(1);
        let log2 = cfg.resolution.trailing_zeros() as i64;
        let blocks = (3..=log2)
            .rev()
            .map(|i| {
                let r = 1 << i;
                let in_c = if r < cfg.resolution { cfg.channels_at(r) } else { 0 };
                let block = DiscriminatorBlock::new(
                    &p / format!("b{r}"),
                    in_c,
                    cfg.channels_at(r),
                    cfg.channels_at(r / 2),
                    img_channels,
                    cfg.conv_clamp,
                );
                (r, block)
            })
            .collect();
        let c4 = cfg.channels_at(4);
        let cmap_dim = if cfg.c_dim > 0 { c4 } else { 0 };
        let mapping = (cfg.c_dim > 0).then(|| {
            MappingNetwork::new(&p / "mapping", 0, cfg.c_dim, cmap_dim, None, cfg.mapping_layers, 0.01, None)
        });
        let e = &p / "b4";
        let mbstd = (cfg.mbstd_channels > 0)
            .then_some(MinibatchStdDev { group_size: cfg.mbstd_group, num_channels: cfg.mbstd_channels });
        Self {
            blocks,
            mapping,
            mbstd,
            conv: Conv2dLayer::new(
                &e / "conv",
                c4 + cfg.mbstd_channels,
                c4,
                3,
                true,
                Act::Lrelu,
                1,
                1,
                cfg.conv_clamp,
            ),
            fc: FullyConnected::new(&e / "fc", c4 * 16, c4, Act::Lrelu, 1.0, 0.0),
            out: FullyConnected::new(&e / "out", c4, cmap_dim.max(1), Act::Linear, 1.0, 0.0),
            cmap_dim,
        }
    }

    /// Logits `[N]` of images `[N, C, R, R]` (with labels `c` `[N, c_dim]` if conditional).
    pub fn forward(&self, img: &Tensor, c: Option<&Tensor>) -> Tensor {
        let mut x: Option<Tensor> = None;
        for (_, block) in &self.blocks {
            x = Some(block.forward(x.as_ref(), img));
        }
        let mut x = x.unwrap_or_else(|| img.shallow_clone());
        if let Some(m) = &self.mbstd {
            x = m.forward_t(&x, true);
        }
        let x = self.conv.forward(&x, 1.0);
        let x = self.fc.forward(&x.flatten(1, -1));
        let x = self.out.forward(&x);
        match (&self.mapping, c) {
            (Some(m), Some(c)) => {
                let cmap = m.forward(None, Some(c), Truncation::default(), false);
                (x * cmap).sum_dim_intlist([1i64].as_slice(), false, Kind::Float)
                    * (1.0 / (self.cmap_dim as f64).sqrt())
            }
            _ => x.flatten(0, -1),
        }
    }
}
