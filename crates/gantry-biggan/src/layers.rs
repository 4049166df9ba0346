//! BigGAN-PyTorch's layers (`layers.py`), with their state-dict names: their spectral norm
//! ([`Sn`]: buffers `u0`, `sv0`, one power iteration per forward, the ε of the run), convolution,
//! linear and embedding layers normalised by it, class-conditional BatchNorm ([`Ccbn`]: a
//! BatchNorm without affine parameters, then `·(1 + gain(y)) + bias(y)`), the plain BatchNorm of
//! G's output ([`Bn`]), and SA-GAN's self-attention ([`Attention`]).

use serde::{Deserialize, Serialize};
use tch::nn::{self, Init};
use tch::{Kind, Tensor};

/// How weights are initialised (`G_init`/`D_init`): every convolution, linear and embedding
/// weight; biases keep PyTorch's default U(−1/√fan_in, 1/√fan_in).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InitStyle {
    /// `init.orthogonal_` (their default, the ImageNet runs).
    Ortho,
    /// N(0, 0.02) (their CIFAR script).
    N02,
}

impl InitStyle {
    /// A weight variable `name` of shape `dims` under `p`, initialised this way (orthogonal over
    /// the rows of the weight viewed as `[dims[0], -1]`, as `init.orthogonal_`).
    fn weight(self, p: &nn::Path, name: &str, dims: &[i64]) -> Tensor {
        match self {
            InitStyle::N02 => p.var(name, dims, Init::Randn { mean: 0.0, stdev: 0.02 }),
            InitStyle::Ortho => {
                // tch's Init::Orthogonal returns the flattened matrix; its `set` fills in place.
                let mut w = p.var(name, dims, Init::Const(0.0));
                tch::no_grad(|| Init::Orthogonal { gain: 1.0 }.set(&mut w));
                w
            }
        }
    }
}

/// `F.normalize(x, dim=1, eps)`: rows divided by max(‖row‖₂, ε).
fn normalize(x: &Tensor, eps: f64) -> Tensor {
    x / x.norm_scalaropt_dim(2, [1], true).clamp_min(eps)
}

/// Their spectral norm (`layers.SN`, one singular value): a buffer `u0` `[1, outputs]` drawn
/// N(0, 1) and `sv0` `[1]`, the last σ (logging). Each forward runs one power iteration from
/// `u0` without gradient — v = normalize(u W), u' = normalize(v Wᵀ) — and divides W by
/// σ = v Wᵀ u'ᵀ, through which the gradient flows; only a training forward stores u' and σ.
#[derive(Debug)]
pub struct Sn {
    u: Tensor,
    sv: Tensor,
    eps: f64,
}

impl Sn {
    /// The buffers under `p` for a weight with `outputs` rows.
    pub fn new(p: &nn::Path, outputs: i64, eps: f64) -> Self {
        let u = p.zeros_no_train("u0", &[1, outputs]);
        tch::no_grad(|| u.shallow_clone().copy_(&Tensor::randn([1, outputs], (Kind::Float, u.device()))));
        Self { u, sv: p.ones_no_train("sv0", &[1]), eps }
    }

    /// `w / σ(w)` (same shape as `w`, rows its first dimension).
    pub fn weight(&self, w: &Tensor, train: bool) -> Tensor {
        let m = w.reshape([w.size()[0], -1]);
        let (v, u) = tch::no_grad(|| {
            let v = normalize(&self.u.matmul(&m), self.eps);
            let u = normalize(&v.matmul(&m.tr()), self.eps);
            if train {
                self.u.shallow_clone().copy_(&u);
            }
            (v, u)
        });
        let sv = v.matmul(&m.tr()).matmul(&u.tr()).squeeze();
        if train {
            tch::no_grad(|| self.sv.shallow_clone().copy_(&sv));
        }
        w / sv
    }

    /// The last σ stored by a training forward.
    pub fn sigma(&self) -> f64 {
        self.sv.double_value(&[0])
    }
}

fn bias(p: &nn::Path, out: i64, fan_in: i64) -> Tensor {
    let bound = 1.0 / (fan_in as f64).sqrt();
    p.var("bias", &[out], Init::Uniform { lo: -bound, up: bound })
}

/// `SNConv2d`: a convolution (stride 1, `padding` each side) whose weight is spectrally normalised.
#[derive(Debug)]
pub struct SnConv2d {
    w: Tensor,
    b: Option<Tensor>,
    sn: Sn,
    padding: i64,
}

impl SnConv2d {
    /// `weight` `[cout, cin, k, k]`, `bias` `[cout]` when `with_bias`, the norm's buffers.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        p: &nn::Path,
        cin: i64,
        cout: i64,
        k: i64,
        with_bias: bool,
        eps: f64,
        init: InitStyle,
    ) -> Self {
        let w = init.weight(p, "weight", &[cout, cin, k, k]);
        let b = with_bias.then(|| bias(p, cout, cin * k * k));
        Self { w, b, sn: Sn::new(p, cout, eps), padding: k / 2 }
    }

    /// The convolution of `x`.
    pub fn forward(&self, x: &Tensor, train: bool) -> Tensor {
        let w = self.sn.weight(&self.w, train);
        x.conv2d(&w, self.b.as_ref(), [1, 1], [self.padding, self.padding], [1, 1], 1)
    }
}

/// `SNLinear`.
#[derive(Debug)]
pub struct SnLinear {
    w: Tensor,
    b: Option<Tensor>,
    sn: Sn,
}

impl SnLinear {
    /// `weight` `[out, inp]`, `bias` `[out]` when `with_bias`, the norm's buffers.
    pub fn new(p: &nn::Path, inp: i64, out: i64, with_bias: bool, eps: f64, init: InitStyle) -> Self {
        let w = init.weight(p, "weight", &[out, inp]);
        let b = with_bias.then(|| bias(p, out, inp));
        Self { w, b, sn: Sn::new(p, out, eps) }
    }

    /// `x Wᵀ (+ b)`.
    pub fn forward(&self, x: &Tensor, train: bool) -> Tensor {
        x.linear(&self.sn.weight(&self.w, train), self.b.as_ref())
    }
}

/// Classes as a conditional layer takes them: indices, or weights over the classes (a row per
/// sample summing to 1 for a mixture; one-hot rows give the same as indices). Embeddings are
/// linear in the class, so a mixture is an interpolation in embedding space.
#[derive(Debug)]
pub enum Classes {
    /// `[N]` int64 class indices.
    Index(Tensor),
    /// `[N, n_classes]` float weights.
    Soft(Tensor),
}

impl Classes {
    /// The rows of `table` `[n_classes, d]` these classes select (or mix).
    pub fn embed(&self, table: &Tensor) -> Tensor {
        match self {
            Classes::Index(y) => Tensor::embedding(table, y, -1, false, false),
            Classes::Soft(w) => w.matmul(table),
        }
    }

    /// The number of samples.
    pub fn len(&self) -> i64 {
        match self {
            Classes::Index(y) => y.size()[0],
            Classes::Soft(w) => w.size()[0],
        }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// `SNEmbedding`: D's class embedding for the projection, spectrally normalised over its
/// `[n_classes, dim]` table (u over the classes).
#[derive(Debug)]
pub struct SnEmbedding {
    w: Tensor,
    sn: Sn,
}

impl SnEmbedding {
    /// `weight` `[n, dim]` and the norm's buffers.
    pub fn new(p: &nn::Path, n: i64, dim: i64, eps: f64, init: InitStyle) -> Self {
        Self { w: init.weight(p, "weight", &[n, dim]), sn: Sn::new(p, n, eps) }
    }

    /// The embeddings of `y`.
    pub fn forward(&self, y: &Classes, train: bool) -> Tensor {
        y.embed(&self.sn.weight(&self.w, train))
    }
}

/// `nn.Embedding` (G's shared embedding; the per-class gains and biases of an unshared ccbn).
#[derive(Debug)]
pub struct Embedding {
    /// `[n, dim]`.
    pub weight: Tensor,
}

impl Embedding {
    /// `weight` `[n, dim]`.
    pub fn new(p: &nn::Path, n: i64, dim: i64, init: InitStyle) -> Self {
        Self { weight: init.weight(p, "weight", &[n, dim]) }
    }
}

/// What a ccbn is conditioned on.
#[derive(Debug)]
pub enum Cond<'a> {
    /// A vector per sample (the shared embedding, with a z chunk under hierarchical z).
    Vector(&'a Tensor),
    /// Classes (unshared: each ccbn has its own per-class gains and biases).
    Classes(&'a Classes),
}

#[derive(Debug)]
enum CondMap {
    Linear(SnLinear),
    Embed(Embedding),
}

impl CondMap {
    fn forward(&self, c: &Cond, train: bool) -> Tensor {
        match (self, c) {
            (CondMap::Linear(l), Cond::Vector(v)) => l.forward(v, train),
            (CondMap::Embed(e), Cond::Classes(y)) => y.embed(&e.weight),
            _ => panic!("a ccbn is conditioned on what it was built for (shared: vectors, else classes)"),
        }
    }
}

/// How a ccbn's gain and bias are made from the condition.
#[derive(Debug, Clone, Copy)]
pub enum CondInput {
    /// SNLinear(`dim` → C, no bias) of a vector (`G_shared`).
    Vector(i64),
    /// nn.Embedding(`n_classes`, C).
    Classes(i64),
}

/// Their `ccbn` with `norm_style = "bn"`: `BN(x) · (1 + gain(c)) + bias(c)`, BN without affine
/// parameters over buffers `stored_mean`, `stored_var` (momentum 0.1).
#[derive(Debug)]
pub struct Ccbn {
    gain: CondMap,
    bias: CondMap,
    mean: Tensor,
    var: Tensor,
    eps: f64,
    momentum: std::cell::Cell<f64>,
}

impl Ccbn {
    /// A ccbn over `c` channels.
    pub fn new(p: &nn::Path, c: i64, input: CondInput, bn_eps: f64, sn_eps: f64, init: InitStyle) -> Self {
        let map = |q: nn::Path| match input {
            CondInput::Vector(d) => CondMap::Linear(SnLinear::new(&q, d, c, false, sn_eps, init)),
            CondInput::Classes(n) => CondMap::Embed(Embedding::new(&q, n, c, init)),
        };
        Self {
            gain: map(p / "gain"),
            bias: map(p / "bias"),
            mean: p.zeros_no_train("stored_mean", &[c]),
            var: p.ones_no_train("stored_var", &[c]),
            eps: bn_eps,
            momentum: std::cell::Cell::new(0.1),
        }
    }

    /// The normalised, modulated `x` `[N, C, H, W]`.
    pub fn forward(&self, x: &Tensor, c: &Cond, train: bool) -> Tensor {
        let n = x.size()[0];
        let gain = (self.gain.forward(c, train) + 1.0).view([n, -1, 1, 1]);
        let bias = self.bias.forward(c, train).view([n, -1, 1, 1]);
        let out = gantry_nn::batch_norm::batch_norm(
            x,
            None,
            None,
            Some(&self.mean),
            Some(&self.var),
            train,
            0.1,
            self.eps,
        );
        out * gain + bias
    }

    /// The BatchNorm statistics `(stored_mean, stored_var)`.
    pub fn stats(&self) -> (&Tensor, &Tensor) {
        (&self.mean, &self.var)
    }

    /// The weight of a training forward's batch statistics in the stored ones (0.1; 1/k for
    /// the k-th pass of standing statistics, which makes them the average over passes).
    pub fn set_momentum(&self, m: f64) {
        self.momentum.set(m);
    }
}

/// Their `bn` (G's output layer): BatchNorm with a learned `gain` (1) and `bias` (0), buffers
/// `stored_mean`, `stored_var`, ε 1e-5 whatever `BN_eps` is (their output layer passes none).
#[derive(Debug)]
pub struct Bn {
    gain: Tensor,
    bias: Tensor,
    mean: Tensor,
    var: Tensor,
    momentum: std::cell::Cell<f64>,
}

impl Bn {
    /// Over `c` channels.
    pub fn new(p: &nn::Path, c: i64) -> Self {
        Self {
            gain: p.var("gain", &[c], Init::Const(1.0)),
            bias: p.var("bias", &[c], Init::Const(0.0)),
            mean: p.zeros_no_train("stored_mean", &[c]),
            var: p.ones_no_train("stored_var", &[c]),
            momentum: std::cell::Cell::new(0.1),
        }
    }

    /// BatchNorm of `x`.
    pub fn forward(&self, x: &Tensor, train: bool) -> Tensor {
        gantry_nn::batch_norm::batch_norm(
            x,
            Some(&self.gain),
            Some(&self.bias),
            Some(&self.mean),
            Some(&self.var),
            train,
            self.momentum.get(),
            1e-5,
        )
    }

    /// The BatchNorm statistics `(stored_mean, stored_var)`.
    pub fn stats(&self) -> (&Tensor, &Tensor) {
        (&self.mean, &self.var)
    }

    /// As [`Ccbn::set_momentum`].
    pub fn set_momentum(&self, m: f64) {
        self.momentum.set(m);
    }
}

/// SA-GAN's non-local block as BigGAN-PyTorch has it (`layers.Attention`): θ, φ 1×1 to C/8,
/// g to C/2, φ and g max-pooled 2×2, β = softmax over keys of θᵀφ, out = x + γ·o(g βᵀ) with γ
/// a scalar starting at 0. All four convolutions spectrally normalised, without bias.
#[derive(Debug)]
pub struct Attention {
    theta: SnConv2d,
    phi: SnConv2d,
    g: SnConv2d,
    o: SnConv2d,
    gamma: Tensor,
    ch: i64,
}

impl Attention {
    /// Over `ch` channels (a multiple of 8).
    pub fn new(p: &nn::Path, ch: i64, sn_eps: f64, init: InitStyle) -> Self {
        let conv =
            |name: &str, cin: i64, cout: i64| SnConv2d::new(&(p / name), cin, cout, 1, false, sn_eps, init);
        Self {
            theta: conv("theta", ch, ch / 8),
            phi: conv("phi", ch, ch / 8),
            g: conv("g", ch, ch / 2),
            o: conv("o", ch / 2, ch),
            gamma: p.var("gamma", &[], Init::Const(0.0)),
            ch,
        }
    }

    /// `x` plus its attention output.
    pub fn forward(&self, x: &Tensor, train: bool) -> Tensor {
        let (h, w) = (x.size()[2], x.size()[3]);
        let pool = |t: Tensor| t.max_pool2d([2, 2], [2, 2], [0, 0], [1, 1], false);
        let theta = self.theta.forward(x, train).reshape([-1, self.ch / 8, h * w]);
        let phi = pool(self.phi.forward(x, train)).reshape([-1, self.ch / 8, h * w / 4]);
        let g = pool(self.g.forward(x, train)).reshape([-1, self.ch / 2, h * w / 4]);
        let beta = theta.transpose(1, 2).bmm(&phi).softmax(-1, Kind::Float);
        let o = self.o.forward(&g.bmm(&beta.transpose(1, 2)).reshape([-1, self.ch / 2, h, w]), train);
        &self.gamma * o + x
    }
}
