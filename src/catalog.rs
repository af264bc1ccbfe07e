//! The ground floor: the built-in data sets (names, image shapes, class names) and the macro
//! that gives every named spec value its text. `spec`, `data` and `model` all read it; it reads
//! nothing of theirs.

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
    DatasetName { Mnist = "mnist", FashionMnist = "fashion-mnist", Cifar10 = "cifar10" }
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

impl DatasetName {
    /// The shape of the data set's images as its official files hold them.
    pub fn image_shape(self) -> ImageShape {
        match self {
            DatasetName::Mnist | DatasetName::FashionMnist => ImageShape { channels: 1, height: 28, width: 28 },
            DatasetName::Cifar10 => ImageShape { channels: 3, height: CIFAR_SIDE, width: CIFAR_SIDE },
        }
    }

    pub fn channels(self) -> usize {
        self.image_shape().channels
    }

    /// The name of each label, 0 to 9.
    pub fn class_names(self) -> [&'static str; 10] {
        match self {
            DatasetName::Mnist => ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"],
            DatasetName::FashionMnist => FASHION_CLASSES,
            DatasetName::Cifar10 => CIFAR_CLASSES,
        }
    }
}

const FASHION_CLASSES: [&str; 10] = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
];

pub const CIFAR_CLASSES: [&str; 10] = [
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
];
