//! What a model family is to the training loop: its networks ([`Networks`]), the named phases of
//! one training step ([`Phase`]), and what it needs from the data ([`DataNeeds`]). The loop
//! ([`crate::train`]) schedules the phases, seeds, draws batches, logs, checkpoints and evaluates
//! without knowing what the networks are; a family is one file under [`crate::recipes`].
//!
//! The shape follows StyleGAN2-ADA's training loop (a list of phases, each stepping some networks
//! on some loss) and the pix2pix/CycleGAN code's `BaseModel` (a model declares its networks and
//! optimisers; the shared code saves, loads and logs by iterating them).

use crate::error::{bail, Result};
use gantry_core::checkpoint::Checkpoint;
use gantry_core::optim::{Adam, AdamConfig, AdamSnapshot};
use tch::nn::VarStore;
use tch::Tensor;

use crate::capability::{
    Autoencoder, ClassSampler, CodeSampler, Sampler, StyleBased, Translator, TruncateInW,
};

/// Named scalars a phase reports (averaged by the loop into `metrics.jsonl`).
pub type Scalars = Vec<(&'static str, f64)>;

/// One batch of real data, as the family's [`DataNeeds`] asked for it.
#[derive(Debug)]
pub struct Batch {
    /// What D sees as real: images `[B, C, H, W]` in [−1, 1] (for translation, the target domain
    /// B), or toy samples `[B, dim]`.
    pub images: Tensor,
    /// Class indices `[B]` (i64), for labelled data.
    pub labels: Option<Tensor>,
    /// Translation: the input images `[B, C_A, H, W]` (domain A), aligned with `images` for
    /// paired data, drawn independently of them for unpaired data.
    pub inputs: Option<Tensor>,
}

impl Batch {
    /// A batch of unlabelled samples.
    pub fn unlabelled(images: Tensor) -> Self {
        Self { images, labels: None, inputs: None }
    }

    /// The batch with its images in `format` (labels as they are).
    pub fn in_format(self, format: gantry_core::layout::MemoryFormat) -> Self {
        Self {
            images: format.apply(&self.images),
            labels: self.labels,
            inputs: self.inputs.map(|a| format.apply(&a)),
        }
    }

    /// Micro-batch `i` of `k` (`train.accumulate`): its rows of every tensor, as
    /// [`gantry_core::parallel::rows_of`] splits them.
    pub fn micro_batch(&self, i: i64, k: i64) -> Self {
        let (start, len) = gantry_core::parallel::rows_of(i, k, self.images.size()[0]);
        let rows = |t: &Tensor| t.narrow(0, start, len);
        Self {
            images: rows(&self.images),
            labels: self.labels.as_ref().map(rows),
            inputs: self.inputs.as_ref().map(rows),
        }
    }

    /// The input images of a translation batch; an error for any other batch.
    pub fn inputs(&self) -> Result<&Tensor> {
        match &self.inputs {
            Some(a) => Ok(a),
            None => bail!("this family translates images and needs paired data (inputs and targets)"),
        }
    }
}

/// One phase of a training step: StyleGAN2-ADA's `Dmain`, `Gmain`; pix2pix's `D`, `G`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Phase {
    /// The phase's name (logs, errors).
    pub name: &'static str,
    /// Runs per training step (WGAN's n_critic for D).
    pub repeat: u32,
    /// Whether each run draws a fresh real batch; otherwise the phase sees the batch the previous
    /// phase saw (G's step on D's last batch).
    pub fresh_batch: bool,
}

impl Phase {
    /// A phase that runs once per step on a fresh batch.
    pub const fn fresh(name: &'static str) -> Self {
        Self { name, repeat: 1, fresh_batch: true }
    }

    /// A phase that runs once per step on the previous phase's batch.
    pub const fn same_batch(name: &'static str) -> Self {
        Self { name, repeat: 1, fresh_batch: false }
    }
}

/// What a family trains on; the loop loads it ([`crate::data`]) before building the family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataNeeds {
    /// Images of `channels` (0: the dataset's) at `size`×`size`; with `classes`, labelled ones
    /// whose labels lie in `0..classes`.
    Images {
        /// Image channels (1 or 3); 0 takes the dataset's.
        channels: i64,
        /// Image height and width in pixels.
        size: i64,
        /// The number of classes of a conditional family; None for unlabelled training.
        classes: Option<i64>,
    },
    /// Points of a toy distribution in `dim` dimensions (`data = ring | grid | gaussian1d`).
    Toy {
        /// The points' dimension (1 or 2).
        dim: i64,
    },
    /// Aligned pairs (input A, target B) at `size`×`size`: an `A|B` folder in the pix2pix
    /// authors' layout or a gantry-made paired set. `a_to_b = false` swaps the halves.
    Paired {
        /// Channels of the inputs (A).
        input_channels: i64,
        /// Channels of the targets (B), the images D sees.
        output_channels: i64,
        /// Height and width of both images in pixels.
        size: i64,
        /// Whether the left half of an `A|B` image is the input (the authors' `--direction AtoB`).
        a_to_b: bool,
    },
    /// Two unpaired domains A and B at `size`×`size`: a folder in the CycleGAN authors' layout
    /// (`trainA/`, `trainB/`, …) or a gantry-made unpaired set. Batches pair them at random.
    Unpaired {
        /// Channels of domain A's images (the inputs).
        channels_a: i64,
        /// Channels of domain B's images (the images D sees).
        channels_b: i64,
        /// Height and width of both domains' images in pixels.
        size: i64,
    },
}

impl DataNeeds {
    /// (channels, size) of the images D sees, when the family trains on images.
    pub fn image(&self) -> Option<(i64, i64)> {
        match *self {
            DataNeeds::Images { channels, size, .. } => Some((channels, size)),
            DataNeeds::Paired { output_channels, size, .. } => Some((output_channels, size)),
            DataNeeds::Unpaired { channels_b, size, .. } => Some((channels_b, size)),
            DataNeeds::Toy { .. } => None,
        }
    }
}

/// What a family's networks are to the loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetKind {
    /// Trained by gradient, with its own optimiser (saved as `opt_<name>`).
    Trained,
    /// Derived from another network without gradients (the generator's EMA).
    Average,
    /// A family's own state besides networks (StyleGAN2's path length mean, ProGAN's stage).
    State,
}

/// One network (or state store) of a family.
#[derive(Debug)]
pub struct Network {
    /// Its checkpoint prefix (`g`, `d`, `g_ema`, `aux`, …).
    pub name: &'static str,
    /// Its variables (and buffers).
    pub vs: VarStore,
    /// What it is to the loop: trained, averaged or state.
    pub kind: NetKind,
    /// Its optimiser, for [`NetKind::Trained`] networks.
    pub opt: Option<Adam>,
    /// Whether drawing samples (or translating) needs it: loaded for inference.
    pub inference: bool,
}

/// A handle on one of a family's [`Networks`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NetId(usize);

/// A handle on an optimiser shared by several networks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OptId(usize);

/// An Adam over several networks, stepped on one loss (an autoencoder's reconstruction phase
/// updates its encoder and decoder together).
#[derive(Debug)]
struct Shared {
    name: &'static str,
    adam: Adam,
}

/// A family's networks: each its own `VarStore`, trained ones with their own Adam, plus Adams
/// shared by several networks. Checkpoints hold every network under its name (`g.*`, `d.*`,
/// `g_ema.*`, `aux.*`) and every optimiser as `opt_<name>.*`.
#[derive(Debug, Default)]
pub struct Networks {
    nets: Vec<Network>,
    shared: Vec<Shared>,
}

impl Networks {
    /// No networks yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a network trained by `opt` (create its variables first: Adam binds to the
    /// trainable variables present now).
    pub fn trained(&mut self, name: &'static str, vs: VarStore, opt: AdamConfig, inference: bool) -> NetId {
        let opt = Adam::new(&vs, opt);
        self.push(Network { name, vs, kind: NetKind::Trained, opt: Some(opt), inference })
    }

    /// Registers a network trained only by shared optimisers ([`Self::shared`]), without one of
    /// its own.
    pub fn trained_by_shared(&mut self, name: &'static str, vs: VarStore, inference: bool) -> NetId {
        self.push(Network { name, vs, kind: NetKind::Trained, opt: None, inference })
    }

    /// Registers an Adam over the networks `ids` (saved as `opt_<name>`, its state named
    /// `<network>.<variable>`); `name` must differ from every network's.
    pub fn shared(&mut self, name: &'static str, ids: &[NetId], opt: AdamConfig) -> OptId {
        assert!(
            self.nets.iter().all(|n| n.name != name) && self.shared.iter().all(|o| o.name != name),
            "optimiser '{name}' named like another network or optimiser"
        );
        let stores: Vec<(&str, &VarStore)> =
            ids.iter().map(|id| (self.nets[id.0].name, &self.nets[id.0].vs)).collect();
        self.shared.push(Shared { name, adam: Adam::over(&stores, opt) });
        OptId(self.shared.len() - 1)
    }

    /// A shared optimiser.
    pub fn shared_opt_mut(&mut self, id: OptId) -> &mut Adam {
        &mut self.shared[id.0].adam
    }

    /// Registers a network that is not trained by gradient (an EMA copy), needed for inference.
    pub fn average(&mut self, name: &'static str, vs: VarStore) -> NetId {
        self.push(Network { name, vs, kind: NetKind::Average, opt: None, inference: true })
    }

    /// Registers a store of non-network state, loaded with the inference networks.
    pub fn state(&mut self, name: &'static str, vs: VarStore) -> NetId {
        self.push(Network { name, vs, kind: NetKind::State, opt: None, inference: true })
    }

    fn push(&mut self, net: Network) -> NetId {
        assert!(self.nets.iter().all(|n| n.name != net.name), "network '{}' registered twice", net.name);
        self.nets.push(net);
        NetId(self.nets.len() - 1)
    }

    /// Network `id`.
    pub fn get(&self, id: NetId) -> &Network {
        &self.nets[id.0]
    }

    /// The variables of network `id`.
    pub fn vs(&self, id: NetId) -> &VarStore {
        &self.nets[id.0].vs
    }

    /// The optimiser of a trained network.
    pub fn opt(&self, id: NetId) -> &Adam {
        self.nets[id.0].opt.as_ref().expect("a trained network has an optimiser")
    }

    /// The optimiser of a trained network, mutably; panics for a network without one of its own.
    pub fn opt_mut(&mut self, id: NetId) -> &mut Adam {
        self.nets[id.0].opt.as_mut().expect("a trained network has an optimiser")
    }

    /// Every network, in registration order.
    pub fn iter(&self) -> impl Iterator<Item = &Network> {
        self.nets.iter()
    }

    /// Lays every network's 4-D variables and every optimiser's moments out in `format`, in
    /// place (values unchanged; checkpoints stay NCHW, so a run's checkpoint loads into any
    /// format).
    pub fn set_memory_format(&mut self, format: gantry_core::layout::MemoryFormat) {
        for n in &mut self.nets {
            gantry_core::layout::to_store(&n.vs, format);
            if let Some(opt) = &mut n.opt {
                opt.set_memory_format(format);
            }
        }
        for o in &mut self.shared {
            o.adam.set_memory_format(format);
        }
    }

    /// Sends every optimiser's updates through `kernel` (or back to the per-tensor arithmetic
    /// with `None`).
    pub fn set_fused_adam(&mut self, kernel: Option<std::sync::Arc<dyn gantry_core::optim::FusedAdam>>) {
        for opt in self.adams_mut() {
            opt.set_fused(kernel.clone());
        }
    }

    /// Every optimiser: the trained networks' own, then the shared ones.
    fn adams_mut(&mut self) -> impl Iterator<Item = &mut Adam> {
        self.nets.iter_mut().filter_map(|n| n.opt.as_mut()).chain(self.shared.iter_mut().map(|o| &mut o.adam))
    }

    /// Dynamic loss scaling (float16 mixed precision) for every optimiser, each its own scaler
    /// starting from `scaler`; or off.
    pub fn set_loss_scaler(&mut self, scaler: Option<gantry_core::optim::LossScaler>) {
        for opt in self
            .nets
            .iter_mut()
            .filter_map(|n| n.opt.as_mut())
            .chain(self.shared.iter_mut().map(|o| &mut o.adam))
        {
            opt.set_loss_scaler(scaler);
        }
    }

    /// With loss scaling: the smallest scale over the optimisers and the updates skipped for
    /// non-finite gradients since the last call, summed (None without it).
    pub fn take_loss_scaling(&mut self) -> Option<(f64, u64)> {
        let mut out: Option<(f64, u64)> = None;
        for opt in self
            .nets
            .iter_mut()
            .filter_map(|n| n.opt.as_mut())
            .chain(self.shared.iter_mut().map(|o| &mut o.adam))
        {
            let Some(scale) = opt.loss_scaler().map(|s| s.scale) else { continue };
            let skipped = opt.take_skipped();
            out = Some(match out {
                Some((s, k)) => (s.min(scale), k + skipped),
                None => (scale, skipped),
            });
        }
        out
    }

    /// Trainable parameters of each trained network: (name, count).
    pub fn parameter_counts(&self) -> Vec<(&'static str, i64)> {
        self.nets.iter().filter(|n| n.kind == NetKind::Trained).map(|n| (n.name, trainable(&n.vs))).collect()
    }

    /// Writes every network and optimiser into `ck`.
    pub fn save(&self, ck: &mut Checkpoint) {
        for n in &self.nets {
            ck.insert_varstore(n.name, &n.vs);
            if let Some(opt) = &n.opt {
                opt.save_state(&format!("opt_{}", n.name), ck);
            }
        }
        for o in &self.shared {
            o.adam.save_state(&format!("opt_{}", o.name), ck);
        }
    }

    /// Restores every network and optimiser.
    pub fn load(&mut self, ck: &Checkpoint) -> Result<()> {
        for n in &mut self.nets {
            ck.load_varstore(n.name, &n.vs)?;
            if let Some(opt) = &mut n.opt {
                opt.load_state(&format!("opt_{}", n.name), ck)?;
            }
        }
        for o in &mut self.shared {
            o.adam.load_state(&format!("opt_{}", o.name), ck)?;
        }
        Ok(())
    }

    /// A copy of every network's variables and every optimiser's state, on their devices, that
    /// [`Self::restore`] puts back (a training step undone).
    pub fn snapshot(&self) -> NetworksSnapshot {
        NetworksSnapshot {
            vars: self.nets.iter().map(|n| sorted_vars(&n.vs).map(|(_, t)| t.copy()).collect()).collect(),
            opts: self.nets.iter().map(|n| n.opt.as_ref().map(Adam::snapshot)).collect(),
            shared: self.shared.iter().map(|o| o.adam.snapshot()).collect(),
        }
    }

    /// Puts back what [`Self::snapshot`] copied.
    pub fn restore(&mut self, snap: &NetworksSnapshot) {
        for ((n, vars), opt) in self.nets.iter_mut().zip(&snap.vars).zip(&snap.opts) {
            tch::no_grad(|| {
                for ((_, mut dst), src) in sorted_vars(&n.vs).zip(vars) {
                    dst.copy_(src);
                }
            });
            if let (Some(adam), Some(o)) = (&mut n.opt, opt) {
                adam.restore(o);
            }
        }
        for (o, s) in self.shared.iter_mut().zip(&snap.shared) {
            o.adam.restore(s);
        }
    }

    /// The first variable (`<network>.<name>`, in registration then name order) of a trained or
    /// averaged network holding a NaN or an infinity; one device synchronisation when none does.
    pub fn first_nonfinite(&self) -> Option<String> {
        let nets = || self.nets.iter().filter(|n| n.kind != NetKind::State);
        let flags: Vec<Tensor> =
            nets().flat_map(|n| sorted_vars(&n.vs).map(|(_, t)| t.isfinite().all())).collect();
        if flags.is_empty() || Tensor::stack(&flags, 0).all().int64_value(&[]) != 0 {
            return None;
        }
        nets().find_map(|n| {
            sorted_vars(&n.vs)
                .find(|(_, t)| t.isfinite().all().int64_value(&[]) == 0)
                .map(|(name, _)| format!("{}.{name}", n.name))
        })
    }

    /// Every variable of every store (networks, averages, state) in registration then name
    /// order: the order every data-parallel rank shares.
    pub fn all_variables(&self) -> Vec<Tensor> {
        self.nets.iter().flat_map(|n| sorted_vars(&n.vs).map(|(_, t)| t)).collect()
    }

    /// The floating-point buffers (variables without gradients: running means such as
    /// StyleGAN's w̄ and BatchNorm's statistics, power-iteration vectors, constant noise) of the
    /// trained and averaged networks, in [`Self::all_variables`] order; not the state stores.
    pub fn float_buffers(&self) -> Vec<Tensor> {
        self.nets
            .iter()
            .filter(|n| n.kind != NetKind::State)
            .flat_map(|n| sorted_vars(&n.vs).map(|(_, t)| t))
            .filter(|t| !t.requires_grad() && t.is_floating_point())
            .collect()
    }

    /// Restores the networks inference needs. A checkpoint holding only some of them (a network
    /// converted from another code base) lists those in its `gantry.networks` metadata
    /// (whitespace- or comma-separated, e.g. `g_ema` for StyleGAN2-ADA's `G_ema`): only those are
    /// restored, and each must be one of this model's inference networks.
    pub fn load_inference(&self, ck: &Checkpoint) -> Result<()> {
        let inference = || self.nets.iter().filter(|n| n.inference);
        let listed: Option<Vec<&str>> = ck
            .metadata
            .get("gantry.networks")
            .map(|s| s.split(|c: char| c == ',' || c.is_whitespace()).filter(|x| !x.is_empty()).collect());
        if let Some(names) = &listed {
            for name in names {
                if !inference().any(|n| n.name == *name) {
                    let known: Vec<&str> = inference().map(|n| n.name).collect();
                    bail!(
                        "{}: gantry.networks lists '{name}', which this model does not draw with (expected one of: {})",
                        ck.source.display(),
                        known.join(", ")
                    );
                }
            }
        }
        for n in inference().filter(|n| listed.as_ref().is_none_or(|l| l.contains(&n.name))) {
            ck.load_varstore(n.name, &n.vs)?;
        }
        Ok(())
    }
}

/// Every network's variables and optimiser state at one moment ([`Networks::snapshot`]).
#[derive(Debug)]
pub struct NetworksSnapshot {
    vars: Vec<Vec<Tensor>>,
    opts: Vec<Option<AdamSnapshot>>,
    shared: Vec<AdamSnapshot>,
}

/// The variables of `vs` in name order (a `VarStore` keeps them in a hash map).
fn sorted_vars(vs: &VarStore) -> impl Iterator<Item = (String, Tensor)> {
    let mut vars: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
    vars.sort_by(|a, b| a.0.cmp(&b.0));
    vars.into_iter()
}

/// Number of trainable scalars in `vs`.
pub fn trainable(vs: &VarStore) -> i64 {
    vs.trainable_variables().iter().map(Tensor::numel).sum::<usize>() as i64
}

/// A model family in training: its networks, its phases, and what the trained model can do.
///
/// The loop re-seeds libtorch's generator from (run seed, step) before each step, so whatever a
/// phase draws from it (latents, labels, dropout masks) replays exactly on resume. State that
/// must survive a resume lives in [`Networks`] (a [`NetKind::State`] store for non-network state).
pub trait Family {
    /// The phases of one training step, in order.
    fn phases(&self) -> &[Phase];

    /// Runs phase `phase` (an index into [`Self::phases`]) for the `k`-th time in the run
    /// (counted from 0; lazy regularisation schedules on it) on `batch`.
    fn run_phase(&mut self, phase: usize, batch: &Batch, k: u64) -> Result<Scalars>;

    /// Its networks (the loop saves, loads and logs them).
    fn networks(&self) -> &Networks;

    /// Its networks, mutably (loading a checkpoint, undoing a skipped step).
    fn networks_mut(&mut self) -> &mut Networks;

    /// Called once when a run starts from scratch (not on resume, not for inference), after the
    /// family is built and before step 1: load pretrained networks (SRGAN's G from an SRResNet
    /// run).
    fn initialise(&mut self) -> Result<()> {
        Ok(())
    }

    /// Draws from latents.
    fn sampler(&self) -> Option<&dyn Sampler> {
        None
    }

    /// Draws a requested class.
    fn class_sampler(&self) -> Option<&dyn ClassSampler> {
        None
    }

    /// Draws from InfoGAN's latent codes.
    fn code_sampler(&self) -> Option<&dyn CodeSampler> {
        None
    }

    /// Truncates in StyleGAN's W.
    fn w_truncation(&self) -> Option<&dyn TruncateInW> {
        None
    }

    /// Translates an image.
    fn translator(&self) -> Option<&dyn Translator> {
        None
    }

    /// A style-based generator (style mixing, noise grids, inversion, export).
    fn style(&self) -> Option<&dyn StyleBased> {
        None
    }

    /// Encodes images and decodes codes.
    fn autoencoder(&self) -> Option<&dyn Autoencoder> {
        None
    }

    /// What this model can do, in words (for messages naming what a command could do instead).
    fn abilities(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self.sampler().is_some() {
            out.push("draw from latents (sample, interpolate, eval)");
        }
        if self.class_sampler().is_some() {
            out.push("draw a class (sample --class, eval accuracy)");
        }
        if self.code_sampler().is_some() {
            out.push("sweep latent codes (traverse)");
        }
        if self.w_truncation().is_some() {
            out.push("truncate in W (sample --psi/--cutoff)");
        }
        if self.style().is_some() {
            out.push("a style-based generator (style-mix, noise, invert, export)");
        }
        if self.translator().is_some() {
            out.push("translate an image (translate, eval of translations)");
        }
        if self.autoencoder().is_some() {
            out.push("encode and decode images (encode, interpolate --input)");
        }
        out
    }
}

/// What building a family may depend on besides its settings.
#[derive(Debug, Clone, Copy)]
pub struct BuildContext {
    /// Where the networks live.
    pub device: tch::Device,
    /// Batches in one epoch of the training data (epoch-based schedules); None when building
    /// for inference.
    pub batches_per_epoch: Option<u64>,
}

impl BuildContext {
    /// Building to draw samples from a checkpoint.
    pub fn inference(device: tch::Device) -> Self {
        Self { device, batches_per_epoch: None }
    }

    /// The epoch length, which training needs for epoch-based schedules.
    pub fn epoch_length(&self) -> Result<u64> {
        match self.batches_per_epoch {
            Some(n) if n > 0 => Ok(n),
            _ => bail!("this family's schedule counts epochs: build it with its training data"),
        }
    }
}
