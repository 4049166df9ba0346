//! The run folder: `config.toml`, `checkpoints/step-NNNNNNN.safetensors`, `samples/step-NNNNNNN.png`,
//! `metrics.jsonl`. Everything is written atomically or appended line by line.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{bail, Context, Result};

/// A run folder's writer lock ([`RunDir::lock`]), released when dropped.
#[derive(Debug)]
pub struct RunLock {
    _file: std::fs::File,
}

/// Paths inside one run folder.
#[derive(Debug, Clone)]
pub struct RunDir {
    /// The run folder itself.
    pub root: PathBuf,
}

impl RunDir {
    /// The run folder at `root` (nothing is created or read).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// `config.toml`: the run's full configuration.
    pub fn config(&self) -> PathBuf {
        self.root.join("config.toml")
    }

    /// `metrics.jsonl`: the run's losses and metrics, one JSON object per line.
    pub fn metrics(&self) -> PathBuf {
        self.root.join("metrics.jsonl")
    }

    /// `checkpoints/step-NNNNNNN.safetensors`: the checkpoint after `step` steps.
    pub fn checkpoint(&self, step: u64) -> PathBuf {
        self.root.join("checkpoints").join(format!("step-{step:07}.safetensors"))
    }

    /// `samples/step-NNNNNNN.png`: the sample grid after `step` steps.
    pub fn sample(&self, step: u64) -> PathBuf {
        self.root.join("samples").join(format!("step-{step:07}.png"))
    }

    /// Every checkpoint, by step.
    pub fn checkpoints(&self) -> Result<Vec<(u64, PathBuf)>> {
        let dir = self.root.join("checkpoints");
        if !dir.is_dir() {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        for e in std::fs::read_dir(&dir).with_context(|| format!("cannot list {}", dir.display()))? {
            let p = e?.path();
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            if let Some(step) = name.strip_prefix("step-").and_then(|s| s.strip_suffix(".safetensors")) {
                if let Ok(step) = step.parse::<u64>() {
                    out.push((step, p));
                }
            }
        }
        out.sort();
        Ok(out)
    }

    /// The newest checkpoint.
    pub fn latest_checkpoint(&self) -> Result<(u64, PathBuf)> {
        match self.checkpoints()?.pop() {
            Some(c) => Ok(c),
            None => {
                bail!("{}: no checkpoint in {}", self.root.display(), self.root.join("checkpoints").display())
            }
        }
    }

    /// Deletes all but the newest `keep` checkpoints (0 keeps all) and, with `best`, the one
    /// whose step logged the best value of its metric; returns that one's (step, value).
    pub fn prune_checkpoints(&self, keep: usize, best: Option<&KeepBest>) -> Result<Option<(u64, f64)>> {
        let all = self.checkpoints()?;
        let best = match best {
            Some(b) => b.best_of(&self.metric_values(&b.metric)?, all.iter().map(|c| c.0)),
            None => None,
        };
        if keep == 0 {
            return Ok(best);
        }
        for (step, p) in all.iter().take(all.len().saturating_sub(keep)) {
            if best.is_some_and(|b| b.0 == *step) {
                continue;
            }
            std::fs::remove_file(p).with_context(|| format!("cannot remove {}", p.display()))?;
        }
        Ok(best)
    }

    /// Each step's value of `key` in `metrics.jsonl` (the last line of a step wins).
    pub fn metric_values(&self, key: &str) -> Result<BTreeMap<u64, f64>> {
        let path = self.metrics();
        let text = match std::fs::read(&path) {
            Ok(t) => String::from_utf8_lossy(&t).into_owned(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
            Err(e) => {
                return Err(crate::error::Error::from(e).context(format!("cannot read {}", path.display())))
            }
        };
        Ok(text
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter_map(|v| Some((v["step"].as_u64()?, v[key].as_f64()?)))
            .collect())
    }

    /// The file whose lock marks the run's one writer ([`RunDir::lock`]).
    pub fn lock_file(&self) -> PathBuf {
        self.root.join(".gantry.lock")
    }

    /// Takes the run folder's writer lock: an advisory exclusive lock on `.gantry.lock`, held
    /// until the returned [`RunLock`] is dropped or the process ends (the OS releases it on any
    /// death, `kill -9` included). A folder another live process holds is one line naming its
    /// pid, and nothing in the folder is touched. The folder must exist.
    pub fn lock(&self) -> Result<RunLock> {
        let path = self.lock_file();
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = std::io::Read::read_to_string(&mut file, &mut holder);
                let holder = holder.split_whitespace().next().map_or_else(
                    || "a process that has not yet written its pid".to_string(),
                    |pid| format!("pid {pid}"),
                );
                bail!(
                    "run folder {} is being written by another gantry ({holder}); two writers would interleave its metrics and checkpoints: wait for that one to end, or stop it first",
                    self.root.display()
                );
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(e).with_context(|| format!("cannot lock {}", path.display()))
            }
        }
        file.set_len(0).with_context(|| format!("cannot write {}", path.display()))?;
        writeln!(file, "{}", std::process::id())
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(RunLock { _file: file })
    }

    /// Removes the temporary files that writes killed mid-way left in the run folder (see
    /// [`gantry_core::fs::remove_stale_temps`]): each with its size.
    pub fn remove_stale_temps(&self) -> Result<Vec<(PathBuf, u64)>> {
        let mut removed = Vec::new();
        for dir in [self.root.clone(), self.root.join("checkpoints"), self.root.join("samples")] {
            removed.extend(gantry_core::fs::remove_stale_temps(&dir)?);
        }
        Ok(removed)
    }

    /// Appends one JSON line to `metrics.jsonl`.
    pub fn append_metrics(&self, line: &serde_json::Value) -> Result<()> {
        let path = self.metrics();
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        writeln!(f, "{line}").with_context(|| format!("cannot write {}", path.display()))?;
        Ok(())
    }

    /// Keeps only the metric lines with `step <= last` (and drops a torn last line), atomically.
    pub fn truncate_metrics(&self, last: u64) -> Result<()> {
        let path = self.metrics();
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => {
                return Err(crate::error::Error::from(e).context(format!("cannot read {}", path.display())))
            }
        };
        // A line torn inside a multi-byte character is dropped like any other unparsable line.
        let text = String::from_utf8_lossy(&bytes);
        let kept: String = text
            .lines()
            .filter(|l| {
                serde_json::from_str::<serde_json::Value>(l)
                    .ok()
                    .and_then(|v| v["step"].as_u64())
                    .is_some_and(|s| s <= last)
            })
            .map(|l| format!("{l}\n"))
            .collect();
        gantry_core::fs::write_atomic(&path, kept.as_bytes())?;
        Ok(())
    }
}

/// `log.keep_best`: a `metrics.jsonl` key and which way is better.
#[derive(Debug, Clone, PartialEq)]
pub struct KeepBest {
    /// The `metrics.jsonl` key compared, e.g. `fid_inception`.
    pub metric: String,
    /// Whether a larger value is better (`name:max`, or a name such as `psnr`); false: smaller.
    pub higher_is_better: bool,
}

impl KeepBest {
    /// `name`, `name:min` or `name:max`; a bare name must say its direction by itself (FID, KID,
    /// losses: lower; PSNR, SSIM, IS, precision, recall, coverage: higher).
    pub fn parse(spec: &str) -> Result<Self> {
        let (metric, dir) = match spec.rsplit_once(':') {
            Some((m, d)) => (m, Some(d)),
            None => (spec, None),
        };
        if metric.is_empty() {
            bail!("expected a metrics.jsonl key such as fid_inception, found '{spec}'");
        }
        let higher_is_better = match dir {
            Some("max") => true,
            Some("min") => false,
            Some(d) => bail!("'{spec}': expected name:min or name:max, found ':{d}'"),
            None => {
                let lower = ["fid", "kid", "loss", "mmd"];
                let higher = [
                    "psnr",
                    "ssim",
                    "is",
                    "precision",
                    "recall",
                    "density",
                    "coverage",
                    "modes_covered",
                    "high_quality",
                    "accuracy",
                ];
                let first = metric.split('_').next().unwrap_or_default();
                if lower.contains(&first) || metric.contains("loss") {
                    false
                } else if higher.contains(&first) || higher.contains(&metric) {
                    true
                } else {
                    bail!("'{metric}': say which way is better, {metric}:min or {metric}:max")
                }
            }
        };
        Ok(Self { metric: metric.to_string(), higher_is_better })
    }

    /// The best (step, value) among `steps` with a finite value in `values` (ties: the earliest).
    pub fn best_of(
        &self,
        values: &BTreeMap<u64, f64>,
        steps: impl Iterator<Item = u64>,
    ) -> Option<(u64, f64)> {
        steps.filter_map(|s| values.get(&s).filter(|v| v.is_finite()).map(|&v| (s, v))).reduce(|a, b| {
            let better = if self.higher_is_better { b.1 > a.1 } else { b.1 < a.1 };
            if better {
                b
            } else {
                a
            }
        })
    }
}

/// A `--ckpt` argument: a checkpoint file, or a run folder (its newest checkpoint).
pub fn resolve_checkpoint(arg: &Path) -> Result<PathBuf> {
    if arg.is_dir() {
        Ok(RunDir::new(arg).latest_checkpoint()?.1)
    } else if arg.is_file() {
        Ok(arg.to_path_buf())
    } else {
        bail!("{}: no such checkpoint file or run folder", arg.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_prunes_and_truncates() {
        let d = tempfile::tempdir().unwrap();
        let run = RunDir::new(d.path());
        assert!(run.latest_checkpoint().unwrap_err().to_string().contains("no checkpoint"));
        std::fs::create_dir_all(d.path().join("checkpoints")).unwrap();
        for s in [30, 10, 20] {
            std::fs::write(run.checkpoint(s), b"x").unwrap();
        }
        assert_eq!(run.latest_checkpoint().unwrap().0, 30);
        run.prune_checkpoints(2, None).unwrap();
        assert_eq!(run.checkpoints().unwrap().iter().map(|c| c.0).collect::<Vec<_>>(), vec![20, 30]);
        for s in [1, 2, 3] {
            run.append_metrics(&serde_json::json!({ "step": s })).unwrap();
        }
        std::fs::OpenOptions::new()
            .append(true)
            .open(run.metrics())
            .unwrap()
            .write_all(b"{\"step\": 4, \"d_lo")
            .unwrap();
        run.truncate_metrics(2).unwrap();
        assert_eq!(std::fs::read_to_string(run.metrics()).unwrap(), "{\"step\":1}\n{\"step\":2}\n");
        assert_eq!(run.checkpoint(5).file_name().unwrap(), "step-0000005.safetensors");
    }

    #[test]
    fn keep_best_keeps_the_best_logged_checkpoint_besides_the_newest() {
        let d = tempfile::tempdir().unwrap();
        let run = RunDir::new(d.path());
        std::fs::create_dir_all(d.path().join("checkpoints")).unwrap();
        let fid = [(10, 50.0), (20, 31.5), (30, 40.0), (40, f64::NAN), (50, 45.0)];
        for (s, v) in fid {
            std::fs::write(run.checkpoint(s), b"x").unwrap();
            let v = if v.is_nan() { serde_json::Value::Null } else { v.into() };
            run.append_metrics(&serde_json::json!({ "step": s, "fid_mnist": v, "d_loss": 0.5 })).unwrap();
        }
        let best = KeepBest::parse("fid_mnist").unwrap();
        assert_eq!(run.prune_checkpoints(2, Some(&best)).unwrap(), Some((20, 31.5)));
        assert_eq!(run.checkpoints().unwrap().iter().map(|c| c.0).collect::<Vec<_>>(), vec![20, 40, 50]);
        // Higher is better for PSNR; unknown names must say which way.
        assert!(KeepBest::parse("psnr").unwrap().higher_is_better);
        assert!(!KeepBest::parse("d_loss").unwrap().higher_is_better);
        assert!(KeepBest::parse("kimg:max").unwrap().higher_is_better);
        assert!(KeepBest::parse("kimg").unwrap_err().to_string().contains("kimg:min or kimg:max"));
        assert!(KeepBest::parse("fid:up").is_err() && KeepBest::parse("").is_err());
        let max = KeepBest::parse("fid_mnist:max").unwrap();
        let values = run.metric_values("fid_mnist").unwrap();
        assert_eq!(max.best_of(&values, [20, 40, 50].into_iter()), Some((50, 45.0)));
        assert_eq!(max.best_of(&values, [40].into_iter()), None);
    }
}
