//! gantry's losses and layers in a training loop of your own: no run folder, no config, just tch.
//!
//! A GAN on the ring of 8 Gaussians (Metz et al. 2017's toy) whose
//! - objective is the non-saturating loss (`gantry_losses::AdversarialLoss`);
//! - discriminator is regularised with R1 (`gantry_losses::penalty::r1_penalty`, Mescheder et al.
//!   2018: γ/2·E‖∇ₓD(x)‖² on real data, a double backward through D);
//! - generator is averaged (`gantry_nn::Ema`, StyleGAN2-ADA's half-life with ramp-up).
//!
//! `--sn` gives D spectrally normalised layers instead (`gantry_nn::sn_linear` through `spectral_norm::linear`, Miyato et al.
//! 2018: one power iteration per training forward), a one-word change per layer. Measured: on this
//! toy, a 1-Lipschitz ReLU D of this size is too weak to separate modes 3σ = 0.06 wide, and
//! covers 0 of 8 after 3,000 steps (the plain D with R1: 8 of 8).
//!
//! It prints, every few hundred steps, how many of the 8 modes the averaged G covers and the
//! share of its samples within 3σ of a mode (`gantry_data::toy::coverage`, Srivastava et al.'s
//! measure), and exits non-zero when `--expect-modes N` is given and fewer are covered at the end.
//!
//! ```text
//! cargo run --release --example losses_in_my_loop -- [--steps 3000] [--lr 1e-3] [--sn] [--expect-modes 8]
//! ```
//!
//! In a `Cargo.toml` of your own, this needs only:
//!
//! ```toml
//! [dependencies]
//! gantry-losses = "0.1"
//! gantry-nn = "0.1"
//! gantry-data = "0.1"   # for the toy distribution and its coverage measure
//! tch = "=0.24.0"
//! ```

use anyhow::{bail, Context, Result};
use gantry::data::toy::{coverage, Toy};
use gantry::losses::penalty::r1_penalty;
use gantry::losses::AdversarialLoss;
use gantry::nn::{spectral_norm, Ema, EmaConfig};
use tch::nn::{self, ModuleT, OptimizerConfig};
use tch::{Device, Kind, Tensor};

const Z_DIM: i64 = 8;
const BATCH: i64 = 256;

fn generator(p: nn::Path) -> impl ModuleT {
    nn::seq_t()
        .add(nn::linear(&p / "l1", Z_DIM, 128, Default::default()))
        .add_fn(|x| x.relu())
        .add(nn::linear(&p / "l2", 128, 128, Default::default()))
        .add_fn(|x| x.relu())
        .add(nn::linear(&p / "out", 128, 2, Default::default()))
}

fn discriminator(p: nn::Path, sn: bool) -> nn::SequentialT {
    // `nn::linear`, or `sn_linear` when `sn`.
    let layer =
        |name: &str, inp: i64, out: i64| spectral_norm::linear(&p / name, inp, out, Default::default(), sn);
    nn::seq_t()
        .add(layer("l1", 2, 128))
        .add_fn(|x| x.relu())
        .add(layer("l2", 128, 128))
        .add_fn(|x| x.relu())
        .add(layer("out", 128, 1))
        .add_fn(|x| x.squeeze_dim(1))
}

fn main() -> Result<()> {
    let (mut steps, mut expect, mut lr, mut sn) = (3000u64, None::<usize>, 1e-3, false);
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().with_context(|| format!("{a} needs a value"));
        match a.as_str() {
            "--steps" => steps = value()?.parse().context("--steps: expected a whole number")?,
            "--sn" => sn = true,
            "--lr" => lr = value()?.parse().context("--lr: expected a number")?,
            "--expect-modes" => expect = Some(value()?.parse().context("--expect-modes: expected 0..8")?),
            other => bail!("unknown argument {other}: expected --steps N, --lr LR, --sn, --expect-modes N"),
        }
    }
    tch::manual_seed(0);
    tch::set_num_threads(2);
    let device = Device::Cpu;
    let (vs_g, vs_d, vs_avg) =
        (nn::VarStore::new(device), nn::VarStore::new(device), nn::VarStore::new(device));
    let g = generator(vs_g.root());
    let d = discriminator(vs_d.root(), sn);
    let g_avg = generator(vs_avg.root());
    let ema = Ema::new(EmaConfig { half_life_kimg: 10.0, rampup: 0.05 }, &vs_avg, &vs_g)
        .map_err(anyhow::Error::msg)?;
    let mut opt_g =
        nn::Adam { beta1: 0.5, beta2: 0.999, wd: 0.0, eps: 1e-8, amsgrad: false }.build(&vs_g, lr)?;
    let mut opt_d =
        nn::Adam { beta1: 0.5, beta2: 0.999, wd: 0.0, eps: 1e-8, amsgrad: false }.build(&vs_d, lr)?;
    let (toy, loss, gamma) = (Toy::ring(), AdversarialLoss::NonSaturating, 0.1);
    let fixed_z = Tensor::randn([2500, Z_DIM], (Kind::Float, device));

    for step in 1..=steps {
        // D: the adversarial loss on a real and a fake batch, plus R1 on the real one.
        let real = toy.sample(BATCH as usize, step).to_device(device);
        let fake = tch::no_grad(|| g.forward_t(&Tensor::randn([BATCH, Z_DIM], (Kind::Float, device)), true));
        let d_adv = loss.d_loss(&d.forward_t(&real, true), &d.forward_t(&fake, true));
        let r1 = r1_penalty(&|x: &Tensor| d.forward_t(x, true), &real, gamma);
        opt_d.backward_step(&(&d_adv + &r1));

        // G, then its moving average.
        let fake = g.forward_t(&Tensor::randn([BATCH, Z_DIM], (Kind::Float, device)), true);
        let g_loss = loss.g_loss(&d.forward_t(&fake, true), None);
        opt_d.zero_grad(); // G's backward also reaches D's weights; D's next step starts clean
        opt_g.backward_step(&g_loss);
        ema.update(BATCH as usize, step * BATCH as u64);

        if step % 500 == 0 || step == steps {
            let samples = tch::no_grad(|| g_avg.forward_t(&fixed_z, false));
            let c = coverage(&toy, &samples, 0.01);
            println!(
                "step {step:>5}  d_loss {:.3}  r1 {:.4}  g_loss {:.3}  modes {}/{}  high-quality {:.1}%",
                d_adv.double_value(&[]),
                r1.double_value(&[]),
                g_loss.double_value(&[]),
                c.modes_covered,
                c.modes,
                100.0 * c.high_quality
            );
            if step == steps {
                if let Some(want) = expect.filter(|&want| c.modes_covered < want) {
                    bail!(
                        "the averaged G covers {} of 8 modes after {steps} steps, expected ≥ {want}",
                        c.modes_covered
                    );
                }
            }
        }
    }
    Ok(())
}
