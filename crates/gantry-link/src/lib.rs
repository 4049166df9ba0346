//! gantry-link: the build-script step that makes gantry's binaries (and their packages' tests)
//! find libtorch without `LD_LIBRARY_PATH`, and keeps libtorch's CUDA library linked so that
//! `--device cuda` sees the GPU. A package with a binary depends on `torch-sys` directly (so its
//! build script receives `DEP_TCH_LIBTORCH_LIB`) and calls [`libtorch_rpath`] from `build.rs`.
//!
//! torch-sys tells dependents where libtorch's libraries are (`DEP_TCH_LIBTORCH_LIB`, from its
//! `links = "tch"`). We add that folder as an rpath. The linker's `--as-needed` (rustc's default)
//! drops `libtorch_cuda.so`, whose symbols nothing references directly but whose static
//! initialisers register the CUDA backend; so when it exists it is linked between
//! `--no-as-needed` and `--as-needed` (a `--no-as-needed` placed after the `-l` flags does nothing).

use std::path::Path;

/// Emits the link arguments (see the crate docs); call it from a build script.
pub fn libtorch_rpath() {
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    let Ok(lib) = std::env::var("DEP_TCH_LIBTORCH_LIB") else {
        println!(
            "cargo:warning=torch-sys did not report its libtorch folder; gantry will need LD_LIBRARY_PATH"
        );
        return;
    };
    let lib = Path::new(&lib);
    if cfg!(target_os = "linux") || cfg!(target_os = "macos") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib.display());
    }
    if cfg!(target_os = "linux") {
        let cuda: Vec<&str> = ["torch_cuda", "c10_cuda"]
            .into_iter()
            .filter(|l| lib.join(format!("lib{l}.so")).exists())
            .collect();
        if !cuda.is_empty() {
            println!("cargo:rustc-link-arg=-L{}", lib.display());
            println!("cargo:rustc-link-arg=-Wl,--no-as-needed");
            for l in cuda {
                println!("cargo:rustc-link-arg=-l{l}");
            }
            println!("cargo:rustc-link-arg=-Wl,--as-needed");
        }
    }
}
