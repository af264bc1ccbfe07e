//! TPE searches from outside: the same draws in one process and with `--jobs 2`, a killed search
//! resumed with the draws it recorded, a hand-edited draw file refused, the report's history,
//! bad input located.

mod common;

use std::path::{Path, PathBuf};

use common::{rejects, results, run_spec, runner, spec_command, the_run, tree};

/// 8 trials in rounds of 3 (3, 3, 2), the first 3 random: rounds 1 and 2 are drawn by TPE from
/// what the rounds before gave.
const TPE: &str = "name = \"tpe\"\nmodel = \"nn\"\nepochs = 2\nbatch_size = 50\nlimit_train = 600\nlimit_test = 200\n\
                   val_split = 0.2\n[search]\nmethod = \"tpe\"\ntrials = 8\nseed = 7\nparallel = 3\nn_startup_trials = 3\n\
                   [search.space]\nlr = { log_uniform = [0.0005, 0.5] }\noptimizer = [\"sgd\", \"adam\"]\n\
                   momentum = { uniform = [0.0, 0.9] }\n";

/// Each draw file of a run, by name, with its bytes.
fn draw_files(run_dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(run_dir.join("draws")).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    files
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(p).unwrap()))
        .collect()
}

fn straight_run() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let output = run_spec(dir.path(), TPE, &["-q"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let run_dir = the_run(dir.path());
    (dir, run_dir)
}

#[test]
fn a_tpe_search_draws_the_same_trials_in_one_process_and_with_jobs_2() {
    let (dir, run_dir) = straight_run();
    let draws = draw_files(&run_dir);
    let names: Vec<&str> = draws.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["round_000.json", "round_001.json", "round_002.json"]);
    let round_1: serde_json::Value = serde_json::from_slice(&draws[1].1).unwrap();
    assert_eq!(round_1["from"].as_array().unwrap().len(), 3, "round 1 is drawn from round 0's trials");
    assert_eq!(round_1["trials"].as_array().unwrap().len(), 3);
    // Each trial ran with the values its round drew, in full precision.
    let lr = round_1["trials"][0]["values"]["lr"].as_f64().unwrap();
    let recorded: toml::Table =
        toml::from_str(&std::fs::read_to_string(run_dir.join("trials/003_round=1/spec.toml")).unwrap()).unwrap();
    assert_eq!(recorded["lr"].as_float(), Some(lr));

    let two = tempfile::tempdir().unwrap();
    let output = run_spec(two.path(), TPE, &["--jobs", "2"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("drew round 1 ("), "{stderr}");
    let two_run = the_run(two.path());
    assert_eq!(draw_files(&two_run), draws, "the same draws, byte for byte");
    assert_eq!(results(&two_run), results(&run_dir), "the same trials, the same metrics");

    // The report: the history figure and the best configuration with its values.
    let report = std::fs::read_to_string(run_dir.join("report.md")).unwrap();
    assert!(report.contains("## Search (tpe)"), "{report}");
    let best = report.lines().find(|l| l.starts_with("- Best configuration found:")).unwrap();
    assert!(best.contains("lr=") && best.contains("optimizer=") && best.contains("validation accuracy"), "{best}");
    assert!(run_dir.join("history.svg").is_file() && run_dir.join("history.png").is_file());
    let svg = std::fs::read_to_string(run_dir.join("history.svg")).unwrap();
    assert!(svg.contains("round 2") && svg.contains("best so far"));
    let status = runner(dir.path()).arg("status").arg(&run_dir).output().unwrap();
    let status = String::from_utf8(status.stdout).unwrap();
    assert!(status.contains("TPE 3 of 3 rounds drawn; best so far 00"), "{status}");
    assert!(status.contains("| round=1 (lr="), "drawn trials are shown with their values: {status}");
}

#[test]
fn a_killed_tpe_search_resumes_with_its_draws_and_ends_as_the_straight_run() {
    let (_straight, run_dir) = straight_run();
    let expected = (draw_files(&run_dir), results(&run_dir));
    // Killed as round 1 is drawn (before its file is written), then after a round-1 trial ended.
    for point in ["draw:1", "trial-done:004_round=1"] {
        let dir = tempfile::tempdir().unwrap();
        let output = spec_command(dir.path(), TPE).arg("-q").env("RUNNER_FAILPOINT", point).output().unwrap();
        assert!(output.status.code().is_none(), "{point}: killed");
        let crashed = the_run(dir.path());
        let drawn = draw_files(&crashed).len();
        assert_eq!(drawn, if point == "draw:1" { 1 } else { 2 }, "{point}");
        let output = runner(dir.path()).arg("resume").arg(&crashed).arg("-q").output().unwrap();
        assert!(output.status.success(), "{point}: {}", String::from_utf8_lossy(&output.stderr));
        assert_eq!((draw_files(&crashed), results(&crashed)), expected, "{point}");
    }
}

#[test]
fn a_hand_edited_draw_file_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let output =
        spec_command(dir.path(), TPE).arg("-q").env("RUNNER_FAILPOINT", "trial-done:004_round=1").output().unwrap();
    assert!(output.status.code().is_none());
    let crashed = the_run(dir.path());
    let file = crashed.join("draws/round_001.json");
    let text = std::fs::read_to_string(&file).unwrap();
    let lr = text.lines().find(|l| l.contains("\"lr\"")).unwrap();
    std::fs::write(&file, text.replacen(lr, "        \"lr\": 0.1,", 1)).unwrap();
    let before = tree(&crashed);
    for args in [vec!["resume"], vec!["status"]] {
        let output = runner(dir.path()).args(&args).arg(&crashed).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains("draws/round_001.json: its content does not match its digest"), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    assert_eq!(tree(&crashed), before, "nothing written");
}

#[test]
fn bad_tpe_searches_are_located_and_nothing_is_written() {
    let search = "[search]\nmethod = \"tpe\"\ntrials = 20\n";
    let space = "[search.space]\nlr = { log_uniform = [1e-4, 0.3] }\n";
    let cases: Vec<(String, &str)> = vec![
        (format!("{search}{space}"), "spec.toml:2:1: `search.method`: tpe chooses its next trials by their validation accuracy: set val_split"),
        (format!("val_split = 0.1\n{search}parallel = 0\n{space}"), "spec.toml:5:1: `search.parallel`: must be at least 1"),
        (format!("val_split = 0.1\n{search}"), "`search.space`: tpe needs at least one key to search"),
        (format!("val_split = 0.1\n[sweep]\nlr = [0.1, 0.2]\n{search}{space}"), "spec.toml:8:1: `search.space.lr`: `lr` is also in [sweep]"),
        (
            "val_split = 0.1\n[search]\nmethod = \"random\"\ntrials = 20\nn_startup_trials = 3\n[search.space]\nlr = [0.1]\n".into(),
            "spec.toml:5:1: `search.n_startup_trials`: is read by method = \"tpe\" only",
        ),
        (format!("val_split = 0.1\n{search}group = true\nmultivariate = false\n{space}"), "`search.group`: needs multivariate = true"),
        (format!("val_split = 0.1\n{search}prior_weight = -1\n{space}"), "spec.toml:5:1: `search.prior_weight`: must be a finite number greater than 0"),
        (format!("val_split = 0.1\n{search}n_ei_candidates = 0\n{space}"), "`search.n_ei_candidates`"),
        (format!("val_split = 0.1\n{search}[search.space]\ndataset = [\"mnist\", \"cifar10\"]\n"), "spec.toml:6:1: `search.space.dataset`: `dataset` decides the data"),
        (
            format!("val_split = 0.1\n{search}[search.space]\nbatch_size = {{ int_uniform = [0, 10] }}\n"),
            "`search.space.batch_size`: can draw batch_size = 0, which is out of range",
        ),
        (format!("val_split = 0.1\n{search}multivariate = 1\n{space}"), "`search.multivariate`"),
    ];
    for (spec, expected) in &cases {
        rejects(spec, &[], &[expected]);
        rejects(spec, &["--dry-run"], &[expected]);
    }
}

#[test]
fn a_tpe_search_too_short_for_its_startup_trials_says_it_is_a_random_search() {
    let dir = tempfile::tempdir().unwrap();
    let short = TPE.replace("trials = 8", "trials = 3");
    let output = run_spec(dir.path(), &short, &["--dry-run"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("warning: search.trials = 3 but TPE draws its first 3 trials at random"), "{stderr}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("drawn by TPE round by round as the run goes: lr, momentum, optimizer"), "{stdout}");
    let output = run_spec(dir.path(), TPE, &["--dry-run"]);
    assert!(!String::from_utf8_lossy(&output.stderr).contains("warning"), "8 trials: rounds 1 and 2 use TPE");
    // Adam keeps two states per weight, SGD none: the memory a trial needs is drawn later.
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.lines().filter(|l| l.contains("| round=")).all(|l| l.contains("? (drawn later)")), "{stdout}");
    // The learning rate alone changes no size: each trial's are known now.
    let lr_only = TPE.replace("optimizer = [\"sgd\", \"adam\"]\nmomentum = { uniform = [0.0, 0.9] }\n", "");
    let output = run_spec(dir.path(), &lr_only, &["--dry-run"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let rows: Vec<&str> = stdout.lines().filter(|l| l.contains("| round=")).collect();
    assert!(rows.len() == 8 && rows.iter().all(|l| l.contains("| 101770 ") && !l.contains('?')), "{stdout}");
}

#[test]
fn the_readme_tpe_example_runs_as_written() {
    let example = common::readme_example("### Model-based search (TPE)");
    let dir = tempfile::tempdir().unwrap();
    let output = run_spec(dir.path(), &example, &["--dry-run"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{}{stdout}", String::from_utf8_lossy(&output.stderr));
    let rows: Vec<&str> = stdout.lines().filter(|l| l.contains("| round=")).collect();
    assert_eq!(rows.len(), 60, "{stdout}");
    assert!(rows[59].contains("| round=14 "), "60 trials in rounds of 4: {}", rows[59]);
    assert!(
        stdout.contains("drawn by TPE round by round as the run goes: hidden, lr, momentum, optimizer"),
        "{stdout}"
    );
}

#[test]
fn a_pruned_tpe_trial_is_drawn_from_as_optuna_ranks_it() {
    let spec = TPE
        .replace("epochs = 2", "epochs = 3")
        .replace("n_startup_trials = 3\n", "n_startup_trials = 3\nprune = \"asha\"\n");
    let dir = tempfile::tempdir().unwrap();
    let output = run_spec(dir.path(), &spec, &["-q"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let run_dir = the_run(dir.path());
    let last: serde_json::Value = serde_json::from_slice(&draw_files(&run_dir)[2].1).unwrap();
    let from = last["from"].as_array().unwrap();
    assert_eq!(from.len(), 6, "round 2 is drawn from rounds 0 and 1");
    let pruned: Vec<&serde_json::Value> = from.iter().filter(|s| s["status"] == "pruned").collect();
    assert!(!pruned.is_empty(), "{from:?}");
    // Each pruned trial counts with the rung it reached and its objective there.
    assert!(
        pruned.iter().all(|s| s["epochs"] == 1 && s["objective"].as_f64().is_some_and(|o| (-1.0..=0.0).contains(&o)))
    );
}
