//! `runner predict` on many files: the images go through the model a batch at a time, so its
//! memory does not grow with their number. Alone in its test binary: the peak memory of this
//! process's children (getrusage) is that of the runs below only.

mod common;

use common::runner;

/// The largest resident size of any child waited for so far, in KiB.
fn children_peak_kib() -> i64 {
    // SAFETY: getrusage fills the struct we pass.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    assert_eq!(unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) }, 0);
    usage.ru_maxrss
}

#[test]
fn predicting_3000_files_takes_no_more_memory_than_a_few() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("digits");
    runner::data::test_data::mnist_folder(&folder, &[0, 1], 6, 2, false);
    let spec = format!(
        "name = \"p\"\ndataset = \"folder\"\nfolder = \"{}\"\nmodel = \"cnn\"\nepochs = 1\nbatch_size = 4\n",
        folder.display()
    );
    std::fs::write(dir.path().join("spec.toml"), spec).unwrap();
    runner(dir.path()).args(["spec.toml", "-q", "--runs-dir", "out", "--data-dir", "data"]).assert().success();
    let trial = common::the_run(dir.path()).join("trials/000_p");
    let image = folder.join("test/1/00000.png");
    let images = dir.path().join("images");
    std::fs::create_dir(&images).unwrap();
    let paths: Vec<_> = (0..3000).map(|i| images.join(format!("{i:04}.png"))).collect();
    for path in &paths {
        std::fs::hard_link(&image, path).unwrap();
    }
    let trained = children_peak_kib();

    let output = runner(dir.path()).arg("predict").arg(&trial).args(&paths).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let lines: Vec<String> = String::from_utf8(output.stdout).unwrap().lines().map(String::from).collect();
    assert_eq!(lines.len(), 3000);
    // The same answer for every copy, whichever batch it fell in.
    let answer = |line: &str| line.split_once(": ").unwrap().1.to_string();
    assert!(lines.iter().all(|l| answer(l) == answer(&lines[0])), "{:?}", &lines[..3]);
    // All at once, the CNN's activations for 3000 images took over 300 MB.
    let peak = children_peak_kib();
    assert!(peak < trained.max(40_000) + 60_000, "predict peaked at {peak} KiB (training: {trained} KiB)");
}
