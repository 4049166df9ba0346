//! StyleGAN2-ADA networks in and out: `scripts/convert_stylegan2ada.py` turns their network
//! pickle into a generator-only gantry checkpoint, and `gantry export --format stylegan2-ada`
//! writes a state dict their `Generator` loads strictly. The fixtures (`fixtures/stylegan2ada/`)
//! were made by NVIDIA's own code (NVlabs/stylegan2-ada-pytorch d72cc7d) with `make_fixtures.py`:
//! a 16×16 RGB generator at random weights pickled as their training loop does, its images for
//! four latents, and every key and shape of its `state_dict()`.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::{gantry, model, ok};
use gantry_core::checkpoint::Checkpoint;
use tch::Tensor;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/stylegan2ada")
}

fn reference() -> Checkpoint {
    Checkpoint::load(&fixtures().join("reference.safetensors")).unwrap()
}

/// Their `G_ema.state_dict()`: key → shape.
fn their_state_dict() -> BTreeMap<String, Vec<i64>> {
    serde_json::from_str(&reference().metadata["state_dict"]).unwrap()
}

/// The settings of the fixture's generator (their `init_kwargs`) as gantry `--set` lines.
const TINY_G: [&str; 9] = [
    "model.resolution=16",
    "model.channels=3",
    "model.z_dim=16",
    "model.w_dim=16",
    "model.mapping_layers=2",
    "model.channel_base=128",
    "model.channel_max=16",
    "model.conv_clamp=256.0",
    "model.mbstd_group=2",
];

/// Checks an export against their state dict: the same keys with the same shapes (what
/// `load_state_dict(strict=True)` checks), the resample filters `setup_filter([1, 3, 3, 1])`, and
/// init_kwargs that build the fixture's generator.
fn check_export(export: &Checkpoint) {
    let theirs = their_state_dict();
    let ours: BTreeMap<String, Vec<i64>> =
        export.tensors.iter().map(|(k, t)| (k.clone(), t.size())).collect();
    assert_eq!(ours, theirs, "export keys/shapes vs StyleGAN2-ADA's Generator state_dict");
    let f = Tensor::from_slice(&[1f32, 3., 3., 1.]);
    let filter = f.outer(&f) / f.sum(tch::Kind::Float).pow_tensor_scalar(2);
    for (k, t) in export.tensors.iter().filter(|(k, _)| k.ends_with("resample_filter")) {
        assert!(t.equal(&filter), "{k}");
    }
    let kwargs: serde_json::Value =
        serde_json::from_str(&export.metadata["stylegan2ada.init_kwargs"]).unwrap();
    let want: serde_json::Value = serde_json::from_str(&reference().metadata["init_kwargs"]).unwrap();
    for key in ["z_dim", "c_dim", "w_dim", "img_resolution", "img_channels"] {
        assert_eq!(kwargs[key], want[key], "{key}");
    }
    assert_eq!(kwargs["mapping_kwargs"]["num_layers"], want["mapping_kwargs"]["num_layers"]);
    for key in ["channel_base", "channel_max", "conv_clamp"] {
        let (a, b) = (&kwargs["synthesis_kwargs"][key], &want["synthesis_kwargs"][key]);
        assert_eq!(a.as_f64(), b.as_f64(), "synthesis_kwargs.{key}");
    }
    // Their defaults, which the fixture's generator was built with.
    assert_eq!(kwargs["mapping_kwargs"]["lr_multiplier"].as_f64(), Some(0.01));
    assert_eq!(kwargs["mapping_kwargs"]["w_avg_beta"].as_f64(), Some(0.995));
}

/// A gantry-trained StyleGAN2 of the fixture's shape exports to exactly their Generator's keys
/// and shapes, from its EMA generator (their pickles' `G_ema`).
#[test]
fn a_trained_stylegan2_exports_as_their_generator_state_dict() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("images");
    std::fs::create_dir(&data).unwrap();
    tch::manual_seed(0);
    for i in 0..8 {
        let img = gantry_core::image::to_u8(&(Tensor::rand([3, 16, 16], tch::kind::FLOAT_CPU) * 2 - 1));
        gantry_core::image::save_png(&img, &data.join(format!("{i}.png"))).unwrap();
    }
    let run = tmp.path().join("run");
    let mut cmd = gantry();
    // Three steps: StyleGAN2-ADA's EMA ramp-up keeps G_ema equal to G for the first two.
    cmd.args(["train", "--preset", "stylegan2-mnist", "--device", "cpu", "--steps", "3", "--out"]).arg(&run);
    for kv in
        TINY_G.iter().chain(&["batch_size=4", "threads=2", "log.sample_every=100", "log.tensorboard=false"])
    {
        cmd.args(["--set", kv]);
    }
    cmd.arg("--set").arg(format!("data={}", data.display()));
    ok(&mut cmd);
    let out = tmp.path().join("G.safetensors");
    let stdout =
        ok(gantry().args(["export", "--format", "stylegan2-ada", "--ckpt"]).arg(&run).arg("--out").arg(&out))
            .stdout;
    assert!(String::from_utf8_lossy(&stdout).contains("56 tensors"));
    let export = Checkpoint::load(&out).unwrap();
    check_export(&export);
    // The EMA generator's values, not the trained one's.
    let ck = Checkpoint::load(&gantry_train::run_dir::resolve_checkpoint(&run).unwrap()).unwrap();
    let ws = "mapping.fc0.weight";
    assert!(export.get(ws).unwrap().equal(ck.get(&format!("g_ema.{ws}")).unwrap()));
    assert!(!export.get(ws).unwrap().equal(ck.get(&format!("g.{ws}")).unwrap()));
    // A generator-only checkpoint restores the networks its `gantry.networks` lists, which must
    // be ones the model draws with.
    let mut only = Checkpoint::load(&gantry_train::run_dir::resolve_checkpoint(&run).unwrap()).unwrap();
    only.tensors.retain(|k, _| k.starts_with("g_ema."));
    for (networks, good) in [("g_ema", true), ("g_ema d", false)] {
        only.metadata.insert("gantry.networks".into(), networks.into());
        let path = tmp.path().join("only.safetensors");
        only.save(&path).unwrap();
        let mut cmd = gantry();
        cmd.args(["sample", "--device", "cpu", "--n", "2", "--ckpt"])
            .arg(&path)
            .arg("--out")
            .arg(tmp.path().join("s.png"));
        if good {
            ok(&mut cmd);
        } else {
            let e = common::fails(&mut cmd);
            assert!(e.contains("gantry.networks lists 'd'") && e.contains("g, g_ema"), "{e}");
        }
    }
    // A model that is not a StyleGAN2 is refused with one line.
    let dcgan = tmp.path().join("dcgan");
    ok(&mut common::tiny_dcgan(&dcgan, 1, &[]));
    let e = common::fails(
        gantry()
            .args(["export", "--format", "stylegan2-ada", "--ckpt"])
            .arg(&dcgan)
            .arg("--out")
            .arg(tmp.path().join("x")),
    );
    assert!(e.contains("needs a StyleGAN2 checkpoint") && e.contains("dcgan"), "{e}");
    assert!(!tmp.path().join("x").exists());
}

/// Tests named `python::…`: `cargo xtask test` skips them by that name when it has no Python with torch.
mod python {
    use super::*;

    fn convert(pkl: &Path, out: &Path) -> std::process::Output {
        let python = std::env::var("GANTRY_PYTHON").expect("GANTRY_PYTHON: a Python with torch");
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        std::process::Command::new(python)
            .arg(repo.join("scripts/convert_stylegan2ada.py"))
            .arg(pkl)
            .arg(out)
            .output()
            .unwrap()
    }

    /// Their network pickle, converted, draws their images within 1e-4 (at ψ = 1 and ψ = 0.7,
    /// noise_mode const), and every StyleGAN2 command takes it; exported back, it is their state
    /// dict bit for bit.
    #[test]
    #[ignore = "needs a Python with torch in GANTRY_PYTHON (cargo xtask test sets it and runs this)"]
    fn their_pickle_converts_draws_their_images_and_exports_back_bit_for_bit() {
        let tmp = tempfile::tempdir().unwrap();
        let converted = tmp.path().join("tiny.safetensors");
        let out = convert(&fixtures().join("tiny.pkl"), &converted);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains("G_ema 16x16x3, z 16, w 16 (48 tensors)"), "{stdout}");

        let reference = reference();
        let m = model(&converted);
        let z = reference.get("z").unwrap();
        for (key, psi) in [("img", 1.0), ("img_psi07", 0.7)] {
            let img = m.w_truncation().unwrap().generate_psi(z, psi, None).unwrap();
            let d = (&img - reference.get(key).unwrap()).abs().max().double_value(&[]);
            eprintln!("ψ = {psi}: gantry vs StyleGAN2-ADA max |Δ| {d:.2e}");
            assert!(d < 1e-4, "ψ = {psi}: gantry vs StyleGAN2-ADA max |Δ| {d}");
        }

        // `gantry sample` draws the same images as the model for its latents.
        let grid = tmp.path().join("sample.png");
        ok(gantry()
            .args(["sample", "--device", "cpu", "--n", "4", "--seed", "5", "--psi", "0.7", "--ckpt"])
            .arg(&converted)
            .arg("--out")
            .arg(&grid));
        let z = gantry_core::latent::latents(4, 16, 5, "sample");
        let want = tmp.path().join("want.png");
        let img = m.w_truncation().unwrap().generate_psi(&z, 0.7, None).unwrap();
        gantry_core::image::save_grid(&img, 2, &want).unwrap();
        assert_eq!(image::open(&grid).unwrap().to_rgb8(), image::open(&want).unwrap().to_rgb8());
        for args in [
            vec!["style-mix", "--rows", "2", "--cols", "2"],
            vec!["noise", "--rows", "2", "--cols", "2"],
            vec!["invert", "--image"],
        ] {
            let mut cmd = gantry();
            cmd.args(&args);
            if args[0] == "invert" {
                cmd.arg(&grid).args(["--steps", "3"]);
            }
            let png = tmp.path().join(format!("{}.png", args[0]));
            ok(cmd.args(["--device", "cpu", "--ckpt"]).arg(&converted).arg("--out").arg(&png));
            assert!(image::open(&png).unwrap().width() > 16, "{}", args[0]);
        }

        // Exported back: their state dict's keys and shapes, and the pickle's values exactly.
        let export_path = tmp.path().join("G.safetensors");
        ok(gantry()
            .args(["export", "--format", "stylegan2-ada", "--ckpt"])
            .arg(&converted)
            .arg("--out")
            .arg(&export_path));
        let export = Checkpoint::load(&export_path).unwrap();
        check_export(&export);
        let pickled = Checkpoint::load(&converted).unwrap();
        for (k, t) in &pickled.tensors {
            let name = k.strip_prefix("g_ema.").unwrap();
            assert!(export.get(name).unwrap().equal(t), "{name}");
        }
    }

    /// Bad pickles and unsupported generators: one line, no output file.
    #[test]
    #[ignore = "needs a Python with torch in GANTRY_PYTHON (cargo xtask test sets it and runs this)"]
    fn bad_pickles_are_one_line_and_write_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let bytes = std::fs::read(fixtures().join("tiny.pkl")).unwrap();
        let truncated = tmp.path().join("truncated.pkl");
        std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
        let out_path = tmp.path().join("out.safetensors");
        for (pkl, why) in [
            (truncated, "cannot read a StyleGAN2-ADA network pickle"),
            (tmp.path().join("missing.pkl"), "No such file"),
        ] {
            let out = convert(&pkl, &out_path);
            assert_eq!(out.status.code(), Some(1));
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
            assert!(stderr.contains(why) && stderr.contains(pkl.to_str().unwrap()), "{stderr}");
            assert!(!out_path.exists());
        }
    }

    /// Pickle opcodes, for the hand-made pickles below: GLOBAL `module.name`.
    fn global(module: &str, name: &str) -> Vec<u8> {
        format!("c{module}\n{name}\n").into_bytes()
    }

    /// BINUNICODE: a str (4-byte little-endian length, UTF-8).
    fn unicode(s: &str) -> Vec<u8> {
        let mut p = b"X".to_vec();
        p.extend_from_slice(&(s.len() as u32).to_le_bytes());
        p.extend_from_slice(s.as_bytes());
        p
    }

    /// BINBYTES: a bytes object.
    fn bytes(b: &[u8]) -> Vec<u8> {
        let mut p = b"B".to_vec();
        p.extend_from_slice(&(b.len() as u32).to_le_bytes());
        p.extend_from_slice(b);
        p
    }

    /// `module.name(arg)`: the global, its one argument, TUPLE1, REDUCE (the call).
    fn call(module: &str, name: &str, arg: &[u8]) -> Vec<u8> {
        let mut p = global(module, name);
        p.extend_from_slice(arg);
        p.extend_from_slice(b"\x85R");
        p
    }

    /// A dict: EMPTY_DICT, MARK, its keys (str) and values, SETITEMS.
    fn dict(items: &[(&str, Vec<u8>)]) -> Vec<u8> {
        let mut p = b"}(".to_vec();
        for (k, v) in items {
            p.extend_from_slice(&unicode(k));
            p.extend_from_slice(v);
        }
        p.push(b'u');
        p
    }

    /// Hostile network pickles, each of which runs a command or Python code when unpickled by a
    /// plain pickle.load (or did in the converter before its allow-list): refused with one line
    /// naming the global, the command never run, nothing written. Made here opcode by opcode
    /// (protocol 2, and protocol 4's STACK_GLOBAL), no Python needed to build them.
    #[test]
    #[ignore = "needs a Python with torch in GANTRY_PYTHON (cargo xtask test sets it and runs this)"]
    fn malicious_pickles_are_refused_without_running() {
        let tmp = tempfile::tempdir().unwrap();
        let marker = |i: usize| tmp.path().join(format!("marker{i}"));
        let touch = |i: usize| unicode(&format!("touch '{}'", marker(i).display()));
        let create = |i: usize| unicode(&format!("open({:?}, 'w').close()", marker(i)));
        // A tensor's storage unpickles as torch.storage._load_from_bytes(bytes of a nested
        // pickle, torch.save's legacy format), which torch itself loads with weights_only=False:
        // this nested pickle runs os.system.
        let mut inner = b"\x80\x02".to_vec();
        inner.extend_from_slice(&call("os", "system", &touch(4)));
        inner.push(b'.');
        // _rebuild_tensor_v2(storage, 0, (1,), (1,), False, OrderedDict())
        let mut tensor = global("torch._utils", "_rebuild_tensor_v2");
        tensor.push(b'(');
        tensor.extend_from_slice(&call("torch.storage", "_load_from_bytes", &bytes(&inner)));
        tensor.extend_from_slice(b"K\x00K\x01\x85K\x01\x85\x89");
        tensor.extend_from_slice(&global("collections", "OrderedDict"));
        tensor.extend_from_slice(b")RtR");
        // subprocess.check_call(["touch", marker]), deep in otherwise plain training_set_kwargs.
        let mut argv = b"(".to_vec();
        argv.extend_from_slice(&unicode("touch"));
        argv.extend_from_slice(&unicode(marker(5).to_str().unwrap()));
        argv.push(b'l');
        let mut deeper = b"](".to_vec();
        deeper.extend_from_slice(&call("subprocess", "check_call", &argv));
        deeper.push(b'e');
        let mut ordered = global("collections", "OrderedDict");
        ordered.extend_from_slice(b")R");
        let kwargs = dict(&[
            ("path", unicode("data")),
            ("resolution", b"K\x10".to_vec()),
            ("hooks", ordered),
            ("deeper", deeper),
        ]);
        // os.system through STACK_GLOBAL (two SHORT_BINUNICODEs), as protocol 4 names globals.
        let mut stack_global = b"\x8c\x02os\x8c\x06system\x93".to_vec();
        stack_global.extend_from_slice(&touch(6));
        stack_global.extend_from_slice(b"\x85R");
        let nested = vec![("training_set_kwargs", kwargs), ("G_ema", b"N".to_vec())];
        let cases = [
            ("os.system", vec![("G_ema", call("os", "system", &touch(0)))]),
            ("builtins.eval", vec![("G_ema", call("builtins", "eval", &create(1)))]),
            ("builtins.exec", vec![("G_ema", call("builtins", "exec", &create(2)))]),
            ("posix.system", vec![("G_ema", call("posix", "system", &touch(3)))]),
            ("os.system", vec![("G_ema", tensor)]),
            ("subprocess.check_call", nested),
            ("os.system", vec![("G_ema", stack_global)]),
        ];
        let out_path = tmp.path().join("out.safetensors");
        for (i, (name, items)) in cases.into_iter().enumerate() {
            let pkl = tmp.path().join(format!("hostile{i}.pkl"));
            let mut pickle = b"\x80\x02".to_vec();
            pickle.extend_from_slice(&dict(&items));
            pickle.push(b'.');
            std::fs::write(&pkl, pickle).unwrap();
            let out = convert(&pkl, &out_path);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{name}: {stderr}");
            assert_eq!(stderr.trim().lines().count(), 1, "{name}: {stderr}");
            assert!(stderr.contains(pkl.to_str().unwrap()), "{stderr}");
            // The nested pickle is refused by torch's weights-only unpickler, in its words.
            let named = match i {
                4 => format!("GLOBAL {name} "),
                _ => format!("refused global {name}:"),
            };
            assert!(stderr.contains(&named), "{named}: {stderr}");
            assert!(!marker(i).exists(), "{name} ran: {stderr}");
            assert!(!out_path.exists());
        }
    }
}
