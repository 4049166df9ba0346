//! Checkpoints: named tensors and string metadata in one safetensors file, written atomically.
//!
//! Names are `<prefix>.<variable>` (`g.proj.weight`, `opt_g.m.proj.weight`, `meta.step`); metadata
//! holds strings such as the run's config. Loading checks every model variable's presence and
//! shape, so a checkpoint from another architecture is refused with the offending tensor's name.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use safetensors::{Dtype, SafeTensors, View};
use tch::{nn::VarStore, Kind, Tensor};

use crate::{fs::write_atomic, CoreError, Result};

/// Named tensors (kept on the CPU) and string metadata.
#[derive(Debug, Default)]
pub struct Checkpoint {
    /// The tensors by name (`<network>.<variable>`, `opt_<network>.…`).
    pub tensors: BTreeMap<String, Tensor>,
    /// safetensors' string metadata (`gantry.config`, `gantry.step`, …).
    pub metadata: BTreeMap<String, String>,
    /// The file it was read from (for error messages); empty for a new checkpoint.
    pub source: PathBuf,
}

struct Raw {
    dtype: Dtype,
    shape: Vec<usize>,
    data: Vec<u8>,
}

impl View for &Raw {
    fn dtype(&self) -> Dtype {
        self.dtype
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self.data)
    }
    fn data_len(&self) -> usize {
        self.data.len()
    }
}

fn dtype_of(kind: Kind) -> Option<Dtype> {
    Some(match kind {
        Kind::Float => Dtype::F32,
        Kind::Double => Dtype::F64,
        Kind::Half => Dtype::F16,
        Kind::BFloat16 => Dtype::BF16,
        Kind::Int64 => Dtype::I64,
        Kind::Int => Dtype::I32,
        Kind::Uint8 => Dtype::U8,
        Kind::Bool => Dtype::BOOL,
        _ => return None,
    })
}

fn kind_of(dtype: Dtype) -> Option<Kind> {
    Some(match dtype {
        Dtype::F32 => Kind::Float,
        Dtype::F64 => Kind::Double,
        Dtype::F16 => Kind::Half,
        Dtype::BF16 => Kind::BFloat16,
        Dtype::I64 => Kind::Int64,
        Dtype::I32 => Kind::Int,
        Dtype::U8 => Kind::Uint8,
        Dtype::BOOL => Kind::Bool,
        _ => return None,
    })
}

impl Checkpoint {
    /// An empty checkpoint.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a tensor (copied to the CPU, detached).
    pub fn insert(&mut self, name: impl Into<String>, t: &Tensor) {
        self.tensors.insert(name.into(), t.detach().to_device(tch::Device::Cpu));
    }

    /// Adds an i64 scalar as a 0-d tensor.
    pub fn insert_i64(&mut self, name: impl Into<String>, v: i64) {
        self.insert(name, &Tensor::from(v));
    }

    /// Adds every variable of `vs` (trainable or not, e.g. BatchNorm running statistics) as
    /// `<prefix>.<variable>`.
    pub fn insert_varstore(&mut self, prefix: &str, vs: &VarStore) {
        for (name, t) in vs.variables() {
            self.insert(format!("{prefix}.{name}"), &t);
        }
    }

    /// The tensor `name`, or an error naming the file and the tensor.
    pub fn get(&self, name: &str) -> Result<&Tensor> {
        self.tensors
            .get(name)
            .ok_or_else(|| CoreError::MissingTensor { path: self.source.clone(), name: name.to_string() })
    }

    /// The 0-d i64 tensor `name` as a number.
    pub fn get_i64(&self, name: &str) -> Result<i64> {
        let t = self.get(name)?;
        if t.numel() != 1 || t.kind() != Kind::Int64 {
            return Err(CoreError::BadCheckpoint {
                path: self.source.clone(),
                message: format!("'{name}' should be one i64, found {:?} {:?}", t.kind(), t.size()),
            });
        }
        Ok(t.int64_value(&[]))
    }

    /// Copies `<prefix>.<variable>` into every variable of `vs`; refuses missing tensors, shape
    /// mismatches, and tensors under `prefix` that the model does not have.
    pub fn load_varstore(&self, prefix: &str, vs: &VarStore) -> Result<()> {
        let vars = vs.variables();
        let mut names: Vec<&String> = vars.keys().collect();
        names.sort();
        for name in names {
            let key = format!("{prefix}.{name}");
            let src = self.get(&key)?;
            let dst = &vars[name];
            if src.size() != dst.size() {
                return Err(CoreError::ShapeMismatch {
                    path: self.source.clone(),
                    name: key,
                    expected: dst.size(),
                    found: src.size(),
                });
            }
        }
        let dot = format!("{prefix}.");
        if let Some(extra) =
            self.tensors.keys().filter_map(|k| k.strip_prefix(&dot)).find(|k| !vars.contains_key(*k))
        {
            return Err(CoreError::BadCheckpoint {
                path: self.source.clone(),
                message: format!(
                    "tensor '{dot}{extra}' is not part of the model (checkpoint from another architecture?)"
                ),
            });
        }
        tch::no_grad(|| {
            for (name, dst) in &vars {
                let mut dst = dst.shallow_clone();
                dst.copy_(&self.tensors[&format!("{prefix}.{name}")]);
            }
        });
        Ok(())
    }

    /// Serialises to safetensors bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let mut raws = Vec::with_capacity(self.tensors.len());
        for (name, t) in &self.tensors {
            let dtype = dtype_of(t.kind()).ok_or_else(|| CoreError::BadCheckpoint {
                path: self.source.clone(),
                message: format!("tensor '{name}' has unsupported kind {:?}", t.kind()),
            })?;
            let t = t.contiguous();
            let nbytes = t.numel() * t.kind().elt_size_in_bytes();
            let mut data = vec![0u8; nbytes];
            t.f_copy_data_u8(&mut data, t.numel())?;
            let shape = t.size().iter().map(|&d| d as usize).collect();
            raws.push((name.clone(), Raw { dtype, shape, data }));
        }
        let meta: HashMap<String, String> = self.metadata.clone().into_iter().collect();
        safetensors::serialize(raws.iter().map(|(n, r)| (n.as_str(), r)), Some(meta))
            .map_err(|e| CoreError::BadCheckpoint { path: self.source.clone(), message: e.to_string() })
    }

    /// Writes the checkpoint to `path` atomically (temp file + rename).
    pub fn save(&self, path: &Path) -> Result<()> {
        write_atomic(path, &self.to_bytes()?)
    }

    /// Reads a checkpoint; a truncated or corrupt file is an error naming it.
    pub fn load(path: &Path) -> Result<Checkpoint> {
        let len = std::fs::metadata(path).map_err(|e| CoreError::io(path, e))?.len();
        // The file, and the tensors made from it.
        crate::mem::ensure_fits(
            &format!("{}: loading this {}-byte checkpoint", path.display(), len),
            len as u128 * 2,
            "",
        )?;
        let bytes = std::fs::read(path).map_err(|e| CoreError::io(path, e))?;
        Self::from_bytes(&bytes, path)
    }

    /// Parses safetensors bytes; `path` names them in errors.
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Checkpoint> {
        let bad = |message: String| CoreError::BadCheckpoint { path: path.to_path_buf(), message };
        let st = SafeTensors::deserialize(bytes).map_err(|e| bad(e.to_string()))?;
        let (_, header) = SafeTensors::read_metadata(bytes).map_err(|e| bad(e.to_string()))?;
        let mut ck = Checkpoint { source: path.to_path_buf(), ..Default::default() };
        if let Some(meta) = header.metadata() {
            ck.metadata = meta.clone().into_iter().collect();
        }
        for (name, view) in st.tensors() {
            let kind = kind_of(view.dtype())
                .ok_or_else(|| bad(format!("tensor '{name}' has unsupported dtype {:?}", view.dtype())))?;
            let shape: Vec<i64> = view.shape().iter().map(|&d| d as i64).collect();
            let t = Tensor::f_from_data_size(view.data(), &shape, kind)?;
            ck.tensors.insert(name, t);
        }
        Ok(ck)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::nn;

    fn model(vs: &VarStore, width: i64) {
        let p = vs.root();
        let _ = nn::linear(&p / "fc", 3, width, Default::default());
        let _ = nn::batch_norm1d(&p / "bn", width, Default::default());
    }

    #[test]
    fn round_trips_tensors_and_metadata() {
        let dir = tempfile::tempdir().unwrap();
        let mut ck = Checkpoint::new();
        ck.insert("a", &Tensor::from_slice(&[1.5f32, -2.0]).reshape([2, 1]));
        ck.insert("b", &Tensor::from_slice(&[7u8, 8, 9]));
        ck.insert_i64("meta.step", 42);
        ck.metadata.insert("config".into(), "x = 1".into());
        let p = dir.path().join("ck.safetensors");
        ck.save(&p).unwrap();
        let back = Checkpoint::load(&p).unwrap();
        assert_eq!(back.get_i64("meta.step").unwrap(), 42);
        assert_eq!(back.metadata["config"], "x = 1");
        assert!(back.get("a").unwrap().equal(ck.get("a").unwrap()));
        assert_eq!(back.get("a").unwrap().size(), vec![2, 1]);
        assert!(back.get("b").unwrap().equal(ck.get("b").unwrap()));
    }

    #[test]
    fn truncated_files_are_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let mut ck = Checkpoint::new();
        ck.insert("a", &Tensor::ones([64], tch::kind::FLOAT_CPU));
        let bytes = ck.to_bytes().unwrap();
        let p = dir.path().join("cut.safetensors");
        std::fs::write(&p, &bytes[..bytes.len() - 10]).unwrap();
        let e = Checkpoint::load(&p).unwrap_err().to_string();
        assert!(e.contains("cut.safetensors") && e.contains("not a valid checkpoint"), "{e}");
    }

    #[test]
    fn varstores_load_and_shape_mismatches_are_named() {
        let _generator = crate::generator_lock();
        let a = VarStore::new(tch::Device::Cpu);
        model(&a, 4);
        let mut ck = Checkpoint::new();
        ck.insert_varstore("g", &a);
        // BatchNorm running statistics are saved too.
        assert!(ck.tensors.contains_key("g.bn.running_mean"));
        let b = VarStore::new(tch::Device::Cpu);
        model(&b, 4);
        ck.load_varstore("g", &b).unwrap();
        let wa = &a.variables()["fc.weight"];
        assert!(wa.equal(&b.variables()["fc.weight"]));

        let c = VarStore::new(tch::Device::Cpu);
        model(&c, 5);
        let e = ck.load_varstore("g", &c).unwrap_err().to_string();
        assert!(e.contains("g.bn.bias") || e.contains("g.fc"), "{e}");
        assert!(e.contains("[5]") || e.contains("[5, 3]"), "{e}");
        let e = ck.load_varstore("d", &b).unwrap_err().to_string();
        assert!(e.contains("has no tensor 'd."), "{e}");
    }
}
