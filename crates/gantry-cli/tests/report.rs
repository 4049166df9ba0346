//! `report.html` and `gantry compare`, opened in headless Chromium (Debian's `chromium`; `cargo
//! xtask test` installs it when missing and it can): the page's own check finds every image
//! decoded and every chart drawn, and the console has no errors.

use std::path::{Path, PathBuf};
use std::process::Command;

mod common;
use common::{gantry, ok};

fn train(out: &Path, lr: &str) {
    let lr = format!("train.g_opt.lr={lr}");
    let log = ["log.every=5", "log.checkpoint_every=10", "log.sample_every=5", lr.as_str()];
    ok(&mut common::tiny_dcgan(out, 30, &log));
}

/// The charts a page should draw: one per charted metrics.jsonl key.
fn charted_keys(run: &Path) -> usize {
    let first = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
    let v: serde_json::Value = serde_json::from_str(first.lines().next().unwrap()).unwrap();
    v.as_object().unwrap().keys().filter(|k| !["step", "kimg", "elapsed_sec"].contains(&k.as_str())).count()
}

#[test]
fn training_writes_a_report_and_compare_overlays_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("lr-2e-4"), tmp.path().join("lr-1e-3"));
    train(&a, "0.0002");
    let html = std::fs::read_to_string(a.join("report.html")).unwrap();
    // Written at the last checkpoint (step 30): six sample grids, a chart per key.
    assert_eq!(html.matches("data:image/png;base64,").count(), 6);
    assert_eq!(html.matches("<div class=\"chart\"").count(), charted_keys(&a));
    assert!(html.contains("step-0000030.safetensors") && html.contains("--resume"));
    train(&b, "0.001");
    let out = tmp.path().join("cmp.html");
    let o = ok(gantry().arg("compare").arg(&a).arg(&b).arg("--out").arg(&out));
    assert!(String::from_utf8_lossy(&o.stdout).contains("cmp.html"));
    let cmp = std::fs::read_to_string(&out).unwrap();
    assert!(cmp.contains("<code>train.g_opt.lr</code>") && cmp.contains("lr-1e-3"), "settings that differ");
    // `gantry report` rewrites it on demand; a folder that is not a run is one line.
    let r = ok(gantry().arg("report").arg(&a).arg("--out").arg(tmp.path().join("again.html")));
    assert!(String::from_utf8_lossy(&r.stdout).contains("again.html"));
    let e = common::fails(gantry().arg("report").arg(tmp.path()));
    assert!(e.contains("not a run folder"), "{e}");
}

/// Tests named `browser::…` need Chromium (`cargo xtask test` installs Debian's when it can).
mod browser {
    use super::*;

    fn chromium() -> PathBuf {
        for c in ["chromium", "chromium-browser", "google-chrome"] {
            if Command::new(c).arg("--version").output().is_ok_and(|o| o.status.success()) {
                return PathBuf::from(c);
            }
        }
        panic!("needs chromium (Debian: apt-get install chromium)");
    }

    /// Loads `page` headless; returns the page's `data-check` and the console lines.
    fn open(page: &Path, screenshot: Option<&Path>) -> (String, Vec<String>) {
        let url = format!("file://{}", page.canonicalize().unwrap().display());
        let profile = tempfile::tempdir().unwrap();
        let mut cmd = Command::new(chromium());
        cmd.args(["--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0"])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .args(["--virtual-time-budget=10000", "--window-size=1300,2200"]);
        match screenshot {
            Some(p) => cmd.arg(format!("--screenshot={}", p.display())),
            None => cmd.arg("--dump-dom"),
        };
        let out = cmd.arg(&url).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let dom = String::from_utf8_lossy(&out.stdout).to_string();
        let check = dom
            .split("data-check=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .unwrap_or("(no data-check: the page's script did not run)")
            .to_string();
        let console = String::from_utf8_lossy(&out.stderr)
            .lines()
            .filter(|l| l.contains("CONSOLE"))
            .map(str::to_string)
            .collect();
        (check, console)
    }

    #[test]
    #[ignore = "needs chromium (cargo xtask test installs it when it can and runs this)"]
    fn reports_render_in_chromium_without_console_errors() {
        let tmp = tempfile::tempdir().unwrap();
        let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
        train(&a, "0.0002");
        train(&b, "0.001");
        let cmp = tmp.path().join("cmp.html");
        ok(gantry().arg("compare").arg(&a).arg(&b).arg("--out").arg(&cmp));
        let keys = charted_keys(&a);
        for (page, images, charts) in [(a.join("report.html"), 6, keys), (cmp.clone(), 2, keys)] {
            let (check, console) = open(&page, None);
            let mut parts = check.split_whitespace();
            assert_eq!(parts.next(), Some("ok"), "{}: {check}; console: {console:?}", page.display());
            assert_eq!(parts.next(), Some(format!("images={images}").as_str()), "{check}");
            let lines: usize = parts.next().and_then(|l| l.strip_prefix("lines=")?.parse().ok()).unwrap();
            assert!(lines >= charts, "{}: {lines} drawn lines for {charts} charts", page.display());
            assert!(console.is_empty(), "{}: console: {console:?}", page.display());
        }
        // Screenshots to look at (GANTRY_SCREENSHOTS=DIR keeps them).
        if let Some(dir) = std::env::var_os("GANTRY_SCREENSHOTS").map(PathBuf::from) {
            std::fs::create_dir_all(&dir).unwrap();
            for (page, name) in [(a.join("report.html"), "report.png"), (cmp, "compare.png")] {
                let shot = dir.join(name);
                open(&page, Some(&shot));
                assert!(std::fs::metadata(&shot).unwrap().len() > 10_000);
            }
        }
    }
}
