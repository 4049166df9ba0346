//! The examples a Rust user starts from (`examples/`), each run with small settings. (`cargo xtask
//! test` also builds one as a crate of its own outside this workspace, as the README's "Use gantry
//! from your own crate" says: `xtask/src/downstream.rs`.)
//!
//! `cargo test` (without `--test`) builds the examples before it runs any test; their binaries are
//! found beside this test's (`target/<profile>/examples/`). Alone: `cargo build --examples && cargo
//! test --test examples`.

use std::process::{Command, Output};

fn example(name: &str) -> Command {
    let exe = std::env::current_exe().unwrap();
    // target/<profile>/deps/examples-HASH → target/<profile>/examples/NAME
    let path = exe.parent().unwrap().parent().unwrap().join("examples").join(name);
    assert!(path.is_file(), "{} not built (cargo test builds the examples first)", path.display());
    let mut cmd = Command::new(path);
    cmd.env_remove("RUST_BACKTRACE");
    cmd
}

fn ok(cmd: &mut Command) -> String {
    let out: Output = cmd.output().unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{cmd:?} failed:\n{stdout}\n{stderr}");
    stdout.into_owned()
}

/// The number after `key` in `text` (`"fid 12.5 …"`, `"FID (…): 12.5"`).
fn number_after(text: &str, key: &str) -> f64 {
    let at = text.find(key).unwrap_or_else(|| panic!("no '{key}' in:\n{text}")) + key.len();
    let rest = text[at..].trim_start_matches([' ', ':']);
    let end =
        rest.find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == 'e')).unwrap_or(rest.len());
    rest[..end].parse().unwrap_or_else(|_| panic!("no number after '{key}' in:\n{text}"))
}

#[test]
fn custom_family_trains_resumes_exactly_samples_and_evaluates_through_gantrys_core() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("selfmod");
    let text = ok(example("custom_family").args(["demo", "--steps", "6", "--out"]).arg(&out));
    assert!(text.contains("resumed from step 3 to 6: all") && text.contains("bit for bit"), "{text}");
    let fid = number_after(&text, "): ");
    assert!(fid.is_finite() && fid > 0.0, "{text}");
    let run = out.join("whole");
    for file in ["config.toml", "metrics.jsonl", "report.html", "checkpoints/step-0000006.safetensors"] {
        assert!(run.join(file).is_file(), "{file} missing from the example's run folder");
    }
    assert!(out.join("samples.png").is_file());
    let cfg = std::fs::read_to_string(run.join("config.toml")).unwrap();
    assert!(cfg.contains("arch = \"selfmod\"") && cfg.contains("hidden = 32"), "{cfg}");

    // The checks every gantry family passes, for this one.
    let report = ok(example("custom_family").arg("check").arg(tmp.path().join("check")));
    assert!(
        report.contains("selfmod (selfmod-lsgan-mnist): resume equal in")
            && report.contains("capabilities: sampler"),
        "{report}"
    );
    assert!(report.contains("reg.drift=0.5") && report.contains("reg.r1=0.5"), "{report}");

    // The same binary is the gantry command line with the family registered.
    let presets = ok(example("custom_family").arg("presets"));
    assert!(presets.contains("selfmod-lsgan-mnist") && presets.contains("dcgan-mnist"), "{presets}");
    let json = ok(example("custom_family")
        .args(["eval", "fid", "--real", "mnist-5k", "--features", "mnist", "--n", "200", "--json", "--fake"])
        .arg(&run));
    let v: serde_json::Value = serde_json::from_str(json.trim()).unwrap();
    assert!(v["fid"].as_f64().is_some_and(|f| f.is_finite() && f > 0.0), "{v}");
    ok(example("custom_family").args(["train", "--resume"]).arg(&run).args(["--steps", "8"]));
    assert!(run.join("checkpoints/step-0000008.safetensors").is_file());
    let grid = tmp.path().join("grid.png");
    ok(example("custom_family").args(["sample", "--n", "9", "--ckpt"]).arg(&run).arg("--out").arg(&grid));
    assert_eq!(image::image_dimensions(&grid).unwrap(), (3 * 32 + 4 * 2, 3 * 32 + 4 * 2));
}

#[test]
fn losses_in_my_loop_covers_every_mode_of_the_ring() {
    let text = ok(example("losses_in_my_loop").args(["--steps", "3000", "--expect-modes", "8"]));
    assert!(text.contains("modes 8/8"), "{text}");
}

#[test]
fn fid_of_two_folders_agrees_with_gantry_eval() {
    let tmp = tempfile::tempdir().unwrap();
    let ds = gantry::data::load("mnist-5k", &Default::default()).unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    for (dir, from) in [(&a, 0), (&b, 300)] {
        std::fs::create_dir_all(dir).unwrap();
        for i in 0..150 {
            gantry::core::image::save_png(&ds.images.get(from + i), &dir.join(format!("{i:03}.png")))
                .unwrap();
        }
    }
    let mine = ok(example("fid_of_two_folders").arg(&a).arg(&b).args(["--features", "mnist"]));
    let cli = ok(example("custom_family")
        .args(["eval", "fid", "--features", "mnist", "--real"])
        .arg(&a)
        .arg("--fake")
        .arg(&b));
    let (x, y) = (number_after(&mine, "fid "), number_after(&cli, "fid "));
    assert!(x > 0.0 && (x - y).abs() <= 1e-6 * y.max(1.0), "example {x} vs gantry eval {y}");
    assert!(mine.contains("(150 images)"), "{mine}");
}

#[test]
fn stylegan2_sample_truncates_to_the_average_at_psi_zero() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("sg");
    ok(example("custom_family")
        .args(["train", "--preset", "stylegan2-mnist", "--set", "steps=2", "--out"])
        .arg(&run));
    let grid = tmp.path().join("grid.png");
    let text =
        ok(example("stylegan2_sample").arg(&run).arg("--out").arg(&grid).args(["--n", "5", "--psi", "1,0"]));
    // ψ = 0 maps every latent to w̄ (with constant noise): one image, five times.
    let row = |psi: &str| -> f64 {
        let line = text
            .lines()
            .find(|l| l.split_whitespace().take(2).eq(["psi", psi]))
            .unwrap_or_else(|| panic!("no psi {psi} in:\n{text}"));
        line.split_whitespace().last().unwrap().parse().unwrap()
    };
    assert!(row("1") > 0.01 && row("0") < 1e-6, "{text}");
    assert_eq!(image::image_dimensions(&grid).unwrap(), (5 * 32 + 6 * 2, 2 * 32 + 3 * 2));
}
