//! BigGAN-PyTorch's `Generator` and `Discriminator` (`BigGAN.py`), their architectures
//! (`G_arch`/`D_arch` at 32, 64, 128, 256 and 512) and state-dict names.

use serde::{Deserialize, Serialize};
use tch::nn;
use tch::Tensor;

use crate::layers::{
    Attention, Bn, Ccbn, Classes, Cond, CondInput, Embedding, InitStyle, SnConv2d, SnEmbedding, SnLinear,
};

/// A configuration their code does not have (an unknown resolution, an attention resolution no
/// block has, a width attention cannot divide, hierarchical z without a shared embedding).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchError(pub String);

impl std::fmt::Display for ArchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ArchError {}

/// Resolutions at which attention is applied: their `--G_attn`/`--D_attn` string, `"64"`,
/// `"16_32"`, or `"0"` for none.
pub fn parse_attention(s: &str) -> Result<Vec<i64>, ArchError> {
    s.split('_')
        .map(|r| {
            r.trim().parse::<i64>().map_err(|_| {
                ArchError(format!(
                    "attention '{s}': expected resolutions joined by _, like 64 or 16_32 (0: none)"
                ))
            })
        })
        .collect()
}

/// G's blocks at `resolution`: (in channels, out channels, resolution after the block), as
/// their `G_arch` (every block upsamples 2×).
pub fn g_arch(ch: i64, resolution: i64) -> Result<Vec<(i64, i64, i64)>, ArchError> {
    let (ins, outs): (&[i64], &[i64]) = match resolution {
        512 => (&[16, 16, 8, 8, 4, 2, 1], &[16, 8, 8, 4, 2, 1, 1]),
        256 => (&[16, 16, 8, 8, 4, 2], &[16, 8, 8, 4, 2, 1]),
        128 => (&[16, 16, 8, 4, 2], &[16, 8, 4, 2, 1]),
        64 => (&[16, 16, 8, 4], &[16, 8, 4, 2]),
        32 => (&[4, 4, 4], &[4, 4, 4]),
        r => {
            return Err(ArchError(format!(
                "resolution {r}: BigGAN's architectures are 32, 64, 128, 256, 512"
            )))
        }
    };
    Ok(ins.iter().zip(outs).enumerate().map(|(i, (a, b))| (ch * a, ch * b, 8 << i)).collect())
}

/// D's blocks at `resolution`: (in, out, downsample, the resolution label their attention keys
/// on), as their `D_arch` — whose 32×32 table labels every block 16 (so `D_attn = "16"` puts
/// attention after each of the four blocks there).
pub fn d_arch(ch: i64, resolution: i64) -> Result<Vec<(i64, i64, bool, i64)>, ArchError> {
    let (ins, outs, down, res): (Vec<i64>, &[i64], Vec<bool>, &[i64]) = match resolution {
        256 => {
            (vec![1, 2, 4, 8, 8, 16], &[1, 2, 4, 8, 8, 16, 16], vec![true; 6], &[128, 64, 32, 16, 8, 4, 4])
        }
        128 => (vec![1, 2, 4, 8, 16], &[1, 2, 4, 8, 16, 16], vec![true; 5], &[64, 32, 16, 8, 4, 4]),
        64 => (vec![1, 2, 4, 8], &[1, 2, 4, 8, 16], vec![true; 4], &[32, 16, 8, 4, 4]),
        32 => (vec![4, 4, 4], &[4, 4, 4, 4], vec![true, true], &[16, 16, 16, 16]),
        r => return Err(ArchError(format!("resolution {r}: BigGAN's discriminators are 32, 64, 128, 256"))),
    };
    let mut down = down;
    down.resize(outs.len(), false);
    let ins = std::iter::once(3).chain(ins.iter().map(|m| m * ch));
    Ok(ins.zip(outs).zip(down).zip(res).map(|(((a, b), d), r)| (a, b * ch, d, *r)).collect())
}

/// G's settings (their `Generator` arguments of the same names).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GeneratorConfig {
    /// Width multiplier `G_ch`.
    pub ch: i64,
    /// Latent size `dim_z` (rounded down to a multiple of blocks + 1 under `hier`, as theirs).
    pub dim_z: i64,
    /// Output side (32, 64, 128, 256, 512).
    pub resolution: i64,
    /// `G_attn`: resolutions with self-attention after their block, `"0"` for none.
    pub attention: String,
    /// Number of classes.
    pub n_classes: i64,
    /// `G_shared`: one class embedding for every ccbn (else per-class gains and biases in each).
    pub shared: bool,
    /// `shared_dim` (0: `dim_z`).
    pub shared_dim: i64,
    /// `hier`: z split into blocks + 1 chunks, the first to the linear layer, one per block's
    /// ccbns beside the shared embedding (skip-z).
    pub hier: bool,
    /// ε of the ccbns' BatchNorm (`BN_eps`; the output BatchNorm keeps 1e-5).
    pub bn_eps: f64,
    /// ε of the spectral norms' normalisations (`SN_eps`).
    pub sn_eps: f64,
    /// `G_init`.
    pub init: InitStyle,
}

/// D's settings (their `Discriminator` arguments; `D_wide` is always on, as in BigGAN).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiscriminatorConfig {
    /// Width multiplier `D_ch`.
    pub ch: i64,
    /// Input side (32, 64, 128, 256).
    pub resolution: i64,
    /// `D_attn`.
    pub attention: String,
    /// Number of classes.
    pub n_classes: i64,
    /// `SN_eps`.
    pub sn_eps: f64,
    /// `D_init`.
    pub init: InitStyle,
}

/// Their `GBlock`: ReLU(ccbn1) → nearest 2× → conv1 → ReLU(ccbn2) → conv2, plus a 1×1 convolution
/// of the upsampled input.
#[derive(Debug)]
struct GBlock {
    bn1: Ccbn,
    conv1: SnConv2d,
    bn2: Ccbn,
    conv2: SnConv2d,
    conv_sc: SnConv2d,
}

fn up(x: &Tensor) -> Tensor {
    let (h, w) = (x.size()[2], x.size()[3]);
    x.upsample_nearest2d([2 * h, 2 * w], 2.0, 2.0)
}

impl GBlock {
    fn forward(&self, x: &Tensor, c: &Cond, train: bool) -> Tensor {
        let h = up(&self.bn1.forward(x, c, train).relu());
        let h = self.conv1.forward(&h, train);
        let h = self.conv2.forward(&self.bn2.forward(&h, c, train).relu(), train);
        h + self.conv_sc.forward(&up(x), train)
    }
}

/// BigGAN's generator. Its variables carry their state-dict names (`shared.weight`,
/// `linear.*`, `blocks.{i}.0.{bn1,conv1,bn2,conv2,conv_sc}.*`, `blocks.{i}.1.*` for attention,
/// `output_layer.{0,2}.*`).
#[derive(Debug)]
pub struct Generator {
    /// Its settings.
    pub config: GeneratorConfig,
    shared: Option<Embedding>,
    linear: SnLinear,
    blocks: Vec<(GBlock, Option<Attention>)>,
    out_bn: Bn,
    out_conv: SnConv2d,
    /// `dim_z` after rounding (what z must have).
    pub dim_z: i64,
    chunk: i64,
}

impl Generator {
    /// Builds G under `p`.
    pub fn new(p: &nn::Path, c: &GeneratorConfig) -> Result<Self, ArchError> {
        let arch = g_arch(c.ch, c.resolution)?;
        let attention = parse_attention(&c.attention)?;
        if c.hier && !c.shared {
            return Err(ArchError(
                "hier needs shared: each block's ccbns take the shared embedding beside a z chunk".into(),
            ));
        }
        let slots = if c.hier { arch.len() as i64 + 1 } else { 1 };
        let chunk = if c.hier { c.dim_z / slots } else { 0 };
        let dim_z = if c.hier { chunk * slots } else { c.dim_z };
        if dim_z < 1 {
            return Err(ArchError(format!("dim_z {}: too small for {slots} chunks", c.dim_z)));
        }
        let shared_dim = if c.shared_dim > 0 { c.shared_dim } else { c.dim_z };
        let input =
            if c.shared { CondInput::Vector(shared_dim + chunk) } else { CondInput::Classes(c.n_classes) };
        let (eps, init) = (c.sn_eps, c.init);
        let conv = |q: nn::Path, a: i64, b: i64, k: i64| SnConv2d::new(&q, a, b, k, true, eps, init);
        let mut blocks = Vec::new();
        for (i, &(cin, cout, res)) in arch.iter().enumerate() {
            let q = p / "blocks" / i;
            let b = &q / 0;
            let block = GBlock {
                bn1: Ccbn::new(&(&b / "bn1"), cin, input, c.bn_eps, eps, init),
                conv1: conv(&b / "conv1", cin, cout, 3),
                bn2: Ccbn::new(&(&b / "bn2"), cout, input, c.bn_eps, eps, init),
                conv2: conv(&b / "conv2", cout, cout, 3),
                conv_sc: conv(&b / "conv_sc", cin, cout, 1),
            };
            let attn = attention.contains(&res).then(|| Attention::new(&(&q / 1), cout, eps, init));
            blocks.push((block, attn));
        }
        let last = arch.last().map(|a| a.1).unwrap_or(1);
        Ok(Self {
            shared: c.shared.then(|| Embedding::new(&(p / "shared"), c.n_classes, shared_dim, init)),
            linear: SnLinear::new(&(p / "linear"), dim_z / slots, arch[0].0 * 16, true, eps, init),
            blocks,
            out_bn: Bn::new(&(p / "output_layer" / 0), last),
            out_conv: conv(p / "output_layer" / 2, last, 3, 3),
            config: c.clone(),
            dim_z,
            chunk,
        })
    }

    /// The shared embedding of `y` (their `G.shared(y)`); None without `shared`.
    pub fn embed(&self, y: &Classes) -> Option<Tensor> {
        self.shared.as_ref().map(|e| y.embed(&e.weight))
    }

    /// Images `[N, 3, R, R]` in [−1, 1] from `z` `[N, dim_z]` and classes `y`.
    pub fn forward(&self, z: &Tensor, y: &Classes, train: bool) -> Tensor {
        match self.embed(y) {
            Some(e) => self.forward_embedded(z, &e, train),
            None => self.run(z, |_| Cond::Classes(y), train),
        }
    }

    /// [`Self::forward`] from the shared embedding `e` `[N, shared_dim]` itself (their
    /// `G(z, y)` with y already embedded: interpolation in embedding space). Needs `shared`.
    pub fn forward_embedded(&self, z: &Tensor, e: &Tensor, train: bool) -> Tensor {
        if self.config.hier {
            let zs = z.split(self.chunk, 1);
            let ys: Vec<Tensor> = zs[1..].iter().map(|zi| Tensor::cat(&[e, zi], 1)).collect();
            self.run(&zs[0], |i| Cond::Vector(&ys[i]), train)
        } else {
            self.run(z, |_| Cond::Vector(e), train)
        }
    }

    fn run<'a>(&self, z: &Tensor, cond: impl Fn(usize) -> Cond<'a>, train: bool) -> Tensor {
        let h = self.linear.forward(z, train);
        let mut h = h.view([h.size()[0], -1, 4, 4]);
        for (i, (block, attn)) in self.blocks.iter().enumerate() {
            h = block.forward(&h, &cond(i), train);
            if let Some(a) = attn {
                h = a.forward(&h, train);
            }
        }
        self.out_conv.forward(&self.out_bn.forward(&h, train).relu(), train).tanh()
    }

    /// Every BatchNorm's statistics (stored mean, stored var), in forward order.
    pub fn batch_norm_stats(&self) -> Vec<(&Tensor, &Tensor)> {
        let mut out: Vec<(&Tensor, &Tensor)> =
            self.blocks.iter().flat_map(|(b, _)| [b.bn1.stats(), b.bn2.stats()]).collect();
        out.push(self.out_bn.stats());
        out
    }

    /// "Standing statistics" (the paper's Appendix C.1, their `accumulate_standing_stats`):
    /// every BatchNorm's stored statistics replaced by the average of its batch statistics over
    /// `passes` training-mode forwards of `batch(k)` (latents and classes for pass k). As in
    /// their code, the passes are training forwards in every other respect too: each spectral
    /// norm takes a power-iteration step per pass.
    pub fn standing_statistics(&self, passes: usize, mut batch: impl FnMut(usize) -> (Tensor, Classes)) {
        let set = |m: f64| {
            for (b, _) in &self.blocks {
                b.bn1.set_momentum(m);
                b.bn2.set_momentum(m);
            }
            self.out_bn.set_momentum(m);
        };
        tch::no_grad(|| {
            for k in 1..=passes {
                set(1.0 / k as f64); // the k-th batch weighs 1/k: the running mean of k batches
                let (z, y) = batch(k);
                let _ = self.forward(&z, &y, true);
            }
            set(0.1);
        });
    }
}

/// Their `DBlock` (wide): conv1 → ReLU → conv2 → avg-pool, pre-activated by an out-of-place ReLU
/// except in the first block; the shortcut a 1×1 convolution (then pooling; pooling first in
/// the first block).
#[derive(Debug)]
struct DBlock {
    conv1: SnConv2d,
    conv2: SnConv2d,
    conv_sc: Option<SnConv2d>,
    preactivation: bool,
    downsample: bool,
}

fn pool(x: &Tensor) -> Tensor {
    x.avg_pool2d([2, 2], [2, 2], [0, 0], false, true, None)
}

impl DBlock {
    fn forward(&self, x: &Tensor, train: bool) -> Tensor {
        let h = if self.preactivation { x.relu() } else { x.shallow_clone() };
        let h = self.conv2.forward(&self.conv1.forward(&h, train).relu(), train);
        let h = if self.downsample { pool(&h) } else { h };
        let mut sc = x.shallow_clone();
        if self.preactivation {
            if let Some(c) = &self.conv_sc {
                sc = c.forward(&sc, train);
            }
            if self.downsample {
                sc = pool(&sc);
            }
        } else {
            if self.downsample {
                sc = pool(&sc);
            }
            if let Some(c) = &self.conv_sc {
                sc = c.forward(&sc, train);
            }
        }
        h + sc
    }
}

/// BigGAN's projection discriminator: residual blocks, ReLU, sum pooling, a linear score plus
/// ⟨embed(y), h⟩. Variables carry their names (`blocks.{i}.0.{conv1,conv2,conv_sc}.*`,
/// `blocks.{i}.1.*`, `linear.*`, `embed.*`).
#[derive(Debug)]
pub struct Discriminator {
    /// Its settings.
    pub config: DiscriminatorConfig,
    blocks: Vec<(DBlock, Option<Attention>)>,
    linear: SnLinear,
    embed: SnEmbedding,
}

impl Discriminator {
    /// Builds D under `p`.
    pub fn new(p: &nn::Path, c: &DiscriminatorConfig) -> Result<Self, ArchError> {
        let arch = d_arch(c.ch, c.resolution)?;
        let attention = parse_attention(&c.attention)?;
        let (eps, init) = (c.sn_eps, c.init);
        let mut blocks = Vec::new();
        for (i, &(cin, cout, down, res)) in arch.iter().enumerate() {
            let q = p / "blocks" / i;
            let b = &q / 0;
            let conv =
                |name: &str, a: i64, o: i64, k: i64| SnConv2d::new(&(&b / name), a, o, k, true, eps, init);
            let block = DBlock {
                conv1: conv("conv1", cin, cout, 3),
                conv2: conv("conv2", cout, cout, 3),
                conv_sc: (cin != cout || down).then(|| conv("conv_sc", cin, cout, 1)),
                preactivation: i > 0,
                downsample: down,
            };
            let attn = attention.contains(&res).then(|| Attention::new(&(&q / 1), cout, eps, init));
            blocks.push((block, attn));
        }
        let last = arch.last().map(|a| a.1).unwrap_or(1);
        Ok(Self {
            blocks,
            linear: SnLinear::new(&(p / "linear"), last, 1, true, eps, init),
            embed: SnEmbedding::new(&(p / "embed"), c.n_classes, last, eps, init),
            config: c.clone(),
        })
    }

    /// Scores `[N, 1]` of images `x` of classes `y`.
    pub fn forward(&self, x: &Tensor, y: &Classes, train: bool) -> Tensor {
        let mut h = x.shallow_clone();
        for (block, attn) in &self.blocks {
            h = block.forward(&h, train);
            if let Some(a) = attn {
                h = a.forward(&h, train);
            }
        }
        let h = h.relu().sum_dim_intlist(&[2i64, 3][..], false, None);
        self.linear.forward(&h, train)
            + (self.embed.forward(y, train) * &h).sum_dim_intlist(&[1i64][..], true, None)
    }
}
