//! Reports for people: tables (Markdown, CSV) and plots (SVG) built from run folders.

pub mod collect;
pub mod csv;
pub mod markdown;
pub mod plot;
pub mod table;

pub use markdown::table as markdown;
