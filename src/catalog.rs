//! The ground floor: the data sets (names; image shapes and class names, fixed for the built-in
//! ones, read from the files for an image folder) and the macro that gives every named spec value
//! its text. `spec`, `data` and `model` all read it; it reads nothing of theirs.

use serde::{Deserialize, Serialize};

/// An enum whose variants are the words a spec file uses: parsing, display and the list of
/// allowed values, from one table.
macro_rules! names {
    ($(#[$doc:meta])* $ty:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        pub enum $ty {
            $(#[serde(rename = $text)] $variant),+
        }
        impl $ty {
            pub const ALL: &[$ty] = &[$($ty::$variant),+];
            pub fn as_str(self) -> &'static str {
                match self { $($ty::$variant => $text),+ }
            }
        }
        impl std::str::FromStr for $ty {
            type Err = String;
            fn from_str(name: &str) -> Result<Self, String> {
                $ty::ALL.iter().copied().find(|v| v.as_str() == name).ok_or_else(|| {
                    let allowed: Vec<&str> = $ty::ALL.iter().map(|v| v.as_str()).collect();
                    format!("unknown value \"{name}\"; allowed: {}", allowed.join(", "))
                })
            }
        }
        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use names;

names!(
    /// Which data set to train and test on.
    DatasetName { Mnist = "mnist", FashionMnist = "fashion-mnist", Cifar10 = "cifar10", Folder = "folder" }
);

/// Channels x height x width of every image of a data set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageShape {
    pub channels: usize,
    pub height: usize,
    pub width: usize,
}

impl ImageShape {
    pub fn pixels(&self) -> usize {
        self.channels * self.height * self.width
    }
}

/// Side of a CIFAR-10 image (32x32 RGB).
pub const CIFAR_SIDE: usize = 32;

/// What a model needs to know of a data set: its images' shape and its classes (label i is
/// `classes[i]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageSet {
    #[serde(flatten)]
    pub shape: ImageShape,
    pub classes: Vec<String>,
}

impl DatasetName {
    /// A built-in data set's images as its official files hold them; `None` for an image folder,
    /// whose shape and classes only its files tell.
    pub fn builtin(self) -> Option<ImageSet> {
        let (shape, classes) = match self {
            DatasetName::Mnist => (MNIST_SHAPE, ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]),
            DatasetName::FashionMnist => (MNIST_SHAPE, FASHION_CLASSES),
            DatasetName::Cifar10 => (ImageShape { channels: 3, height: CIFAR_SIDE, width: CIFAR_SIDE }, CIFAR_CLASSES),
            DatasetName::Folder => return None,
        };
        Some(ImageSet { shape, classes: classes.iter().map(|c| c.to_string()).collect() })
    }
}

const MNIST_SHAPE: ImageShape = ImageShape { channels: 1, height: 28, width: 28 };

const FASHION_CLASSES: [&str; 10] =
    ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

pub const CIFAR_CLASSES: [&str; 10] =
    ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"];
