//! Writes MNIST (or Fashion-MNIST) as an image folder, to try `dataset = "folder"` on real data:
//!
//!     cargo run --release --example mnist_as_folder -- data data/mnist-png [fashion-mnist]
//!
//! reads the data set from the data root (the first argument; downloaded there if missing) and
//! writes train/<class>/NNNNN.png and test/<class>/NNNNN.png under the second (70,000 PNGs).

use std::path::PathBuf;

use runner::data::{self, FetchOptions};
use runner::spec::DatasetName;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [root, dest, rest @ ..] = args.as_slice() else {
        eprintln!("usage: mnist_as_folder DATA_ROOT DEST [mnist|fashion-mnist]");
        std::process::exit(2);
    };
    let name: DatasetName = rest.first().map_or(Ok(DatasetName::Mnist), |n| n.parse()).unwrap_or_else(|e| {
        eprintln!("error: {e}");
        std::process::exit(2)
    });
    let dataset = data::load(name, &PathBuf::from(root), &FetchOptions::default()).unwrap_or_else(|e| {
        eprintln!("error: {e}");
        std::process::exit(2)
    });
    let labels: Vec<u8> = (0..dataset.classes.len() as u8).collect();
    // Class names become folder names: Fashion-MNIST's "T-shirt/top" would be a sub-folder.
    let mut dataset = dataset;
    for class in &mut dataset.classes {
        *class = class.replace('/', "-");
    }
    match data::test_data::write_folder(&dataset, &PathBuf::from(dest), &labels, [usize::MAX, usize::MAX], false) {
        Ok(n) => eprintln!("wrote {n} PNGs under {dest}"),
        Err(e) => {
            eprintln!("error: {dest}: {e}");
            std::process::exit(1);
        }
    }
}
