//! Tables for people: Markdown, aligned so they also read well in a terminal.

/// A Markdown table with padded columns.
pub fn markdown(header: &[String], rows: &[Vec<String>]) -> String {
    let widths: Vec<usize> = (0..header.len())
        .map(|c| rows.iter().map(|r| r[c].chars().count()).chain([header[c].chars().count(), 3]).max().unwrap_or(3))
        .collect();
    let line = |cells: &[String]| {
        let padded: Vec<String> = cells.iter().zip(&widths).map(|(cell, w)| format!("{cell:<w$}")).collect();
        format!("| {} |\n", padded.join(" | "))
    };
    let mut out = line(header);
    out += &line(&widths.iter().map(|w| "-".repeat(*w)).collect::<Vec<_>>());
    for row in rows {
        out += &line(row);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn aligned_markdown() {
        let header = vec!["a".to_string(), "long name".to_string()];
        let rows = vec![vec!["1".to_string(), "x".to_string()], vec!["22222".to_string(), "y".to_string()]];
        assert_eq!(
            super::markdown(&header, &rows),
            "| a     | long name |\n| ----- | --------- |\n| 1     | x         |\n| 22222 | y         |\n"
        );
    }
}
