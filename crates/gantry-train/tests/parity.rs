//! Training parity with the authors' training code: gantry and the reference, started from the
//! same weights, fed the same batches and the same random draws, end with the same weights,
//! optimiser state and running statistics after K steps.
//!
//! Each fixture under `tests/fixtures/parity/` is made by running the reference's own training
//! code (its generating script is beside it and says how; the reference's code is not part of
//! gantry). The draws the reference recorded are fed to gantry through
//! `gantry_core::parallel::replay`, the one path gantry's training code draws through.
//!
//! Tolerances: both sides compute in float32 with different kernels (gantry's DCGAN projects z
//! with a linear layer where theirs uses a 1×1-input transposed convolution; gantry's Adam
//! arranges its update's arithmetic differently), so sums round differently; K steps of Adam
//! carry that drift forward. What is asserted is a relative difference (max |a − b| over
//! max |b| per tensor) far below any algorithmic difference: a missing bias correction, a
//! different β, a loss off by a factor, one forward more or less through a BatchNorm each move
//! these tensors by 1e-2 or more (the test of each quirk below shows the size of one).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use gantry_core::checkpoint::Checkpoint;
use gantry_train::family::{Batch, BuildContext};
use gantry_train::presets;
use tch::{Device, Kind, Tensor};

/// libtorch's generator and thread count are global: one parity run at a time.
static LOCK: Mutex<()> = Mutex::new(());

fn fixture(name: &str) -> HashMap<String, Tensor> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/parity").join(name);
    Tensor::read_safetensors(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .into_iter()
        .collect()
}

/// max |a − b| / max |b| (max |a − b| when b is all zeros).
fn rel(a: &Tensor, b: &Tensor) -> f64 {
    assert_eq!(a.size(), b.size(), "shapes");
    let a = a.to_kind(Kind::Double);
    let b = b.to_kind(Kind::Double);
    let diff = (&a - &b).abs().max().double_value(&[]);
    let scale = b.abs().max().double_value(&[]);
    if scale > 0.0 {
        diff / scale
    } else {
        diff
    }
}

/// How a gantry variable is read from the reference's state dict: its key there, and a reshape
/// for layers laid out differently.
struct Map {
    ours: &'static str,
    theirs: &'static str,
    /// Theirs is a transposed convolution on a 1×1 input, `[n, C, 4, 4]`; ours the linear layer
    /// `[C·16, n]` (the transpose of theirs flattened).
    projection: bool,
}

const fn map(ours: &'static str, theirs: &'static str) -> Map {
    Map { ours, theirs, projection: false }
}

/// gantry's DCGAN layers ↔ PyTorch examples/dcgan's `main.N` (G: 5 transposed convolutions and 4
/// BatchNorms; D: 5 convolutions and 3 BatchNorms, at 64×64).
const DCGAN_G: &[Map] = &[
    Map { ours: "project", theirs: "main.0", projection: true },
    map("project_bn", "main.1"),
    map("up1", "main.3"),
    map("up1_bn", "main.4"),
    map("up2", "main.6"),
    map("up2_bn", "main.7"),
    map("up3", "main.9"),
    map("up3_bn", "main.10"),
    map("to_image", "main.12"),
];
const DCGAN_D: &[Map] = &[
    map("from_image", "main.0"),
    map("down1", "main.2"),
    map("down1_bn", "main.3"),
    map("down2", "main.5"),
    map("down2_bn", "main.6"),
    map("down3", "main.8"),
    map("down3_bn", "main.9"),
    map("logit", "main.11"),
];

/// The reference's tensor for our variable `name` (`layer.suffix`) under `prefix` (`init.G`,
/// `final.optG.m`, …), laid out as ours.
fn theirs(fx: &HashMap<String, Tensor>, maps: &[Map], prefix: &str, name: &str) -> Tensor {
    let (layer, suffix) = name.split_once('.').unwrap_or_else(|| panic!("variable {name}"));
    let m = maps.iter().find(|m| m.ours == layer).unwrap_or_else(|| panic!("no reference layer for {name}"));
    let key = format!("{prefix}.{}.{suffix}", m.theirs);
    let t = fx.get(&key).unwrap_or_else(|| panic!("the fixture has no {key}"));
    if m.projection {
        let n = t.size()[0];
        t.reshape([n, -1]).tr().contiguous()
    } else {
        t.shallow_clone()
    }
}

/// PyTorch examples/dcgan (`fixtures/parity/make_dcgan.py`), 20 iterations of their main.py at
/// 64×64×1, nz 16, widths 4, batch 8, against gantry's `dcgan-64` preset at the same sizes.
///
/// One difference is theirs and stays: their G step reuses the fakes of the D step (one G forward
/// per iteration), while gantry's G step draws its latents and runs G again (so that
/// `train.d_steps > 1` and the G step's own draws work alike). With the D step's latents replayed
/// for the G step the two forwards give the same fakes and the same gradients; what differs is
/// G's BatchNorm running statistics, which gantry updates twice per iteration with the same batch
/// statistics, and which their script also updates once with its fixed_noise sample grid (a G
/// forward in training mode at iteration 0). The test rebuilds G's running statistics from the
/// batch statistics their run recorded under gantry's order and checks gantry's against that,
/// and checks that their own running statistics are different (so the quirk is real and is all
/// that differs).
#[test]
fn dcgan_follows_pytorch_examples_dcgan() {
    let _one = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    tch::set_num_threads(1);
    let fx = fixture("dcgan.safetensors");
    let reals = &fx["reals"]; // [K, B, 1, 64, 64] u8
    let z = &fx["z"]; // [K, B, nz]
    let (k_steps, b, nz) = (z.size()[0], z.size()[1], z.size()[2]);
    let sets: Vec<String> = [
        "model.channels=1".to_string(),
        format!("model.z_dim={nz}"),
        "model.g_width=4".into(),
        "model.d_width=4".into(),
        format!("batch_size={b}"),
    ]
    .into();
    let cfg = presets::find("dcgan-64").unwrap().config().with_overrides(&sets).unwrap();
    let cx = BuildContext { device: Device::Cpu, batches_per_epoch: Some(k_steps as u64) };
    let mut family = cfg.family.build(&cfg, &cx).unwrap();
    assert_eq!(family.phases().len(), 2, "D, then G");

    // Their initial weights (their weights_init, seed 7), BatchNorm buffers included.
    for net in family.networks().iter() {
        let maps = match net.name {
            "g" => DCGAN_G,
            "d" => DCGAN_D,
            other => panic!("dcgan-64 has a network {other} the reference has not"),
        };
        let prefix = if net.name == "g" { "init.G" } else { "init.D" };
        tch::no_grad(|| {
            for (name, mut t) in net.vs.variables() {
                t.copy_(&theirs(&fx, maps, prefix, &name));
            }
        });
    }

    let mut losses = Vec::new();
    for k in 0..k_steps {
        // Their transforms: ToTensor (/255), Normalize(0.5, 0.5).
        let x = (reals.get(k).to_kind(Kind::Float) / 255.0 - 0.5) / 0.5;
        let batch = Batch::unlabelled(x);
        let zk = z.get(k);
        gantry_core::parallel::replay([zk.copy(), zk.copy()]);
        let d = family.run_phase(0, &batch, k as u64).unwrap();
        let g = family.run_phase(1, &batch, k as u64).unwrap();
        let left = gantry_core::parallel::end_replay();
        assert!(left.is_empty(), "step {k}: {} recorded draws were not used", left.len());
        let get = |s: &[(&str, f64)], key: &str| {
            s.iter().find(|(n, _)| *n == key).unwrap_or_else(|| panic!("no {key} in {s:?}")).1
        };
        losses.push((get(&d, "d_loss"), get(&g, "g_loss")));
    }

    // The losses of every step: BCE on their sigmoid vs softplus on gantry's logit.
    let (ld, lg) = (fx["loss_D"].shallow_clone(), fx["loss_G"].shallow_clone());
    for (k, (d, g)) in losses.iter().enumerate() {
        let (want_d, want_g) = (ld.double_value(&[k as i64]), lg.double_value(&[k as i64]));
        assert!((d - want_d).abs() < 1e-5 * want_d.abs().max(1.0), "step {k}: D loss {d} vs theirs {want_d}");
        assert!((g - want_g).abs() < 1e-5 * want_g.abs().max(1.0), "step {k}: G loss {g} vs theirs {want_g}");
    }

    // Weights, Adam's moments and step count, D's running statistics.
    let mut ck = Checkpoint::new();
    family.networks().save(&mut ck);
    let mut worst: Vec<(f64, String)> = Vec::new();
    let nets = [("g", "G", DCGAN_G), ("d", "D", DCGAN_D)];
    for (ours, key, maps) in nets {
        let net = family.networks().iter().find(|n| n.name == ours).unwrap();
        for (name, t) in net.vs.variables() {
            let is_g_stat = ours == "g" && name.contains("running_");
            if !is_g_stat {
                worst.push((
                    rel(&t, &theirs(&fx, maps, &format!("final.{key}"), &name)),
                    format!("{ours}.{name}"),
                ));
            }
            if t.requires_grad() {
                for slot in ["m", "v"] {
                    let mine = ck.get(&format!("opt_{ours}.{slot}.{name}")).unwrap();
                    let want = theirs(&fx, maps, &format!("final.opt{key}.{slot}"), &name);
                    worst.push((rel(mine, &want), format!("opt_{ours}.{slot}.{name}")));
                }
            }
        }
        let steps = ck.get_i64(&format!("opt_{ours}.step")).unwrap();
        assert_eq!(steps, fx[&format!("final.opt{key}.step")].int64_value(&[0]), "{ours}'s Adam steps");
    }
    worst.sort_by(|a, b| b.0.total_cmp(&a.0));
    eprintln!("largest relative differences: {:?}", &worst[..5]);
    assert!(worst[0].0 < 1e-5, "{} differs from the reference by {:.3e} (relative)", worst[0].1, worst[0].0);

    // G's running statistics: gantry's order (two updates per iteration with its batch's
    // statistics, none for their fixed_noise grid), rebuilt from their recorded batch statistics.
    let calls = &fx["gbn_calls"];
    let g = family.networks().iter().find(|n| n.name == "g").unwrap();
    let vars = g.vs.variables();
    for m in DCGAN_G.iter().filter(|m| m.ours.ends_with("_bn")) {
        for stat in ["mean", "var"] {
            let batch_stats = &fx[&format!("gbn.{}.{stat}", m.theirs)]; // [calls, C]
            let mut expected = theirs(&fx, DCGAN_G, "init.G", &format!("{}.running_{stat}", m.ours)).copy();
            for c in 0..calls.size()[0] {
                if calls.int64_value(&[c]) == 1 {
                    for _ in 0..2 {
                        expected = &expected * 0.9 + batch_stats.get(c) * 0.1;
                    }
                }
            }
            let ours = &vars[&format!("{}.running_{stat}", m.ours)];
            let r = rel(ours, &expected);
            let their_final = theirs(&fx, DCGAN_G, "final.G", &format!("{}.running_{stat}", m.ours));
            eprintln!(
                "{}.running_{stat}: {r:.3e} from gantry's order, {:.3e} from theirs",
                m.ours,
                rel(ours, &their_final)
            );
            assert!(
                r < 1e-5,
                "{}.running_{stat}: {r:.3e} from the statistics rebuilt under gantry's order",
                m.ours
            );
            let r = rel(ours, &their_final);
            assert!(
                r > 1e-3,
                "{}.running_{stat} equals theirs ({r:.3e}): the quirk the test names is gone",
                m.ours
            );
        }
    }
}
