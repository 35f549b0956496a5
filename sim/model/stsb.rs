//! The STS Benchmark tab-separated format: genre, file, year, id, score, sentence 1,
//! sentence 2, then optional source columns (some dev lines carry two). Split on tabs only:
//! the sentences hold unbalanced quotes, so CSV quoting rules would merge lines.

use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq)]
pub struct StsPair {
    /// 1-based line in the file, for messages.
    pub line: usize,
    /// Gold similarity, 0 (unrelated) to 5 (equivalent).
    pub score: f64,
    pub sentence1: String,
    pub sentence2: String,
}

#[derive(Debug, thiserror::Error)]
pub enum StsError {
    // The cause is part of the message, not a `source`, so `{:#}` does not repeat it.
    #[error("cannot read STS file {path}: {error}")]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{path}:{line}: {reason}")]
    Line {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    #[error("{path}: no sentence pair in the file")]
    Empty { path: PathBuf },
}

const SCORE_COLUMN: usize = 4;
const MIN_COLUMNS: usize = 7;

pub fn read_sts(path: &Path) -> Result<Vec<StsPair>, StsError> {
    let text = std::fs::read_to_string(path).map_err(|source| StsError::Io {
        path: path.to_path_buf(),
        error: source,
    })?;
    parse_sts(&text).map_err(|e| match e {
        ParseError::Line { line, reason } => StsError::Line {
            path: path.to_path_buf(),
            line,
            reason,
        },
        ParseError::Empty => StsError::Empty {
            path: path.to_path_buf(),
        },
    })
}

#[derive(Debug, Clone, PartialEq)]
pub enum ParseError {
    Line { line: usize, reason: String },
    Empty,
}

/// Blank lines are skipped; anything else must be a full pair.
pub fn parse_sts(text: &str) -> Result<Vec<StsPair>, ParseError> {
    let mut pairs = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        if raw.trim().is_empty() {
            continue;
        }
        let bad = |reason: String| ParseError::Line { line, reason };
        let cols: Vec<&str> = raw.split('\t').collect();
        if cols.len() < MIN_COLUMNS {
            return Err(bad(format!(
                "expected at least {MIN_COLUMNS} tab-separated columns (genre, file, year, id, \
                 score, sentence1, sentence2), found {}",
                cols.len()
            )));
        }
        let score_text = cols[SCORE_COLUMN].trim();
        let score: f64 = score_text
            .parse()
            .map_err(|_| bad(format!("score `{score_text}` is not a number")))?;
        if !(0.0..=5.0).contains(&score) {
            return Err(bad(format!("score {score} is outside 0..=5")));
        }
        let (s1, s2) = (cols[5].trim(), cols[6].trim());
        if s1.is_empty() || s2.is_empty() {
            return Err(bad("empty sentence".into()));
        }
        pairs.push(StsPair {
            line,
            score,
            sentence1: s1.to_string(),
            sentence2: s2.to_string(),
        });
    }
    if pairs.is_empty() {
        return Err(ParseError::Empty);
    }
    Ok(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_pairs_with_extra_columns_and_blank_lines() {
        let text = "g\tf\t2012\t0001\t4.5\tA \"quoted.\tB.\n\n\
                    g\tf\t2016\t0002\t0\tC.\tD.\tsrc\tsrc\r\n";
        let p = parse_sts(text).unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].sentence1, "A \"quoted.");
        assert_eq!(p[1].line, 3);
        assert_eq!(p[1].score, 0.0);
        assert_eq!(p[1].sentence2, "D.");
    }

    #[test]
    fn errors_name_the_line() {
        let short = "g\tf\t2012\t1\t3\tA.\tB.\ng\tf\t2012\t2\t3\tA.\n";
        assert!(matches!(
            parse_sts(short),
            Err(ParseError::Line { line: 2, .. })
        ));
        let nan = "g\tf\t2012\t1\tx\tA.\tB.\n";
        assert!(matches!(
            parse_sts(nan),
            Err(ParseError::Line { line: 1, .. })
        ));
        let range = "g\tf\t2012\t1\t5.5\tA.\tB.\n";
        assert!(matches!(
            parse_sts(range),
            Err(ParseError::Line { line: 1, .. })
        ));
        assert_eq!(parse_sts("\n \n"), Err(ParseError::Empty));
    }
}
