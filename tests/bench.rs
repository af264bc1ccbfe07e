//! `runner bench` prints one row per hot path with figures that make sense, and each further
//! backend's train steps as a ratio of the first's.

mod common;

use common::{root, runner, shared_data};

#[test]
fn bench_times_every_hot_path() {
    let output = runner(&root())
        .args(["bench", "--steps", "1", "--repeats", "1", "--backends", "cpu,ndarray", "--data-dir"])
        .arg(shared_data())
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let table = String::from_utf8(output.stdout).unwrap();
    let rows: Vec<Vec<&str>> = table.lines().skip(2).map(|l| l.split('|').map(str::trim).collect()).collect();
    let names: Vec<&str> = rows.iter().map(|r| r[1]).collect();
    assert_eq!(names.len(), 2 + 2 * 6 + 3, "{table}");
    assert!(names[0].starts_with("load MNIST"), "{table}");
    assert!(names.contains(&"cpu: train step, cnn, 3x32x32"), "{table}");
    assert!(names.contains(&"ndarray: evaluation, cnn, MNIST"), "{table}");
    assert_eq!(
        names[14..],
        [
            "ndarray / cpu: train step, nn 784-128-10",
            "ndarray / cpu: train step, cnn, MNIST",
            "ndarray / cpu: train step, cnn, 3x32x32"
        ],
        "{table}"
    );
    for row in &rows {
        let median: f64 = row[2].parse().unwrap();
        assert!(median > 0.0 && median.is_finite(), "{row:?}");
    }
    let load_seconds: f64 = rows[0][2].parse().unwrap();
    assert!(load_seconds < 30.0, "loading MNIST took {load_seconds}s");
}

#[test]
fn bench_rejects_unknown_backends() {
    runner(&root())
        .args(["bench", "--backends", "tpu"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("unknown value \"tpu\"; allowed: cpu, flex, ndarray, cuda"));
}

#[test]
fn bench_without_the_data_says_where_it_looked_and_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let output = runner(dir.path())
        .args(["bench", "--steps", "1", "--repeats", "1", "--backends", "cpu", "--data-dir", "nowhere"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains("no readable MNIST in nowhere/mnist (bench never downloads") && !stderr.contains("--offline"),
        "{stderr}"
    );
}
