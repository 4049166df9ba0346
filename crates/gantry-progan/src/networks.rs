//! ProGAN's generator and discriminator (Karras et al. 2018, Table 2; the authors' `G_paper`,
//! `D_paper`), built for every resolution up front and run at a [`Growth`] stage.
//!
//! G: `z → PN → dense(4·4·nf, gain √2/4) → LReLU → PN → conv3 → LReLU → PN`, then per resolution
//! `upsample ×2 (nearest) → [conv3 → LReLU → PN] ×2`, and a linear 1×1 toRGB per resolution.
//! While stage s fades in, the output is `lerp(upsample(toRGB_{s−1}(h_{s−1})), toRGB_s(h_s), α)`.
//!
//! D mirrors it: a 1×1 fromRGB + LReLU per resolution, blocks `[conv3 → LReLU] ×2 → avg-pool ×2`,
//! and at 4×4 `minibatch stddev → conv3 → LReLU → dense(nf) → LReLU → dense(1)`. While stage s
//! fades in, the features entering the 4·2^(s−1) blocks are
//! `lerp(fromRGB_{s−1}(avgpool(x)), block_s(fromRGB_s(x)), α)`.
//!
//! Channels at resolution r: `min(fmap_base / r, fmap_max)` (the paper: 16384 / r capped at 512).

use gantry_nn::InvalidConfig;
use gantry_nn::{leaky_relu, MinibatchStdDev};
use serde::{Deserialize, Serialize};
use tch::nn::{self, ModuleT};
use tch::Tensor;

use crate::layers::{pixel_norm, EqConv2d, EqLinear, RELU_GAIN};
use crate::schedule::{Growth, Schedule};

/// LeakyReLU slope (0.2).
const SLOPE: f64 = 0.2;

/// The networks' sizes and growth schedule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProganConfig {
    /// Final resolution (a power of two ≥ 8).
    pub resolution: i64,
    /// Image channels (1 or 3; 0 = from the data).
    pub channels: i64,
    /// Latent size.
    pub z_dim: i64,
    /// Feature maps at resolution r are `min(fmap_base / r, fmap_max)` (the authors' rule).
    pub fmap_base: i64,
    /// The most feature maps of any layer.
    pub fmap_max: i64,
    /// Minibatch standard deviation group size in D's 4×4 block (4; 0 = off).
    pub mbstd_group: i64,
    /// Pixel-wise feature normalisation in G (§4.2).
    pub pixel_norm: bool,
    /// Thousands of images over which each new resolution fades in ...
    pub fade_kimg: f64,
    /// ... and then trains stable (4×4 too).
    pub stable_kimg: f64,
}

impl ProganConfig {
    /// The paper's CelebA-HQ configuration (1024×1024, 512-d z, 800k images per phase).
    pub fn paper() -> Self {
        Self {
            resolution: 1024,
            channels: 3,
            z_dim: 512,
            fmap_base: 16384,
            fmap_max: 512,
            mbstd_group: 4,
            pixel_norm: true,
            fade_kimg: 800.0,
            stable_kimg: 800.0,
        }
    }

    /// A small ProGAN growing 4×4 → 32×32 on digits in CPU minutes (16k images per phase).
    pub fn small32() -> Self {
        Self {
            resolution: 32,
            channels: 0,
            z_dim: 128,
            fmap_base: 1024,
            fmap_max: 128,
            fade_kimg: 16.0,
            stable_kimg: 16.0,
            ..Self::paper()
        }
    }

    /// Channels at resolution `r`.
    pub fn channels_at(&self, r: i64) -> i64 {
        (self.fmap_base / r).clamp(1, self.fmap_max)
    }

    /// Number of growths: the final resolution is `4·2^stages`.
    pub fn stages(&self) -> i64 {
        (self.resolution.max(4) / 4).trailing_zeros() as i64
    }

    /// The growth schedule in images.
    pub fn schedule(&self) -> Schedule {
        Schedule {
            stages: self.stages(),
            fade_images: (self.fade_kimg * 1000.0).round() as u64,
            stable_images: (self.stable_kimg * 1000.0).round() as u64,
        }
    }

    /// One clear line for a configuration the networks cannot be built from.
    pub fn validate(&self) -> Result<(), InvalidConfig> {
        gantry_nn::validate_image(self.resolution, self.channels)?;
        for (name, v) in [("z_dim", self.z_dim), ("fmap_base", self.fmap_base), ("fmap_max", self.fmap_max)] {
            if v < 1 {
                return Err(InvalidConfig(format!("model.{name}: expected ≥ 1, found {v}")));
            }
        }
        if self.mbstd_group < 0 {
            return Err(InvalidConfig(format!(
                "model.mbstd_group: expected ≥ 0, found {}",
                self.mbstd_group
            )));
        }
        for (name, v) in [("fade_kimg", self.fade_kimg), ("stable_kimg", self.stable_kimg)] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(InvalidConfig(format!("model.{name}: expected a finite number ≥ 0, found {v}")));
            }
        }
        Ok(())
    }

    fn check_growth(&self, g: Growth) {
        assert!(
            (0..=self.stages()).contains(&g.stage) && (0.0..=1.0).contains(&g.alpha),
            "growth stage {} α {} outside 0..={} × [0, 1]",
            g.stage,
            g.alpha,
            self.stages()
        );
    }
}

/// Nearest-neighbour ×`f` upsampling of `[N, C, H, W]`.
pub fn upsample(x: &Tensor, f: i64) -> Tensor {
    if f == 1 {
        return x.shallow_clone();
    }
    let (_, _, h, w) = x.size4().expect("upsample takes [N, C, H, W]");
    x.upsample_nearest2d([h * f, w * f], None, None)
}

/// Box-filter ×`f` downsampling (average pooling) of `[N, C, H, W]`.
pub fn downsample(x: &Tensor, f: i64) -> Tensor {
    if f == 1 {
        return x.shallow_clone();
    }
    x.avg_pool2d([f, f], [f, f], [0, 0], false, true, None::<i64>)
}

/// One G block: `[conv3 → LReLU → PN] ×2`, after a ×2 upsampling above 4×4.
#[derive(Debug)]
struct GBlock {
    conv0: EqConv2d,
    conv1: EqConv2d,
}

/// The growing generator: latents `[N, z_dim]` → images `[N, C, r, r]` at the stage's resolution.
#[derive(Debug)]
pub struct Generator {
    dense: EqLinear,
    conv4: EqConv2d,
    /// Blocks for 8×8, 16×16, … (index s − 1 for stage s).
    blocks: Vec<GBlock>,
    /// toRGB per stage (index s).
    to_rgb: Vec<EqConv2d>,
    nf4: i64,
    /// What it was built from.
    pub cfg: ProganConfig,
}

impl Generator {
    /// Parameters under `p`: `b4.dense`, `b4.conv`, `b{r}.conv0|conv1`, `torgb{r}`.
    /// `cfg.channels` must be resolved.
    pub fn new(p: nn::Path, cfg: &ProganConfig) -> Self {
        let nf4 = cfg.channels_at(4);
        let dense = EqLinear::new(&p / "b4" / "dense", cfg.z_dim, nf4 * 16, RELU_GAIN / 4.0);
        let conv4 = EqConv2d::new(&p / "b4" / "conv", nf4, nf4, 3, RELU_GAIN);
        let mut blocks = Vec::new();
        let mut to_rgb = vec![EqConv2d::new(&p / "torgb4", nf4, cfg.channels, 1, 1.0)];
        for s in 1..=cfg.stages() {
            let r = 4 << s;
            let (cin, cout) = (cfg.channels_at(r / 2), cfg.channels_at(r));
            let b = &p / format!("b{r}");
            blocks.push(GBlock {
                conv0: EqConv2d::new(&b / "conv0", cin, cout, 3, RELU_GAIN),
                conv1: EqConv2d::new(&b / "conv1", cout, cout, 3, RELU_GAIN),
            });
            to_rgb.push(EqConv2d::new(&p / format!("torgb{r}"), cout, cfg.channels, 1, 1.0));
        }
        Self { dense, conv4, blocks, to_rgb, nf4, cfg: cfg.clone() }
    }

    fn pn(&self, x: Tensor) -> Tensor {
        if self.cfg.pixel_norm {
            pixel_norm(&x)
        } else {
            x
        }
    }

    fn act(&self, x: Tensor) -> Tensor {
        self.pn(leaky_relu(&x, SLOPE))
    }

    /// Features at 4×4.
    fn base(&self, z: &Tensor) -> Tensor {
        let z = self.pn(z.shallow_clone());
        let x = self.act(self.dense.forward(&z)).reshape([-1, self.nf4, 4, 4]);
        self.act(self.conv4.forward(&x))
    }

    /// Block of stage `s ≥ 1`: 4·2^(s−1) → 4·2^s.
    fn block(&self, s: i64, x: &Tensor) -> Tensor {
        let b = &self.blocks[s as usize - 1];
        let x = upsample(x, 2);
        let x = self.act(b.conv0.forward(&x));
        self.act(b.conv1.forward(&x))
    }

    /// Images `[N, C, r, r]` at `growth`'s resolution r.
    pub fn forward(&self, z: &Tensor, growth: Growth) -> Tensor {
        self.cfg.check_growth(growth);
        let mut x = self.base(z);
        if growth.stage == 0 {
            return self.to_rgb[0].forward(&x);
        }
        for s in 1..growth.stage {
            x = self.block(s, &x);
        }
        let s = growth.stage;
        let new = self.to_rgb[s as usize].forward(&self.block(s, &x));
        if growth.alpha >= 1.0 {
            return new;
        }
        let old = upsample(&self.to_rgb[s as usize - 1].forward(&x), 2);
        old.lerp(&new, growth.alpha)
    }

    /// Images at the final resolution: the stage's output upsampled (nearest), as the authors'
    /// code feeds its fixed-size outputs.
    pub fn forward_full(&self, z: &Tensor, growth: Growth) -> Tensor {
        upsample(&self.forward(z, growth), self.cfg.resolution / growth.resolution())
    }
}

/// One D block: `[conv3 → LReLU] ×2 → avg-pool ×2`.
#[derive(Debug)]
struct DBlock {
    conv0: EqConv2d,
    conv1: EqConv2d,
}

/// The growing discriminator (a WGAN critic): images `[N, C, r, r]` at the stage's resolution →
/// scores `[N]`.
#[derive(Debug)]
pub struct Discriminator {
    /// fromRGB per stage (index s).
    from_rgb: Vec<EqConv2d>,
    /// Blocks for 8×8, 16×16, … (index s − 1 for stage s).
    blocks: Vec<DBlock>,
    mbstd: Option<MinibatchStdDev>,
    conv4: EqConv2d,
    dense0: EqLinear,
    dense1: EqLinear,
    /// What it was built from.
    pub cfg: ProganConfig,
}

impl Discriminator {
    /// Parameters under `p`: `fromrgb{r}`, `b{r}.conv0|conv1`, `b4.conv|dense0|dense1`.
    pub fn new(p: nn::Path, cfg: &ProganConfig) -> Self {
        let nf4 = cfg.channels_at(4);
        let mut from_rgb = vec![EqConv2d::new(&p / "fromrgb4", cfg.channels, nf4, 1, RELU_GAIN)];
        let mut blocks = Vec::new();
        for s in 1..=cfg.stages() {
            let r = 4 << s;
            let (cin, cout) = (cfg.channels_at(r), cfg.channels_at(r / 2));
            from_rgb.push(EqConv2d::new(&p / format!("fromrgb{r}"), cfg.channels, cin, 1, RELU_GAIN));
            let b = &p / format!("b{r}");
            blocks.push(DBlock {
                conv0: EqConv2d::new(&b / "conv0", cin, cin, 3, RELU_GAIN),
                conv1: EqConv2d::new(&b / "conv1", cin, cout, 3, RELU_GAIN),
            });
        }
        let mbstd =
            (cfg.mbstd_group > 0).then_some(MinibatchStdDev { group_size: cfg.mbstd_group, num_channels: 1 });
        let extra = i64::from(mbstd.is_some());
        let b4 = &p / "b4";
        Self {
            from_rgb,
            blocks,
            mbstd,
            conv4: EqConv2d::new(&b4 / "conv", nf4 + extra, nf4, 3, RELU_GAIN),
            dense0: EqLinear::new(&b4 / "dense0", nf4 * 16, cfg.channels_at(2), RELU_GAIN),
            dense1: EqLinear::new(&b4 / "dense1", cfg.channels_at(2), 1, 1.0),
            cfg: cfg.clone(),
        }
    }

    fn rgb_in(&self, s: i64, x: &Tensor) -> Tensor {
        leaky_relu(&self.from_rgb[s as usize].forward(x), SLOPE)
    }

    fn block(&self, s: i64, x: &Tensor) -> Tensor {
        let b = &self.blocks[s as usize - 1];
        let x = leaky_relu(&b.conv0.forward(x), SLOPE);
        downsample(&leaky_relu(&b.conv1.forward(&x), SLOPE), 2)
    }

    /// Scores `[N]` of images at `growth`'s resolution.
    pub fn forward(&self, img: &Tensor, growth: Growth) -> Tensor {
        self.cfg.check_growth(growth);
        let s = growth.stage;
        let mut x = self.rgb_in(s, img);
        if s > 0 {
            x = self.block(s, &x);
            if growth.alpha < 1.0 {
                let old = self.rgb_in(s - 1, &downsample(img, 2));
                x = old.lerp(&x, growth.alpha);
            }
            for t in (1..s).rev() {
                x = self.block(t, &x);
            }
        }
        if let Some(m) = &self.mbstd {
            x = m.forward_t(&x, true);
        }
        let x = leaky_relu(&self.conv4.forward(&x), SLOPE).flatten(1, -1);
        let x = leaky_relu(&self.dense0.forward(&x), SLOPE);
        self.dense1.forward(&x).flatten(0, -1)
    }
}

/// Real images `[N, C, R, R]` at the final resolution R brought to `growth`'s: box-downsampled,
/// and while a stage fades in, blended with their coarser version exactly as G blends its
/// outputs (`lerp(upsample(avgpool(x_r)), x_r, α)`), so D compares like with like.
pub fn reals_at(x: &Tensor, growth: Growth, resolution: i64) -> Tensor {
    let x = downsample(x, resolution / growth.resolution());
    if growth.stage == 0 || growth.alpha >= 1.0 {
        return x;
    }
    upsample(&downsample(&x, 2), 2).lerp(&x, growth.alpha)
}
