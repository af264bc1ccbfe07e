//! Backend name from the spec -> Burn device, with clear errors when one is not available.

use burn::prelude::Device;

use crate::error::{Error, Result};
use crate::spec::{BackendName, Trial};

/// The plain (inference) device for a backend; `.autodiff()` on it gives the training device.
pub fn device(backend: BackendName, index: u32) -> Result<Device> {
    match backend {
        BackendName::Cpu | BackendName::Flex => Ok(Device::flex()),
        #[allow(deprecated)] // burn-ndarray is deprecated in Burn 0.22 but users asked for it.
        BackendName::Ndarray => Ok(Device::ndarray()),
        BackendName::Cuda => cuda(index),
    }
}

/// Runs `work` where Burn's kernels for `backend` run best. CPU kernels run on the rayon pool
/// they are called from: calling them from one of the pool's own threads, rather than handing
/// each kernel from this thread to the global pool, makes a CNN train step about 20% faster and
/// an NN epoch about 30% (thread hand-offs dominate its small products). GPUs: as is.
pub fn run_on<R: Send>(backend: BackendName, threads: usize, work: impl FnOnce() -> R + Send) -> Result<R> {
    if backend == BackendName::Cuda {
        return Ok(work());
    }
    keep_freed_memory();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| Error::Backend(format!("cannot start {threads} CPU threads: {e}")))?;
    Ok(pool.install(work))
}

/// Makes glibc's malloc keep freed memory for reuse (once per process), for CPU training: its
/// kernels allocate and free tensors of megabytes every step, and by default glibc maps each one
/// fresh from the kernel (anything over 128 KiB) and returns it on free, so every step pays page
/// faults to zero-fill new pages: 870k faults in a `runner bench` vs 21k kept, and a CNN train
/// step about twice as fast. Set only once the data is loaded: set at process start, the freed
/// buffers of decoding the data set stay too (seed CNN run: 196 MB peak instead of 128 MB).
fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        const GIB: libc::c_int = 1 << 30;
        // SAFETY: mallopt only changes allocator parameters. Other threads may be allocating;
        // glibc's free() itself updates these same thresholds without a lock.
        ONCE.call_once(|| unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, GIB);
            libc::mallopt(libc::M_TRIM_THRESHOLD, GIB);
        });
    }
}

/// Checks every trial's backend and device before anything is written; returns them described
/// (for the manifest), deduplicated.
pub fn check_devices(trials: &[Trial]) -> Result<Vec<String>> {
    let mut devices = Vec::new();
    for trial in trials {
        device(trial.spec.backend, trial.spec.device)?;
        let described = describe(trial.spec.backend, trial.spec.device);
        if !devices.contains(&described) {
            devices.push(described);
        }
    }
    Ok(devices)
}

/// The GPUs the cuda trials use, for the manifest.
pub fn gpus(trials: &[Trial]) -> Vec<GpuInfo> {
    let mut indices: Vec<u32> =
        trials.iter().filter(|t| t.spec.backend == BackendName::Cuda).map(|t| t.spec.device).collect();
    indices.sort_unstable();
    indices.dedup();
    indices.into_iter().filter_map(gpu_info).collect()
}

/// What the manifest records about a device.
pub fn describe(backend: BackendName, index: u32) -> String {
    match backend {
        BackendName::Cpu => "cpu (burn-flex)".into(),
        BackendName::Flex => "flex (burn-flex)".into(),
        BackendName::Ndarray => "ndarray (burn-ndarray)".into(),
        BackendName::Cuda => format!("cuda:{index}"),
    }
}

#[cfg(feature = "cuda")]
fn cuda(index: u32) -> Result<Device> {
    use burn::tensor::DeviceType;
    use_kernel_cache();
    // Without a driver or a GPU, CUDA fails later as a panic on a background thread: ask first.
    let found = std::panic::catch_unwind(|| Device::enumerate(DeviceType::Cuda).into_iter().count()).unwrap_or(0);
    pick_cuda(index, found)?;
    Ok(Device::cuda(index as usize))
}

#[cfg(not(feature = "cuda"))]
fn cuda(_index: u32) -> Result<Device> {
    Err(Error::Backend(
        "backend = \"cuda\": this runner was built without CUDA support.\n  Rebuild with `cargo build --release --features cuda` \
         (see README, \"GPU\"), or set backend = \"cpu\"."
            .into(),
    ))
}

/// Turns on CubeCL's on-disk caches of compiled kernels (off by default: every process compiled
/// every kernel again) and of autotune results, in [`kernel_cache_dir`], shared by every trial
/// and run on the machine. A `cubecl.toml` (or a `burn.toml` with a `[cubecl]` section) in the
/// working directory or above stays in charge: CubeCL then reads it as usual.
#[cfg(feature = "cuda")]
fn use_kernel_cache() {
    use burn::cubecl::config::{CubeClRuntimeConfig, RuntimeConfig, cache::CacheConfig};
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let Ok(cwd) = std::env::current_dir() else { return };
        if user_cubecl_config(&cwd).is_some() {
            return;
        }
        let Some(dir) = kernel_cache_dir() else { return };
        let mut config = CubeClRuntimeConfig::default().override_from_env();
        config.compilation.cache = true;
        config.environment.path = CacheConfig::Directory(dir);
        CubeClRuntimeConfig::try_set(config);
    });
}

/// Where CUDA kernels and autotune results are kept between processes: `RUNNER_KERNEL_CACHE`,
/// else `$XDG_CACHE_HOME/runner/cuda-kernels`, else `~/.cache/runner/cuda-kernels`.
pub fn kernel_cache_dir() -> Option<std::path::PathBuf> {
    kernel_cache_dir_in(|name| std::env::var_os(name))
}

/// [`kernel_cache_dir`] with the environment read through `var`.
fn kernel_cache_dir_in(var: impl Fn(&str) -> Option<std::ffi::OsString>) -> Option<std::path::PathBuf> {
    let set = |name: &str| var(name).filter(|value| !value.is_empty()).map(std::path::PathBuf::from);
    if let Some(dir) = set("RUNNER_KERNEL_CACHE") {
        return Some(dir);
    }
    let cache = set("XDG_CACHE_HOME").or_else(|| set("HOME").map(|home| home.join(".cache")))?;
    Some(cache.join("runner").join("cuda-kernels"))
}

/// The CubeCL configuration file a user put in `dir` or above, as CubeCL looks for it.
pub fn user_cubecl_config(dir: &std::path::Path) -> Option<std::path::PathBuf> {
    dir.ancestors().find_map(|dir| {
        let whole = ["cubecl.toml", "CubeCL.toml"].iter().map(|name| dir.join(name)).find(|p| p.is_file());
        whole.or_else(|| {
            ["burn.toml", "Burn.toml"].iter().map(|name| dir.join(name)).find(|path| {
                std::fs::read_to_string(path)
                    .ok()
                    .and_then(|text| text.parse::<toml::Table>().ok())
                    .is_some_and(|table| table.contains_key("cubecl"))
            })
        })
    })
}

/// How many CUDA GPUs this process sees (0 in a build without CUDA).
pub fn cuda_count() -> usize {
    #[cfg(feature = "cuda")]
    {
        use burn::tensor::DeviceType;
        std::panic::catch_unwind(|| Device::enumerate(DeviceType::Cuda).into_iter().count()).unwrap_or(0)
    }
    #[cfg(not(feature = "cuda"))]
    0
}

/// Checks a GPU index against the number of GPUs found.
pub fn pick_cuda(index: u32, found: usize) -> Result<()> {
    if found == 0 {
        return Err(Error::Backend(
            "backend = \"cuda\": no CUDA GPU is visible (no NVIDIA driver, no GPU, or CUDA_VISIBLE_DEVICES hides them).\n  \
             Check `nvidia-smi`, or set backend = \"cpu\"."
                .into(),
        ));
    }
    if index as usize >= found {
        return Err(Error::Backend(format!(
            "device = {index}: only {found} CUDA GPU(s) are visible (indices 0-{}); set device to one of them",
            found - 1
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_backends_are_always_there() {
        for backend in [BackendName::Cpu, BackendName::Flex, BackendName::Ndarray] {
            assert!(device(backend, 0).is_ok(), "{backend}");
        }
    }

    #[test]
    fn gpu_index_checks() {
        assert!(pick_cuda(0, 0).unwrap_err().to_string().contains("no CUDA GPU is visible"));
        assert!(pick_cuda(1, 1).unwrap_err().to_string().contains("device = 1: only 1 CUDA GPU(s)"));
        assert!(pick_cuda(1, 2).is_ok());
    }

    #[test]
    fn a_users_cubecl_config_is_found_above_the_working_directory() {
        let root = tempfile::tempdir().unwrap();
        let deep = root.path().join("a/b");
        std::fs::create_dir_all(&deep).unwrap();
        assert_eq!(super::user_cubecl_config(&deep), None);
        // A burn.toml without a [cubecl] section leaves CubeCL to us.
        std::fs::write(root.path().join("a/burn.toml"), "[other]\nx = 1\n").unwrap();
        assert_eq!(super::user_cubecl_config(&deep), None);
        std::fs::write(root.path().join("a/burn.toml"), "[cubecl.compilation]\ncache = false\n").unwrap();
        assert_eq!(super::user_cubecl_config(&deep), Some(root.path().join("a/burn.toml")));
        std::fs::write(deep.join("cubecl.toml"), "").unwrap();
        assert_eq!(super::user_cubecl_config(&deep), Some(deep.join("cubecl.toml")));
    }

    #[test]
    fn kernels_are_kept_in_the_users_cache_folder() {
        fn dir(pairs: &[(&str, &str)]) -> Option<String> {
            let var = |name: &str| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| std::ffi::OsString::from(v));
            super::kernel_cache_dir_in(var).map(|d| d.display().to_string())
        }
        assert_eq!(dir(&[("HOME", "/home/me")]).as_deref(), Some("/home/me/.cache/runner/cuda-kernels"));
        let xdg = [("HOME", "/home/me"), ("XDG_CACHE_HOME", "/c")];
        assert_eq!(dir(&xdg).as_deref(), Some("/c/runner/cuda-kernels"));
        let chosen = [("HOME", "/home/me"), ("XDG_CACHE_HOME", "/c"), ("RUNNER_KERNEL_CACHE", "/k")];
        assert_eq!(dir(&chosen).as_deref(), Some("/k"));
        assert_eq!(dir(&[("XDG_CACHE_HOME", "")]), None, "an empty variable counts as unset");
    }

    #[cfg(not(feature = "cuda"))]
    #[test]
    fn cuda_without_the_feature_says_how_to_rebuild() {
        let err = device(BackendName::Cuda, 0).unwrap_err();
        assert!(err.to_string().contains("--features cuda"));
        assert_eq!(err.exit_code(), 2);
    }
}

/// GPU name, driver and CUDA versions as `nvidia-smi` reports them, for the manifest.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GpuInfo {
    pub name: String,
    pub driver_version: String,
    pub cuda_version: String,
}

pub fn gpu_info(index: u32) -> Option<GpuInfo> {
    let smi = |args: &[&str]| {
        std::process::Command::new("nvidia-smi")
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
    };
    let query = smi(&["--query-gpu=name,driver_version", "--format=csv,noheader", &format!("--id={index}")])?;
    let (name, driver) = query.trim().split_once(", ")?;
    let cuda_version = smi(&[]).and_then(|banner| parse_cuda_version(&banner)).unwrap_or_default();
    Some(GpuInfo { name: name.into(), driver_version: driver.into(), cuda_version })
}

/// "CUDA Version: 13.0" from nvidia-smi's banner.
fn parse_cuda_version(banner: &str) -> Option<String> {
    let rest = &banner[banner.find("CUDA Version:")? + "CUDA Version:".len()..];
    rest.split_whitespace().next().map(String::from)
}

#[cfg(test)]
mod gpu_info_tests {
    #[test]
    fn reads_the_cuda_version_from_the_banner() {
        let banner = "| NVIDIA-SMI 580.159.03   Driver Version: 580.159.03   CUDA Version: 13.0     |";
        assert_eq!(super::parse_cuda_version(banner).as_deref(), Some("13.0"));
        assert_eq!(super::parse_cuda_version("no gpu"), None);
    }
}
