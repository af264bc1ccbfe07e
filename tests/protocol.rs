//! The training protocol: validation split, schedules, early stopping, augmentation, AdamW.

mod common;

use std::path::PathBuf;

use common::{column, csv_rows, rejects, run_spec, the_run};

#[test]
fn a_validation_split_picks_the_best_epoch_and_early_stopping_ends_the_trial() {
    let spec = "name = \"protocol\"\nmodel = \"nn\"\nepochs = 6\nbatch_size = 50\nlimit_train = 1000\nlimit_test = 300\n\
                optimizer = \"adamw\"\nlr = 0.002\nval_split = 0.2\nlr_schedule = \"cosine\"\nwarmup_epochs = 1\n\
                augment = [\"random_crop\"]\n[sweep]\npatience = [1]\nmin_delta = [0.0, 10.0]\n";
    let dir = tempfile::tempdir().unwrap();
    let output = run_spec(dir.path(), spec, &["-q"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let run_dir = the_run(dir.path());
    let trials: Vec<PathBuf> = {
        let mut t: Vec<PathBuf> =
            std::fs::read_dir(run_dir.join("trials")).unwrap().map(|e| e.unwrap().path()).collect();
        t.sort();
        t
    };

    let summary = csv_rows(&run_dir.join("summary.csv"));
    // min_delta = 10: no epoch after the first can improve by that much; patience 1 stops at 2.
    let stopped = column(&summary, "stopped_epoch");
    assert_eq!(stopped[1], "2");
    assert_eq!(column(&summary, "status"), ["done", "done"]);
    let strict = csv_rows(&trials[1].join("metrics.csv"));
    assert_eq!(strict.len(), 3, "header and the two epochs before it stopped");

    let metrics = csv_rows(&trials[0].join("metrics.csv"));
    let val_acc: Vec<f64> = column(&metrics, "val_acc").iter().map(|v| v.parse().unwrap()).collect();
    let test_acc: Vec<f64> = column(&metrics, "test_acc").iter().map(|v| v.parse().unwrap()).collect();
    let lr: Vec<f64> = column(&metrics, "lr").iter().map(|v| v.parse().unwrap()).collect();
    assert!(!val_acc.is_empty() && val_acc.iter().all(|v| (0.0..=1.0).contains(v)), "{val_acc:?}");
    assert!((lr[0] - 0.001).abs() < 1e-12, "warm-up epoch 1: lr / 2, got {}", lr[0]);
    assert!((lr[1] - 0.002).abs() < 1e-12, "the cosine starts at lr, got {}", lr[1]);
    assert!(lr[2..].windows(2).all(|w| w[1] < w[0]), "then anneals: {lr:?}");
    let best = (0..val_acc.len()).fold(0, |b, i| if val_acc[i] > val_acc[b] { i } else { b });
    assert_eq!(column(&summary, "best_epoch")[0], (best + 1).to_string(), "chosen on validation accuracy");
    assert_eq!(column(&summary, "best_val_acc")[0], format!("{:.4}", val_acc[best]));
    assert_eq!(column(&summary, "test_acc_at_best")[0], format!("{:.4}", test_acc[best]));
    let report = std::fs::read_to_string(run_dir.join("report.md")).unwrap();
    assert!(report.contains("picked on its validation split"), "{report}");

    // The same spec again: the split and the augmentation are the seed's, the results the same.
    let again = tempfile::tempdir().unwrap();
    assert!(run_spec(again.path(), spec, &["-q"]).status.success());
    let strip = common::without_timing;
    assert_eq!(
        strip(metrics),
        strip(csv_rows(&the_run(again.path()).join("trials").join(trials[0].file_name().unwrap()).join("metrics.csv")))
    );
}

#[test]
fn without_a_split_the_report_says_the_best_epoch_was_picked_on_the_test_set() {
    let dir = tempfile::tempdir().unwrap();
    let output = run_spec(
        dir.path(),
        "name = \"plain\"\nmodel = \"nn\"\nepochs = 1\nlimit_train = 300\nlimit_test = 100\n",
        &["-q"],
    );
    assert!(output.status.success());
    let run_dir = the_run(dir.path());
    assert!(std::fs::read_to_string(run_dir.join("report.md")).unwrap().contains("picked on the test set itself"));
    let metrics = csv_rows(&run_dir.join("trials/000_plain/metrics.csv"));
    assert_eq!(column(&metrics, "val_loss"), [""], "empty without a split");
    assert_eq!(column(&csv_rows(&run_dir.join("summary.csv")), "best_val_acc"), [""]);
}

#[test]
fn bad_protocol_values_are_located_and_nothing_is_written() {
    let cases: [(&str, &str); 11] = [
        ("val_split = 0.7\n", "spec.toml:1:1: `val_split`: must be in (0, 0.5]"),
        ("patience = 3\n", "spec.toml:1:1: `patience`: early stopping needs a validation split"),
        (
            "val_split = 0.1\npatience = 2\nmonitor = \"test_acc\"\n",
            "spec.toml:3:1: `monitor`: unknown value \"test_acc\"; allowed: val_loss, val_acc",
        ),
        ("lr_schedule = \"linear\"\n", "allowed: constant, step, multistep, cosine, onecycle"),
        (
            "lr_schedule = \"multistep\"\nmilestones = [3, 2]\n",
            "spec.toml:2:1: `milestones`: must be strictly increasing",
        ),
        ("lr_schedule = \"step\"\n", "`step_size`: must be at least 1"),
        ("gamma = 0\n", "spec.toml:1:1: `gamma`: must be a finite number greater than 0"),
        ("min_lr = 0.5\n", "`min_lr`: must be in [0, lr]"),
        ("epochs = 3\nwarmup_epochs = 3\n", "spec.toml:2:1: `warmup_epochs`: must be less than epochs"),
        ("augment = [\"hflip\"]\n", "`augment`: \"hflip\" mirrors digits"),
        ("[sweep]\naugment = [[\"random_crop\"], [\"hflip\"]]\n", "spec.toml:2:"),
    ];
    for (spec, expected) in cases {
        rejects(spec, &[], &[expected]);
    }
}
