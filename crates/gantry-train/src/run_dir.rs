//! The run folder: `config.toml`, `checkpoints/step-NNNNNNN.safetensors`, `samples/step-NNNNNNN.png`,
//! `metrics.jsonl`. Everything is written atomically or appended line by line.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

/// Paths inside one run folder.
#[derive(Debug, Clone)]
pub struct RunDir {
    pub root: PathBuf,
}

impl RunDir {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    pub fn config(&self) -> PathBuf {
        self.root.join("config.toml")
    }

    pub fn metrics(&self) -> PathBuf {
        self.root.join("metrics.jsonl")
    }

    pub fn checkpoint(&self, step: u64) -> PathBuf {
        self.root.join("checkpoints").join(format!("step-{step:07}.safetensors"))
    }

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

    /// Deletes all but the newest `keep` checkpoints (0 keeps all).
    pub fn prune_checkpoints(&self, keep: usize) -> Result<()> {
        if keep == 0 {
            return Ok(());
        }
        let all = self.checkpoints()?;
        for (_, p) in all.iter().take(all.len().saturating_sub(keep)) {
            std::fs::remove_file(p).with_context(|| format!("cannot remove {}", p.display()))?;
        }
        Ok(())
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
        let Ok(text) = std::fs::read_to_string(&path) else { return Ok(()) };
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
        run.prune_checkpoints(2).unwrap();
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
}
