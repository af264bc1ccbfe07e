//! Slurm: the batch scripts `runner submit` writes into `<run>/slurm/` and their submission.
//! Slurm schedules; each array task runs `runner worker RUN --trial $SLURM_ARRAY_TASK_ID`, which
//! claims its trial in the run folder and trains it from its last finished epoch. A report job
//! that depends on the array (`afterany`) runs `runner worker RUN --finish`. A TPE search is one
//! array per round, chained with `afterany`: a round's tasks start once the round before ended.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::Word;
use crate::error::{Error, Result};
use crate::spec::{BackendName, SlurmSpec, Trial};

/// What to submit: the run folder, the trials (indices) and the resources.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Absolute path of the run folder.
    pub run_dir: PathBuf,
    /// Absolute path of the runner binary the tasks run.
    pub runner: PathBuf,
    pub name: String,
    pub indices: Vec<usize>,
    /// The arrays to submit, each after the one before has ended: all the trials in one, or a
    /// TPE search's rounds, one array each (a round is drawn from the rounds before it).
    pub waves: Vec<Vec<usize>>,
    pub resources: SlurmSpec,
    pub cuda: bool,
    /// `runner worker ...` as an array task runs it, and as the report job does.
    pub task_line: Vec<Word>,
    pub finish_line: Vec<Word>,
}

impl Plan {
    /// `lines`: the array task's and the report job's worker command lines.
    pub fn new(
        run_dir: PathBuf,
        runner: PathBuf,
        name: &str,
        trials: &[&Trial],
        resources: &SlurmSpec,
        lines: [Vec<Word>; 2],
    ) -> Plan {
        let [task_line, finish_line] = lines;
        Plan {
            task_line,
            finish_line,
            run_dir,
            runner,
            name: name.to_string(),
            indices: trials.iter().map(|t| t.index).collect(),
            waves: waves(trials),
            resources: resources.clone(),
            cuda: trials.iter().any(|t| t.spec.backend == BackendName::Cuda),
        }
    }

    pub fn sweep_script_path(&self) -> PathBuf {
        self.run_dir.join("slurm").join("sweep.sbatch")
    }

    pub fn finish_script_path(&self) -> PathBuf {
        self.run_dir.join("slurm").join("finish.sbatch")
    }

    /// `0-3%2`: the first array's trial indices, as ranges, with the parallel limit.
    pub fn array(&self) -> String {
        self.arrays().swap_remove(0)
    }

    /// Each wave's array, as [`Plan::array`] writes it.
    pub fn arrays(&self) -> Vec<String> {
        let limit = match self.resources.max_parallel {
            0 => String::new(),
            m => format!("%{m}"),
        };
        self.waves.iter().map(|indices| format!("{}{limit}", ranges(indices))).collect()
    }

    /// The resource lines both scripts share.
    fn resource_lines(&self, for_training: bool) -> Vec<String> {
        let r = &self.resources;
        let mut lines = Vec::new();
        if !r.partition.is_empty() {
            lines.push(option("partition", &r.partition));
        }
        if for_training {
            if !r.time.is_empty() {
                lines.push(option("time", &r.time));
            }
            if r.cpus_per_task > 0 {
                lines.push(option("cpus-per-task", r.cpus_per_task));
            }
            if !r.mem.is_empty() {
                lines.push(option("mem", &r.mem));
            }
            match (r.gres.is_empty(), self.cuda) {
                (false, _) => lines.push(option("gres", &r.gres)),
                (true, true) => lines.push(option("gres", "gpu:1")),
                (true, false) => {}
            }
        }
        lines.extend(r.extra.iter().cloned());
        lines
    }

    /// The job array: one task per trial.
    pub fn sweep_script(&self) -> String {
        let slurm = self.run_dir.join("slurm");
        let mut options = vec![
            option("job-name", format!("runner:{}", self.name)),
            option("array", self.array()),
            option("output", log_path(&slurm, "%A_%a.out")),
            option("open-mode", "append"),
        ];
        if self.resources.requeue {
            // Warned `warning_seconds` before the time limit, a task commits and requeues itself.
            options.push("--requeue".to_string());
            options.push(option("signal", format!("B:USR1@{}", self.resources.warning_seconds())));
        }
        options.extend(self.resource_lines(true));
        let mut script = header(&options);
        script += "# Written by `runner submit`: one array task per trial. A task trains its trial from its last\n\
                   # finished epoch, so a cancelled, preempted or requeued task loses at most one epoch;\n\
                   # on SIGTERM it stops at the next batch and leaves its trial resumable.\n";
        if self.resources.requeue {
            script += "# On SIGUSR1 (the time limit is near) it does the same, then requeues itself (scontrol requeue)\n\
                       # and continues when Slurm starts it again; [slurm] requeue = false turns this off.\n";
        }
        if self.waves.len() > 1 {
            script += &format!(
                "# A TPE search: one array per round, each drawn from the rounds before it. `runner submit`\n\
                 # submits this script {} times, with --array={} and each after the one before\n\
                 # (--dependency=afterany); the first task of a round draws it into draws/.\n",
                self.waves.len(),
                self.arrays().join(" then ")
            );
        }
        script += &self.exec_line(&self.task_line);
        script
    }

    /// `exec RUNNER WORDS...` for the shell: paths quoted, Slurm's variables in double quotes.
    fn exec_line(&self, words: &[Word]) -> String {
        let mut line = format!("exec {}", quote(&self.runner));
        for word in words {
            line.push(' ');
            match word {
                Word::Text(text) if is_plain(text) => line.push_str(&text.to_string_lossy()),
                Word::Text(text) => line.push_str(&quote(Path::new(text))),
                Word::Var(var) => line.push_str(&format!("\"{var}\"")),
            }
        }
        line + "\n"
    }

    /// The report job, after every task of the array has ended (however it ended).
    pub fn finish_script(&self) -> String {
        let slurm = self.run_dir.join("slurm");
        let mut options = vec![
            option("job-name", format!("runner:{}:finish", self.name)),
            option("output", log_path(&slurm, "finish_%j.out")),
        ];
        options.extend(self.resource_lines(false));
        let mut script = header(&options);
        script += "# Written by `runner submit`: summary.csv, manifest.json and report.md once the array has ended.\n";
        script += &self.exec_line(&self.finish_line);
        script
    }

    /// The sbatch command lines, for `--dry-run` and messages.
    pub fn commands(&self) -> Vec<String> {
        let sweep = quote(&self.sweep_script_path());
        let mut commands = vec![format!("sbatch --parsable {sweep}")];
        for (i, array) in self.arrays().iter().enumerate().skip(1) {
            commands
                .push(format!("sbatch --parsable --array={array} --dependency=afterany:<array {i} job id> {sweep}"));
        }
        let all: Vec<String> = (1..=self.waves.len()).map(|i| format!("<array {i} job id>")).collect();
        let all = if all.len() == 1 { "<array job id>".to_string() } else { all.join(":") };
        commands.push(format!("sbatch --parsable --dependency=afterany:{all} {}", quote(&self.finish_script_path())));
        commands
    }
}

/// `0-2,5,7-8`: indices as compact ranges.
fn ranges(indices: &[usize]) -> String {
    let mut ranges: Vec<String> = Vec::new();
    let mut i = 0;
    while i < indices.len() {
        let start = indices[i];
        let mut end = start;
        while i + 1 < indices.len() && indices[i + 1] == end + 1 {
            i += 1;
            end += 1;
        }
        ranges.push(if end == start { start.to_string() } else { format!("{start}-{end}") });
        i += 1;
    }
    ranges.join(",")
}

/// The trials' indices by TPE round, rounds in order (every trial in one wave without TPE).
fn waves(trials: &[&Trial]) -> Vec<Vec<usize>> {
    let mut rounds: Vec<usize> = trials.iter().map(|t| t.round.map_or(0, |r| r.number)).collect();
    rounds.sort_unstable();
    rounds.dedup();
    let waves: Vec<Vec<usize>> = rounds
        .iter()
        .map(|&r| trials.iter().filter(|t| t.round.map_or(0, |x| x.number) == r).map(|t| t.index).collect())
        .collect();
    if waves.is_empty() { vec![Vec::new()] } else { waves }
}

fn header(options: &[String]) -> String {
    let mut script = String::from("#!/bin/bash\n");
    for option in options {
        script += &format!("#SBATCH {option}\n");
    }
    script
}

/// A log file for an `#SBATCH --output=` line: in double quotes (sbatch splits at spaces), the
/// folder's `%` doubled (Slurm expands `%x` in file names), `pattern` kept for Slurm to fill in.
/// [`check_path`] has refused what cannot be written so.
fn log_path(folder: &Path, pattern: &str) -> String {
    format!("\"{}/{pattern}\"", folder.display().to_string().replace('%', "%%"))
}

/// Refuses a run-folder path that the batch scripts cannot hold: a newline would end an
/// `#SBATCH` line (and start a shell line), a double quote or backslash would end or escape its
/// quoting. Checked before anything is written.
pub fn check_path(path: &Path) -> Result<()> {
    let text = path.to_str().ok_or_else(|| Error::Usage {
        origin: "--runs-dir".into(),
        message: format!("{}: Slurm scripts need a UTF-8 path; use another runs folder", path.display()),
    })?;
    if let Some(c) = text.chars().find(|c| c.is_control() || *c == '"' || *c == '\\') {
        return Err(Error::Usage {
            origin: "--runs-dir".into(),
            message: format!(
                "{}: a Slurm batch script cannot hold a path with {c:?} in it; use another runs folder",
                crate::error::escape_controls(text)
            ),
        });
    }
    Ok(())
}

/// A word the shell reads as it is (flags, command names): no quotes needed.
fn is_plain(word: &std::ffi::OsStr) -> bool {
    word.to_str().is_some_and(|w| !w.is_empty() && w.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
}

/// An sbatch option, `--NAME=VALUE`.
fn option(name: &str, value: impl std::fmt::Display) -> String {
    format!("--{name}={value}")
}

/// A path for a shell script, in single quotes.
fn quote(path: &Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', r"'\''"))
}

/// The `sbatch` on PATH, or an error that names Slurm (exit code 2: nothing was written).
pub fn find_sbatch() -> Result<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).map(|dir| dir.join("sbatch")).find(|p| p.is_file()).ok_or(Error::NoSlurm)
}

/// Whether Slurm still has `job` (`job_task` of an array task, or a job id) in its queue, pending
/// or running; None where this machine has no `squeue` or it could not tell.
pub fn in_queue(job: &str) -> Option<bool> {
    let output = Command::new("squeue").args(["-h", "-r", "-o", "%i", "-j", job]).output().ok()?;
    if output.status.success() {
        return Some(String::from_utf8_lossy(&output.stdout).lines().any(|line| line.trim() == job));
    }
    // A job that has left the queue is one squeue no longer knows.
    String::from_utf8_lossy(&output.stderr).contains("Invalid job id").then_some(false)
}

/// Asks the cluster whether it would take `plan`'s array as it is (`sbatch --test-only`, the
/// script on stdin): an unknown partition or a size it refuses is found before anything is
/// written. Err(sbatch's own words) when it would not.
pub fn test_only(sbatch: &Path, plan: &Plan) -> Result<Result<(), String>> {
    use std::io::Write;
    let mut child = Command::new(sbatch)
        .arg("--test-only")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| Error::Slurm(format!("cannot run {}: {e}", sbatch.display())))?;
    let script = plan.sweep_script();
    // sbatch may refuse before reading it all: a broken pipe is its answer, not ours.
    let _ = child.stdin.take().expect("piped").write_all(script.as_bytes());
    let output = child.wait_with_output().map_err(|e| Error::Slurm(format!("cannot run {}: {e}", sbatch.display())))?;
    let said = String::from_utf8_lossy(&output.stderr);
    if output.status.success() {
        return Ok(Ok(()));
    }
    // Its error lines, or all it said when none is marked as one.
    let errors: Vec<&str> = said.lines().filter(|l| l.contains("error")).collect();
    Ok(Err(if errors.is_empty() { said.trim().to_string() } else { errors.join("; ") }))
}

/// Submits the arrays, each after the one before, then the report job that waits for them all;
/// returns the report job's id. Each array's id goes into `arrays` as it is submitted, so that
/// the caller knows what was submitted when sbatch refuses a later one.
pub fn submit(sbatch: &Path, plan: &Plan, arrays: &mut Vec<String>) -> Result<String> {
    for array in plan.arrays() {
        let args = match arrays.last() {
            None => Vec::new(),
            Some(before) => vec![option("array", array), option("dependency", format!("afterany:{before}"))],
        };
        arrays.push(run_sbatch(sbatch, &args, &plan.sweep_script_path())?);
    }
    let after = option("dependency", format!("afterany:{}", arrays.join(":")));
    run_sbatch(sbatch, &[after], &plan.finish_script_path())
}

fn run_sbatch(sbatch: &Path, args: &[String], script: &Path) -> Result<String> {
    let output = Command::new(sbatch)
        .arg("--parsable")
        .args(args)
        .arg(script)
        .output()
        .map_err(|e| Error::Slurm(format!("cannot run {}: {e}", sbatch.display())))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(Error::Slurm(format!(
            "sbatch refused {}: {}",
            script.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    // --parsable prints `jobid` or `jobid;cluster`.
    let id = stdout.trim().split(';').next().unwrap_or_default().to_string();
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_digit()) {
        return Err(Error::Slurm(format!("sbatch printed no job id for {}: {stdout:?}", script.display())));
    }
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::Spec;

    /// The worker lines `runner submit` gives a plan (`ops::submit`).
    fn lines(run_dir: &Path) -> [Vec<Word>; 2] {
        use crate::cli::WorkerArgs;
        let task = WorkerArgs::new(run_dir, &crate::run::WorkerOptions { offline: true, ..Default::default() }, false);
        let finish = WorkerArgs::new(run_dir, &Default::default(), true);
        [task.slurm_task_words(), finish.to_args().into_iter().map(Word::Text).collect()]
    }

    fn plan(indices: &[usize], resources: SlurmSpec, cuda: bool) -> Plan {
        let run_dir = PathBuf::from("/lab/runs/2026-11-29T03-00-00Z_sweep");
        let [task_line, finish_line] = lines(&run_dir);
        Plan {
            run_dir,
            runner: PathBuf::from("/opt/runner/bin/runner"),
            name: "sweep".into(),
            indices: indices.to_vec(),
            waves: vec![indices.to_vec()],
            resources,
            cuda,
            task_line,
            finish_line,
        }
    }

    #[test]
    fn arrays_are_compact_ranges_with_the_parallel_limit() {
        assert_eq!(plan(&[0, 1, 2, 3], SlurmSpec::default(), false).array(), "0-3");
        let limited = SlurmSpec { max_parallel: 2, ..SlurmSpec::default() };
        assert_eq!(plan(&[0, 1, 2, 5, 7, 8], limited, false).array(), "0-2,5,7-8%2");
        assert_eq!(plan(&[4], SlurmSpec::default(), false).array(), "4");
    }

    #[test]
    fn the_sweep_script_asks_for_what_the_spec_says() {
        let resources = SlurmSpec {
            partition: "gpu".into(),
            time: "01:00:00".into(),
            cpus_per_task: 4,
            mem: "8G".into(),
            max_parallel: 3,
            gres: String::new(),
            extra: vec!["--account=lab".into()],
            ..SlurmSpec::default()
        };
        let script = plan(&[0, 1, 2, 3], resources.clone(), true).sweep_script();
        let expected = "#!/bin/bash\n\
            #SBATCH --job-name=runner:sweep\n\
            #SBATCH --array=0-3%3\n\
            #SBATCH --output=\"/lab/runs/2026-11-29T03-00-00Z_sweep/slurm/%A_%a.out\"\n\
            #SBATCH --open-mode=append\n\
            #SBATCH --requeue\n\
            #SBATCH --signal=B:USR1@180\n\
            #SBATCH --partition=gpu\n\
            #SBATCH --time=01:00:00\n\
            #SBATCH --cpus-per-task=4\n\
            #SBATCH --mem=8G\n\
            #SBATCH --gres=gpu:1\n\
            #SBATCH --account=lab\n";
        assert!(script.starts_with(expected), "{script}");
        assert!(script.ends_with(
            "exec '/opt/runner/bin/runner' worker '/lab/runs/2026-11-29T03-00-00Z_sweep' --trial \"$SLURM_ARRAY_TASK_ID\" \
             --threads \"${SLURM_CPUS_PER_TASK:-1}\" --offline\n"
        ));

        let without = plan(&[0], SlurmSpec { requeue: false, ..resources }, true).sweep_script();
        assert!(
            !without.contains("--requeue") && !without.contains("--signal") && !without.contains("SIGUSR1"),
            "{without}"
        );

        let cpu = plan(&[0], SlurmSpec::default(), false).sweep_script();
        assert!(!cpu.contains("--gres") && !cpu.contains("--time"), "{cpu}");
        let finish =
            plan(&[0], SlurmSpec { partition: "short".into(), time: "9".into(), ..SlurmSpec::default() }, false)
                .finish_script();
        assert!(finish.contains("#SBATCH --partition=short\n") && !finish.contains("--time"), "{finish}");
        assert!(finish.ends_with("worker '/lab/runs/2026-11-29T03-00-00Z_sweep' --finish\n"), "{finish}");
    }

    #[test]
    fn log_paths_are_quoted_with_percent_doubled_and_hostile_paths_refused() {
        assert_eq!(log_path(Path::new("/a b/it's 100%"), "%A.out"), "\"/a b/it's 100%%/%A.out\"");
        assert!(check_path(Path::new("/a b/it's 100%")).is_ok());
        for bad in ["/a\nb", "/a\"b", "/a\\b"] {
            let err = check_path(Path::new(bad)).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{err}");
        }
    }

    #[test]
    fn paths_are_quoted_for_the_shell() {
        assert_eq!(quote(Path::new("/a b/it's")), r"'/a b/it'\''s'");
    }

    #[test]
    fn plans_take_the_trials_indices_and_gpu_needs() {
        let spec = Spec { backend: BackendName::Cuda, ..Spec::default() };
        let trial = Trial { index: 7, name: "x".into(), swept: vec![], spec, group: 0, round: None };
        let plan = Plan::new("/r".into(), "/b".into(), "n", &[&trial], &SlurmSpec::default(), lines(Path::new("/r")));
        assert_eq!((plan.indices.as_slice(), plan.cuda), ([7usize].as_slice(), true));
    }

    #[test]
    fn a_tpe_search_is_one_array_per_round_each_after_the_one_before() {
        let round = |index: usize, number: usize| Trial {
            index,
            name: format!("round={number}"),
            swept: vec![],
            spec: Spec::default(),
            group: index / 3,
            round: Some(crate::spec::rounds::Round { number, drawn: false }),
        };
        // Two grid points of 3 trials, rounds of 2: one array per round across the points.
        let trials = [round(0, 0), round(1, 0), round(2, 1), round(3, 0), round(4, 0), round(5, 1)];
        let refs: Vec<&Trial> = trials.iter().collect();
        let resources = SlurmSpec { max_parallel: 2, ..SlurmSpec::default() };
        let plan = Plan::new("/r".into(), "/b".into(), "n", &refs, &resources, lines(Path::new("/r")));
        assert_eq!(plan.waves, [vec![0, 1, 3, 4], vec![2, 5]]);
        assert_eq!(plan.arrays(), ["0-1,3-4%2", "2,5%2"]);
        assert!(plan.sweep_script().contains("#SBATCH --array=0-1,3-4%2\n"));
        assert!(plan.sweep_script().contains("submits this script 2 times"));
        let commands = plan.commands();
        assert_eq!(commands.len(), 3);
        assert!(commands[1].starts_with("sbatch --parsable --array=2,5%2 --dependency=afterany:<array 1 job id> "));
        assert!(commands[2].contains("--dependency=afterany:<array 1 job id>:<array 2 job id> "), "{}", commands[2]);
        // Without TPE: one array, as before.
        let plain: Vec<Trial> = (0..3).map(|i| Trial { round: None, ..round(i, 0) }).collect();
        let plan = Plan::new(
            "/r".into(),
            "/b".into(),
            "n",
            &plain.iter().collect::<Vec<_>>(),
            &resources,
            lines(Path::new("/r")),
        );
        assert_eq!((plan.arrays(), plan.commands().len()), (vec!["0-2%2".to_string()], 2));
    }
}
