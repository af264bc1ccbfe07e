//! The command line: every flag is defined once, here.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand};

use crate::run::WorkerOptions;
use crate::sched::Word;
use crate::spec::Overrides;

/// Train and compare image classifiers (NN vs CNN on MNIST, Fashion-MNIST, CIFAR-10) from a TOML spec.
///
/// Each run writes per-epoch metrics, checkpoints, the resolved spec and a manifest to a new
/// timestamped folder under runs/. Values are layered: built-in defaults < spec file <
/// RUNNER_<KEY> environment variables < --set KEY=VALUE.
#[derive(Debug, Parser)]
#[command(name = "runner", version, args_conflicts_with_subcommands = true)]
#[command(
    after_help = "Examples:\n  runner configs/mnist_cnn.toml\n  runner configs/nn_vs_cnn.toml --dry-run\n  runner configs/mnist_nn.toml --set lr=0.1 --set 'sweep.seed=[1,2,3]'\n  runner resume runs/2026-11-28T17-05-12Z_mnist_cnn\n  runner report runs/2026-11-28T17-05-12Z_mnist_cnn"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub run: RunArgs,
}

/// The command a first word like `reprot` was meant to be: not a file, one or two letters off a
/// command's name. `runner reprot runs/x` would otherwise be read as a spec named `reprot`.
pub fn mistyped_command(word: &str) -> Option<String> {
    use clap::CommandFactory;
    if word.starts_with('-') || word.contains(['.', '/']) || std::path::Path::new(word).exists() {
        return None;
    }
    let names: Vec<String> = Cli::command().get_subcommands().map(|c| c.get_name().to_string()).collect();
    if names.iter().any(|n| n == word) {
        return None;
    }
    names
        .into_iter()
        .filter(|n| strsim::damerau_levenshtein(n, word) <= 2)
        .min_by_key(|n| strsim::damerau_levenshtein(n, word))
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the experiment (or sweep) a spec file describes (the default command).
    Run(RunArgs),
    /// Continue an interrupted run: skip finished trials, restart cut-off ones from their last epoch.
    Resume(ResumeArgs),
    /// Write report.md, report.csv and SVG plots (NN vs CNN per data set) from run folders.
    Report(ReportArgs),
    /// Test loss, accuracy and confusion matrix of a trial's checkpoint.
    Eval(EvalArgs),
    /// Classify image files (PNG, JPEG) with a trial's model: class and top-3 probabilities.
    Predict(PredictArgs),
    /// Write a trial's weights for PyTorch (safetensors, nn.Conv2d/nn.Linear layouts).
    Export(ExportArgs),
    /// Time the runner's hot paths: data loading, batch assembly, train step and evaluation per backend.
    Bench(BenchArgs),
    /// Submit a sweep to Slurm as one job array (one task per trial) and a report job.
    Submit(SubmitArgs),
    /// Train the trials of a run folder that no other worker holds (what --jobs and Slurm tasks run).
    Worker(WorkerArgs),
    /// Where each trial of a run stands: status, epochs, accuracy, who runs it, ETA.
    Status(StatusArgs),
    /// Print shell completions, e.g. `runner completions bash > ~/.local/share/bash-completion/completions/runner`.
    Completions(CompletionsArgs),
}

#[derive(Debug, Clone, Args)]
pub struct CompletionsArgs {
    /// The shell to complete in.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Clone, Args)]
pub struct SubmitArgs {
    /// The experiment spec (TOML); its [slurm] table sets partition, time, cpus_per_task, ...
    #[arg(value_name = "SPEC", required_unless_present = "resume")]
    pub spec: Option<PathBuf>,

    #[command(flatten)]
    pub resume: ResumeFlag,

    #[command(flatten)]
    pub dry_run: DryRun,

    #[command(flatten)]
    pub runs_dir: RunsDir,

    #[command(flatten)]
    pub train: TrainArgs,
}

#[derive(Debug, Clone, Args)]
pub struct WorkerArgs {
    /// The run folder (runs/<timestamp>_<name>).
    #[arg(value_name = "RUN")]
    pub run: PathBuf,

    /// Train only this trial (by index), e.g. a Slurm array task's $SLURM_ARRAY_TASK_ID.
    #[arg(long, value_name = "INDEX")]
    pub trial: Option<usize>,

    /// CPU threads for trials whose spec leaves `threads` at 0 (0: one per core; at most 1024,
    /// as for the spec's `threads`).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(0..=1024))]
    pub threads: Option<u32>,

    /// GPU index for cuda trials, instead of the spec's `device`.
    #[arg(long, value_name = "INDEX")]
    pub gpu: Option<u32>,

    #[command(flatten)]
    pub download: Download,

    #[command(flatten)]
    pub output: Output,

    /// Train nothing: rebuild summary.csv, record the end in manifest.json, write the report.
    #[arg(long, conflicts_with_all = ["trial", "threads", "gpu"])]
    pub finish: bool,
}

impl WorkerArgs {
    /// The worker a coordinator or `runner submit` starts on `run` with `options` (`finish`: a
    /// Slurm report job). Its words ([`WorkerArgs::to_args`]) parse back to these options
    /// ([`WorkerArgs::options`]): a worker flag is added here, in one place.
    pub fn new(run: &Path, options: &WorkerOptions, finish: bool) -> WorkerArgs {
        WorkerArgs {
            run: run.to_path_buf(),
            trial: options.only,
            threads: options.threads.map(|t| t.min(1024) as u32),
            gpu: options.gpu,
            download: Download { offline: options.offline },
            output: Output { quiet: options.quiet },
            finish,
        }
    }

    /// How the worker runs. Its lines are tagged with its trial: it shares a terminal or a log.
    pub fn options(&self) -> WorkerOptions {
        WorkerOptions {
            quiet: self.output.quiet,
            offline: self.download.offline,
            only: self.trial,
            threads: self.threads.filter(|&t| t > 0).map(|t| t as usize),
            gpu: self.gpu,
            tagged: true,
            summary_every: None,
        }
    }

    /// The command line after the binary that starts this worker (`--jobs`): the flags as
    /// defined above, so that what a coordinator starts is what `runner worker` parses.
    pub fn to_args(&self) -> Vec<OsString> {
        self.words(false)
            .into_iter()
            .map(|w| match w {
                Word::Text(text) => text,
                Word::Var(var) => unreachable!("only a Slurm task's line has shell variables ({var})"),
            })
            .collect()
    }

    /// The same for a Slurm array task: the trial and the CPU threads come from Slurm's
    /// variables (`trial` and `threads` are not read).
    pub fn slurm_task_words(&self) -> Vec<Word> {
        self.words(true)
    }

    fn words(&self, slurm_task: bool) -> Vec<Word> {
        let text = |s: &str| Word::Text(s.into());
        let mut words = vec![text("worker"), Word::Text(self.run.clone().into_os_string())];
        if slurm_task {
            words.extend([
                text("--trial"),
                Word::Var("$SLURM_ARRAY_TASK_ID"),
                text("--threads"),
                Word::Var("${SLURM_CPUS_PER_TASK:-1}"),
            ]);
        } else {
            if let Some(trial) = self.trial {
                words.extend([text("--trial"), text(&trial.to_string())]);
            }
            if let Some(threads) = self.threads {
                words.extend([text("--threads"), text(&threads.to_string())]);
            }
        }
        if let Some(gpu) = self.gpu {
            words.extend([text("--gpu"), text(&gpu.to_string())]);
        }
        if self.download.offline {
            words.push(text("--offline"));
        }
        if self.output.quiet {
            words.push(text("--quiet"));
        }
        if self.finish {
            words.push(text("--finish"));
        }
        words
    }
}

#[derive(Debug, Clone, Args)]
pub struct StatusArgs {
    /// The run folder (runs/<timestamp>_<name>).
    #[arg(value_name = "RUN")]
    pub run: PathBuf,
}

#[derive(Debug, Clone, Args)]
pub struct ResumeArgs {
    /// The run folder to continue (runs/<timestamp>_<name>).
    #[arg(value_name = "RUN")]
    pub run: PathBuf,

    /// Continue although an image folder or Hub data set changed since the run started: the
    /// trials still to run train on the new files, and the report says the run mixes them.
    #[arg(long)]
    pub mixed_data: bool,

    #[command(flatten)]
    pub train: TrainArgs,
}

/// The trial (or checkpoint) that eval, predict and export read.
#[derive(Debug, Clone, Args)]
pub struct TrialArg {
    /// A trial folder (uses checkpoints/last.bpk) or a checkpoint file in one.
    #[arg(value_name = "CHECKPOINT|TRIAL")]
    pub target: PathBuf,
}

/// Where the data sets are, and whether they may be downloaded (runs and eval).
#[derive(Debug, Clone, Args)]
pub struct DataArgs {
    /// Root of the data sets (mnist/, fashion-mnist/, cifar10/); overrides RUNNER_DATA_DIR and the spec's data_dir.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    #[command(flatten)]
    pub download: Download,
}

/// `--offline`.
#[derive(Debug, Clone, Default, Args)]
pub struct Download {
    /// Never download: fail at once, saying which data files to put where.
    #[arg(long)]
    pub offline: bool,
}

/// `--quiet`.
#[derive(Debug, Clone, Default, Args)]
pub struct Output {
    /// No progress bars or per-epoch lines; errors and the final table only.
    #[arg(long, short)]
    pub quiet: bool,
}

/// `--dry-run`.
#[derive(Debug, Clone, Default, Args)]
pub struct DryRun {
    /// Show what would run (`runner SPEC`: every trial with every resolved field; `submit`: the
    /// batch scripts and sbatch commands) and exit, writing nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// `--runs-dir`.
#[derive(Debug, Clone, Args)]
pub struct RunsDir {
    /// Where run folders are created.
    #[arg(long, value_name = "DIR", default_value = "runs")]
    pub runs_dir: PathBuf,
}

/// `--resume RUN` (of `runner` and `runner submit`).
#[derive(Debug, Clone, Default, Args)]
pub struct ResumeFlag {
    /// Continue an existing run folder instead: the trials that are not done (after Ctrl-C,
    /// cancellation, preemption, time limits or lost nodes). `runner --resume RUN` is `runner resume RUN`.
    #[arg(long, value_name = "RUN", conflicts_with_all = ["spec", "runs_dir"])]
    pub resume: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct PredictArgs {
    #[command(flatten)]
    pub trial: TrialArg,

    /// Images to classify (PNG or JPEG, any size: they are converted to the data set's shape).
    #[arg(value_name = "IMAGE", required = true)]
    pub images: Vec<PathBuf>,

    /// How many of the most likely classes to print.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u8).range(1..=10))]
    pub top: u8,
}

#[derive(Debug, Clone, Args)]
pub struct EvalArgs {
    #[command(flatten)]
    pub trial: TrialArg,

    /// Evaluate on another data set of the same image shape (e.g. fashion-mnist for an MNIST model).
    #[arg(long)]
    pub dataset: Option<crate::spec::DatasetName>,

    #[command(flatten)]
    pub data: DataArgs,

    /// Where to write the confusion matrix CSV (default: confusion_<dataset>.csv in the trial folder).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,

    /// Test images to evaluate: `all`, or the first N (default: as the trial did, its limit_test).
    #[arg(long, value_name = "all|N", value_parser = parse_limit)]
    pub limit_test: Option<u32>,
}

/// `all` (0: no limit) or a count of at least 1.
fn parse_limit(text: &str) -> Result<u32, String> {
    match text {
        "all" => Ok(0),
        n => match n.parse::<u32>() {
            Ok(n) if n >= 1 => Ok(n),
            _ => Err(format!("expected `all` or a number of images of at least 1, got {text:?}")),
        },
    }
}

#[derive(Debug, Clone, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub trial: TrialArg,

    /// Output format.
    #[arg(long, value_enum, default_value_t = ExportFormat::Safetensors)]
    pub format: ExportFormat,

    /// Output file (default: model.safetensors in the trial folder).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    Safetensors,
}

#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// Backends to time, comma-separated.
    #[arg(long, value_delimiter = ',', default_values = ["cpu", "ndarray"])]
    pub backends: Vec<crate::spec::BackendName>,

    /// Timed train steps (and evaluation batches) per backend and model.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub steps: u32,

    /// Repetitions of the data loading and batch assembly measurements.
    #[arg(long, default_value_t = 5)]
    pub repeats: usize,

    /// Data root holding mnist/ (data loading is skipped when it is missing).
    #[arg(long, value_name = "DIR", default_value = "data")]
    pub data_dir: PathBuf,

    /// Time this architecture instead of the seed's models, e.g. --set 'conv_channels=[64,128]'
    /// --set kernel_size=5 (spec keys; the data set's image shape is used). Repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
}

#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    /// Run folders (runs/<timestamp>_<name>); several are compared in one table.
    #[arg(value_name = "RUN", required = true)]
    pub runs: Vec<PathBuf>,

    /// Where to write the report (default: the run's folder for one run; for several, a new
    /// folder reports/<UTC time>_<names>/ beside the first).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// What to print: the Markdown table, or a LaTeX booktabs tabular (also written to report.tex).
    #[arg(long, value_enum, default_value_t = ReportFormat::Markdown)]
    pub format: ReportFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    Markdown,
    Latex,
}

#[derive(Debug, Clone, Args)]
// A dry run of a resume would have nothing to show: the two exclude each other.
#[command(group(clap::ArgGroup::new("resume_or_dry_run").args(["resume", "dry_run"])))]
pub struct RunArgs {
    /// The experiment spec (TOML), e.g. configs/mnist_cnn.toml.
    #[arg(value_name = "SPEC")]
    pub spec: Option<PathBuf>,

    #[command(flatten)]
    pub resume: ResumeFlag,

    #[command(flatten)]
    pub dry_run: DryRun,

    #[command(flatten)]
    pub runs_dir: RunsDir,

    #[command(flatten)]
    pub train: TrainArgs,
}

/// What a run and a resumed run share.
#[derive(Debug, Clone, Args)]
pub struct TrainArgs {
    /// Override a spec key, e.g. --set lr=0.1 or --set 'sweep.model=["nn","cnn"]'. Repeatable.
    /// A resumed run refuses overrides that would change a trial it has started.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,

    #[command(flatten)]
    pub data: DataArgs,

    #[command(flatten)]
    pub output: Output,

    /// Trials at once, each in a worker process with its share of the CPU cores (unless the
    /// spec sets `threads`); with several GPUs, the workers take them in turn.
    #[arg(long, short, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub jobs: u32,
}

impl TrainArgs {
    /// The spec values the command line sets: `--set` and `--data-dir`.
    pub fn overrides(&self) -> Overrides {
        Overrides { sets: self.sets.clone(), data_dir: self.data.data_dir.clone() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn worker(args: &[&str]) -> WorkerArgs {
        match Cli::try_parse_from(["runner", "worker"].iter().chain(args)).unwrap().command {
            Some(Command::Worker(args)) => args,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_workers_command_line_parses_back_to_the_same_arguments() {
        for line in [
            &["runs/x", "--threads", "3", "--gpu", "1", "--offline", "--quiet"][..],
            &["runs/x", "--trial", "4", "--offline"],
            &["runs/x", "--finish"],
            &["runs/x"],
        ] {
            let args = worker(line);
            let words: Vec<String> = args.to_args().iter().map(|w| w.to_string_lossy().into_owned()).collect();
            assert_eq!(words[0], "worker");
            let again = worker(&words[1..].iter().map(String::as_str).collect::<Vec<_>>());
            assert_eq!(format!("{again:?}"), format!("{args:?}"), "{line:?}");
            // Options -> command line -> options: what a coordinator sets is what its worker runs.
            let options = args.options();
            let rebuilt = WorkerArgs::new(&args.run, &options, args.finish);
            assert_eq!(format!("{:?}", rebuilt.options()), format!("{options:?}"), "{line:?}");
            assert_eq!(rebuilt.to_args(), args.to_args(), "{line:?}");
        }
    }

    #[test]
    fn a_slurm_tasks_line_takes_the_trial_and_threads_from_slurm() {
        let words = worker(&["/r", "--offline"]).slurm_task_words();
        let shown: Vec<String> = words
            .iter()
            .map(|w| match w {
                Word::Text(t) => t.to_string_lossy().into_owned(),
                Word::Var(v) => format!("\"{v}\""),
            })
            .collect();
        assert_eq!(
            shown.join(" "),
            "worker /r --trial \"$SLURM_ARRAY_TASK_ID\" --threads \"${SLURM_CPUS_PER_TASK:-1}\" --offline"
        );
        // With the variables filled in, clap reads it.
        let filled: Vec<&str> = shown.iter().map(|w| if w.starts_with('"') { "7" } else { w.as_str() }).collect();
        assert_eq!(worker(&filled[1..]).trial, Some(7));
    }

    #[test]
    fn resume_and_dry_run_exclude_each_other_for_a_run_but_not_for_submit() {
        assert!(Cli::try_parse_from(["runner", "--resume", "r", "--dry-run"]).is_err());
        assert!(Cli::try_parse_from(["runner", "submit", "--resume", "r", "--dry-run"]).is_ok());
        assert!(Cli::try_parse_from(["runner", "submit", "--resume", "r", "--runs-dir", "x"]).is_err());
    }
}
