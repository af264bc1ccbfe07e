//! The command line: every flag is defined once, here.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Train and compare image classifiers (NN vs CNN on MNIST, Fashion-MNIST, CIFAR-10) from a TOML spec.
///
/// Each run writes per-epoch metrics, checkpoints, the resolved spec and a manifest to a new
/// timestamped folder under runs/. Values are layered: built-in defaults < spec file <
/// RUNNER_<KEY> environment variables < --set KEY=VALUE.
#[derive(Debug, Parser)]
#[command(name = "runner", version, args_conflicts_with_subcommands = true)]
#[command(after_help = "Examples:\n  runner configs/mnist_cnn.toml\n  runner configs/nn_vs_cnn.toml --dry-run\n  runner configs/mnist_nn.toml --set lr=0.1 --set 'sweep.seed=[1,2,3]'\n  runner resume runs/2026-11-28T17-05-12Z_mnist_cnn\n  runner report runs/2026-11-28T17-05-12Z_mnist_cnn")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub run: RunArgs,
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

    /// Submit the trials of an existing run folder that are not done (after cancellation,
    /// preemption, time limits or lost nodes).
    #[arg(long, value_name = "RUN", conflicts_with_all = ["spec", "runs_dir"])]
    pub resume: Option<PathBuf>,

    /// Print the batch scripts and the sbatch commands; submit and write nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Where run folders are created.
    #[arg(long, value_name = "DIR", default_value = "runs")]
    pub runs_dir: PathBuf,

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

    /// CPU threads for trials whose spec leaves `threads` at 0 (0: one per core).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,

    /// GPU index for cuda trials, instead of the spec's `device`.
    #[arg(long, value_name = "INDEX")]
    pub gpu: Option<u32>,

    /// Never download missing data.
    #[arg(long)]
    pub offline: bool,

    /// No per-epoch lines.
    #[arg(long, short)]
    pub quiet: bool,

    /// Train nothing: rebuild summary.csv, record the end in manifest.json, write the report.
    #[arg(long, conflicts_with_all = ["trial", "threads", "gpu"])]
    pub finish: bool,
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

    /// Never download: fail at once, saying which data files to put where.
    #[arg(long)]
    pub offline: bool,
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
    #[arg(long, default_value_t = 10)]
    pub steps: usize,

    /// Repetitions of the data loading and batch assembly measurements.
    #[arg(long, default_value_t = 5)]
    pub repeats: usize,

    /// Data root holding mnist/ (data loading is skipped when it is missing).
    #[arg(long, value_name = "DIR", default_value = "data")]
    pub data_dir: PathBuf,
}


#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    /// Run folders (runs/<timestamp>_<name>); several are compared in one table.
    #[arg(value_name = "RUN", required = true)]
    pub runs: Vec<PathBuf>,

    /// Where to write the report (default: the first run folder).
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
pub struct RunArgs {
    /// The experiment spec (TOML), e.g. configs/mnist_cnn.toml.
    #[arg(value_name = "SPEC")]
    pub spec: Option<PathBuf>,

    /// Continue an interrupted run folder instead (same as `runner resume RUN`).
    #[arg(long, value_name = "RUN", conflicts_with_all = ["spec", "dry_run", "runs_dir"])]
    pub resume: Option<PathBuf>,

    /// Print the trials (every resolved field) and exit without training or writing anything.
    #[arg(long)]
    pub dry_run: bool,

    /// Where run folders are created.
    #[arg(long, value_name = "DIR", default_value = "runs")]
    pub runs_dir: PathBuf,

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

    /// No progress bars or per-epoch lines; errors and the final table only.
    #[arg(long, short)]
    pub quiet: bool,

    /// Trials at once, each in a worker process with its share of the CPU cores (unless the
    /// spec sets `threads`); with several GPUs, the workers take them in turn.
    #[arg(long, short, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub jobs: u32,
}
