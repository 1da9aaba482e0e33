//! Finds and loads the ONNX Runtime shared library, once per process.
//!
//! `ort` is built with `load-dynamic`: nothing is linked or downloaded at build time, and the library is
//! opened at run time from `[classifier] runtime` or `ORT_DYLIB_PATH` (the `onnxruntime` wheel on PyPI
//! ships it as `onnxruntime/capi/libonnxruntime.so.<version>`). A process can hold only one ONNX Runtime,
//! so the first successful load wins; later requests for another path reuse it and say so in the log.

use super::TransformerError;
use ort::environment::Environment;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Environment variable naming the library when the config does not.
pub const ENV_VAR: &str = "ORT_DYLIB_PATH";

struct Loaded {
    path: PathBuf,
    env: Environment,
}

static LOADED: Mutex<Option<Loaded>> = Mutex::new(None);

/// The library to load: the configured path, else `ORT_DYLIB_PATH`. A directory is searched for the
/// library file (so `runtime = ".../site-packages/onnxruntime/capi"` works).
pub fn locate(configured: Option<&Path>) -> Result<PathBuf, TransformerError> {
    let (path, origin) = match configured {
        Some(p) => (p.to_path_buf(), "[classifier] runtime"),
        None => match std::env::var_os(ENV_VAR).filter(|v| !v.is_empty()) {
            Some(v) => (PathBuf::from(v), ENV_VAR),
            None => return Err(TransformerError::RuntimeNotConfigured),
        },
    };
    if path.is_dir() {
        return find_in_dir(&path).ok_or_else(|| TransformerError::RuntimeLoad {
            path: path.clone(),
            reason: format!("{origin} names a folder without a libonnxruntime library in it"),
        });
    }
    if !path.exists() {
        return Err(TransformerError::RuntimeLoad {
            path,
            reason: format!("no such file (from {origin}); point it at libonnxruntime.so.* from the onnxruntime wheel"),
        });
    }
    Ok(path)
}

/// `libonnxruntime.so.1.31.1` (or `.so`, `.dylib`, `onnxruntime.dll`) inside `dir`; not the providers
/// helper library that sits beside it.
pub fn find_in_dir(dir: &Path) -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            name.starts_with("libonnxruntime.so")
                || name == "libonnxruntime.dylib"
                || (name.starts_with("libonnxruntime.") && name.ends_with(".dylib"))
                || name == "onnxruntime.dll"
        })
        .collect();
    // Prefer the fully versioned name (the real file, not a symlink that may dangle).
    found.sort_by_key(|p| std::cmp::Reverse(p.as_os_str().len()));
    found.into_iter().next()
}

/// The process-wide ONNX Runtime environment, loading the library on first use.
pub fn environment(configured: Option<&Path>) -> Result<Environment, TransformerError> {
    let mut guard = LOADED.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(loaded) = guard.as_ref() {
        if let Ok(wanted) = locate(configured) {
            if !same_file(&wanted, &loaded.path) {
                tracing::warn!(
                    loaded = %loaded.path.display(),
                    requested = %wanted.display(),
                    "onnx runtime already loaded from another path; a process can hold only one, reusing it"
                );
            }
        }
        return Ok(loaded.env.clone());
    }
    let path = locate(configured)?;
    let builder = ort::init_from(&path).map_err(|e| TransformerError::RuntimeLoad {
        path: path.clone(),
        reason: e.to_string(),
    })?;
    let env = builder
        .with_name("pulse")
        .with_telemetry(false)
        .build()
        .map_err(|e| TransformerError::RuntimeLoad {
            path: path.clone(),
            reason: e.to_string(),
        })?;
    // ONNX Runtime reports every graph rewrite at info level; only its warnings belong in our logs.
    env.set_log_level(ort::logging::LogLevel::Warning);
    tracing::info!(path = %path.display(), "loaded onnx runtime");
    *guard = Some(Loaded {
        path,
        env: env.clone(),
    });
    Ok(env)
}

/// The library inside the `onnxruntime` Python package that `python` imports, if any. For tests and
/// `pulse bench` on a developer machine; the daemon never runs Python and needs an explicit path.
pub fn from_python(python: &str) -> Option<PathBuf> {
    let out = std::process::Command::new(python)
        .args([
            "-c",
            "import onnxruntime, os; print(os.path.dirname(onnxruntime.__file__))",
        ])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let dir = PathBuf::from(String::from_utf8(out.stdout).ok()?.trim()).join("capi");
    find_in_dir(&dir)
}

/// `ORT_DYLIB_PATH` if set, else the library of Python's `onnxruntime` package.
pub fn discover(python: &str) -> Option<PathBuf> {
    std::env::var_os(ENV_VAR)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| from_python(python))
}

/// Path of the library this process loaded, if any.
pub fn loaded_path() -> Option<PathBuf> {
    LOADED
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .as_ref()
        .map(|l| l.path.clone())
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_versioned_library_in_a_wheel_folder() {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            "libonnxruntime_providers_shared.so",
            "libonnxruntime.so.1.31.1",
            "__init__.py",
        ] {
            std::fs::write(dir.path().join(name), b"").unwrap();
        }
        assert_eq!(
            find_in_dir(dir.path()).unwrap(),
            dir.path().join("libonnxruntime.so.1.31.1")
        );
        let empty = tempfile::tempdir().unwrap();
        assert_eq!(find_in_dir(empty.path()), None);
    }

    #[test]
    fn a_configured_path_that_does_not_exist_is_named() {
        let e = locate(Some(Path::new("/nonexistent/libonnxruntime.so"))).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("/nonexistent/libonnxruntime.so"), "{msg}");
        assert!(msg.contains("[classifier] runtime"), "{msg}");
    }
}
