//! Random search and ASHA: reproducible trials, pruning decisions, reports, bad input.

mod common;

use std::path::PathBuf;

use common::{column, csv_rows, rejects, run_spec, runner, spec_command, the_run, tree};

const ASHA: &str = "name = \"asha\"\nmodel = \"nn\"\nepochs = 3\nbatch_size = 50\nlimit_train = 600\nlimit_test = 200\nval_split = 0.2\n\
                    [search]\nmethod = \"asha\"\ntrials = 6\nseed = 4\n[search.space]\nlr = { log_uniform = [0.0005, 0.5] }\n\
                    momentum = { uniform = [0.0, 0.9] }\n";

#[test]
fn random_search_samples_the_same_trials_every_time_per_grid_point() {
    let spec = "model = \"nn\"\n[sweep]\nmodel = [\"nn\", \"cnn\"]\n[search]\nmethod = \"random\"\ntrials = 5\nseed = 11\n\
                [search.space]\nlr = { log_uniform = [1e-4, 1e-1] }\nbatch_size = { int_uniform = [16, 128] }\noptimizer = [\"sgd\", \"adam\"]\n";
    let dir = tempfile::tempdir().unwrap();
    let first = run_spec(dir.path(), spec, &["--dry-run"]);
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let second = run_spec(dir.path(), spec, &["--dry-run"]);
    assert_eq!(first.stdout, second.stdout, "the same trials on every run");
    let table = String::from_utf8(first.stdout).unwrap();
    // Below the keys every trial shares: the header, its rule, the trials.
    let rows: Vec<&str> = table.split_once("\n\n").unwrap().1.lines().skip(2).collect();
    assert_eq!(rows.len(), 10, "2 grid points x 5 samples");
    assert!(
        rows[0].contains("| model=nn,batch_size=") && rows[0].contains(",lr=0.") && rows[0].contains(",optimizer="),
        "{}",
        rows[0]
    );
    assert!(rows[5].contains("model=cnn"), "grid point 2 gets its own samples: {}", rows[5]);
    let other_seed = run_spec(dir.path(), &spec.replace("seed = 11", "seed = 12"), &["--dry-run"]);
    assert_ne!(String::from_utf8(other_seed.stdout).unwrap(), table);
    assert_eq!(tree(dir.path()), ["spec.toml"], "a dry run writes nothing");
}

#[test]
fn asha_prunes_from_the_run_folder_reports_the_budget_and_resumes_exactly() {
    let straight = tempfile::tempdir().unwrap();
    let output = run_spec(straight.path(), ASHA, &["-q"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let run_dir = the_run(straight.path());
    let summary = csv_rows(&run_dir.join("summary.csv"));
    let statuses = column(&summary, "status");
    assert_eq!(statuses.len(), 6);
    assert_eq!(statuses[0], "done", "the first trial has no rival at its rungs");
    assert!(statuses.iter().any(|s| s == "pruned"), "{statuses:?}");
    assert!(statuses.iter().all(|s| s == "done" || s == "pruned"), "{statuses:?}");
    let reasons = column(&summary, "reason");
    let pruned = statuses.iter().position(|s| s == "pruned").unwrap();
    assert!(reasons[pruned].starts_with("pruned at epoch 1 (ASHA): val_loss"), "{}", reasons[pruned]);
    // A pruned trial keeps its metrics and checkpoints.
    let trials: Vec<PathBuf> = {
        let mut t: Vec<PathBuf> =
            std::fs::read_dir(run_dir.join("trials")).unwrap().map(|e| e.unwrap().path()).collect();
        t.sort();
        t
    };
    assert!(trials[pruned].join("checkpoints/last.bpk").is_file());
    assert_eq!(csv_rows(&trials[pruned].join("metrics.csv")).len(), 2, "header and the rung's epoch");
    // Full precision in the trial's spec, rounded in its name.
    let recorded: toml::Table = toml::from_str(&std::fs::read_to_string(trials[1].join("spec.toml")).unwrap()).unwrap();
    let lr = recorded["lr"].as_float().unwrap().to_string();
    let name = trials[1].file_name().unwrap().to_string_lossy().into_owned();
    assert!(lr.len() > 8 && !name.contains(&lr), "{name} vs {lr}");

    let report = std::fs::read_to_string(run_dir.join("report.md")).unwrap();
    assert!(report.contains("## Search (asha)") && report.contains("- Best configuration found: `00"), "{report}");
    assert!(report.contains("epochs trained of the 18 that 6 trials would train"), "{report}");
    assert!(run_dir.join("search_lr.svg").is_file() && run_dir.join("search_momentum.svg").is_file());
    let status = runner(straight.path()).arg("status").arg(&run_dir).output().unwrap();
    assert!(String::from_utf8(status.stdout).unwrap().contains(" pruned"));

    // Killed in the middle of the search, resumed: the same decisions and metrics.
    let dir = tempfile::tempdir().unwrap();
    let name = |i: usize| trials[i].file_name().unwrap().to_string_lossy().into_owned();
    let killed = run_spec(dir.path(), ASHA, &["-q"]);
    assert!(killed.status.success());
    let crashed = tempfile::tempdir().unwrap();
    let output = spec_command(crashed.path(), ASHA)
        .arg("-q")
        .env("RUNNER_FAILPOINT", format!("committed:{}:1", name(pruned)))
        .output()
        .unwrap();
    assert!(output.status.code().is_none(), "killed at the rung's commit, before the decision");
    let crashed_run = the_run(crashed.path());
    let output = runner(crashed.path()).arg("resume").arg(&crashed_run).arg("-q").output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let strip = common::without_clock;
    assert_eq!(strip(csv_rows(&crashed_run.join("summary.csv"))), strip(summary));
    // Pruned at resume, it drops its epoch state as a pruned trial does in an uninterrupted run.
    assert_eq!(tree(&crashed_run), tree(&run_dir), "the same files, no epoch state left behind");
}

#[test]
fn asha_decides_the_same_with_jobs_2_whatever_the_workers_speed() {
    let one = tempfile::tempdir().unwrap();
    let output = run_spec(one.path(), ASHA, &["-q"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let first = std::fs::read_dir(the_run(one.path()).join("trials"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .min()
        .unwrap();
    // The first trial falls far behind: the others reach their rungs long before it does.
    let two = tempfile::tempdir().unwrap();
    let output = spec_command(two.path(), ASHA)
        .args(["--jobs", "2"])
        .env("RUNNER_FAILPOINT", format!("batch:{first}:1:1=sleep:4000"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("waiting for {first} to reach epoch 1 (ASHA decides in sweep order)")),
        "{stderr}"
    );
    assert_eq!(common::results(&the_run(one.path())), common::results(&the_run(two.path())));
}

#[test]
fn bad_searches_are_located_and_nothing_is_written() {
    let cases: [(&str, &str); 11] = [
        (
            "[search]\nmethod = \"bayes\"\n",
            "spec.toml:2:1: `search.method`: unknown value \"bayes\"; allowed: grid, random, asha",
        ),
        (
            "[search]\nmethod = \"random\"\n[search.space]\nlr = [0.1, 0.2]\n",
            "spec.toml:1:2: `search.trials`: method = \"random\" needs",
        ),
        (
            "[search]\nmethod = \"random\"\ntrials = 3\n[search.space]\nlr = { uniform = [0.2, 0.1] }\n",
            "spec.toml:5:1: `search.space.lr`: `uniform` = [0.2, 0.1]: the lower bound is above",
        ),
        (
            "[search]\nmethod = \"random\"\ntrials = 3\n[search.space]\nlr = { log_uniform = [0, 0.1] }\n",
            "greater than 0",
        ),
        (
            "[search]\nmethod = \"random\"\ntrials = 3\n[search.space]\nlr = { normal = [0, 1] }\n",
            "unknown distribution `normal`",
        ),
        (
            "[search]\nmethod = \"random\"\ntrials = 3\n[search.space]\nname = [\"a\", \"b\"]\n",
            "`search.space.name`: `name` cannot be searched",
        ),
        (
            "[sweep]\nlr = [0.1]\n[search]\nmethod = \"random\"\ntrials = 3\n[search.space]\nlr = [0.1, 0.2]\n",
            "is also in [sweep]",
        ),
        (
            "val_split = 0.1\n[search]\nmethod = \"asha\"\ntrials = 3\nreduction_factor = 1\n[search.space]\nlr = [0.1]\n",
            "spec.toml:5:1: `search.reduction_factor`: must be at least 2",
        ),
        (
            "epochs = 2\nval_split = 0.1\n[search]\nmethod = \"asha\"\ntrials = 3\nmin_epochs = 3\n[search.space]\nlr = [0.1]\n",
            "`search.min_epochs`: must be in 1..=epochs (2)",
        ),
        (
            "[search]\nmethod = \"asha\"\ntrials = 3\n[search.space]\nlr = [0.1]\n",
            "spec.toml:2:1: `search.method`: asha prunes on a validation metric: set val_split",
        ),
        // A list of mixed types is located at the wrong value.
        (
            "[search]\nmethod = \"random\"\ntrials = 2\n[search.space]\noptimizer = [\"sgd\", 1]\n",
            "spec.toml:5:21: `search.space.optimizer[1]`: value 2 of the list: `optimizer` takes a string, found an integer 1",
        ),
    ];
    for (spec, expected) in cases {
        rejects(spec, &[], &[expected]);
    }
    // ASHA prunes on validation: a space that can draw no split is refused, whatever it draws.
    for space in ["val_split = [0.0, 0.2]", "val_split = { uniform = [0.0, 0.2] }"] {
        rejects(
            &format!("val_split = 0.1\n[search]\nmethod = \"asha\"\ntrials = 3\n[search.space]\n{space}\n"),
            &[],
            &["`search.space.val_split`: can draw 0 (no validation split)"],
        );
    }
    // A split that holds out nothing (one training image) is refused, not silently empty.
    rejects(
        "limit_train = 1\nval_split = 0.5\npatience = 1\n",
        &[],
        &["`limit_train`: a validation split needs at least 2 training images"],
    );
    rejects(
        "[search]\nmethod = \"random\"\ntrials = 2\n[search.space]\nbatch_size = { uniform = [10, 20] }\n",
        &[],
        &["`search.space.batch_size`: draws values `batch_size` cannot take"],
    );
}

#[test]
fn each_trial_of_a_search_can_be_evaluated_predicted_and_exported() {
    let spec = "model = \"nn\"\nepochs = 1\nlimit_train = 300\nlimit_test = 100\ntensorboard = false\n\
                [search]\nmethod = \"random\"\ntrials = 2\n[search.space]\nlr = { log_uniform = [1e-3, 1e-1] }\n";
    let dir = tempfile::tempdir().unwrap();
    let output = run_spec(dir.path(), spec, &["-q"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let run = std::fs::read_dir(dir.path().join("out")).unwrap().next().unwrap().unwrap().path();
    for trial in std::fs::read_dir(run.join("trials")).unwrap() {
        let trial = trial.unwrap().path();
        for command in ["eval", "export"] {
            let mut cmd = runner(dir.path());
            cmd.arg(command).arg(&trial);
            if command == "eval" {
                cmd.arg("--data-dir").arg(common::shared_data());
            }
            let out = cmd.output().unwrap();
            assert!(out.status.success(), "{command} {}: {}", trial.display(), String::from_utf8_lossy(&out.stderr));
        }
    }
}

#[test]
fn the_readme_search_example_runs_as_written_and_draws_momentum_for_sgd_only() {
    let example = common::readme_example("### Random search and ASHA");
    let dir = tempfile::tempdir().unwrap();
    let output = run_spec(dir.path(), &example, &["--dry-run"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{}{stdout}", String::from_utf8_lossy(&output.stderr));
    let rows: Vec<&str> = stdout.lines().filter(|l| l.contains("optimizer=")).collect();
    assert_eq!(rows.len(), 40, "2 grid points x 20 samples: {stdout}");
    assert!(rows.iter().filter(|r| r.contains("optimizer=adam")).all(|r| r.contains("momentum=-")), "{stdout}");
    assert!(rows.iter().filter(|r| r.contains("optimizer=sgd")).all(|r| r.contains("momentum=0.")), "{stdout}");
    assert!(rows.iter().any(|r| r.contains("optimizer=adam")) && rows.iter().any(|r| r.contains("optimizer=sgd")));
}

/// A search picks on validation: its console lines show that objective, never the test accuracy.
#[test]
fn search_epoch_lines_show_the_objective_not_the_test_accuracy() {
    let dir = tempfile::tempdir().unwrap();
    let output = run_spec(dir.path(), &ASHA.replace("trials = 6", "trials = 2"), &[]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let epochs: Vec<&str> = stderr.lines().filter(|l| l.contains("epoch 1/3: train loss")).collect();
    assert_eq!(epochs.len(), 2, "{stderr}");
    assert!(epochs.iter().all(|l| l.contains("| val loss ") && !l.contains("test")), "{stderr}");
}
