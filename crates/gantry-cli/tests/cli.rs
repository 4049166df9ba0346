//! The `gantry` binary end to end, as subprocesses (libtorch's RNG is global to a process).
//! Every run here has LD_LIBRARY_PATH removed: the binary must find libtorch through its rpath.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::OnceLock;

use gantry_core::checkpoint::Checkpoint;

mod common;
use common::{fails, gantry, model, ok, snapshot};

/// A DCGAN small enough to train in a second.
const TINY: &[&str] = &[
    "--set",
    "model.g_width=4",
    "--set",
    "model.d_width=4",
    "--set",
    "batch_size=16",
    "--set",
    "threads=2",
    "--set",
    "log.every=2",
    "--set",
    "log.sample_every=4",
    "--set",
    "log.checkpoint_every=4",
    "--set",
    "log.grid=16",
    "--device",
    "cpu",
];

fn train_tiny(out: &Path, steps: u64, extra: &[&str]) -> Output {
    ok(gantry()
        .args(["train", "--preset", "dcgan-mnist", "--steps", &steps.to_string(), "--out"])
        .arg(out)
        .args(TINY)
        .args(extra))
}

/// One 8-step run shared by several tests.
fn run_a() -> &'static Path {
    static DIR: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    &DIR.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        let a = tmp.path().join("a");
        train_tiny(&a, 8, &[]);
        (tmp, a)
    })
    .1
}

#[test]
fn presets_are_listed() {
    let out = ok(gantry().arg("presets"));
    let text = String::from_utf8_lossy(&out.stdout);
    for p in ["dcgan-mnist", "dcgan-cifar10", "dcgan-64", "toy-ring"] {
        assert!(text.contains(p), "{text}");
    }
}

#[test]
fn a_run_folder_tells_its_story() {
    let a = run_a();
    assert!(a.join("config.toml").is_file());
    for s in [4, 8] {
        assert!(a.join(format!("checkpoints/step-{s:07}.safetensors")).is_file());
        assert!(a.join(format!("samples/step-{s:07}.png")).is_file());
    }
    let metrics = std::fs::read_to_string(a.join("metrics.jsonl")).unwrap();
    let steps: Vec<u64> = metrics
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["step"].as_u64().unwrap())
        .collect();
    assert_eq!(steps, vec![2, 4, 6, 8]);
    let first: serde_json::Value = serde_json::from_str(metrics.lines().next().unwrap()).unwrap();
    for k in ["d_loss", "g_loss", "d_real", "d_fake", "sec_per_step", "kimg"] {
        assert!(first[k].as_f64().is_some_and(f64::is_finite), "{k} in {first}");
    }
    let ck = Checkpoint::load(&a.join("checkpoints/step-0000008.safetensors")).unwrap();
    assert_eq!(ck.get_i64("meta.step").unwrap(), 8);
    assert_eq!(ck.get_i64("meta.threads").unwrap(), 2);
    assert_eq!(ck.get_i64("opt_g.step").unwrap(), 8);
    assert!(ck.metadata["gantry.config"].contains("g_width = 4"));
    assert!(ck.tensors.contains_key("g.project_bn.running_mean"));
    let img = image::open(a.join("samples/step-0000008.png")).unwrap();
    assert_eq!((img.width(), img.height()), (4 * 34 + 2, 4 * 34 + 2));
}

#[test]
fn resume_is_bit_identical_to_an_uninterrupted_run() {
    let a = run_a();
    let tmp = tempfile::tempdir().unwrap();
    let b = tmp.path().join("b");
    train_tiny(&b, 3, &[]);
    ok(gantry().args(["train", "--resume"]).arg(&b).args(["--steps", "8", "--device", "cpu"]));
    let ca = Checkpoint::load(&a.join("checkpoints/step-0000008.safetensors")).unwrap();
    let cb = Checkpoint::load(&b.join("checkpoints/step-0000008.safetensors")).unwrap();
    assert_eq!(ca.tensors.keys().collect::<Vec<_>>(), cb.tensors.keys().collect::<Vec<_>>());
    for (name, ta) in &ca.tensors {
        assert!(ta.equal(&cb.tensors[name]), "tensor {name} differs after resume");
    }
    assert_eq!(
        std::fs::read(a.join("samples/step-0000008.png")).unwrap(),
        std::fs::read(b.join("samples/step-0000008.png")).unwrap()
    );
    // Metric lines continue from the checkpoint: no step twice.
    let steps: Vec<u64> = std::fs::read_to_string(b.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["step"].as_u64().unwrap())
        .collect();
    assert_eq!(steps, vec![2, 3, 4, 6, 8]);
    // A different seed gives a different run.
    let c = tmp.path().join("c");
    train_tiny(&c, 8, &["--seed", "1"]);
    let cc = Checkpoint::load(&c.join("checkpoints/step-0000008.safetensors")).unwrap();
    assert!(!ca.tensors["g.to_image.weight"].equal(&cc.tensors["g.to_image.weight"]));
}

#[test]
fn sample_and_interpolate_draw_deterministic_grids() {
    let a = run_a();
    let tmp = tempfile::tempdir().unwrap();
    let s1 = tmp.path().join("s1.png");
    let s2 = tmp.path().join("s2.png");
    let s3 = tmp.path().join("s3.png");
    ok(gantry().args(["sample", "--ckpt"]).arg(a).args(["--n", "10", "--device", "cpu", "--out"]).arg(&s1));
    ok(gantry()
        .args(["sample", "--ckpt"])
        .arg(a.join("checkpoints/step-0000008.safetensors"))
        .args(["--n", "10", "--out"])
        .arg(&s2));
    ok(gantry().args(["sample", "--ckpt"]).arg(a).args(["--n", "10", "--seed", "5", "--out"]).arg(&s3));
    let img = image::open(&s1).unwrap();
    assert_eq!((img.width(), img.height()), (4 * 34 + 2, 3 * 34 + 2)); // 10 samples, 4 per row
    assert_eq!(std::fs::read(&s1).unwrap(), std::fs::read(&s2).unwrap());
    assert_ne!(std::fs::read(&s1).unwrap(), std::fs::read(&s3).unwrap());
    let strip = tmp.path().join("i.png");
    ok(gantry()
        .args(["interpolate", "--ckpt"])
        .arg(a)
        .args(["--frames", "5", "--rows", "2", "--out"])
        .arg(&strip));
    let img = image::open(&strip).unwrap().to_luma8();
    assert_eq!((img.width(), img.height()), (5 * 34 + 2, 2 * 34 + 2));
    // α = 0 of row 0 differs from α = 1 of row 0.
    let cell = |col: u32| {
        (0..32)
            .flat_map(|y| (0..32).map(move |x| (x, y)))
            .map(|(x, y)| img.get_pixel(2 + col * 34 + x, 2 + y).0[0] as i64)
            .collect::<Vec<_>>()
    };
    assert_ne!(cell(0), cell(4));
}

/// `--outdir` writes one PNG per sample, drawn batch by batch (300 samples: two batches), each
/// equal to its cell of the one-grid `--out`; a grid that cannot fit in memory is one line
/// before anything is drawn (it used to be a 40 GB allocation failure and an abort).
#[test]
fn sample_outdir_writes_the_grids_samples_one_by_one_and_huge_grids_are_refused() {
    let a = run_a();
    let tmp = tempfile::tempdir().unwrap();
    let (grid, dir) = (tmp.path().join("g.png"), tmp.path().join("each"));
    ok(gantry()
        .args(["sample", "--ckpt"])
        .arg(a)
        .args(["--n", "300", "--device", "cpu", "--out"])
        .arg(&grid));
    ok(gantry()
        .args(["sample", "--ckpt"])
        .arg(a)
        .args(["--n", "300", "--device", "cpu", "--outdir"])
        .arg(&dir));
    let grid = image::open(&grid).unwrap().to_luma8();
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 300);
    for i in [0u32, 17, 255, 256, 299] {
        let one = image::open(dir.join(format!("{i:06}.png"))).unwrap().to_luma8();
        assert_eq!((one.width(), one.height()), (32, 32));
        let (r, c) = (i / 18, i % 18); // 18 per row
        for (x, y, p) in one.enumerate_pixels() {
            assert_eq!(p.0, grid.get_pixel(2 + c * 34 + x, 2 + r * 34 + y).0, "sample {i} at ({x}, {y})");
        }
    }
    let line = fails(gantry().args(["sample", "--ckpt"]).arg(a).args([
        "--n",
        "100000000",
        "--out",
        tmp.path().join("huge.png").to_str().unwrap(),
    ]));
    assert!(line.contains("needs") && line.contains("--outdir"), "{line}");
    assert!(!tmp.path().join("huge.png").exists());
    // Shards: --seeds 250-270 (across the batch boundary at 256) writes those files, each equal
    // to the whole run's.
    let shard = tmp.path().join("shard");
    ok(gantry()
        .args(["sample", "--ckpt"])
        .arg(a)
        .args(["--seeds", "250-270", "--device", "cpu", "--outdir"])
        .arg(&shard));
    let mut names: Vec<String> = std::fs::read_dir(&shard)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, (250..=270).map(|i| format!("{i:06}.png")).collect::<Vec<_>>());
    for name in &names {
        assert_eq!(
            std::fs::read(shard.join(name)).unwrap(),
            std::fs::read(dir.join(name)).unwrap(),
            "{name}"
        );
    }
    let bad =
        fails(gantry().args(["sample", "--ckpt"]).arg(a).args(["--seeds", "9-3", "--outdir"]).arg(&shard));
    assert!(bad.contains("--seeds '9-3'") && bad.contains("A ≤ B"), "{bad}");
}

/// `--format apng|gif` (or an .apng/.gif --out): frame t tiles every walk's step t, played forth
/// and back (5 steps: 8 frames); the APNG's frames are exactly the grid PNG's columns.
#[test]
fn interpolate_writes_looping_animations() {
    use image::AnimationDecoder;
    let a = run_a();
    let tmp = tempfile::tempdir().unwrap();
    let (grid, apng, gif) = (tmp.path().join("g.png"), tmp.path().join("w.apng"), tmp.path().join("w.gif"));
    for out in [&grid, &apng, &gif] {
        ok(gantry()
            .args(["interpolate", "--ckpt"])
            .arg(a)
            .args(["--frames", "5", "--rows", "4", "--out"])
            .arg(out));
    }
    let grid = image::open(&grid).unwrap().to_luma8();
    let dec =
        image::codecs::png::PngDecoder::new(std::io::BufReader::new(std::fs::File::open(&apng).unwrap()))
            .unwrap();
    let frames = dec.apng().unwrap().into_frames().collect_frames().unwrap();
    assert_eq!(frames.len(), 8, "0 1 2 3 4 3 2 1");
    for (f, step) in frames.iter().zip([0u32, 1, 2, 3, 4, 3, 2, 1]) {
        let img = f.buffer();
        assert_eq!((img.width(), img.height()), (2 * 34 + 2, 2 * 34 + 2), "4 walks tiled 2 × 2");
        // Walk 3 (bottom right of the tile) at this step is the grid's row 3, column `step`.
        for (x, y) in [(0, 0), (13, 7), (31, 31)] {
            let want = grid.get_pixel(2 + step * 34 + x, 2 + 3 * 34 + y).0[0];
            assert_eq!(img.get_pixel(2 + 34 + x, 2 + 34 + y).0[0], want, "step {step} at ({x}, {y})");
        }
    }
    let gif =
        image::codecs::gif::GifDecoder::new(std::io::BufReader::new(std::fs::File::open(&gif).unwrap()))
            .unwrap();
    assert_eq!(gif.into_frames().collect_frames().unwrap().len(), 8);
    let e = fails(
        gantry()
            .args(["interpolate", "--ckpt"])
            .arg(a)
            .args(["--format", "webm", "--out"])
            .arg(tmp.path().join("w.webm")),
    );
    assert!(e.contains("--format") && e.contains("gif, apng or mp4"), "{e}");
    // MP4 without an ffmpeg: one line saying what it needs, no file.
    let mp4 = tmp.path().join("w.mp4");
    let e = fails(
        gantry()
            .env("GANTRY_FFMPEG", tmp.path().join("no-ffmpeg"))
            .args(["interpolate", "--ckpt"])
            .arg(a)
            .args(["--out"])
            .arg(&mp4),
    );
    assert!(e.contains("MP4") && e.contains("needs an ffmpeg"), "{e}");
    assert!(!mp4.exists());
}

/// Tests named `ffmpeg::…` need an `ffmpeg` and `ffprobe` on PATH (`cargo xtask test` installs
/// Debian's when it can).
mod ffmpeg {
    use super::*;

    /// `--format mp4` (or an .mp4 --out): H.264 with the APNG's frames (forth and back), sides
    /// padded to even, pixels within H.264's loss of the lossless frames.
    #[test]
    #[ignore = "needs ffmpeg and ffprobe on PATH (cargo xtask test installs them and runs this)"]
    fn interpolate_writes_h264_mp4_with_the_animation_frames() {
        use image::AnimationDecoder;
        let a = run_a();
        let tmp = tempfile::tempdir().unwrap();
        let (apng, mp4) = (tmp.path().join("w.apng"), tmp.path().join("w.mp4"));
        for out in [&apng, &mp4] {
            ok(gantry()
                .args(["interpolate", "--ckpt"])
                .arg(a)
                .args(["--frames", "5", "--rows", "4", "--out"])
                .arg(out));
        }
        let probe = std::process::Command::new("ffprobe")
            .args(["-v", "error", "-select_streams", "v:0", "-count_frames"])
            .args([
                "-show_entries",
                "stream=codec_name,width,height,nb_read_frames,r_frame_rate",
                "-of",
                "csv=p=0",
            ])
            .arg(&mp4)
            .output()
            .unwrap();
        let info = String::from_utf8_lossy(&probe.stdout).trim().to_string();
        // 2 × 2 tiles of 34 px + 2 = 70 (even already), 12 fps, 8 frames (0 1 2 3 4 3 2 1).
        assert_eq!(info, "h264,70,70,12/1,8", "{info}");
        let raw = std::process::Command::new("ffmpeg")
            .args(["-v", "error", "-i"])
            .arg(&mp4)
            .args(["-f", "rawvideo", "-pix_fmt", "gray", "-"])
            .output()
            .unwrap()
            .stdout;
        let dec =
            image::codecs::png::PngDecoder::new(std::io::BufReader::new(std::fs::File::open(&apng).unwrap()))
                .unwrap();
        let frames = dec.apng().unwrap().into_frames().collect_frames().unwrap();
        assert_eq!(raw.len(), 8 * 70 * 70);
        for (i, (f, got)) in frames.iter().zip(raw.chunks_exact(70 * 70)).enumerate() {
            let want: Vec<u8> = f.buffer().pixels().map(|p| p.0[0]).collect();
            let mean = want.iter().zip(got).map(|(&a, &b)| (a as f64 - b as f64).abs()).sum::<f64>()
                / want.len() as f64;
            assert!(mean < 4.0, "frame {i}: mean |Δ| {mean} grey levels");
        }
    }
}

#[test]
fn toy_runs_plot_samples_and_score_modes() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("toy");
    ok(gantry()
        .args([
            "train",
            "--preset",
            "toy-ring",
            "--steps",
            "20",
            "--device",
            "cpu",
            "--set",
            "log.sample_every=10",
            "--set",
            "threads=1",
            "--out",
        ])
        .arg(&out));
    let img = image::open(out.join("samples/step-0000020.png")).unwrap();
    assert_eq!((img.width(), img.height()), (512, 512));
    let last = std::fs::read_to_string(out.join("metrics.jsonl")).unwrap();
    let v: serde_json::Value = serde_json::from_str(last.lines().last().unwrap()).unwrap();
    let covered = v["modes_covered"].as_u64().unwrap();
    assert!(covered <= 8);
    let hq = v["high_quality"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&hq));
    let e =
        fails(gantry().args(["interpolate", "--ckpt"]).arg(&out).arg("--out").arg(tmp.path().join("x.png")));
    assert!(e.contains("mlp"), "{e}");
}

// ---- bad input: one line, exit 1, nothing written ------------------------------------------

fn idx(dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut v = vec![0, 0, 8, dims.len() as u8];
    for d in dims {
        v.extend_from_slice(&d.to_be_bytes());
    }
    v.extend_from_slice(data);
    v
}

fn train_on(data: &Path, out: &Path) -> String {
    fails(
        gantry()
            .args(["train", "--preset", "dcgan-mnist", "--steps", "2", "--set"])
            .arg(format!("data={}", data.display()))
            .arg("--out")
            .arg(out)
            .args(TINY),
    )
}

#[test]
fn bad_idx_files_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let cases: [(&str, Vec<u8>, Vec<u8>, &str); 3] = [
        (
            "truncated",
            idx(&[20, 28, 28], &[0; 20 * 784 - 100]),
            idx(&[20], &[1; 20]),
            "truncated IDX payload",
        ),
        (
            "magic",
            {
                let mut b = idx(&[20, 28, 28], &[0; 20 * 784]);
                b[0] = 0x50;
                b
            },
            idx(&[20], &[1; 20]),
            "bad IDX magic",
        ),
        ("count", idx(&[20, 28, 28], &[0; 20 * 784]), idx(&[19], &[1; 19]), "count mismatch"),
    ];
    for (name, images, labels, want) in cases {
        let dir = tmp.path().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("train-images-idx3-ubyte"), images).unwrap();
        std::fs::write(dir.join("train-labels-idx1-ubyte"), labels).unwrap();
        let out = tmp.path().join(format!("run-{name}"));
        let e = train_on(&dir, &out);
        assert!(e.contains(want) && e.contains("idx"), "{name}: {e}");
        assert!(!out.exists(), "{name}: a run folder was created");
    }
    // The same files gzip-compressed and cut short.
    let dir = tmp.path().join("gz");
    std::fs::create_dir_all(&dir).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &idx(&[20, 28, 28], &[0; 20 * 784])).unwrap();
    let bytes = gz.finish().unwrap();
    std::fs::write(dir.join("train-images-idx3-ubyte.gz"), &bytes[..bytes.len() / 2]).unwrap();
    std::fs::write(dir.join("train-labels-idx1-ubyte"), idx(&[20], &[1; 20])).unwrap();
    let e = train_on(&dir, &tmp.path().join("run-gz"));
    assert!(e.contains("gzip"), "{e}");
}

#[test]
fn bad_image_folders_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("faces");
    std::fs::create_dir_all(dir.join("s1")).unwrap();
    std::fs::write(dir.join("s1/2.pgm"), b"P5\n8 8\n255\nshort").unwrap();
    let out = tmp.path().join("run");
    let e = train_on(&dir, &out);
    assert!(e.contains("no image decodes") && e.contains("2.pgm"), "{e}");
    assert!(!out.exists());

    // Beside images that decode, the corrupt file, WebP and BMP files and a README are a
    // summary line and a list in the run folder, not an error.
    let grey = image::GrayImage::from_pixel(8, 8, image::Luma([9]));
    for name in ["1.png", "3.webp", "4.bmp"] {
        grey.save(dir.join("s1").join(name)).unwrap();
    }
    std::fs::write(dir.join("README"), "faces").unwrap();
    let run = tmp.path().join("run-faces");
    let data = format!("data={}", dir.display());
    let stderr = train_tiny(&run, 1, &["--set", &data, "--set", "batch_size=2"]).stderr;
    let stderr = String::from_utf8(stderr).unwrap();
    assert!(stderr.contains(": 3 images 1x32x32 (skipped 2 files: 1 undecodable ("), "{stderr}");
    assert!(stderr.contains("2.pgm: ") && stderr.contains("1 not an image; every one in"), "{stderr}");
    let listed = std::fs::read_to_string(run.join("skipped-files.txt")).unwrap();
    let lines: Vec<&str> = listed.lines().collect();
    assert_eq!(lines.len(), 2, "{listed}");
    assert!(lines[0].ends_with("README\tnot an image"), "{listed}");
    assert!(lines[1].contains("2.pgm\tundecodable: "), "{listed}");

    let empty = tmp.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    std::fs::write(empty.join("README"), "no images here").unwrap();
    let e = train_on(&empty, &out);
    assert!(e.contains("empty"), "{e}");
    assert!(!out.exists());
}

#[test]
fn a_missing_dataset_names_the_fetch_command() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    let e = fails(
        gantry()
            .env("GANTRY_DATA", tmp.path().join("data"))
            .env("GANTRY_CACHE", tmp.path().join("cache"))
            .env_remove("GANTRY_SHARED")
            .args(["train", "--preset", "dcgan-mnist", "--set", "data=fashion-mnist", "--out"])
            .arg(&out)
            .args(TINY),
    );
    assert!(e.contains("cargo xtask datasets fetch fashion-mnist"), "{e}");
    assert!(!out.exists());
    let e = fails(
        gantry()
            .args(["train", "--preset", "dcgan-mnist", "--set", "data=/no/such/place", "--out"])
            .arg(&out)
            .args(TINY),
    );
    assert!(e.contains("/no/such/place") && e.contains("not a known dataset"), "{e}");
}

#[test]
fn checkpoints_of_another_architecture_are_refused() {
    let a = run_a();
    let tmp = tempfile::tempdir().unwrap();
    let c = tmp.path().join("c");
    train_tiny(&c, 1, &["--set", "model.g_width=8"]);
    std::fs::copy(
        a.join("checkpoints/step-0000008.safetensors"),
        c.join("checkpoints/step-0000099.safetensors"),
    )
    .unwrap();
    let before = snapshot(&c);
    let e = fails(gantry().args(["train", "--resume"]).arg(&c).args(["--steps", "120"]));
    assert!(e.contains("step-0000099.safetensors") && e.contains("shape") && e.contains("g."), "{e}");
    assert_eq!(snapshot(&c), before, "the run folder changed");

    // A corrupt checkpoint, for sampling and for resuming.
    let bad = tmp.path().join("bad.safetensors");
    std::fs::write(&bad, b"\x10\x00\x00\x00\x00\x00\x00\x00{\"a\": garbage}").unwrap();
    let e = fails(gantry().args(["sample", "--ckpt"]).arg(&bad).arg("--out").arg(tmp.path().join("s.png")));
    assert!(e.contains("bad.safetensors") && e.contains("not a valid checkpoint"), "{e}");
    assert!(!tmp.path().join("s.png").exists());
}

#[test]
fn resume_and_out_misuse_are_refused_without_touching_the_run() {
    let a = run_a();
    let before = snapshot(a);
    let e = fails(gantry().args(["train", "--resume", "/no/such/run", "--steps", "10"]));
    assert!(e.contains("/no/such/run") && e.contains("does not exist"), "{e}");
    let e = fails(gantry().args(["train", "--resume"]).arg(a).args(["--steps", "5"]));
    assert!(e.contains("--steps 5 is below the checkpoint's step 8"), "{e}");
    let e = fails(gantry().args(["train", "--preset", "dcgan-mnist", "--out"]).arg(a).args(TINY));
    assert!(e.contains("refusing to write into") && e.contains("--resume"), "{e}");
    assert_eq!(snapshot(a), before, "the run folder changed");
}

#[test]
fn config_mistakes_name_the_key() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    let e = fails(
        gantry().args(["train", "--preset", "dcgan-mnist", "--set", "model.widht=3", "--out"]).arg(&out),
    );
    assert!(e.contains("'model.widht'") && e.contains("g_width"), "{e}");
    let e = fails(
        gantry().args(["train", "--preset", "dcgan-mnist", "--set", "batch_size=lots", "--out"]).arg(&out),
    );
    assert!(e.contains("'batch_size'"), "{e}");
    let e = fails(
        gantry()
            .args(["train", "--preset", "dcgan-mnist", "--set", "model.image_size=48", "--out"])
            .arg(&out),
    );
    assert!(e.contains("model.image_size") && e.contains("48"), "{e}");
    let e = fails(gantry().args(["train", "--preset", "no-such-preset"]));
    assert!(e.contains("dcgan-mnist"), "{e}");
    let cfg = tmp.path().join("c.toml");
    std::fs::write(&cfg, "preset = 'x'\nlearning_rate = 3\n").unwrap();
    let e = fails(gantry().args(["train", "--config"]).arg(&cfg).arg("--out").arg(&out));
    assert!(e.contains("c.toml"), "{e}");
    let e = fails(gantry().args(["train", "--preset", "dcgan-mnist", "--device", "tpu", "--out"]).arg(&out));
    assert!(e.contains("'tpu'"), "{e}");
    assert!(!out.exists());
}

#[test]
fn every_objective_trains_with_finite_losses_and_clipping_holds() {
    let tmp = tempfile::tempdir().unwrap();
    for loss in gantry_train::recipes::adversarial::LossChoice::ALL.iter().map(|l| l.name()) {
        let out = tmp.path().join(loss);
        ok(gantry()
            .args(["train", "--preset", "toy-ring", "--steps", "6", "--device", "cpu", "--set", "threads=1"])
            .args([
                "--set",
                &format!("loss={loss}"),
                "--set",
                "reg.r1=0.5",
                "--set",
                "reg.dragan=1",
                "--set",
                "reg.every=2",
            ])
            .args(["--set", "log.every=3", "--set", "log.grid=64", "--out"])
            .arg(&out));
        let last = std::fs::read_to_string(out.join("metrics.jsonl")).unwrap();
        let v: serde_json::Value = serde_json::from_str(last.lines().last().unwrap()).unwrap();
        for k in ["d_loss", "d_reg", "g_loss", "d_real", "d_fake"] {
            assert!(v[k].as_f64().is_some_and(f64::is_finite), "{loss}: {k} in {v}");
        }
        assert!(v["d_reg"].as_f64().unwrap() > 0.0, "{loss}: R1 and DRAGAN were requested");
        assert_eq!(
            v["p_real"].is_number(),
            ["minimax", "non-saturating", "ragan"].contains(&loss),
            "{loss}: {v}"
        );
        if loss == "wgan-clip" {
            let ck = Checkpoint::load(&out.join("checkpoints/step-0000006.safetensors")).unwrap();
            for (name, t) in ck.tensors.iter().filter(|(n, _)| n.starts_with("d.")) {
                assert!(t.abs().max().double_value(&[]) <= 0.01 + 1e-7, "{name} exceeds the clip bound");
            }
        }
    }
}

#[test]
fn resume_is_bit_identical_with_penalties_and_several_critic_steps() {
    let tmp = tempfile::tempdir().unwrap();
    let extra =
        ["--set", "loss=wgan-gp", "--set", "reg.r1=0.1", "--set", "reg.every=3", "--set", "train.d_steps=2"];
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    train_tiny(&a, 5, &extra);
    train_tiny(&b, 2, &extra);
    ok(gantry().args(["train", "--resume"]).arg(&b).args(["--steps", "5", "--device", "cpu"]));
    let ca = Checkpoint::load(&a.join("checkpoints/step-0000005.safetensors")).unwrap();
    let cb = Checkpoint::load(&b.join("checkpoints/step-0000005.safetensors")).unwrap();
    for (name, ta) in &ca.tensors {
        assert!(ta.equal(&cb.tensors[name]), "tensor {name} differs after resume");
    }
    assert_eq!(ca.get_i64("opt_d.step").unwrap(), 10);
}

/// The second-order unrolled GAN (Metz et al. 2017) takes the first-order form's draws and
/// unrolled values — the same D step and the same G loss at step 1 — but another G gradient (it
/// flows through the unrolled Adam steps); it resumes bit for bit; where D has no functional
/// form, or nothing is unrolled, it is refused by name.
#[test]
fn second_order_unrolling_differentiates_through_the_unrolled_steps() {
    let tmp = tempfile::tempdir().unwrap();
    let ring = |out: &Path, steps: u64, order: u32| {
        ok(gantry()
            .args([
                "train",
                "--preset",
                "toy-ring",
                "--device",
                "cpu",
                "--steps",
                &steps.to_string(),
                "--out",
            ])
            .arg(out)
            .args(["--set", "train.unroll=3", "--set", &format!("train.unroll_order={order}")])
            .args(["--set", "log.every=1", "--set", "log.checkpoint_every=1", "--set", "threads=1"]))
    };
    let (first, second) = (tmp.path().join("first"), tmp.path().join("second"));
    ring(&first, 1, 1);
    ring(&second, 3, 2);
    let ck = |dir: &Path, step: u64| {
        Checkpoint::load(&dir.join(format!("checkpoints/step-{step:07}.safetensors"))).unwrap()
    };
    let (a, b) = (ck(&first, 1), ck(&second, 1));
    let g_loss = |dir: &Path| -> f64 {
        let line = std::fs::read_to_string(dir.join("metrics.jsonl")).unwrap();
        serde_json::from_str::<serde_json::Value>(line.lines().next().unwrap()).unwrap()["g_loss"]
            .as_f64()
            .unwrap()
    };
    assert_eq!(g_loss(&first), g_loss(&second), "the same unrolled D, the same G loss");
    let mut g_differs = false;
    for (name, t) in &a.tensors {
        if name.starts_with("d.") || name.starts_with("opt_d.") {
            assert!(t.equal(&b.tensors[name]), "{name}: D's own step is the same");
        }
        if name.starts_with("g.") {
            g_differs |= !t.equal(&b.tensors[name]);
        }
    }
    assert!(g_differs, "G's second-order gradient differs from the first-order one");
    let split = tmp.path().join("split");
    ring(&split, 1, 2);
    ok(gantry().args(["train", "--resume"]).arg(&split).args(["--steps", "3", "--device", "cpu"]));
    for (name, t) in &ck(&second, 3).tensors {
        assert!(t.equal(&ck(&split, 3).tensors[name]), "{name} differs after resume");
    }
    for (sets, key) in [
        (vec!["train.unroll_order=2"], "train.unroll"),
        (vec!["train.unroll=2", "train.unroll_order=2", "model.spectral_norm=true"], "train.unroll_order"),
        (vec!["train.unroll=2", "train.unroll_order=3"], "train.unroll_order"),
    ] {
        let mut cmd = gantry();
        cmd.args(["train", "--preset", "toy-ring", "--device", "cpu", "--out"]).arg(tmp.path().join("bad"));
        for s in &sets {
            cmd.args(["--set", s]);
        }
        let e = fails(&mut cmd);
        assert!(e.contains(key), "{sets:?}: {e}");
    }
}

#[test]
fn stabilisers_resume_bit_identically_and_ema_draws_the_samples() {
    let tmp = tempfile::tempdir().unwrap();
    let extra = [
        "--set",
        "model.d_norm=spectral",
        "--set",
        "model.mbstd_group=4",
        "--set",
        "model.minibatch_kernels=8",
        "--set",
        "train.ema.half_life_kimg=0.05",
        "--set",
        "train.ema.rampup=0.05",
        "--set",
        "train.unroll=2",
        "--set",
        "train.instance_noise=0.1",
        "--set",
        "train.instance_noise_steps=4",
        "--set",
        "loss=hinge",
    ];
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    train_tiny(&a, 6, &extra);
    train_tiny(&b, 4, &extra);
    ok(gantry().args(["train", "--resume"]).arg(&b).args(["--steps", "6", "--device", "cpu"]));
    let ca = Checkpoint::load(&a.join("checkpoints/step-0000006.safetensors")).unwrap();
    let cb = Checkpoint::load(&b.join("checkpoints/step-0000006.safetensors")).unwrap();
    assert_eq!(ca.tensors.len(), cb.tensors.len());
    for (name, ta) in &ca.tensors {
        assert!(ta.equal(&cb.tensors[name]), "tensor {name} differs after resume");
    }
    // Spectral-norm state is saved; the EMA generator is saved and differs from G.
    let sigma = ca.get("d.down1.sn_sigma").unwrap().double_value(&[]);
    assert!(sigma.is_finite() && sigma > 0.0);
    let (g, g_ema) = (ca.get("g.project.weight").unwrap(), ca.get("g_ema.project.weight").unwrap());
    assert!(!g.equal(g_ema));
    // The instance noise reached 0 at step 4 and the metrics say so.
    let metrics = std::fs::read_to_string(a.join("metrics.jsonl")).unwrap();
    let last: serde_json::Value = serde_json::from_str(metrics.lines().last().unwrap()).unwrap();
    assert_eq!(last["instance_noise"].as_f64(), Some(0.0));
    assert!(last["ema_beta"].as_f64().unwrap() > 0.0 && last["ema_beta"].as_f64().unwrap() < 1.0);
    // Samples come from the EMA generator: zeroing it in a copied checkpoint changes them.
    let (s1, s2) = (tmp.path().join("s1.png"), tmp.path().join("s2.png"));
    let ck = a.join("checkpoints/step-0000006.safetensors");
    ok(gantry().args(["sample", "--n", "4", "--device", "cpu", "--ckpt"]).arg(&ck).arg("--out").arg(&s1));
    let mut edited = Checkpoint::load(&ck).unwrap();
    let zero = edited.get("g_ema.to_image.bias").unwrap().zeros_like() + 5.0;
    edited.insert("g_ema.to_image.bias".to_string(), &zero);
    let ck2 = tmp.path().join("edited.safetensors");
    edited.save(&ck2).unwrap();
    ok(gantry().args(["sample", "--n", "4", "--device", "cpu", "--ckpt"]).arg(&ck2).arg("--out").arg(&s2));
    assert_ne!(std::fs::read(&s1).unwrap(), std::fs::read(&s2).unwrap());
    // Truncation: a valid τ and ψ sample; τ ≤ 0 is one clear error.
    let s3 = tmp.path().join("s3.png");
    ok(gantry()
        .args(["sample", "--n", "4", "--device", "cpu", "--truncation", "0.5", "--psi", "0.7", "--ckpt"])
        .arg(&ck)
        .arg("--out")
        .arg(&s3));
    assert_ne!(std::fs::read(&s1).unwrap(), std::fs::read(&s3).unwrap());
    let e = fails(
        gantry()
            .args(["sample", "--truncation", "0", "--device", "cpu", "--ckpt"])
            .arg(&ck)
            .arg("--out")
            .arg(&s3),
    );
    assert!(e.contains("--truncation"), "{e}");
}

/// A conditional preset at the TINY size (no `log.grid` override: the presets' 10×10 grids).
/// Two threads on the CPU, logs and checkpoints every 2 steps.
const QUICK: &[&str] =
    &["--set", "threads=2", "--set", "log.every=2", "--set", "log.checkpoint_every=2", "--device", "cpu"];

fn train_cond(preset: &str, out: &Path, steps: u64, extra: &[&str]) -> Output {
    ok(gantry()
        .args(["train", "--preset", preset, "--steps", &steps.to_string(), "--out"])
        .arg(out)
        .args(["--set", "model.g_width=4", "--set", "model.d_width=4", "--set", "batch_size=16"])
        .args(QUICK)
        .args(extra))
}

#[test]
fn conditional_models_resume_exactly_and_sample_by_class() {
    let tmp = tempfile::tempdir().unwrap();
    for (preset, extra) in [
        ("acgan-mnist", vec!["--set", "train.ema.half_life_kimg=0.05"]),
        ("projection-mnist", vec!["--set", "reg.r1=0.1", "--set", "reg.every=2"]),
        ("infogan-mnist", vec!["--set", "model.fc_width=32"]),
    ] {
        let (a, b) = (tmp.path().join(format!("{preset}-a")), tmp.path().join(format!("{preset}-b")));
        train_cond(preset, &a, 4, &extra);
        train_cond(preset, &b, 2, &extra);
        ok(gantry().args(["train", "--resume"]).arg(&b).args(["--steps", "4", "--device", "cpu"]));
        let ca = Checkpoint::load(&a.join("checkpoints/step-0000004.safetensors")).unwrap();
        let cb = Checkpoint::load(&b.join("checkpoints/step-0000004.safetensors")).unwrap();
        for (name, ta) in &ca.tensors {
            assert!(ta.equal(&cb.tensors[name]), "{preset}: tensor {name} differs after resume");
        }
        // The sample grid: 10 × 10, one class per column.
        let img = image::open(a.join("samples/step-0000004.png")).unwrap();
        assert_eq!((img.width(), img.height()), (10 * 34 + 2, 10 * 34 + 2), "{preset}");
    }
    let ckpt = tmp.path().join("acgan-mnist-a");
    let (s3, s4) = (tmp.path().join("c3.png"), tmp.path().join("c4.png"));
    for (k, out) in [("3", &s3), ("4", &s4)] {
        ok(gantry()
            .args(["sample", "--n", "4", "--device", "cpu", "--class", k, "--ckpt"])
            .arg(&ckpt)
            .arg("--out")
            .arg(out));
    }
    // The class reaches G (compared on floats: an untrained G's pixels barely move).
    let acgan = model(&ckpt.join("checkpoints/step-0000004.safetensors"));
    let z = tch::Tensor::ones([2, 100], tch::kind::FLOAT_CPU);
    let x = acgan.class_sampler().unwrap().generate_class(&z, &tch::Tensor::from_slice(&[3i64, 4])).unwrap();
    assert!(!x.get(0).equal(&x.get(1)), "G(z, 3) ≠ G(z, 4)");
    let e = fails(
        gantry()
            .args(["sample", "--device", "cpu", "--class", "10", "--ckpt"])
            .arg(&ckpt)
            .arg("--out")
            .arg(&s3),
    );
    assert!(e.contains("--class") && e.contains("10"), "{e}");
    let e = fails(
        gantry()
            .args(["sample", "--device", "cpu", "--class", "1", "--ckpt"])
            .arg(run_a())
            .arg("--out")
            .arg(&s3),
    );
    assert!(e.contains("conditional") && e.contains("dcgan"), "{e}");
    // Class-conditional accuracy by the domain classifier.
    let out = ok(gantry()
        .args(["eval", "accuracy", "--features", "mnist", "--n", "20", "--json", "--device", "cpu", "--fake"])
        .arg(&ckpt));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let acc = v["accuracy"].as_f64().unwrap();
    let per: Vec<f64> = v["per_class"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect();
    assert_eq!(per.len(), 10);
    assert!((acc - per.iter().sum::<f64>() / 10.0).abs() < 1e-6, "20 samples, 2 per class: {acc} vs {per:?}");
    let e = fails(
        gantry().args(["eval", "accuracy", "--features", "mnist", "--device", "cpu", "--fake"]).arg(run_a()),
    );
    assert!(e.contains("conditional"), "{e}");
    // Intra-FID: class by class against labelled digits, with the samples' class accuracy.
    let intra = || {
        let out = ok(gantry()
            .args(["eval", "intra-fid", "--real", "mnist-5k", "--features", "mnist", "--n", "15", "--json"])
            .args(["--device", "cpu", "--fake"])
            .arg(&ckpt));
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let v = intra();
    let per: Vec<f64> = v["per_class"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect();
    assert_eq!(per.len(), 10);
    assert!(per.iter().all(|f| f.is_finite() && *f > 0.0), "{per:?}");
    assert!((v["intra_fid"].as_f64().unwrap() - per.iter().sum::<f64>() / 10.0).abs() < 1e-9);
    assert_eq!(v["class_counts"], serde_json::json!(vec![15; 10]));
    let acc: Vec<f64> =
        v["accuracy_per_class"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect();
    assert!((v["accuracy"].as_f64().unwrap() - acc.iter().sum::<f64>() / 10.0).abs() < 1e-9, "{v}");
    assert!(
        acc.iter().all(|a| (a * 15.0 - (a * 15.0).round()).abs() < 1e-9),
        "shares of 15 samples: {acc:?}"
    );
    assert_eq!((v["features"].as_str(), v["classifier"].as_str()), (Some("mnist"), Some("mnist")));
    assert_eq!(intra(), v, "seeded: the same numbers twice");
    let e = fails(
        gantry()
            .args(["eval", "intra-fid", "--real", "mnist-5k", "--features", "mnist", "--fake"])
            .arg(run_a()),
    );
    assert!(e.contains("intra-FID") && e.contains("conditional"), "{e}");
    // InfoGAN traversals: 10 rows; code 0 has a column per categorical value, code 2 `--steps`.
    let info = tmp.path().join("infogan-mnist-a");
    let t = tmp.path().join("t.png");
    ok(gantry()
        .args(["traverse", "--code", "0", "--rows", "3", "--device", "cpu", "--ckpt"])
        .arg(&info)
        .arg("--out")
        .arg(&t));
    let img = image::open(&t).unwrap();
    assert_eq!((img.width(), img.height()), (10 * 34 + 2, 3 * 34 + 2));
    ok(gantry()
        .args(["traverse", "--code", "2", "--steps", "7", "--rows", "2", "--device", "cpu", "--ckpt"])
        .arg(&info)
        .arg("--out")
        .arg(&t));
    let img = image::open(&t).unwrap().to_luma8();
    assert_eq!((img.width(), img.height()), (7 * 34 + 2, 2 * 34 + 2));
    // The codes reach G (checked on floats: an untrained G's pixels barely move).
    let info_gan = model(&info.join("checkpoints/step-0000004.safetensors"));
    let z = tch::Tensor::zeros([2, 62], tch::kind::FLOAT_CPU);
    let cont = tch::Tensor::from_slice(&[0.0f32, -2.0, 0.0, 2.0]).view([2, 2]);
    let x = info_gan
        .code_sampler()
        .unwrap()
        .generate_codes(&z, &tch::Tensor::from_slice(&[3i64, 3]), &cont)
        .unwrap();
    assert!(!x.get(0).equal(&x.get(1)), "sweeping a continuous code changes the image");
    let e = fails(
        gantry()
            .args(["traverse", "--code", "3", "--device", "cpu", "--ckpt"])
            .arg(&info)
            .arg("--out")
            .arg(&t),
    );
    assert!(e.contains("--code"), "{e}");
    let e = fails(
        gantry()
            .args(["traverse", "--code", "1", "--device", "cpu", "--ckpt"])
            .arg(&ckpt)
            .arg("--out")
            .arg(&t),
    );
    assert!(e.contains("InfoGAN"), "{e}");
    // Options a conditional recipe does not take are refused up front.
    let e = fails(
        gantry()
            .args(["train", "--preset", "cgan-mnist", "--set", "train.unroll=2", "--device", "cpu", "--out"])
            .arg(tmp.path().join("refused")),
    );
    assert!(e.contains("train.unroll") && e.contains("cond"), "{e}");
}

// ---- gantry eval ------------------------------------------------------------------------------

fn eval_json(args: &[&str]) -> serde_json::Value {
    let out = ok(gantry().arg("eval").args(args).arg("--json"));
    serde_json::from_str(String::from_utf8_lossy(&out.stdout).trim()).unwrap()
}

/// Panics naming `what` unless the local mirror holds it.
fn need_shared(what: &str) {
    let root = std::env::var_os("GANTRY_SHARED").expect("needs the local mirror: GANTRY_SHARED is not set");
    let path = std::path::Path::new(&root).join(what);
    assert!(path.exists(), "needs {what} from the local mirror: {} not found", path.display());
}

#[test]
fn eval_with_the_domain_classifier_from_checkpoints_data_and_stats() {
    let a = run_a();
    let tmp = tempfile::tempdir().unwrap();
    let ckpt = a.to_str().unwrap();
    let v = eval_json(&[
        "fid",
        "--real",
        "mnist-5k",
        "--fake",
        ckpt,
        "--features",
        "mnist",
        "--n",
        "300",
        "--device",
        "cpu",
    ]);
    let fid = v["fid"].as_f64().unwrap();
    assert!(fid.is_finite() && fid > 0.0, "{v}");
    assert_eq!(v["fake_count"], 300);
    // The protocol travels with the number.
    assert_eq!(
        (v["features"].as_str(), v["resize"].as_str(), v["seed"].as_u64()),
        (Some("mnist"), Some("classifier-28"), Some(0)),
        "{v}"
    );
    // Statistics saved from a source reproduce it: FID of a set against its own stats is 0.
    let stats = tmp.path().join("digits.npz");
    ok(gantry()
        .args(["eval", "fid", "--real", "mnist-5k", "--features", "mnist", "--save-stats"])
        .arg(&stats));
    let v =
        eval_json(&["fid", "--real", stats.to_str().unwrap(), "--fake", "mnist-5k", "--features", "mnist"]);
    assert!(v["fid"].as_f64().unwrap().abs() < 1e-6, "{v}");
    // KID, IS and PRDC on the same pair.
    let k = eval_json(&[
        "kid",
        "--real",
        "mnist-5k",
        "--fake",
        ckpt,
        "--features",
        "mnist",
        "--n",
        "300",
        "--kid-subsets",
        "5",
        "--kid-subset-size",
        "100",
    ]);
    assert!(k["kid"].as_f64().unwrap() > 0.0 && k["kid_subset_size"] == 100, "{k}");
    let s = eval_json(&["is", "--fake", "mnist-5k", "--features", "mnist"]);
    assert!(s["is"].as_f64().unwrap() > 8.0, "real digits are confidently and evenly classified: {s}");
    let p = eval_json(&["prdc", "--real", "mnist-5k", "--fake", ckpt, "--features", "mnist", "--n", "300"]);
    for key in ["precision", "recall", "density", "coverage"] {
        assert!(p[key].as_f64().is_some_and(|x| x >= 0.0), "{p}");
    }
}

/// FID between two statistics files loads no network (here none could be found) and says what
/// its inputs were: the sample counts gantry's files carry, `null` where a file does not say, no
/// feature network unless `--features` names one.
#[test]
fn fid_between_statistics_files_needs_no_network() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b, plain) = (tmp.path().join("a.npz"), tmp.path().join("b.npz"), tmp.path().join("plain.npz"));
    for (path, n, seed) in [(&a, "200", "1"), (&b, "300", "2")] {
        ok(gantry()
            .args(["eval", "fid", "--real", "mnist-5k", "--features", "mnist", "--n", n, "--seed", seed])
            .arg("--save-stats")
            .arg(path));
    }
    let direct = eval_json(&[
        "fid",
        "--real",
        a.to_str().unwrap(),
        "--fake",
        "mnist-5k",
        "--features",
        "mnist",
        "--n",
        "300",
        "--seed",
        "2",
    ]);
    // No Inception file anywhere, no mirror: only the statistics.
    let bare = |cmd: &mut std::process::Command| {
        cmd.env_remove("GANTRY_SHARED")
            .env_remove("GANTRY_WEIGHTS")
            .env("GANTRY_CACHE", tmp.path().join("empty"));
    };
    let mut cmd = gantry();
    bare(&mut cmd);
    let out = ok(cmd.args(["eval", "fid", "--real"]).arg(&a).arg("--fake").arg(&b).arg("--json"));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((v["real_count"].as_u64(), v["fake_count"].as_u64()), (Some(200), Some(300)), "{v}");
    assert!(v["features"].is_null() && v["feature_dim"] == 128, "{v}");
    let d = (v["fid"].as_f64().unwrap() - direct["fid"].as_f64().unwrap()).abs();
    assert!(d < 1e-9, "{v} vs {direct}");
    // A statistics file without a count (as pytorch-fid writes them: mu and sigma only).
    let st = gantry_metrics::npy::read_stats(&b).unwrap();
    gantry_metrics::npy::write_stats(&plain, &st.mu, &st.sigma, None).unwrap();
    let mut cmd = gantry();
    bare(&mut cmd);
    let out = ok(cmd
        .args(["eval", "fid", "--real"])
        .arg(&a)
        .arg("--fake")
        .arg(&plain)
        .args(["--features", "mnist"])
        .arg("--json"));
    let w: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(w["fake_count"].is_null() && w["features"] == "mnist", "{w}");
    assert_eq!(w["fid"], v["fid"]);
    // Images still need their network, and say so.
    let mut cmd = gantry();
    bare(&mut cmd);
    let e = fails(cmd.args(["eval", "fid", "--real"]).arg(&a).args(["--fake", "mnist-5k"]));
    assert!(e.contains("fid-inception") && e.contains("not found"), "{e}");
}

#[test]
fn eval_refuses_what_it_cannot_compute() {
    let tmp = tempfile::tempdir().unwrap();
    let stats = tmp.path().join("s.npz");
    ok(gantry()
        .args(["eval", "fid", "--real", "mnist-5k", "--features", "mnist", "--n", "50", "--save-stats"])
        .arg(&stats));
    let e = fails(gantry().args(["eval", "kid", "--real"]).arg(&stats).args([
        "--fake",
        "mnist-5k",
        "--features",
        "mnist",
        "--n",
        "50",
    ]));
    assert!(e.contains("needs feature vectors"), "{e}");
    let e = fails(gantry().args(["eval", "fidd", "--real", "mnist-5k", "--fake", "mnist-5k"]));
    assert!(e.contains("fid, kid, is, prdc, accuracy, intra-fid, psnr or ssim"), "{e}");
    let e = fails(gantry().args(["eval", "fid", "--real", "mnist-5k", "--features", "vgg"]));
    assert!(e.contains("inception, mnist or fashion-mnist"), "{e}");
    let e = fails(gantry().args(["eval", "fid", "--real", "mnist-5k", "--features", "mnist"]));
    assert!(e.contains("--fake is required"), "{e}");
    let e = fails(gantry().args([
        "eval",
        "fid",
        "--real",
        "mnist-5k@val",
        "--fake",
        "mnist-5k",
        "--features",
        "mnist",
    ]));
    assert!(e.contains("unknown split 'val'"), "{e}");
    let e = fails(gantry().args(["eval", "is", "--fake", "mnist-5k", "--n", "20"]));
    assert!(e.contains("needs class logits") || e.contains("not found"), "{e}");
    let e = fails(
        gantry().args(["eval", "fid", "--real", "mnist-5k", "--fake", "mnist-5k", "--resize", "bicubic"]),
    );
    assert!(e.contains("unknown resize 'bicubic'") && e.contains("clean"), "{e}");
    let e = fails(gantry().args([
        "eval",
        "fid",
        "--real",
        "mnist-5k",
        "--fake",
        "mnist-5k",
        "--features",
        "mnist",
        "--resize",
        "clean",
        "--n",
        "20",
    ]));
    assert!(e.contains("--resize clean") && e.contains("28x28"), "{e}");
}

/// Tests named `mirror::…`: `cargo xtask test` skips them by that name when the mirror is absent.
mod mirror {
    use super::*;

    #[test]
    #[ignore = "needs the local data mirror ($GANTRY_SHARED); cargo xtask test runs it when the mirror is there"]
    fn inception_fid_separates_cifar_from_mnist() {
        for what in
            ["weights/fid-inception-2015-12-05.torchscript.pt", "datasets/cifar10-jpg", "datasets/mnist"]
        {
            need_shared(what);
        }
        // 100 images a side keep this under a minute on 2 CPU cores; the 5k-vs-5k figures are in the README.
        let same = eval_json(&[
            "fid",
            "--real",
            "cifar10-jpg@test",
            "--fake",
            "cifar10-jpg@train",
            "--n",
            "100",
            "--device",
            "cpu",
        ]);
        let other = eval_json(&[
            "fid",
            "--real",
            "cifar10-jpg@test",
            "--fake",
            "mnist@test",
            "--n",
            "100",
            "--device",
            "cpu",
        ]);
        let (a, b) = (same["fid"].as_f64().unwrap(), other["fid"].as_f64().unwrap());
        assert!(a > 0.0 && b > 1.5 * a, "FID(CIFAR, CIFAR) = {a}, FID(CIFAR, MNIST) = {b}");
    }
}

#[test]
fn fid_during_training_is_logged_and_changes_nothing_else() {
    let a = run_a();
    let tmp = tempfile::tempdir().unwrap();
    let e = tmp.path().join("e");
    train_tiny(&e, 8, &["--set", "eval.every=4", "--set", "eval.n=64"]);
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(e.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let fids: Vec<(u64, f64)> =
        lines.iter().filter_map(|v| Some((v["step"].as_u64()?, v["fid_mnist"].as_f64()?))).collect();
    assert_eq!(fids.iter().map(|f| f.0).collect::<Vec<_>>(), vec![4, 8]);
    assert!(fids.iter().all(|f| f.1.is_finite() && f.1 > 0.0), "{fids:?}");
    let ca = Checkpoint::load(&a.join("checkpoints/step-0000008.safetensors")).unwrap();
    let ce = Checkpoint::load(&e.join("checkpoints/step-0000008.safetensors")).unwrap();
    for (name, t) in ca.tensors.iter().filter(|(n, _)| !n.starts_with("meta.")) {
        assert!(t.equal(&ce.tensors[name]), "{name} differs when evaluating during training");
    }
    // Its protocol beside it, as `gantry eval` records one, and in the report.
    let p: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(e.join("eval-protocol.json")).unwrap()).unwrap();
    assert_eq!(p["metric"], "fid_mnist");
    assert_eq!((p["features"].as_str(), p["resize"].as_str()), (Some("mnist"), Some("classifier-28")));
    assert_eq!((p["fake"]["n"].as_u64(), p["real"]["split"].as_str()), (Some(64), Some("train")));
    assert!(p["real"]["n"].as_u64().unwrap() >= 64, "{p}");
    assert!(p["warning"].as_str().unwrap().contains("64 samples"), "{p}");
    let report = std::fs::read_to_string(e.join("report.html")).unwrap();
    assert!(
        report.contains("fid_mnist: mnist features, resize classifier-28"),
        "no protocol line in the report"
    );
    let refused = |resize: &str| {
        let out = tmp.path().join(format!("r-{resize}"));
        let set = format!("eval.resize={resize}");
        fails(
            gantry()
                .args(["train", "--preset", "dcgan-mnist", "--set", "eval.every=4", "--set", &set, "--out"])
                .arg(out),
        )
    };
    let e3 = refused("clean");
    assert!(e3.contains("eval.resize") && e3.contains("28x28"), "{e3}");
    let e4 = refused("bicubic");
    assert!(e4.contains("eval.resize") && e4.contains("legacy-tensorflow, clean, legacy-pytorch"), "{e4}");
    let e2 = fails(
        gantry()
            .args(["train", "--preset", "toy-ring", "--set", "eval.every=10", "--out"])
            .arg(tmp.path().join("t")),
    );
    assert!(e2.contains("eval.every") && e2.contains("image model"), "{e2}");
}

/// A tiny StyleGAN2 whose lazy terms (R1, path length) and style mixing all fire within 4 steps.
fn train_style(out: &Path, steps: u64) -> Output {
    ok(gantry()
        .args(["train", "--preset", "stylegan2-mnist", "--steps", &steps.to_string(), "--out"])
        .arg(out)
        .args(["--set", "model.channel_base=64", "--set", "model.channel_max=8", "--set", "model.z_dim=8"])
        .args([
            "--set",
            "model.w_dim=8",
            "--set",
            "batch_size=8",
            "--set",
            "reg.every=2",
            "--set",
            "reg.pl_every=2",
        ])
        .args(QUICK))
}

#[test]
fn stylegan2_resumes_exactly_and_truncates_in_w() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    train_style(&a, 4);
    train_style(&b, 2);
    ok(gantry().args(["train", "--resume"]).arg(&b).args(["--steps", "4", "--device", "cpu"]));
    let ca = Checkpoint::load(&a.join("checkpoints/step-0000004.safetensors")).unwrap();
    let cb = Checkpoint::load(&b.join("checkpoints/step-0000004.safetensors")).unwrap();
    assert_eq!(ca.tensors.len(), cb.tensors.len());
    for (name, ta) in &ca.tensors {
        assert!(ta.equal(&cb.tensors[name]), "tensor {name} differs after resume");
    }
    // The trackers moved and are saved: w̄ (G and its EMA copy) and the path length mean.
    for key in ["g.mapping.w_avg", "g_ema.mapping.w_avg", "aux.pl_mean"] {
        let t = ca.tensors.get(key).unwrap_or_else(|| panic!("{key} not in the checkpoint"));
        assert!(t.abs().sum(tch::Kind::Float).double_value(&[]) > 0.0, "{key} never updated");
    }
    let log = std::fs::read_to_string(a.join("metrics.jsonl")).unwrap();
    assert!(log.contains("\"g_pl\""), "the path length term is logged: {log}");

    // ψ = 0 maps every latent to w̄: one image; ψ = 1 keeps them apart.
    let style = model(&a.join("checkpoints/step-0000004.safetensors"));
    let g = style.w_truncation().unwrap();
    let z = gantry_train::generate::latents(2, 8, 0, "t");
    let x0 = g.generate_psi(&z, 0.0, None).unwrap();
    assert!(x0.get(0).allclose(&x0.get(1), 1e-6, 1e-6, false), "ψ = 0 draws w̄ for every z");
    let x1 = g.generate_psi(&z, 1.0, None).unwrap();
    assert!(!x1.get(0).allclose(&x1.get(1), 1e-4, 1e-4, false));
    // A cutoff leaves the fine layers' ws untruncated: ψ = 0 with cutoff 2 still varies.
    let xc = g.generate_psi(&z, 0.0, Some(2)).unwrap();
    assert!(!xc.get(0).allclose(&xc.get(1), 1e-6, 1e-6, false));
    assert!(style.sampler().unwrap().generate(&z).equal(&x1), "generate is ψ = 1 with the stored noise");
    let out = tmp.path().join("psi.png");
    ok(gantry()
        .args(["sample", "--n", "4", "--psi", "0.5", "--cutoff", "2", "--device", "cpu", "--ckpt"])
        .arg(&a)
        .arg("--out")
        .arg(&out));
    assert!(out.exists());
    // Style mixing and noise grids: (rows + 1) × (cols + 1) and rows × (cols + 2) tiles.
    let (mix, noise) = (tmp.path().join("mix.png"), tmp.path().join("noise.png"));
    ok(gantry()
        .args(["style-mix", "--rows", "2", "--cols", "3", "--styles", "middle", "--device", "cpu", "--ckpt"])
        .arg(&a)
        .arg("--out")
        .arg(&mix));
    let img = image::open(&mix).unwrap();
    assert_eq!((img.width(), img.height()), (4 * 34 + 2, 3 * 34 + 2));
    ok(gantry()
        .args(["noise", "--rows", "2", "--cols", "3", "--device", "cpu", "--ckpt"])
        .arg(&a)
        .arg("--out")
        .arg(&noise));
    let img = image::open(&noise).unwrap();
    assert_eq!((img.width(), img.height()), (5 * 34 + 2, 2 * 34 + 2));
    let err = fails(
        gantry()
            .args(["style-mix", "--styles", "3-99", "--device", "cpu", "--ckpt"])
            .arg(&a)
            .arg("--out")
            .arg(&mix),
    );
    assert!(err.contains("--styles") && err.contains("0-7"), "{err}");
    let err =
        fails(gantry().args(["noise", "--device", "cpu", "--ckpt"]).arg(run_a()).arg("--out").arg(&noise));
    assert!(err.contains("StyleGAN2") && err.contains("dcgan"), "{err}");
    // Inversion: a generated image's latent is found (PSNR well above the start at w̄), through
    // the API and the CLI, in W and W⁺.
    let target = g.generate_psi(&gantry_train::generate::latents(1, 8, 5, "t"), 1.0, None).unwrap();
    let ckpt = a.join("checkpoints/step-0000004.safetensors");
    let mut loaded = gantry_train::explore::load(&ckpt, tch::Device::Cpu).unwrap();
    for space in [gantry_stylegan::invert::Space::W, gantry_stylegan::invert::Space::WPlus] {
        let cfg = gantry_stylegan::invert::InvertConfig {
            space,
            steps: 300,
            feature_weight: 0.0,
            ..Default::default()
        };
        let inv = gantry_stylegan::invert::optimise(&mut loaded.g, &target, None, &cfg, None).unwrap();
        assert!(
            inv.psnr > inv.start_psnr + 3.0,
            "{space:?}: PSNR {:.2} from {:.2} at w̄",
            inv.psnr,
            inv.start_psnr
        );
    }
    let png = tmp.path().join("target.png");
    gantry_core::image::save_png(&gantry_core::image::to_u8(&target).get(0), &png).unwrap();
    let pair = tmp.path().join("pair.png");
    let out = ok(gantry()
        .args(["invert", "--steps", "20", "--method", "pti", "--space", "w+", "--device", "cpu", "--ckpt"])
        .arg(&a)
        .arg("--image")
        .arg(&png)
        .arg("--out")
        .arg(&pair));
    assert!(String::from_utf8_lossy(&out.stdout).contains("PSNR"));
    assert_eq!(image::open(&pair).unwrap().width(), 2 * 34 + 2);
    // Editing along a class-mean direction. The means partition the samples: counts add up to n
    // and the count-weighted class means give the overall mean w.
    let cl = gantry_metrics::classifier::Classifier::builtin("mnist", tch::Device::Cpu).unwrap();
    let classify = gantry_train::inversion::classify_with(&cl);
    let (means, counts) = gantry_stylegan::invert::class_means(&loaded.g, &classify, 400, 0).unwrap();
    assert_eq!(counts.iter().sum::<i64>(), 400);
    let z = gantry_train::generate::latents(400, 8, 0, "edit-class-means");
    let w =
        loaded.g.mapping.forward(Some(&z), None, gantry_stylegan::Truncation::default(), false).select(1, 0);
    let weights = tch::Tensor::from_slice(&counts).to_kind(tch::Kind::Float).unsqueeze(1);
    let pooled = (means * weights).sum_dim_intlist([0i64].as_slice(), false, tch::Kind::Float) / 400.0;
    let d = (pooled - w.mean_dim([0i64].as_slice(), false, tch::Kind::Float)).abs().max().double_value(&[]);
    assert!(d < 1e-5, "class means do not pool to the mean w: {d}");
    // Through the CLI, between the two classes G draws most often (the command counts 5,000
    // samples; 400 find the same leaders here or the assertion names them).
    let mut order: Vec<usize> = (0..10).collect();
    order.sort_by_key(|&k| std::cmp::Reverse(counts[k]));
    let (from, to) = (order[0], order[1]);
    let out = ok(gantry()
        .args(["invert", "--steps", "20", "--device", "cpu", "--edit", &format!("{from}:{to}")])
        .args(["--edit-strengths", "0,1,2", "--ckpt"])
        .arg(&a)
        .arg("--image")
        .arg(&png)
        .arg("--out")
        .arg(&pair));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!("edit {from} → {to}: the classifier reads α 0: ")),
        "{stdout} ({counts:?})"
    );
    let row = image::open(tmp.path().join("pair-edit.png")).unwrap().to_luma8();
    assert_eq!(row.width(), 3 * 34 + 2);
    // The α = 0 tile is the reconstruction (the pair's second tile).
    let both = image::open(&pair).unwrap().to_luma8();
    for y in 2..34 {
        for x in 2..34 {
            let (e, r) = (row.get_pixel(x, y)[0], both.get_pixel(34 + x, y)[0]);
            assert!(e.abs_diff(r) <= 1, "α = 0 differs from the reconstruction at ({x}, {y}): {e} vs {r}");
        }
    }
    let err = fails(
        gantry()
            .args(["invert", "--edit", "3:3", "--device", "cpu", "--ckpt"])
            .arg(&a)
            .arg("--image")
            .arg(&png)
            .arg("--out")
            .arg(&pair),
    );
    assert!(err.contains("--edit") && err.contains("3:3"), "{err}");
    let err = fails(
        gantry()
            .args(["invert", "--method", "x", "--device", "cpu", "--ckpt"])
            .arg(&a)
            .arg("--image")
            .arg(&png)
            .arg("--out")
            .arg(&pair),
    );
    assert!(err.contains("--method"), "{err}");
    let err = fails(
        gantry()
            .args(["sample", "--cutoff", "2", "--device", "cpu", "--ckpt"])
            .arg(run_a())
            .arg("--out")
            .arg(tmp.path().join("x.png")),
    );
    assert!(err.contains("--cutoff") && err.contains("dcgan"), "{err}");
    let err = fails(
        gantry()
            .args(["train", "--preset", "dcgan-mnist", "--set", "reg.style_mixing=0.5", "--out"])
            .arg(tmp.path().join("bad")),
    );
    assert!(err.contains("reg.style_mixing") && err.contains("stylegan2"), "{err}");
    assert!(!tmp.path().join("bad").exists());
}

fn train_progan(out: &Path, steps: u64) -> Output {
    ok(gantry()
        .args(["train", "--preset", "progan-mnist", "--steps", &steps.to_string(), "--out"])
        .arg(out)
        .args(["--set", "model.fmap_base=32", "--set", "model.fmap_max=8", "--set", "model.z_dim=8"])
        // 16 images (2 steps of 8) per phase: 4×4 until step 2, 8×8 fades in over steps 2–3, ...
        .args(["--set", "model.fade_kimg=0.016", "--set", "model.stable_kimg=0.016", "--set", "batch_size=8"])
        .args(QUICK)
        .args(["--set", "log.keep_checkpoints=10", "--set", "log.every=1"]))
}

#[test]
fn progan_grows_on_schedule_and_resumes_exactly() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    train_progan(&a, 14);
    // Interrupted as 16×16 starts fading in (step 7 of 14), then resumed.
    train_progan(&b, 7);
    ok(gantry().args(["train", "--resume"]).arg(&b).args(["--steps", "14", "--device", "cpu"]));
    let ck = |dir: &Path, step: u64| {
        Checkpoint::load(&dir.join(format!("checkpoints/step-{step:07}.safetensors"))).unwrap()
    };
    let (ca, cb) = (ck(&a, 14), ck(&b, 14));
    assert_eq!(ca.tensors.len(), cb.tensors.len());
    for (name, ta) in &ca.tensors {
        assert!(ta.equal(&cb.tensors[name]), "tensor {name} differs after resume");
    }
    // The logged resolution and α follow the schedule: 4×4 for steps 1–2, 8×8 fading in at
    // step 3 (16 images seen: α = 0) and 4 (24: α = 0.5), ..., 32×32 stable from step 13 (96).
    let log = std::fs::read_to_string(a.join("metrics.jsonl")).unwrap();
    let rows: Vec<serde_json::Value> = log.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let at = |step: u64| -> (f64, f64) {
        let r = rows
            .iter()
            .find(|r| r["step"].as_u64() == Some(step))
            .unwrap_or_else(|| panic!("no row for step {step}"));
        (r["resolution"].as_f64().unwrap(), r["alpha"].as_f64().unwrap())
    };
    assert_eq!(at(1), (4.0, 1.0));
    assert_eq!(at(3), (8.0, 0.0));
    assert_eq!(at(4), (8.0, 0.5));
    assert_eq!(at(7), (16.0, 0.0));
    assert_eq!(at(12), (32.0, 0.5));
    assert_eq!(at(13), (32.0, 1.0));
    // A checkpoint taken at 4×4 draws 32×32 samples made of constant 8×8 blocks; the final one
    // draws full-resolution detail.
    let g4 = model(&a.join("checkpoints/step-0000002.safetensors"));
    let z = gantry_train::generate::latents(3, 8, 0, "t");
    let x = g4.sampler().unwrap().generate(&z);
    assert_eq!(x.size(), vec![3, 1, 32, 32]);
    let blocks = x.reshape([3, 1, 4, 8, 4, 8]);
    let spread = (&blocks - blocks.amax([3i64, 5].as_slice(), true)).abs().max().double_value(&[]);
    assert_eq!(spread, 0.0, "a 4×4 generator's samples are 8×8 blocks");
    let g32 = model(&a.join("checkpoints/step-0000014.safetensors"));
    let x = g32.sampler().unwrap().generate(&z).reshape([3, 1, 16, 2, 16, 2]);
    assert!((&x - x.amax([3i64, 5].as_slice(), true)).abs().max().double_value(&[]) > 1e-4);
    let out = tmp.path().join("s.png");
    ok(gantry().args(["sample", "--n", "4", "--device", "cpu", "--ckpt"]).arg(&a).arg("--out").arg(&out));
    assert_eq!(image::open(&out).unwrap().width(), 2 * 34 + 2);
    let err = fails(
        gantry()
            .args(["train", "--preset", "progan-mnist", "--set", "model.resolution=48", "--out"])
            .arg(tmp.path().join("bad")),
    );
    assert!(err.contains("model.resolution") && err.contains("48"), "{err}");
}

/// A folder as a new user has one (two class folders; PNG, JPEG, WebP, BMP, TIFF; 16-bit, RGBA,
/// grey; a corrupt file, a duplicate in another format, a README) through `gantry dataset
/// prepare`, then trained on by an unconditional and a conditional family.
#[test]
fn a_prepared_messy_folder_trains() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("photos");
    for class in ["cats", "dogs"] {
        std::fs::create_dir_all(src.join(class)).unwrap();
    }
    let rgb = |w: u32, h: u32, k: u32| {
        image::DynamicImage::ImageRgb8(image::RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([(x * k) as u8, (y * 3 + k) as u8, ((x ^ y) * 5) as u8])
        }))
    };
    for (i, ext) in ["png", "jpg", "webp", "bmp", "tiff"].iter().enumerate() {
        rgb(40 + 9 * i as u32, 36, i as u32 + 2).save(src.join(format!("cats/{i}.{ext}"))).unwrap();
    }
    let deep = image::ImageBuffer::<image::Rgb<u16>, _>::from_fn(48, 48, |x, y| {
        image::Rgb([(x * 1300) as u16, (y * 1300) as u16, 40000])
    });
    image::DynamicImage::ImageRgb16(deep).save(src.join("dogs/deep.png")).unwrap();
    let rgba = image::RgbaImage::from_fn(33, 33, |x, y| image::Rgba([0, 90, 200, ((x + y) * 4) as u8]));
    rgba.save(src.join("dogs/cutout.png")).unwrap();
    image::GrayImage::from_fn(32, 32, |x, y| image::Luma([(x * y) as u8]))
        .save(src.join("dogs/grey.png"))
        .unwrap();
    rgb(40, 36, 2).save(src.join("dogs/same-as-cat-0.bmp")).unwrap();
    std::fs::write(src.join("dogs/corrupt.jpg"), b"\xFF\xD8\xFF\xE0 cut short").unwrap();
    std::fs::write(src.join("README.md"), "my pets").unwrap();

    let out = tmp.path().join("pets");
    let prepared = ok(gantry().args(["dataset", "prepare"]).arg(&src).arg(&out).args(["--size", "32"]));
    let stdout = String::from_utf8(prepared.stdout).unwrap();
    let skips: Vec<&str> = stdout.lines().filter(|l| l.starts_with("skipped ")).collect();
    assert_eq!(skips.len(), 3, "{stdout}");
    assert!(
        stdout.contains("same-as-cat-0.bmp: duplicate of ") && stdout.contains("corrupt.jpg: undecodable"),
        "{stdout}"
    );
    assert!(stdout.contains("wrote ") && stdout.contains(": 8 images 3x32x32"), "{stdout}");
    assert!(stdout.contains("2 classes (cats 5, dogs 3; labels from class folders)"), "{stdout}");

    for (preset, sets) in [("dcgan-cifar10", TINY), ("cgan-mnist", &["--set", "threads=2"][..])] {
        let run = tmp.path().join(format!("run-{preset}"));
        let trained = ok(gantry()
            .args(["train", "--preset", preset, "--steps", "2", "--out"])
            .arg(&run)
            .arg("--set")
            .arg(format!("data={}", out.display()))
            .args(sets)
            .args(["--set", "batch_size=4"]));
        let stderr = String::from_utf8(trained.stderr).unwrap();
        assert!(stderr.contains(": 8 images ") && !stderr.contains("skipped"), "{preset}: {stderr}");
        assert!(!run.join("skipped-files.txt").exists());
    }

    // Nothing usable: one line, no output.
    let bad = tmp.path().join("bad");
    std::fs::create_dir(&bad).unwrap();
    std::fs::write(bad.join("x.png"), b"not a png").unwrap();
    let none = tmp.path().join("none");
    let e = fails(gantry().args(["dataset", "prepare"]).arg(&bad).arg(&none).args(["--size", "32"]));
    assert!(e.contains("no usable image") && e.contains("x.png"), "{e}");
    assert!(!none.exists());
}
