//! The networks: an encoder q(z|x), a decoder p(x|z) (the VAE-GAN's generator), the adversarial
//! autoencoder's latent discriminator, and the VAE-GAN's image discriminator whose l-th layer is
//! the learned similarity. Images are in [−1, 1] (the decoder ends in tanh).
//!
//! ```text
//! mlp   (Makhzani et al. 2015, MNIST)      conv (Larsen et al. 2016, Table 2, widths w·{1,2,4})
//! E     x → 1000 ReLU → 1000 ReLU → z       5×5 s2 convs w, 2w, 4w (BN, ReLU) → FC h (BN, ReLU) → z
//! Dec   z → 1000 ReLU → 1000 ReLU → x tanh  FC 4w·(S/8)² (BN, ReLU) → 5×5 s2 deconvs 4w, 2w, w/2
//!                                           (BN, ReLU) → 5×5 conv C, tanh
//! D_z   [z, label one-hot] → 1000 ReLU → 1000 ReLU → logit
//! D_x   —                                   5×5 conv w/2 ReLU → 5×5 s2 convs 2w, 4w, 4w (BN, ReLU)
//!                                           → FC 8w (BN, ReLU) → logit; Dis_l = conv 3 or 4's
//!                                           output before its BN
//! ```
//!
//! With w = 64, h = 2048 the conv networks are the paper's for 64×64 CelebA (there with S/8 = 8);
//! gantry's presets use smaller widths for 32×32 digits. A Gaussian posterior makes E output
//! (μ, log σ²), 2·z values.

use gantry_nn::InvalidConfig;
use serde::{Deserialize, Serialize};
use tch::nn::{self, Module, ModuleT};
use tch::Tensor;

/// Fully connected (the paper's MNIST networks) or convolutional (32×32 images and up).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Layout {
    /// Fully connected (the AAE paper's MNIST networks).
    Mlp,
    /// Convolutional (the VAE-GAN's, for 32×32 and up).
    Conv,
}

/// What the encoder outputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Posterior {
    /// z = E(x): the AAE paper's default.
    Deterministic,
    /// q(z|x) = N(μ(x), diag σ²(x)), sampled by the reparameterisation z = μ + σ·ε.
    Gaussian,
}

/// Sizes of an autoencoder's networks (`[model]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AutoencoderConfig {
    /// MLPs (the paper's MNIST networks) or convolutions.
    pub layout: Layout,
    /// Image channels (0: the dataset's, resolved before building).
    pub channels: i64,
    /// Image side.
    pub image_size: i64,
    /// Code size (2 for the latent scatter; 8 in the paper's likelihood experiment).
    pub code_dim: i64,
    /// MLP: units in each of the two hidden layers (1000); conv: the encoder's FC layer.
    pub hidden: i64,
    /// Conv: the base width w.
    pub width: i64,
    /// What the encoder outputs: a code, or a Gaussian posterior's mean and log-variance.
    pub posterior: Posterior,
}

impl AutoencoderConfig {
    /// The paper's MNIST networks: 28×28×1, two hidden layers of 1000, deterministic encoder.
    pub fn mnist_mlp(code_dim: i64) -> Self {
        Self {
            layout: Layout::Mlp,
            channels: 1,
            image_size: 28,
            code_dim,
            hidden: 1000,
            width: 0,
            posterior: Posterior::Deterministic,
        }
    }

    /// Larsen et al.'s networks at width `width` on `size`×`size` images (size divisible by 8),
    /// Gaussian posterior.
    pub fn conv(channels: i64, size: i64, code_dim: i64, width: i64) -> Self {
        Self {
            layout: Layout::Conv,
            channels,
            image_size: size,
            code_dim,
            hidden: 32 * width,
            width,
            posterior: Posterior::Gaussian,
        }
    }

    /// Checks every size; the error names the key.
    pub fn validate(&self) -> Result<(), InvalidConfig> {
        if !(1..=4).contains(&self.channels) {
            return Err(InvalidConfig(format!("model.channels: expected 1 to 4, found {}", self.channels)));
        }
        if !(1..=4096).contains(&self.code_dim) {
            return Err(InvalidConfig(format!(
                "model.code_dim: expected 1 to 4096, found {}",
                self.code_dim
            )));
        }
        if self.hidden < 1 {
            return Err(InvalidConfig(format!("model.hidden: expected ≥ 1, found {}", self.hidden)));
        }
        match self.layout {
            Layout::Mlp if !(4..=256).contains(&self.image_size) => {
                Err(InvalidConfig(format!("model.image_size: expected 4 to 256, found {}", self.image_size)))
            }
            Layout::Conv if self.image_size < 8 || self.image_size % 8 != 0 => Err(InvalidConfig(format!(
                "model.image_size: the conv layout halves the image three times; expected a multiple of 8, found {}",
                self.image_size
            ))),
            Layout::Conv if self.width < 2 || self.width % 2 != 0 => {
                Err(InvalidConfig(format!("model.width: expected an even number ≥ 2, found {}", self.width)))
            }
            _ => Ok(()),
        }
    }

    /// Values per image.
    fn pixels(&self) -> i64 {
        self.channels * self.image_size * self.image_size
    }

    /// Side of the conv networks' smallest maps.
    fn bottom(&self) -> i64 {
        self.image_size / 8
    }

    /// What the encoder outputs per image: z, or (μ, log σ²).
    pub fn encoder_outputs(&self) -> i64 {
        match self.posterior {
            Posterior::Deterministic => self.code_dim,
            Posterior::Gaussian => 2 * self.code_dim,
        }
    }
}

fn conv5(p: nn::Path, cin: i64, cout: i64, stride: i64) -> nn::Conv2D {
    nn::conv2d(p, cin, cout, 5, nn::ConvConfig { stride, padding: 2, ..Default::default() })
}

fn deconv5(p: nn::Path, cin: i64, cout: i64) -> nn::ConvTranspose2D {
    let c = nn::ConvTransposeConfig { stride: 2, padding: 2, output_padding: 1, ..Default::default() };
    nn::conv_transpose2d(p, cin, cout, 5, c)
}

/// The encoder: images `[N, C, S, S]` → `[N, code]` or `[N, 2·code]` (μ then log σ²).
#[derive(Debug)]
pub struct Encoder {
    trunk: nn::SequentialT,
    out: nn::Linear,
    posterior: Posterior,
    code_dim: i64,
}

impl Encoder {
    /// The encoder of `c`'s layout.
    pub fn new(p: nn::Path, c: &AutoencoderConfig) -> Self {
        let mut trunk = nn::seq_t();
        let features = match c.layout {
            Layout::Mlp => {
                trunk = trunk
                    .add_fn(|x| x.flatten(1, -1))
                    .add(nn::linear(&p / "fc1", c.pixels(), c.hidden, Default::default()))
                    .add_fn(Tensor::relu)
                    .add(nn::linear(&p / "fc2", c.hidden, c.hidden, Default::default()))
                    .add_fn(Tensor::relu);
                c.hidden
            }
            Layout::Conv => {
                let w = c.width;
                for (i, (cin, cout)) in [(c.channels, w), (w, 2 * w), (2 * w, 4 * w)].into_iter().enumerate()
                {
                    trunk = trunk
                        .add(conv5(&p / format!("conv{i}"), cin, cout, 2))
                        .add(gantry_nn::batch_norm2d(&p / format!("bn{i}"), cout, Default::default()))
                        .add_fn(Tensor::relu);
                }
                let flat = 4 * w * c.bottom() * c.bottom();
                trunk = trunk
                    .add_fn(|x| x.flatten(1, -1))
                    .add(nn::linear(&p / "fc", flat, c.hidden, Default::default()))
                    .add(gantry_nn::batch_norm1d(&p / "bn_fc", c.hidden, Default::default()))
                    .add_fn(Tensor::relu);
                c.hidden
            }
        };
        let out = nn::linear(&p / "out", features, c.encoder_outputs(), Default::default());
        Self { trunk, out, posterior: c.posterior, code_dim: c.code_dim }
    }

    /// The encoder's raw output `[N, code]` or `[N, 2·code]`.
    pub fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        self.out.forward(&self.trunk.forward_t(x, train))
    }

    /// (z or μ `[N, code]`, log σ² `[N, code]` for a Gaussian posterior).
    pub fn moments(&self, x: &Tensor, train: bool) -> (Tensor, Option<Tensor>) {
        let h = self.forward_t(x, train);
        match self.posterior {
            Posterior::Deterministic => (h, None),
            Posterior::Gaussian => {
                let mu = h.narrow(1, 0, self.code_dim);
                let logvar = h.narrow(1, self.code_dim, self.code_dim);
                (mu, Some(logvar))
            }
        }
    }

    /// What it outputs.
    pub fn posterior(&self) -> Posterior {
        self.posterior
    }
}

/// The decoder (the VAE-GAN's generator): codes `[N, code]` → images `[N, C, S, S]` in [−1, 1].
#[derive(Debug)]
pub struct Decoder {
    net: nn::SequentialT,
}

impl Decoder {
    /// The decoder of `c`'s layout.
    pub fn new(p: nn::Path, c: &AutoencoderConfig) -> Self {
        let (ch, s) = (c.channels, c.image_size);
        let net = match c.layout {
            Layout::Mlp => nn::seq_t()
                .add(nn::linear(&p / "fc1", c.code_dim, c.hidden, Default::default()))
                .add_fn(Tensor::relu)
                .add(nn::linear(&p / "fc2", c.hidden, c.hidden, Default::default()))
                .add_fn(Tensor::relu)
                .add(nn::linear(&p / "out", c.hidden, c.pixels(), Default::default()))
                .add_fn(move |x| x.tanh().view([-1, ch, s, s])),
            Layout::Conv => {
                let (w, b) = (c.width, c.bottom());
                let mut net = nn::seq_t()
                    .add(nn::linear(&p / "fc", c.code_dim, 4 * w * b * b, Default::default()))
                    .add(gantry_nn::batch_norm1d(&p / "bn_fc", 4 * w * b * b, Default::default()))
                    .add_fn(move |x| x.relu().view([-1, 4 * w, b, b]));
                for (i, (cin, cout)) in
                    [(4 * w, 4 * w), (4 * w, 2 * w), (2 * w, w / 2)].into_iter().enumerate()
                {
                    net = net
                        .add(deconv5(&p / format!("deconv{i}"), cin, cout))
                        .add(gantry_nn::batch_norm2d(&p / format!("bn{i}"), cout, Default::default()))
                        .add_fn(Tensor::relu);
                }
                net.add(conv5(&p / "out", w / 2, ch, 1)).add_fn(Tensor::tanh)
            }
        };
        Self { net }
    }

    /// Images of codes `z`.
    pub fn forward_t(&self, z: &Tensor, train: bool) -> Tensor {
        self.net.forward_t(z, train)
    }
}

/// The adversarial autoencoder's discriminator in latent space: codes `[N, code]` (with the
/// supervised variant's one-hot label `[N, K + 1]`, the last slot meaning "unlabelled",
/// concatenated) → one logit per code `[N]`.
#[derive(Debug)]
pub struct LatentCritic {
    net: nn::Sequential,
    label_slots: i64,
}

impl LatentCritic {
    /// `label_slots` = K + 1 for the supervised variant, 0 otherwise.
    pub fn new(p: nn::Path, code_dim: i64, hidden: i64, label_slots: i64) -> Self {
        let net = nn::seq()
            .add(nn::linear(&p / "fc1", code_dim + label_slots, hidden, Default::default()))
            .add_fn(Tensor::relu)
            .add(nn::linear(&p / "fc2", hidden, hidden, Default::default()))
            .add_fn(Tensor::relu)
            .add(nn::linear(&p / "out", hidden, 1, Default::default()));
        Self { net, label_slots }
    }

    /// The input D sees: the code, then the one-hot of `labels` `[N]` in `0..=K` (K:
    /// unlabelled) when the critic is supervised.
    pub fn input(&self, z: &Tensor, labels: Option<&Tensor>) -> Tensor {
        match (self.label_slots, labels) {
            (0, _) => z.shallow_clone(),
            (k, Some(l)) => Tensor::cat(&[z, &l.to_device(z.device()).one_hot(k).to_kind(z.kind())], 1),
            (k, None) => {
                // Every code unlabelled.
                let l = Tensor::full([z.size()[0]], k - 1, (tch::Kind::Int64, z.device()));
                Tensor::cat(&[z, &l.one_hot(k).to_kind(z.kind())], 1)
            }
        }
    }

    /// Logits `[N]`.
    pub fn forward(&self, z: &Tensor, labels: Option<&Tensor>) -> Tensor {
        self.net.forward(&self.input(z, labels)).squeeze_dim(1)
    }

    /// One-hot label inputs (the supervised AAE's K + 1; 0 without labels).
    pub fn label_slots(&self) -> i64 {
        self.label_slots
    }
}

/// The VAE-GAN's discriminator: images → (logit `[N]`, the learned-similarity features Dis_l).
/// Dis_l is the output of conv layer `l` (3 or 4) before its BN and ReLU, as the authors' code
/// takes it: the fourth (`[N, 4w, S/8, S/8]`) for 64×64 faces (`recon_depth = 9` in
/// andersbll/autoencoding_beyond_pixels), the third (`[N, 4w, S/4, S/4]`) for 32×32 CIFAR
/// (`recon_depth = 6`).
#[derive(Debug)]
pub struct FeatureCritic {
    features: nn::SequentialT,
    head: nn::SequentialT,
}

impl FeatureCritic {
    /// D at `c`'s width with Dis_l at conv layer `layer` (3 or 4; anything else is taken as 4).
    pub fn new(p: nn::Path, c: &AutoencoderConfig, layer: i64) -> Self {
        let (w, b) = (c.width, c.bottom());
        let convs = [(c.channels, w / 2, 1), (w / 2, 2 * w, 2), (2 * w, 4 * w, 2), (4 * w, 4 * w, 2)];
        let split = if layer == 3 { 3 } else { 4 };
        let (mut features, mut head) = (nn::seq_t(), nn::seq_t());
        for (i, (cin, cout, stride)) in convs.into_iter().enumerate() {
            let conv = conv5(&p / format!("conv{i}"), cin, cout, stride);
            let into = if i < split { &mut features } else { &mut head };
            *into = std::mem::replace(into, nn::seq_t()).add(conv);
            // Conv i's BN and ReLU come after the features when conv i is layer l.
            let into = if i + 1 < split { &mut features } else { &mut head };
            let seq = std::mem::replace(into, nn::seq_t());
            *into = if i == 0 {
                seq.add_fn(Tensor::relu)
            } else {
                seq.add(gantry_nn::batch_norm2d(&p / format!("bn{i}"), cout, Default::default()))
                    .add_fn(Tensor::relu)
            };
        }
        let head = head
            .add_fn(|x| x.flatten(1, -1))
            .add(nn::linear(&p / "fc", 4 * w * b * b, 8 * w, Default::default()))
            .add(gantry_nn::batch_norm1d(&p / "bn_fc", 8 * w, Default::default()))
            .add_fn(Tensor::relu)
            .add(nn::linear(&p / "out", 8 * w, 1, Default::default()));
        Self { features, head }
    }

    /// (logits `[N]`, Dis_l features).
    pub fn forward_t(&self, x: &Tensor, train: bool) -> (Tensor, Tensor) {
        let f = self.features.forward_t(x, train);
        (self.head.forward_t(&f, train).squeeze_dim(1), f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind};

    fn count(vs: &nn::VarStore) -> i64 {
        vs.trainable_variables().iter().map(|t| t.numel() as i64).sum()
    }

    #[test]
    fn mlp_networks_have_the_papers_sizes() {
        let c = AutoencoderConfig::mnist_mlp(8);
        let vs = nn::VarStore::new(Device::Cpu);
        let e = Encoder::new(vs.root() / "e", &c);
        let d = Decoder::new(vs.root() / "d", &c);
        let x = Tensor::rand([3, 1, 28, 28], (Kind::Float, Device::Cpu)) * 2.0 - 1.0;
        let (z, logvar) = e.moments(&x, true);
        assert_eq!(z.size(), [3, 8]);
        assert!(logvar.is_none());
        assert_eq!(d.forward_t(&z, true).size(), [3, 1, 28, 28]);
        // 784·1000 + 1000 + 1000·1000 + 1000 + 1000·8 + 8, and the mirror image for the decoder.
        let enc = 784 * 1000 + 1000 + 1000 * 1000 + 1000 + 1000 * 8 + 8;
        let dec = 8 * 1000 + 1000 + 1000 * 1000 + 1000 + 1000 * 784 + 784;
        assert_eq!(count(&vs), enc + dec);
    }

    #[test]
    fn supervised_latent_critic_sees_the_code_and_k_plus_one_label_slots() {
        let vs = nn::VarStore::new(Device::Cpu);
        let d = LatentCritic::new(vs.root(), 2, 1000, 11);
        let z = Tensor::from_slice(&[0.5f32, -1.0, 2.0, 3.0]).reshape([2, 2]);
        let labels = Tensor::from_slice(&[3i64, 10]);
        let input = d.input(&z, Some(&labels));
        assert_eq!(input.size(), [2, 13]);
        let row: Vec<f32> = Vec::try_from(input.get(0)).unwrap();
        assert_eq!(row[..2], [0.5, -1.0]);
        assert_eq!(row[2..].iter().position(|v| *v == 1.0), Some(3));
        assert_eq!(row[2..].iter().sum::<f32>(), 1.0);
        let row: Vec<f32> = Vec::try_from(d.input(&z, None).get(1)).unwrap();
        assert_eq!(row[12], 1.0, "no labels: every code in the unlabelled slot");
        assert_eq!(d.forward(&z, Some(&labels)).size(), [2]);
        // (2 + 11)·1000 + 1000 + 1000·1000 + 1000 + 1000 + 1.
        assert_eq!(count(&vs), 13 * 1000 + 1000 + 1000 * 1000 + 1000 + 1000 + 1);
        let plain = LatentCritic::new(nn::VarStore::new(Device::Cpu).root(), 2, 16, 0);
        assert_eq!(plain.input(&z, Some(&labels)).size(), [2, 2]);
    }

    #[test]
    fn conv_networks_shapes() {
        let c = AutoencoderConfig::conv(1, 32, 16, 8);
        let vs = nn::VarStore::new(Device::Cpu);
        let e = Encoder::new(vs.root() / "e", &c);
        let g = Decoder::new(vs.root() / "g", &c);
        let d = FeatureCritic::new(vs.root() / "d", &c, 4);
        let d3 = FeatureCritic::new(vs.root() / "d3", &c, 3);
        let x = Tensor::rand([4, 1, 32, 32], (Kind::Float, Device::Cpu)) * 2.0 - 1.0;
        let (logit3, f3) = d3.forward_t(&x, true);
        assert_eq!((logit3.size(), f3.size()), (vec![4], vec![4, 32, 8, 8]));
        let (mu, logvar) = e.moments(&x, true);
        assert_eq!(mu.size(), [4, 16]);
        assert_eq!(logvar.unwrap().size(), [4, 16]);
        assert_eq!(g.forward_t(&mu, true).size(), [4, 1, 32, 32]);
        let (logit, f) = d.forward_t(&x, true);
        assert_eq!(logit.size(), [4]);
        assert_eq!(f.size(), [4, 32, 4, 4]);
    }

    #[test]
    fn bad_sizes_name_the_key() {
        let c = AutoencoderConfig { image_size: 28, ..AutoencoderConfig::conv(1, 32, 16, 8) };
        assert!(c.validate().unwrap_err().0.contains("model.image_size"));
        let c = AutoencoderConfig { code_dim: 0, ..AutoencoderConfig::mnist_mlp(2) };
        assert!(c.validate().unwrap_err().0.contains("model.code_dim"));
        assert!(AutoencoderConfig::mnist_mlp(2).validate().is_ok());
    }
}
