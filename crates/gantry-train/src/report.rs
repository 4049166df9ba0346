//! `report.html`: a run as one self-contained page (no network: charts are inline SVG, sample
//! grids inline PNG) — the config, a chart per logged number, the sample grids over time, the
//! checkpoints and the commands to go on. The loop rewrites it at every checkpoint; `gantry report
//! RUN` writes it on demand, and `gantry compare RUN RUN… --out FILE` overlays several runs' curves
//! beside the settings that differ between them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::{bail, Context, Result};
use base64::Engine;
use serde::Serialize;

use crate::chart::{render_svg, Panel, Series, COLORS};
use crate::config::RunConfig;
use crate::run_dir::{KeepBest, RunDir};

/// Sample grids a report shows at most (evenly spaced over the run, the latest always).
pub const MAX_GRIDS: usize = 12;
/// Keys of `metrics.jsonl` not drawn (bookkeeping, not measurements).
const NOT_CHARTED: [&str; 3] = ["step", "kimg", "elapsed_sec"];
const CHART_SIZE: (u32, u32) = (410, 270);

#[derive(Serialize)]
struct Chart {
    key: String,
    svg: String,
}

#[derive(Serialize)]
struct Image {
    caption: String,
    data: String,
}

#[derive(Serialize)]
struct CheckpointRow {
    step: u64,
    path: String,
    size: String,
    note: String,
}

#[derive(Serialize)]
struct Difference {
    key: String,
    values: Vec<String>,
}

/// What a run folder holds, read once.
struct RunData {
    dir: RunDir,
    name: String,
    config_text: Option<String>,
    config: Option<RunConfig>,
    /// Each charted key's (step, value) points, keys in order of first appearance.
    series: Vec<(String, Vec<(f64, f64)>)>,
    samples: Vec<(u64, PathBuf)>,
    /// How its FID during training is measured (`eval-protocol.json`), as one line.
    protocol: Option<String>,
}

/// `eval-protocol.json` of a run as one line of the report.
fn protocol_line(p: &serde_json::Value) -> Option<String> {
    let s = |v: &serde_json::Value| v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string());
    let mut line = format!(
        "{}: {} features, resize {}, {} real images of {} ({} split; {}) against {}",
        s(&p["metric"]),
        s(&p["features"]),
        s(&p["resize"]),
        p["real"]["n"].as_u64()?,
        s(&p["real"]["data"]),
        s(&p["real"]["split"]),
        s(&p["real"]["subset"]),
        s(&p["fake"]["from"]),
    );
    if let Some(hash) = p["features_sha256"].as_str() {
        line += &format!("; network sha256 {}", &hash[..hash.len().min(16)]);
    }
    if let Some(w) = p["warning"].as_str() {
        line += &format!(". {w}");
    }
    Some(line)
}

impl RunData {
    fn read(dir: &Path) -> Result<Self> {
        if !dir.is_dir() {
            bail!("{}: no such run folder", dir.display());
        }
        let run = RunDir::new(dir);
        let config_text = std::fs::read_to_string(run.config()).ok();
        if config_text.is_none() && !run.metrics().is_file() {
            bail!("{}: not a run folder (no config.toml, no metrics.jsonl)", dir.display());
        }
        let config = config_text.as_deref().and_then(|t| RunConfig::from_toml(t, "config.toml").ok());
        let mut series: Vec<(String, Vec<(f64, f64)>)> = Vec::new();
        if let Ok(text) = std::fs::read_to_string(run.metrics()) {
            for v in text.lines().filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok()) {
                let (Some(step), Some(obj)) = (v["step"].as_u64(), v.as_object()) else { continue };
                for (k, x) in obj.iter().filter(|(k, _)| !NOT_CHARTED.contains(&k.as_str())) {
                    let Some(x) = x.as_f64() else { continue };
                    match series.iter_mut().find(|(n, _)| n == k) {
                        Some((_, pts)) => pts.push((step as f64, x)),
                        None => series.push((k.clone(), vec![(step as f64, x)])),
                    }
                }
            }
        }
        let mut samples = Vec::new();
        if let Ok(rd) = std::fs::read_dir(run.root.join("samples")) {
            for e in rd.flatten() {
                let p = e.path();
                let step = p
                    .file_name()
                    .and_then(|n| n.to_str())
                    .and_then(|n| n.strip_prefix("step-")?.strip_suffix(".png")?.parse::<u64>().ok());
                if let Some(step) = step {
                    samples.push((step, p));
                }
            }
        }
        samples.sort();
        let name =
            dir.file_name().map_or_else(|| dir.display().to_string(), |n| n.to_string_lossy().into_owned());
        let protocol = std::fs::read_to_string(run.root.join(crate::eval::PROTOCOL_FILE))
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .and_then(|p| protocol_line(&p));
        Ok(Self { dir: run, name, config_text, config, series, samples, protocol })
    }

    fn subtitle(&self) -> String {
        let last = self.series.iter().filter_map(|(_, p)| p.last().map(|q| q.0 as u64)).max().unwrap_or(0);
        match &self.config {
            Some(c) => format!(
                "{} ({}) on {} · step {last} of {} · seed {} · batch {}",
                c.preset,
                c.family.arch(),
                c.data,
                c.steps,
                c.seed,
                c.batch_size
            ),
            None => format!("step {last}"),
        }
    }
}

/// Up to `max` of `items`, evenly spaced, the last always included.
fn spaced<T: Clone>(items: &[T], max: usize) -> Vec<T> {
    if items.len() <= max {
        return items.to_vec();
    }
    (0..max).map(|i| items[i * (items.len() - 1) / (max - 1)].clone()).collect()
}

fn png_data(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(base64::engine::general_purpose::STANDARD.encode(bytes))
}

fn render(ctx: minijinja::Value) -> Result<String> {
    let mut env = minijinja::Environment::new();
    // The `.html` name turns on HTML escaping of every value not marked safe.
    env.add_template("report.html", include_str!("templates/report.html"))?;
    Ok(env.get_template("report.html")?.render(ctx)?)
}

fn written() -> String {
    chrono::Local::now().format("%Y-%m-%d %H:%M:%S").to_string()
}

/// Writes `report.html` for the run in `dir` (to `out`, default `<dir>/report.html`), atomically.
pub fn write(dir: &Path, out: Option<&Path>) -> Result<PathBuf> {
    let run = RunData::read(dir)?;
    let charts = run
        .series
        .iter()
        .map(|(key, pts)| {
            let panel = Panel {
                title: key.clone(),
                x_label: "step".into(),
                series: vec![Series::line("", pts.clone(), COLORS[0])],
                ..Default::default()
            };
            Ok(Chart { key: key.clone(), svg: render_svg(&panel, CHART_SIZE)? })
        })
        .collect::<Result<Vec<_>>>()?;
    let images = spaced(&run.samples, MAX_GRIDS)
        .iter()
        .map(|(step, p)| Ok(Image { caption: format!("step {step}"), data: png_data(p)? }))
        .collect::<Result<Vec<_>>>()?;
    let best = run.config.as_ref().filter(|c| !c.log.keep_best.is_empty()).and_then(|c| {
        let kb = KeepBest::parse(&c.log.keep_best).ok()?;
        let values = run.dir.metric_values(&kb.metric).ok()?;
        let steps = run.dir.checkpoints().ok()?.into_iter().map(|c| c.0);
        kb.best_of(&values, steps).map(|(s, v)| (s, format!("best {} {v:.4}", kb.metric)))
    });
    let checkpoints: Vec<CheckpointRow> = run
        .dir
        .checkpoints()?
        .into_iter()
        .map(|(step, p)| CheckpointRow {
            step,
            size: format!("{:.1} MB", std::fs::metadata(&p).map_or(0, |m| m.len()) as f64 / 1e6),
            path: p.strip_prefix(&run.dir.root).unwrap_or(&p).display().to_string(),
            note: best.as_ref().filter(|b| b.0 == step).map(|b| b.1.clone()).unwrap_or_default(),
        })
        .collect();
    let root = run.dir.root.display().to_string();
    let mut commands = Vec::new();
    if let Some(last) = checkpoints.last() {
        commands.push(format!("gantry train --resume {root} --steps {}", (last.step * 2).max(1)));
        commands.push(format!("gantry report {root}"));
    }
    commands.push(format!("tensorboard --logdir {root}"));
    let html = render(minijinja::context! {
        title => format!("gantry run {}", run.name),
        subtitle => run.subtitle(),
        written => written(),
        commands => commands,
        charts => charts,
        protocol => run.protocol,
        images_heading => "Sample grids",
        images => images,
        checkpoints => checkpoints,
        config => run.config_text,
    })?;
    let out = out.map_or_else(|| run.dir.root.join("report.html"), Path::to_path_buf);
    gantry_core::fs::write_atomic(&out, html.as_bytes())?;
    Ok(out)
}

/// Dotted keys of a TOML table with their values as text.
fn flatten(prefix: &str, t: &toml::Table, out: &mut BTreeMap<String, String>) {
    for (k, v) in t {
        let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
        match v {
            toml::Value::Table(sub) => flatten(&key, sub, out),
            other => {
                out.insert(key, other.to_string());
            }
        }
    }
}

/// Writes one page overlaying the curves of `dirs` (a line per run), their latest sample grids,
/// and the config keys whose values differ, atomically.
pub fn compare(dirs: &[PathBuf], out: &Path) -> Result<()> {
    if dirs.len() < 2 {
        bail!("compare needs at least two run folders, found {}", dirs.len());
    }
    let runs = dirs.iter().map(|d| RunData::read(d)).collect::<Result<Vec<_>>>()?;
    let mut keys: Vec<String> = Vec::new();
    for r in &runs {
        for (k, _) in &r.series {
            if !keys.contains(k) {
                keys.push(k.clone());
            }
        }
    }
    let charts = keys
        .iter()
        .map(|key| {
            let series = runs
                .iter()
                .enumerate()
                .filter_map(|(i, r)| {
                    let pts = &r.series.iter().find(|(k, _)| k == key)?.1;
                    Some(Series::line(r.name.clone(), pts.clone(), COLORS[i % COLORS.len()]))
                })
                .collect();
            let panel = Panel { title: key.clone(), x_label: "step".into(), series, ..Default::default() };
            Ok(Chart { key: key.clone(), svg: render_svg(&panel, CHART_SIZE)? })
        })
        .collect::<Result<Vec<_>>>()?;
    let images = runs
        .iter()
        .filter_map(|r| r.samples.last().map(|(s, p)| (r, *s, p)))
        .map(|(r, step, p)| Ok(Image { caption: format!("{} · step {step}", r.name), data: png_data(p)? }))
        .collect::<Result<Vec<_>>>()?;
    let flat: Vec<BTreeMap<String, String>> = runs
        .iter()
        .map(|r| {
            let mut m = BTreeMap::new();
            if let Some(t) = r.config_text.as_deref().and_then(|t| t.parse::<toml::Table>().ok()) {
                flatten("", &t, &mut m);
            }
            m
        })
        .collect();
    let all: std::collections::BTreeSet<&String> = flat.iter().flat_map(|m| m.keys()).collect();
    let differences: Vec<Difference> = all
        .into_iter()
        .filter_map(|k| {
            let values: Vec<String> =
                flat.iter().map(|m| m.get(k).cloned().unwrap_or_else(|| "—".into())).collect();
            values.iter().any(|v| *v != values[0]).then(|| Difference { key: k.clone(), values })
        })
        .collect();
    let names: Vec<String> = runs.iter().map(|r| r.name.clone()).collect();
    let html = render(minijinja::context! {
        title => format!("gantry: {}", names.join(" vs ")),
        subtitle => runs.iter().map(|r| format!("{}: {}", r.name, r.subtitle())).collect::<Vec<_>>().join(" · "),
        written => written(),
        runs => names,
        differences => differences,
        charts => charts,
        images_heading => "Latest sample grids",
        images => images,
    })?;
    gantry_core::fs::write_atomic(out, html.as_bytes())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_run(dir: &Path, steps: u64, lr: &str) {
        let run = RunDir::new(dir);
        std::fs::create_dir_all(dir.join("samples")).unwrap();
        std::fs::create_dir_all(dir.join("checkpoints")).unwrap();
        std::fs::write(run.config(), format!("preset = \"x\"\n[train]\nlr = {lr}\nname = \"<b>\"\n"))
            .unwrap();
        for s in (10..=steps).step_by(10) {
            run.append_metrics(
                &serde_json::json!({ "step": s, "kimg": 0.1, "d_loss": 1.0 / s as f64, "g_loss": s as f64 }),
            )
            .unwrap();
            let img = tch::Tensor::full([3, 4, 4], (s % 255) as i64, (tch::Kind::Uint8, tch::Device::Cpu));
            gantry_core::image::save_png(&img, &run.sample(s)).unwrap();
        }
        std::fs::write(run.checkpoint(steps), b"x").unwrap();
    }

    #[test]
    fn a_report_holds_every_curve_spaced_grids_and_the_commands() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("run");
        fake_run(&dir, 200, "0.001");
        let out = write(&dir, None).unwrap();
        // (minijinja's HTML escaping writes '/' as "&#x2f;")
        let html = std::fs::read_to_string(&out).unwrap().replace("&#x2f;", "/");
        assert_eq!(out, dir.join("report.html"));
        // Two charts (d_loss, g_loss; not kimg), 12 of the 20 grids, the last one among them.
        assert_eq!(html.matches("<svg").count(), 2);
        assert!(html.contains("title=\"d_loss\"") && !html.contains("title=\"kimg\""));
        assert_eq!(html.matches("data:image/png;base64,").count(), MAX_GRIDS);
        assert!(html.contains("step 200</figcaption>") && html.contains("step 10</figcaption>"));
        assert!(html.contains(&format!("gantry train --resume {} --steps 400", dir.display())));
        // Values are escaped; nothing is fetched from the network.
        assert!(html.contains("&lt;b&gt;") && !html.contains("\"<b>\""));
        for fetch in ["src=\"http", "href=\"http", "url(http", "@import"] {
            assert!(!html.contains(fetch), "{fetch}");
        }
        assert_eq!(spaced(&[1, 2, 3, 4, 5], 3), vec![1, 3, 5]);
    }

    #[test]
    fn compare_overlays_runs_and_lists_the_settings_that_differ() {
        let tmp = tempfile::tempdir().unwrap();
        let (a, b) = (tmp.path().join("run-a"), tmp.path().join("run-b"));
        fake_run(&a, 50, "0.001");
        fake_run(&b, 30, "0.002");
        let out = tmp.path().join("cmp.html");
        compare(&[a.clone(), b], &out).unwrap();
        let html = std::fs::read_to_string(&out).unwrap();
        assert_eq!(html.matches("<svg").count(), 2);
        // A line per run in each chart, with a legend naming both.
        assert_eq!(
            (html.matches(">\nrun-a\n</text>").count(), html.matches(">\nrun-b\n</text>").count()),
            (2, 2)
        );
        assert!(html.contains("<code>train.lr</code>") && html.contains("<td>0.002</td>"));
        assert!(!html.contains("<code>preset</code>"), "equal settings are not listed");
        assert_eq!(html.matches("data:image/png;base64,").count(), 2);
        let e = compare(std::slice::from_ref(&a), &out).unwrap_err().to_string();
        assert!(e.contains("at least two"), "{e}");
        let e = compare(&[tmp.path().join("nope"), a.clone()], &out).unwrap_err().to_string();
        assert!(e.contains("nope") && e.contains("no such run folder"), "{e}");
    }
}
