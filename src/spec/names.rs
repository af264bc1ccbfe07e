//! The named values a spec file may hold, each with the words it accepts.

use crate::catalog::names;

pub use crate::catalog::DatasetName;
pub use crate::model::ModelKind;

names!(
    /// Where to compute: `cpu` is the fast CPU backend (flex), `ndarray` the older one.
    BackendName { Cpu = "cpu", Flex = "flex", Ndarray = "ndarray", Cuda = "cuda" }
);
names!(
    /// How to update the weights.
    OptimizerName { Sgd = "sgd", Adam = "adam", Adamw = "adamw" }
);
names!(
    /// How the learning rate changes over a trial (PyTorch's schedulers).
    LrSchedule { Constant = "constant", Step = "step", Multistep = "multistep", Cosine = "cosine", Onecycle = "onecycle" }
);
names!(
    /// The validation metric early stopping watches (never a test metric).
    Monitor { ValLoss = "val_loss", ValAcc = "val_acc" }
);
names!(
    /// A random transformation of training images.
    Augment { RandomCrop = "random_crop", Hflip = "hflip" }
);
