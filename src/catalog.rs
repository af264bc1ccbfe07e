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

/// Which data set to train and test on: a built-in one, the user's image folder, or a Hugging
/// Face Hub repo (`hf:owner/name`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DatasetName {
    Mnist,
    FashionMnist,
    Cifar10,
    Folder,
    Hub(HubRepo),
}

impl DatasetName {
    /// The names a spec may give without a repo (`hf:owner/name` is the other form).
    pub const FIXED: [DatasetName; 4] =
        [DatasetName::Mnist, DatasetName::FashionMnist, DatasetName::Cifar10, DatasetName::Folder];

    pub fn as_str(&self) -> &str {
        match self {
            DatasetName::Mnist => "mnist",
            DatasetName::FashionMnist => "fashion-mnist",
            DatasetName::Cifar10 => "cifar10",
            DatasetName::Folder => "folder",
            DatasetName::Hub(repo) => repo.spec_name(),
        }
    }

    /// Its name as part of a file name: `hf:owner/name` becomes `hf_owner_name`.
    pub fn file_stem(&self) -> String {
        self.as_str().replace([':', '/'], "_")
    }

    /// The Hub repo it names, if it names one.
    pub fn hub(&self) -> Option<&HubRepo> {
        match self {
            DatasetName::Hub(repo) => Some(repo),
            _ => None,
        }
    }
}

impl std::str::FromStr for DatasetName {
    type Err = String;
    fn from_str(name: &str) -> Result<Self, String> {
        if let Some(repo) = name.strip_prefix(HubRepo::PREFIX) {
            return HubRepo::parse(repo).map(DatasetName::Hub);
        }
        DatasetName::FIXED.iter().find(|d| d.as_str() == name).cloned().ok_or_else(|| {
            let allowed: Vec<&str> = DatasetName::FIXED.iter().map(|d| d.as_str()).collect();
            format!(
                "unknown value \"{name}\"; allowed: {}, or \"hf:OWNER/NAME\" for a Hugging Face Hub data set",
                allowed.join(", ")
            )
        })
    }
}

impl std::fmt::Display for DatasetName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for DatasetName {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for DatasetName {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// A data set repo on the Hugging Face Hub, `owner/name`, checked against the Hub's rules for
/// repo ids (letters, digits, `-`, `_`, `.`; no `--` or `..`; at most 96 characters) so that
/// nothing else ever reaches a URL or a cache path.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HubRepo {
    /// `hf:owner/name`, as a spec writes it.
    spec_name: String,
}

impl HubRepo {
    pub const PREFIX: &str = "hf:";

    pub fn parse(id: &str) -> Result<HubRepo, String> {
        let fix = "write it as \"hf:OWNER/NAME\", e.g. \"hf:uoft-cs/cifar10\"";
        let parts: Vec<&str> = id.split('/').collect();
        if parts.len() != 2 {
            return Err(format!("\"{id}\" is not a Hub repo id (OWNER/NAME): {fix}"));
        }
        for part in parts {
            let allowed = part.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
            let ends = part.starts_with(['-', '.']) || part.ends_with(['-', '.']);
            if part.is_empty() || !allowed || ends || part.contains("--") || part.contains("..") {
                return Err(format!(
                    "\"{id}\" is not a valid Hub repo id: owner and name are letters, digits, '-', '_' and '.', \
                     not starting or ending with '-' or '.', without '--' or '..'; {fix}"
                ));
            }
        }
        if id.len() > 96 {
            return Err(format!("\"{id}\" is longer than the Hub's 96 characters for a repo id"));
        }
        Ok(HubRepo { spec_name: format!("{}{id}", HubRepo::PREFIX) })
    }

    /// `owner/name`.
    pub fn id(&self) -> &str {
        &self.spec_name[HubRepo::PREFIX.len()..]
    }

    /// `hf:owner/name`.
    pub fn spec_name(&self) -> &str {
        &self.spec_name
    }
}

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
    /// A built-in data set's images as its official files hold them; `None` for an image folder
    /// or a Hub repo, whose shape and classes only its files tell.
    pub fn builtin(&self) -> Option<ImageSet> {
        let (shape, classes) = match self {
            DatasetName::Mnist => (MNIST_SHAPE, ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]),
            DatasetName::FashionMnist => (MNIST_SHAPE, FASHION_CLASSES),
            DatasetName::Cifar10 => (ImageShape { channels: 3, height: CIFAR_SIDE, width: CIFAR_SIDE }, CIFAR_CLASSES),
            DatasetName::Folder | DatasetName::Hub(_) => return None,
        };
        Some(ImageSet { shape, classes: classes.iter().map(|c| c.to_string()).collect() })
    }
}

const MNIST_SHAPE: ImageShape = ImageShape { channels: 1, height: 28, width: 28 };

const FASHION_CLASSES: [&str; 10] =
    ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

pub const CIFAR_CLASSES: [&str; 10] =
    ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hub_names_parse_by_the_hubs_rules_and_round_trip() {
        let name: DatasetName = "hf:uoft-cs/cifar10".parse().unwrap();
        assert_eq!(name.hub().map(HubRepo::id), Some("uoft-cs/cifar10"));
        assert_eq!((name.to_string(), name.file_stem()), ("hf:uoft-cs/cifar10".into(), "hf_uoft-cs_cifar10".into()));
        assert_eq!("cifar10".parse::<DatasetName>(), Ok(DatasetName::Cifar10));
        for bad in ["hf:cifar10", "hf:a/b/c", "hf:../etc", "hf:a/.hidden", "hf:a--b/c", "hf:a/b c", "hf:/x", "hf:a/"] {
            let err = bad.parse::<DatasetName>().unwrap_err();
            assert!(err.contains("hf:OWNER/NAME"), "{bad}: {err}");
        }
        assert!("imagenet".parse::<DatasetName>().unwrap_err().contains("or \"hf:OWNER/NAME\""));
        let long = format!("hf:{}/{}", "a".repeat(50), "b".repeat(50));
        assert!(long.parse::<DatasetName>().unwrap_err().contains("96"));
    }
}
