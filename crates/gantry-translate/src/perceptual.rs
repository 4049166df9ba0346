//! Feature networks for content losses measured in a pretrained network's feature space (SRGAN's
//! "perceptual" loss, Ledig et al. 2017 §2.2.1; Johnson et al. 2016), frozen: they are never
//! trained and never checkpointed, only rebuilt from their weights file.
//!
//! - [`Vgg19`]: layer for layer torchvision's `vgg19().features` (state-dict names
//!   `features.<index>.weight|bias`), fed ImageNet-normalised RGB. SRGAN's VGG22 is the output of
//!   `relu2_2` (`features[:9]`), VGG54 that of `relu5_4` (`features[:36]`, the fourth convolution
//!   after activation before the fifth max-pool). Its ImageNet weights are not available offline:
//!   `scripts/convert_vgg19.py` turns a user's torchvision `vgg19-dcbb9e9d.pth` into the
//!   safetensors file this loads.
//! - [`InceptionStem`]: the stem of the FID Inception-v3 (the TF 2015-12-05 graph that
//!   `../shared/weights/fid-inception-2015-12-05.torchscript.pt` holds), rebuilt from that
//!   TorchScript file's parameters: five BasicConv2d (conv without bias, batch norm with only a
//!   shift, ε = 0.001, ReLU) with two 3×3/2 max-pools, as the TorchScript `net.layers.conv …
//!   conv_4` do. ImageNet-trained and available offline, so the presets' perceptual losses use it.
//!
//! Inputs are images in [−1, 1] (`[N, 1|3, H, W]`; grey is repeated to RGB).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tch::nn::{self, Module};
use tch::{Device, Kind, Tensor};

/// Which features a content loss compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FeatureLayer {
    /// VGG19 `relu2_2` (SRGAN's VGG22: low-level features).
    Vgg22,
    /// VGG19 `relu5_4` (SRGAN's VGG54: high-level features; the paper's best).
    Vgg54,
    /// FID Inception-v3 after `Conv2d_2b_3x3` (64 channels; low-level, like VGG22).
    Inception2b,
    /// FID Inception-v3 after `Conv2d_4a_3x3` (192 channels; the last layer before the mixed blocks).
    Inception4a,
}

impl FeatureLayer {
    /// Whether the layer is VGG19's (not the Inception stem's).
    pub fn is_vgg(self) -> bool {
        matches!(self, FeatureLayer::Vgg22 | FeatureLayer::Vgg54)
    }

    /// The paper's name of the layer.
    pub fn label(self) -> &'static str {
        match self {
            FeatureLayer::Vgg22 => "VGG19 relu2_2",
            FeatureLayer::Vgg54 => "VGG19 relu5_4",
            FeatureLayer::Inception2b => "Inception-v3 Conv2d_2b_3x3",
            FeatureLayer::Inception4a => "Inception-v3 Conv2d_4a_3x3",
        }
    }
}

/// Errors loading a feature network.
/// Why a feature network's weights could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum WeightsError {
    /// The file at `path` does not hold the network's weights (the message says what is wrong).
    #[error("{}: {message}", path.display())]
    File {
        /// The weights file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// A tensor the network needs is not among the weights.
    #[error("missing tensor '{name}' ({network})")]
    Missing {
        /// Its name.
        name: String,
        /// Whose weights were expected.
        network: &'static str,
    },
    /// A tensor whose shape is not the network's.
    #[error("'{name}': expected shape {expected:?}, found {found:?}")]
    Shape {
        /// Its name.
        name: String,
        /// The network's shape.
        expected: Vec<i64>,
        /// The weights' shape.
        found: Vec<i64>,
    },
}

fn bad(path: &Path, what: impl std::fmt::Display) -> WeightsError {
    WeightsError::File { path: path.to_path_buf(), message: what.to_string() }
}

/// Grey → RGB.
fn rgb(x: &Tensor) -> Tensor {
    if x.size()[1] == 1 {
        x.repeat([1, 3, 1, 1])
    } else {
        x.shallow_clone()
    }
}

/// torchvision's VGG19 configuration "E": widths, 0 for a max-pool.
const VGG19: [i64; 21] =
    [64, 64, 0, 128, 128, 0, 256, 256, 256, 256, 0, 512, 512, 512, 512, 0, 512, 512, 512, 512, 0];

/// torchvision's `vgg19().features`, up to the deepest layer a loss asks for.
#[derive(Debug)]
pub struct Vgg19 {
    vs: nn::VarStore,
    /// (torchvision index, conv) or a max-pool (None) at each position.
    layers: Vec<(i64, Option<nn::Conv2D>)>,
}

impl Vgg19 {
    /// The network's shape on `device` with freshly initialised weights (torchvision's names).
    pub fn new(device: Device) -> Self {
        let vs = nn::VarStore::new(device);
        let p = vs.root() / "features";
        let (mut index, mut cin, mut layers) = (0i64, 3i64, Vec::new());
        for &w in &VGG19 {
            if w == 0 {
                layers.push((index, None));
                index += 1;
            } else {
                let c = nn::ConvConfig { padding: 1, ..Default::default() };
                layers.push((index, Some(nn::conv2d(&p / index, cin, w, 3, c))));
                (cin, index) = (w, index + 2); // conv, then ReLU
            }
        }
        Self { vs, layers }
    }

    /// Loads `features.*` from a safetensors file (`scripts/convert_vgg19.py` makes one from
    /// torchvision's `vgg19-dcbb9e9d.pth`); every variable must be there with its shape.
    pub fn load(path: &Path, device: Device) -> Result<Self, WeightsError> {
        let mut net = Self::new(device);
        let tensors = Tensor::read_safetensors(path).map_err(|e| bad(path, e))?;
        let tensors: std::collections::HashMap<String, Tensor> = tensors.into_iter().collect();
        net.set_from(|name| tensors.get(name).map(|t| t.shallow_clone())).map_err(|e| bad(path, e))?;
        net.vs.freeze();
        Ok(net)
    }

    /// Sets every variable from `get(name)`; an error names the first missing or mis-shaped one.
    pub fn set_from(&mut self, get: impl Fn(&str) -> Option<Tensor>) -> Result<(), WeightsError> {
        let mut vars = self.vs.variables();
        let mut names: Vec<String> = vars.keys().cloned().collect();
        names.sort();
        tch::no_grad(|| {
            for name in names {
                let var = vars.get_mut(&name).expect("listed");
                let t = get(&name).ok_or_else(|| WeightsError::Missing {
                    name: name.clone(),
                    network: "torchvision vgg19 features",
                })?;
                if t.size() != var.size() {
                    return Err(WeightsError::Shape { name, expected: var.size(), found: t.size() });
                }
                var.copy_(&t.to_kind(Kind::Float));
            }
            Ok(())
        })
    }

    /// The variables, by torchvision's names.
    pub fn var_store(&self) -> &nn::VarStore {
        &self.vs
    }

    /// Features at `relu2_2` (`Vgg22`) or `relu5_4` (`Vgg54`) of images in [−1, 1], after
    /// ImageNet normalisation (torchvision's mean and std on [0, 1] pixels).
    pub fn features(&self, x: &Tensor, layer: FeatureLayer) -> Tensor {
        let last = match layer {
            FeatureLayer::Vgg22 => 8,
            FeatureLayer::Vgg54 => 35,
            other => panic!("{} is not a VGG layer", other.label()),
        };
        let dev = x.device();
        let mean = Tensor::from_slice(&[0.485f32, 0.456, 0.406]).view([1, 3, 1, 1]).to_device(dev);
        let std = Tensor::from_slice(&[0.229f32, 0.224, 0.225]).view([1, 3, 1, 1]).to_device(dev);
        let mut h = ((rgb(x) + 1.0) * 0.5 - mean) / std;
        for (index, conv) in &self.layers {
            h = match conv {
                Some(c) => c.forward(&h).relu(),
                None => h.max_pool2d([2, 2], [2, 2], [0, 0], [1, 1], false),
            };
            // A conv's ReLU sits at index + 1.
            if conv.is_some() && index + 1 == last {
                return h;
            }
        }
        unreachable!("relu2_2 and relu5_4 are in features")
    }
}

/// One BasicConv2d of the FID Inception: conv (no bias), BN with a shift only (ε 0.001), ReLU.
#[derive(Debug)]
struct BasicConv {
    weight: Tensor,
    beta: Tensor,
    mean: Tensor,
    var: Tensor,
    stride: i64,
    padding: i64,
}

impl BasicConv {
    fn forward(&self, x: &Tensor) -> Tensor {
        let h = x.conv2d(&self.weight, None::<Tensor>, [self.stride; 2], [self.padding; 2], [1, 1], 1);
        let shape = [1, -1, 1, 1];
        ((h - self.mean.view(shape)) / (self.var.view(shape) + 1e-3).sqrt() + self.beta.view(shape)).relu()
    }
}

/// The stem of the FID Inception-v3, from its TorchScript file.
#[derive(Debug)]
pub struct InceptionStem {
    convs: Vec<BasicConv>,
}

/// (TorchScript name, stride, padding) of the stem's convolutions, in order.
const STEM: [(&str, i64, i64); 5] =
    [("conv", 2, 0), ("conv_1", 1, 0), ("conv_2", 1, 1), ("conv_3", 1, 0), ("conv_4", 1, 0)];

impl InceptionStem {
    /// Reads the stem's parameters (`net.layers.conv*.{weight,beta,mean,var}`) from the FID
    /// Inception TorchScript file at `path`.
    pub fn load(path: &Path, device: Device) -> Result<Self, WeightsError> {
        let module = tch::CModule::load_on_device(path, device).map_err(|e| bad(path, e))?;
        let params: std::collections::HashMap<String, Tensor> =
            module.named_parameters().map_err(|e| bad(path, e))?.into_iter().collect();
        let get = |name: &str| -> Result<Tensor, WeightsError> {
            params
                .get(name)
                .map(|t| t.detach().to_kind(Kind::Float).to_device(device))
                .ok_or_else(|| bad(path, format!("not the FID Inception: no parameter '{name}'")))
        };
        let mut convs = Vec::new();
        for (name, stride, padding) in STEM {
            let p = format!("net.layers.{name}");
            convs.push(BasicConv {
                weight: get(&format!("{p}.weight"))?,
                beta: get(&format!("{p}.beta"))?,
                mean: get(&format!("{p}.mean"))?,
                var: get(&format!("{p}.var"))?,
                stride,
                padding,
            });
        }
        Ok(Self { convs })
    }

    /// Features after `Conv2d_2b_3x3` or `Conv2d_4a_3x3` of images in [−1, 1] (the FID network's
    /// own input scale, `(x − 128)/128`), at their size (no resize to 299).
    pub fn features(&self, x: &Tensor, layer: FeatureLayer) -> Tensor {
        let x = rgb(x);
        let h = self.convs[2].forward(&self.convs[1].forward(&self.convs[0].forward(&x)));
        if layer == FeatureLayer::Inception2b {
            return h;
        }
        assert_eq!(layer, FeatureLayer::Inception4a, "{} is not an Inception layer", layer.label());
        let h = h.max_pool2d([3, 3], [2, 2], [0, 0], [1, 1], false);
        self.convs[4].forward(&self.convs[3].forward(&h))
    }
}

/// A frozen feature network, either kind.
#[derive(Debug)]
pub enum FeatureNet {
    /// torchvision's VGG19.
    Vgg(Vgg19),
    /// The FID Inception network's stem.
    Inception(InceptionStem),
}

impl FeatureNet {
    /// Loads the network `layer` belongs to from `path` (a VGG19 safetensors file, or the FID
    /// Inception TorchScript file).
    pub fn load(layer: FeatureLayer, path: &Path, device: Device) -> Result<Self, WeightsError> {
        if layer.is_vgg() {
            Vgg19::load(path, device).map(FeatureNet::Vgg)
        } else {
            InceptionStem::load(path, device).map(FeatureNet::Inception)
        }
    }

    /// The activations of `layer` for images `x` `[N, C, H, W]` in [−1, 1].
    pub fn features(&self, x: &Tensor, layer: FeatureLayer) -> Tensor {
        match self {
            FeatureNet::Vgg(v) => v.features(x, layer),
            FeatureNet::Inception(i) => i.features(x, layer),
        }
    }
}
