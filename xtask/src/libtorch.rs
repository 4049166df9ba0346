//! Finding (or installing) libtorch 2.11.0, and the environment cargo needs to build against it.
//!
//! Order: `LIBTORCH` if set; a `python3` (or `$GANTRY_PYTHON`) whose `torch` is 2.11.0; else a venv
//! in `<cache>/venv` with `torch==2.11.0` from PyPI (created once, ~1 minute, ~4.7 GB). Checking an
//! existing install reads files only (`torch/version.py`, `build-version`), so it is instant.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

/// The PyTorch release tch 0.24 binds.
pub const TORCH_VERSION: &str = "2.11.0";

#[derive(Debug, Clone)]
pub struct Libtorch {
    /// The folder holding `lib/` and `include/` (a libtorch zip, or a Python `site-packages/torch`).
    pub root: PathBuf,
    /// Its version, e.g. `2.11.0+cu130`.
    pub version: String,
    /// Built with the C++11 ABI.
    pub cxx11_abi: bool,
    /// A Python interpreter that imports this torch, when known (PyTorch peers use it).
    pub python: Option<PathBuf>,
}

impl Libtorch {
    pub fn lib_dir(&self) -> PathBuf {
        self.root.join("lib")
    }

    /// The variables children need. Kept stable: torch-sys rebuilds (~2.5 min) when `LIBTORCH*`
    /// variables change.
    pub fn env_vars(&self) -> Vec<(String, String)> {
        let lib = self.lib_dir().display().to_string();
        let mut ld = vec![lib.clone()];
        if let Ok(old) = std::env::var("LD_LIBRARY_PATH") {
            ld.extend(old.split(':').filter(|p| !p.is_empty() && *p != lib).map(str::to_string));
        }
        let mut vars = vec![
            ("LIBTORCH".to_string(), self.root.display().to_string()),
            ("LIBTORCH_CXX11_ABI".to_string(), if self.cxx11_abi { "1" } else { "0" }.to_string()),
            ("LD_LIBRARY_PATH".to_string(), ld.join(":")),
        ];
        if let Some(py) = &self.python {
            vars.push(("GANTRY_PYTHON".to_string(), py.display().to_string()));
        }
        if std::env::var_os("GANTRY_SHARED").is_none() {
            let shared = crate::repo_root().join("../shared");
            if shared.is_dir() {
                let shared = shared.canonicalize().unwrap_or(shared);
                vars.push(("GANTRY_SHARED".to_string(), shared.display().to_string()));
            }
        }
        vars
    }

    /// Sets [`Self::env_vars`] on `cmd` and removes the variables that would override `LIBTORCH`.
    pub fn apply(&self, cmd: &mut Command) {
        for k in ["LIBTORCH_USE_PYTORCH", "LIBTORCH_INCLUDE", "LIBTORCH_LIB", "LIBTORCH_STATIC"] {
            cmd.env_remove(k);
        }
        for (k, v) in self.env_vars() {
            cmd.env(k, v);
        }
    }
}

/// Finds libtorch, installing it into the cache venv when nothing suitable exists.
pub fn setup() -> Result<Libtorch> {
    if let Some(root) = std::env::var_os("LIBTORCH").filter(|v| !v.is_empty()) {
        let root = PathBuf::from(root);
        let mut lt = inspect(&root).with_context(|| format!("LIBTORCH={}", root.display()))?;
        lt.python = python_candidates().into_iter().find(|py| torch_dir_of(py).as_deref() == Some(&*root));
        return Ok(lt);
    }
    for py in python_candidates() {
        if let Some(dir) = torch_dir_of(&py) {
            if let Ok(mut lt) = inspect(&dir) {
                lt.python = Some(py);
                return Ok(lt);
            }
        }
    }
    install_venv()
}

/// Checks that `root` is a libtorch of the right version and reads its ABI.
fn inspect(root: &Path) -> Result<Libtorch> {
    let lib = root.join("lib");
    if !lib.join("libtorch_cpu.so").exists() && !lib.join("libtorch_cpu.dylib").exists() {
        bail!("{} has no lib/libtorch_cpu.so: not a libtorch folder", root.display());
    }
    let version = read_version(root)
        .with_context(|| format!("cannot tell the libtorch version of {}", root.display()))?;
    if version.split('+').next() != Some(TORCH_VERSION) {
        bail!("libtorch at {} is {version}; tch 0.24 needs {TORCH_VERSION}", root.display());
    }
    Ok(Libtorch { root: root.to_path_buf(), version, cxx11_abi: cxx11_abi(&lib), python: None })
}

/// The version from a libtorch zip's `build-version` or a Python torch's `version.py`.
fn read_version(root: &Path) -> Result<String> {
    if let Ok(v) = std::fs::read_to_string(root.join("build-version")) {
        return Ok(v.trim().to_string());
    }
    let py = std::fs::read_to_string(root.join("version.py")).context("no build-version or version.py")?;
    for line in py.lines() {
        if let Some(rest) = line.strip_prefix("__version__") {
            let v = rest.trim_start_matches([' ', ':', '=']).trim();
            let v = v.trim_start_matches("str").trim();
            return Ok(v.trim_matches(|c| c == '\'' || c == '"').to_string());
        }
    }
    bail!("no __version__ line in version.py")
}

/// libc10 exports `std::__cxx11::basic_string` symbols when built with the C++11 ABI.
fn cxx11_abi(lib: &Path) -> bool {
    match std::fs::read(lib.join("libc10.so")) {
        Ok(bytes) => bytes.windows(7).any(|w| w == b"__cxx11"),
        Err(_) => true,
    }
}

fn python_candidates() -> Vec<PathBuf> {
    let mut c = Vec::new();
    if let Some(p) = std::env::var_os("GANTRY_PYTHON").filter(|v| !v.is_empty()) {
        c.push(PathBuf::from(p));
    }
    c.push(PathBuf::from("python3"));
    c
}

/// Where `python` would import torch from, without importing it (an import takes seconds).
fn torch_dir_of(python: &Path) -> Option<PathBuf> {
    let out = Command::new(python)
        .args([
            "-c",
            "import importlib.util as u; s = u.find_spec('torch'); print(s.submodule_search_locations[0] if s else '')",
        ])
        .output()
        .ok()?;
    let dir = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (out.status.success() && !dir.is_empty()).then(|| PathBuf::from(dir))
}

/// Python packages the `python::` tests import besides torch (module, pip requirement).
const TEST_PACKAGES: &[(&str, &str)] = &[("tensorboard", "tensorboard==2.21.0"), ("PIL", "pillow==13.0.0")];

/// Whether `python` can import `module` (without importing it).
fn has_module(python: &Path, module: &str) -> bool {
    Command::new(python)
        .args([
            "-c",
            &format!("import importlib.util as u, sys; sys.exit(0 if u.find_spec('{module}') else 1)"),
        ])
        .status()
        .is_ok_and(|s| s.success())
}

/// Makes sure the tests' Python has [`TEST_PACKAGES`]: installed from PyPI into the cache venv
/// when missing (once, ~15 s); another interpreter is never modified. Returns whether they are
/// all there.
pub fn ensure_test_packages(lt: &Libtorch) -> Result<bool> {
    let Some(python) = &lt.python else { return Ok(false) };
    let missing: Vec<&str> =
        TEST_PACKAGES.iter().filter(|(m, _)| !has_module(python, m)).map(|(_, req)| *req).collect();
    if missing.is_empty() {
        return Ok(true);
    }
    if !python.starts_with(venv_dir()) {
        eprintln!(
            "xtask: {} lacks {}; tests that need them are skipped (pip install them there to run them)",
            python.display(),
            missing.join(", ")
        );
        return Ok(false);
    }
    eprintln!("xtask: installing {} into {} for the tests", missing.join(", "), python.display());
    let st = Command::new(python)
        .args(["-m", "pip", "install", "--disable-pip-version-check", "--progress-bar", "off", "-q"])
        .args(&missing)
        .status()
        .context("cannot run pip in the venv")?;
    if !st.success() {
        bail!("`pip install {}` failed ({st}); check the network to PyPI", missing.join(" "));
    }
    Ok(true)
}

/// The wheels whose headers ProcessGroupNCCL.hpp needs besides CUDA's maths libraries, as
/// torch 2.11.0+cu130 pins them (`nvidia-nccl-cu13`; `cuda-toolkit[cudart,crt,cccl]==13.0.2`).
const NCCL_HEADER_WHEELS: &[&str] = &[
    "nvidia-nccl-cu13==2.28.9",
    "nvidia-cuda-runtime==13.0.96.*",
    "nvidia-cuda-crt==13.0.88.*",
    "nvidia-cuda-cccl==13.0.85.*",
];

/// The maths libraries' wheels (`cuda-toolkit[cublas,cusparse,cusolver]==13.0.2`) whose headers
/// ATen's CUDA context includes; a CUDA torch install already has them beside it.
const MATH_HEADER_WHEELS: &[&str] =
    &["nvidia-cublas==13.1.0.3.*", "nvidia-cusparse==12.6.3.3.*", "nvidia-cusolver==12.0.4.66.*"];

/// The include folders `--features nccl` builds against: the headers of [`NCCL_HEADER_WHEELS`]
/// (downloaded once, ~200 MB, unpacked into `<cache>/cuda-headers`, headers only) and of the
/// CUDA maths libraries (those a CUDA torch install has beside it, else downloaded too).
pub fn nccl_headers(lt: &Libtorch) -> Result<Vec<PathBuf>> {
    let dir = gantry_manifest::cache_dir().join("cuda-headers");
    let mut dirs = vec![dir.join("nvidia/cu13/include"), dir.join("nvidia/nccl/include")];
    let beside = lt.root.parent().map(|p| p.join("nvidia/cu13/include"));
    let maths = match beside.filter(|d| d.join("cusparse.h").is_file() && d.join("cublasLt.h").is_file()) {
        Some(d) => {
            dirs.push(d);
            false
        }
        None => true,
    };
    let have = dirs[0].join("crt/host_defines.h").is_file()
        && dirs[1].join("nccl.h").is_file()
        && (!maths || dirs[0].join("cusparse.h").is_file());
    if have {
        return Ok(dirs);
    }
    let python =
        lt.python.clone().context("fetching the NCCL headers needs a Python with pip (GANTRY_PYTHON)")?;
    let wheels = dir.join("wheels");
    std::fs::create_dir_all(&wheels)?;
    let mut want: Vec<&str> = NCCL_HEADER_WHEELS.to_vec();
    if maths {
        want.extend(MATH_HEADER_WHEELS);
    }
    eprintln!("xtask: downloading {} from PyPI for their headers", want.join(", "));
    let st = Command::new(&python)
        .args(["-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "--progress-bar", "off"])
        .arg("-d")
        .arg(&wheels)
        .args(&want)
        .status()
        .context("cannot run pip download")?;
    if !st.success() {
        bail!("`pip download {}` failed ({st})", want.join(" "));
    }
    for entry in std::fs::read_dir(&wheels)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "whl") {
            let st = Command::new(&python)
                .args(["-c", "import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); z.extractall(sys.argv[2], [n for n in z.namelist() if '/include/' in n])"])
                .arg(&path)
                .arg(&dir)
                .status()?;
            if !st.success() {
                bail!("cannot unpack the headers of {}", path.display());
            }
        }
    }
    for (d, h) in [(&dirs[0], "crt/host_defines.h"), (&dirs[1], "nccl.h")] {
        if !d.join(h).is_file() {
            bail!("{} is missing after unpacking the wheels", d.join(h).display());
        }
    }
    Ok(dirs)
}

fn venv_dir() -> PathBuf {
    gantry_manifest::cache_dir().join("venv")
}

/// The cache venv's torch, creating the venv and installing torch when needed.
fn install_venv() -> Result<Libtorch> {
    let venv = venv_dir();
    let python = venv.join("bin/python");
    if python.exists() {
        if let Some(dir) = torch_dir_of(&python) {
            if let Ok(mut lt) = inspect(&dir) {
                lt.python = Some(python);
                return Ok(lt);
            }
        }
    }
    let base: OsString = std::env::var_os("GANTRY_PYTHON").unwrap_or_else(|| "python3".into());
    eprintln!(
        "xtask setup: no libtorch {TORCH_VERSION} found; installing torch=={TORCH_VERSION} from PyPI into {} \
         (once; about a minute and ~4.7 GB)",
        venv.display()
    );
    std::fs::create_dir_all(venv.parent().expect("venv has a parent"))
        .with_context(|| format!("cannot create {}", venv.display()))?;
    if !python.exists() {
        let st = Command::new(&base)
            .arg("-m")
            .arg("venv")
            .arg(&venv)
            .status()
            .with_context(|| format!("cannot run {base:?} to create a venv (is Python 3 installed?)"))?;
        if !st.success() {
            bail!(
                "`{} -m venv {}` failed ({st}); install python3-venv or set LIBTORCH",
                base.to_string_lossy(),
                venv.display()
            );
        }
    }
    let st = Command::new(&python)
        .args(["-m", "pip", "install", "--disable-pip-version-check", "--progress-bar", "off"])
        .arg(format!("torch=={TORCH_VERSION}"))
        .status()
        .context("cannot run pip in the venv")?;
    if !st.success() {
        bail!(
            "`pip install torch=={TORCH_VERSION}` failed ({st}); check the network to PyPI, or set LIBTORCH to a \
             libtorch {TORCH_VERSION} folder"
        );
    }
    let dir = torch_dir_of(&python).context("torch was installed but the venv cannot find it")?;
    let mut lt = inspect(&dir)?;
    lt.python = Some(python);
    Ok(lt)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_pip_and_zip_versions() {
        let dir = std::env::temp_dir().join(format!("xtask-lt-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("version.py"), "x = 1\n__version__ = '2.11.0+cu130'\n").unwrap();
        assert_eq!(read_version(&dir).unwrap(), "2.11.0+cu130");
        std::fs::write(dir.join("build-version"), "2.11.0+cpu\n").unwrap();
        assert_eq!(read_version(&dir).unwrap(), "2.11.0+cpu");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn rejects_folders_without_libtorch() {
        let err = inspect(Path::new("/nonexistent")).unwrap_err().to_string();
        assert!(err.contains("not a libtorch folder"), "{err}");
    }
}
