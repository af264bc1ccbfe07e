//! `dataset = "folder"`: the user's own images, as train/<class>/* and test/<class>/* (generated
//! here from real MNIST digits, as grayscale and as tinted RGB PNGs): training, the cache, the
//! records eval, predict and export read, and each refusal.

mod common;

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};

use common::{column, csv_rows, runner, the_run, tree};

/// Digits 3, 5 and 8 as classes named "three", "five", "eight" (sorted: eight, five, three).
fn digits_folder(dir: &Path, rgb: bool) -> PathBuf {
    let folder = dir.join(if rgb { "digits-rgb" } else { "digits" });
    runner::data::test_data::mnist_folder(&folder, &[3, 5, 8], 150, 40, rgb);
    for split in ["train", "test"] {
        for (digit, name) in [("3", "three"), ("5", "five"), ("8", "eight")] {
            std::fs::rename(folder.join(split).join(digit), folder.join(split).join(name)).unwrap();
        }
    }
    folder
}

fn spec(folder: &Path, extra: &str) -> String {
    format!(
        "name = \"pets\"\ndataset = \"folder\"\nfolder = \"{}\"\nepochs = 3\nbatch_size = 15\nlr = 0.1\n{extra}",
        folder.display()
    )
}

/// `runner spec.toml --data-dir data --runs-dir out ARGS` in `dir`.
fn run(dir: &Path, text: &str, args: &[&str]) -> std::process::Output {
    std::fs::write(dir.join("spec.toml"), text).unwrap();
    runner(dir).args(["spec.toml", "--data-dir", "data", "--runs-dir", "out"]).args(args).output().unwrap()
}

#[test]
fn a_grayscale_folder_trains_both_models_and_its_trials_know_their_classes() {
    let dir = tempfile::tempdir().unwrap();
    let folder = digits_folder(dir.path(), false);
    let text = spec(&folder, "[sweep]\nmodel = [\"nn\", \"cnn\"]\n");

    let dry = run(dir.path(), &text, &["--dry-run"]);
    let stdout = String::from_utf8_lossy(&dry.stdout);
    assert!(dry.status.success(), "{}", String::from_utf8_lossy(&dry.stderr));
    // NN 784-128-3: 784*128 + 128 + 128*3 + 3; the CNN: the seed's 225,034 less 7 outputs (128*7 + 7).
    assert!(stdout.contains("| 100867 |"), "{stdout}");
    assert!(stdout.contains("| 224131 |"), "{stdout}");
    assert!(!dir.path().join("out").exists(), "a dry run starts no run folder");
    assert!(!dir.path().join("data").exists(), "a dry run writes no cache and makes no data root");

    let output = run(dir.path(), &text, &[]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("decoding 570 images"), "{stderr}");
    let said = format!("{stderr}{}", String::from_utf8_lossy(&output.stdout));
    assert!(said.contains(&format!("cnn on folder {} (cpu)", folder.display())), "a trial names its folder: {said}");
    let run_dir = the_run(dir.path());
    let summary = csv_rows(&run_dir.join("summary.csv"));
    assert_eq!(column(&summary, "params"), ["100867", "224131"]);
    for accuracy in column(&summary, "final_test_acc") {
        assert!(accuracy.parse::<f64>().unwrap() > 0.6, "three digits are learnable (chance: 1/3): {summary:?}");
    }
    let record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run_dir.join("trials/001_model=cnn/images.json")).unwrap()).unwrap();
    assert_eq!(record["classes"], serde_json::json!(["eight", "five", "three"]));
    assert_eq!(
        (record["channels"].as_u64(), record["height"].as_u64(), record["width"].as_u64()),
        (Some(1), Some(28), Some(28))
    );

    // predict names the classes; eval and export build the 3-class model from the record.
    let trial = run_dir.join("trials/001_model=cnn");
    let five = folder.join("test/five/00000.png");
    let output = runner(dir.path()).arg("predict").arg(&trial).arg(&five).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains("00000.png: five "), "{stdout}");
    let output = runner(dir.path()).arg("eval").arg(&trial).arg("--data-dir").arg("data").output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains("(120 test images)") && stdout.contains("| eight |"), "{stdout}");
    let output = runner(dir.path()).arg("export").arg(&trial).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let module = std::fs::read_to_string(trial.join("model.py")).unwrap();
    assert!(module.contains("self.fc2 = nn.Linear(128, 3)"), "{module}");
    check_in_pytorch(&trial, &folder, &stdout);
    // A built-in set has 10 classes: the model cannot be evaluated on it.
    let output = runner(dir.path())
        .arg("eval")
        .arg(&trial)
        .args(["--dataset", "mnist", "--offline"])
        .arg("--data-dir")
        .arg(common::shared_data())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .contains("(10 classes) but this model takes 28x28 grayscale (3 classes)")
    );

    // A class folder renamed since: labels would mean other classes, so eval refuses, naming both.
    for split in ["train", "test"] {
        std::fs::rename(folder.join(split).join("five"), folder.join(split).join("zfive")).unwrap();
    }
    let output = runner(dir.path()).arg("eval").arg(&trial).arg("--data-dir").arg("data").output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("its classes are now eight, three, zfive but this trial trained on eight, five, three"),
        "{stderr}"
    );
}

/// The export, loaded strictly into model.py's `Model` in PyTorch, on the folder's test images
/// as Pillow reads them: the accuracy `runner eval` printed (`eval`), where torch is there.
fn check_in_pytorch(trial: &Path, folder: &Path, eval: &str) {
    let python = std::env::var("RUNNER_TORCH_PYTHON").unwrap_or_else(|_| "python3".into());
    if !std::process::Command::new(&python)
        .args(["-c", "import torch, safetensors, PIL"])
        .output()
        .is_ok_and(|o| o.status.success())
    {
        eprintln!(
            "skipped: the check in PyTorch ({python} cannot import torch, safetensors and PIL; set RUNNER_TORCH_PYTHON)"
        );
        return;
    }
    let output = std::process::Command::new(&python)
        .arg(common::root().join("scripts/check_export.py"))
        .arg(trial.join("model.safetensors"))
        .arg("--folder")
        .arg(folder)
        .output()
        .unwrap();
    let torch = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(output.status.success(), "{torch}{}", String::from_utf8_lossy(&output.stderr));
    let accuracy = |text: &str, after: &str| {
        text[text.find(after).unwrap_or_else(|| panic!("{after:?} in {text}")) + after.len()..]
            .split('%')
            .next()
            .unwrap()
            .to_string()
    };
    assert_eq!(accuracy(&torch, "test accuracy "), accuracy(eval, "accuracy "), "{torch}\n{eval}");
}

#[test]
fn an_rgb_folder_resized_by_image_size_trains_and_a_changed_folder_is_decoded_again() {
    let dir = tempfile::tempdir().unwrap();
    let folder = digits_folder(dir.path(), true);
    let text = spec(
        &folder,
        "model = \"cnn\"\nimage_size = [24, 24]\nmean = [0.5, 0.25, 0.5]\nstd = [0.5]\naugment = [\"hflip\"]\n",
    );
    let output = run(dir.path(), &text, &[]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("decoding 570 images") && stderr.contains("(3x24x24)"), "{stderr}");
    let run_dir = the_run(dir.path());
    let record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run_dir.join("trials/000_pets/images.json")).unwrap()).unwrap();
    assert_eq!(record["channels"].as_u64(), Some(3));
    let accuracy: f64 = column(&csv_rows(&run_dir.join("summary.csv")), "final_test_acc")[0].parse().unwrap();
    assert!(accuracy > 0.6, "chance is 1/3: {accuracy}");

    // The second run reads the cache; after a file changes it decodes again.
    std::fs::remove_dir_all(dir.path().join("out")).unwrap();
    let output = run(dir.path(), &text, &["--dry-run"]);
    assert!(String::from_utf8_lossy(&output.stderr).contains("read from its cache"));
    std::fs::remove_file(folder.join("train/five/00003.png")).unwrap();
    let output = run(dir.path(), &text, &["--dry-run"]);
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("decoding 569 images"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Exit 2, each of `needles` in the message, no panic, and no run folder.
fn refused(dir: &Path, text: &str, needles: &[&str]) {
    let output = run(dir, text, &[]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    for needle in needles {
        assert!(stderr.contains(needle), "{needle:?} not in: {stderr}");
    }
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!dir.join("out").exists(), "nothing written: {:?}", tree(dir));
}

#[test]
fn bad_folders_and_models_that_do_not_fit_their_images_are_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("small");
    runner::data::test_data::mnist_folder(&folder, &[0, 1], 3, 2, false);
    let good = spec(&folder, "");

    refused(dir.path(), "dataset = \"folder\"\n", &["spec.toml", "`folder`", "needs folder = \"PATH\""]);
    refused(
        dir.path(),
        &format!("folder = \"{}\"\n", folder.display()),
        &["spec.toml:1:1", "`folder`: only applies to dataset = \"folder\""],
    );
    refused(dir.path(), &spec(&dir.path().join("nowhere"), ""), &["nowhere", "is not a folder"]);
    refused(
        dir.path(),
        &spec(&folder, "image_size = [24]\n"),
        &["spec.toml:7:1", "`image_size`: must be [height, width]"],
    );
    // Checked once the images are read, and still located in the file.
    refused(
        dir.path(),
        &spec(&folder, "mean = [0.5, 0.5, 0.5]\n"),
        &["spec.toml:7:1", "`mean`", "needs 1 value or 1 (one per channel of folder)"],
    );
    refused(
        dir.path(),
        &spec(&folder, "image_size = [6, 6]\n"),
        &["`conv_channels`", "do not fit folder's 6x6 images"],
    );

    std::fs::write(folder.join("train/1/broken.png"), "not a png").unwrap();
    refused(dir.path(), &good, &["train/1/broken.png", "not a readable PNG, JPEG, BMP or GIF image"]);
    std::fs::remove_file(folder.join("train/1/broken.png")).unwrap();
    std::fs::create_dir(folder.join("train/7")).unwrap();
    refused(dir.path(), &good, &["train/7", "holds no images"]);
    std::fs::remove_dir(folder.join("train/7")).unwrap();
    std::fs::create_dir_all(folder.join("test/9")).unwrap();
    std::fs::copy(folder.join("test/1/00000.png"), folder.join("test/9/00000.png")).unwrap();
    refused(dir.path(), &good, &["test/9", "a class train/ lacks"]);
    std::fs::remove_dir_all(folder.join("test")).unwrap();
    refused(dir.path(), &good, &["small", "has no test/ folder"]);
}

/// Runs `dir`/spec.toml into `dir`/out, killed (as by SIGKILL) once its first epoch is committed.
fn kill_after_epoch_one(dir: &Path) {
    let killed = runner(dir)
        .args(["spec.toml", "--data-dir", "data", "--runs-dir", "out", "-q"])
        .env("RUNNER_FAILPOINT", "committed:000_pets:1")
        .output()
        .unwrap();
    assert!(killed.status.code().is_none(), "killed after epoch 1");
}

#[test]
fn a_killed_folder_trial_resumes_exactly_and_one_whose_folder_changed_fails_saying_why() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("small");
    runner::data::test_data::mnist_folder(&folder, &[0, 1, 7], 40, 10, false);
    let text = spec(&folder, "model = \"nn\"\n");
    let straight = tempfile::tempdir().unwrap();
    let output = run(straight.path(), &text, &["-q"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));

    std::fs::write(dir.path().join("spec.toml"), &text).unwrap();
    kill_after_epoch_one(dir.path());
    let run_dir = the_run(dir.path());
    let resumed = runner(dir.path()).arg("resume").arg(&run_dir).arg("-q").output().unwrap();
    assert!(resumed.status.success(), "{}", String::from_utf8_lossy(&resumed.stderr));
    assert_eq!(
        common::results(&run_dir),
        common::results(&the_run(straight.path())),
        "the same epochs as a straight run"
    );

    // Killed again, and then an image is replaced: the trial's first epoch saw the old one.
    std::fs::remove_dir_all(dir.path().join("out")).unwrap();
    kill_after_epoch_one(dir.path());
    std::fs::copy(folder.join("train/1/00000.png"), folder.join("train/7/00000.png")).unwrap();
    let run_dir = the_run(dir.path());
    // The run recorded the folder's fingerprint at its start: a resume on other files is refused.
    let refused = runner(dir.path()).arg("resume").arg(&run_dir).arg("-q").output().unwrap();
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("its files changed since the run started") && stderr.contains("--mixed-data"), "{stderr}");
    // Accepted with --mixed-data: the started trial still fails (its epoch saw the old files),
    // and the report says the run mixes them.
    let resumed = runner(dir.path()).arg("resume").arg(&run_dir).args(["--mixed-data", "-q"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&resumed.stderr);
    assert_eq!(resumed.status.code(), Some(1), "{stderr}");
    let status = std::fs::read_to_string(run_dir.join("trials/000_pets/status.json")).unwrap();
    assert!(status.contains("the image folder changed"), "{status}");
    assert_eq!(csv_rows(&run_dir.join("trials/000_pets/metrics.csv")).len(), 2, "its epoch is kept");
    let manifest = std::fs::read_to_string(run_dir.join("manifest.json")).unwrap();
    assert!(manifest.contains("data_fingerprints"), "{manifest}");
    let report = runner(dir.path()).arg("report").arg(&run_dir).output().unwrap();
    assert!(report.status.success(), "{}", String::from_utf8_lossy(&report.stderr));
    let text = std::fs::read_to_string(run_dir.join("report.md")).unwrap();
    assert!(text.contains("**Mixed data**: folder") && text.contains("2 versions of its files"), "{text}");
}

/// A tiny folder and a one-epoch NN on it, in `dir`.
fn tiny(dir: &Path) -> String {
    let folder = dir.join("tiny");
    runner::data::test_data::mnist_folder(&folder, &[0, 1], 10, 4, false);
    format!("name = \"tiny\"\ndataset = \"folder\"\nfolder = \"{}\"\nmodel = \"nn\"\nepochs = 1\n", folder.display())
}

fn cache_files(data: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(data.join("folder-cache"))
        .map(|d| d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn a_cache_write_killed_halfway_leaves_a_temp_file_the_next_start_removes() {
    let dir = tempfile::tempdir().unwrap();
    let text = tiny(dir.path());
    std::fs::write(dir.path().join("spec.toml"), &text).unwrap();
    let start = |data: &str| {
        let mut cmd = runner(dir.path());
        cmd.args(["spec.toml", "-q", "--runs-dir", "out", "--data-dir", data]);
        cmd
    };
    assert!(start("first").output().unwrap().status.success());
    let [name] = cache_files(&dir.path().join("first")).try_into().unwrap();

    let killed = start("data").env("RUNNER_FAILPOINT", format!("tmp-written:{name}")).output().unwrap();
    assert_eq!(killed.status.signal(), Some(libc::SIGKILL));
    let left = cache_files(&dir.path().join("data"));
    assert!(left.len() == 1 && left[0].starts_with(&format!(".{name}.tmp-")), "{left:?}");

    assert!(start("data").output().unwrap().status.success());
    assert_eq!(cache_files(&dir.path().join("data")), [name]);
}

#[test]
fn ctrl_c_while_the_folder_is_decoded_stops_before_anything_is_written() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("spec.toml"), tiny(dir.path())).unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_runner"))
        .current_dir(dir.path())
        .args(["spec.toml", "--runs-dir", "out", "--data-dir", "data"])
        .env("RUNNER_FAILPOINT", "decode-image=sleep:200")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut said = String::new();
    while !said.contains("decoding") {
        assert!(stderr.read_line(&mut said).unwrap() > 0, "{said}");
    }
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = child.wait().unwrap();
    std::io::Read::read_to_string(&mut stderr, &mut said).unwrap();
    assert_eq!(status.code(), Some(130), "{said}");
    assert!(said.contains("stopped before the run started, while decoding the images of"), "{said}");
    assert!(!said.contains("epoch"), "{said}");
    assert!(!dir.path().join("out").exists(), "no run folder");
    assert!(cache_files(&dir.path().join("data")).is_empty());
}
