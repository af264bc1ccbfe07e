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
