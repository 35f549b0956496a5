//! BERT's uncased WordPiece tokenizer over `vocab.txt`, written to reproduce the Hugging Face
//! `tokenizers` pipeline that ships with all-MiniLM-L6-v2 (BertNormalizer with clean_text,
//! handle_chinese_chars, lowercase and accent stripping; BertPreTokenizer; WordPiece with `##`
//! continuations; `[CLS] ... [SEP]`). The Unicode predicates come from the same crates HF uses
//! (`unicode_categories`, NFD from `unicode-normalization`) so edge characters agree too.
//! Checked against ids produced by the real HF tokenizer in `tests/golden/model/`.

use std::collections::HashMap;
use std::path::Path;

use unicode_categories::UnicodeCategories;
use unicode_normalization::UnicodeNormalization;

use super::error::ModelError;

/// HF's WordPiece turns any longer word into `[UNK]` rather than searching it.
const MAX_CHARS_PER_WORD: usize = 100;

/// Special tokens that HF matches in the raw text before normalisation (its "added tokens").
const SPECIAL_TOKENS: [&str; 5] = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];

#[derive(Debug, Clone)]
pub struct WordPieceTokenizer {
    vocab: HashMap<String, u32>,
    unk_id: u32,
    cls_id: u32,
    sep_id: u32,
}

impl WordPieceTokenizer {
    /// Reads `vocab.txt`: one token per line, its id is the line index.
    pub fn from_vocab_file(path: &Path) -> Result<Self, ModelError> {
        let text = std::fs::read_to_string(path).map_err(|source| ModelError::Io {
            path: path.to_path_buf(),
            error: source,
        })?;
        Self::from_vocab_text(&text).map_err(|reason| ModelError::Vocab {
            path: path.to_path_buf(),
            reason,
        })
    }

    pub fn from_vocab_text(text: &str) -> Result<Self, String> {
        let mut vocab = HashMap::new();
        for (i, line) in text.lines().enumerate() {
            let id = u32::try_from(i).map_err(|_| "vocabulary larger than u32".to_string())?;
            // HF keeps the first-seen id only if a token repeats; later lines overwrite, as in
            // its `WordPiece::read_file`.
            vocab.insert(line.trim_end().to_string(), id);
        }
        let find = |tok: &str| {
            vocab
                .get(tok)
                .copied()
                .ok_or_else(|| format!("vocabulary has no {tok} token"))
        };
        Ok(Self {
            unk_id: find("[UNK]")?,
            cls_id: find("[CLS]")?,
            sep_id: find("[SEP]")?,
            vocab,
        })
    }

    pub fn vocab_size(&self) -> usize {
        self.vocab.len()
    }

    pub fn cls_id(&self) -> u32 {
        self.cls_id
    }

    pub fn sep_id(&self) -> u32 {
        self.sep_id
    }

    /// Word-piece ids of `text`, without `[CLS]`/`[SEP]` and without truncation.
    pub fn tokenize(&self, text: &str) -> Vec<u32> {
        let mut ids = Vec::new();
        let mut rest = text;
        while !rest.is_empty() {
            match next_special(rest) {
                Some((at, tok)) => {
                    self.tokenize_plain(&rest[..at], &mut ids);
                    ids.push(self.vocab.get(tok).copied().unwrap_or(self.unk_id));
                    rest = &rest[at + tok.len()..];
                }
                None => {
                    self.tokenize_plain(rest, &mut ids);
                    rest = "";
                }
            }
        }
        ids
    }

    /// `[CLS] pieces [SEP]`, the pieces cut so the whole fits in `max_tokens` (HF's truncation
    /// keeps the special tokens). Errors if the text yields no piece at all.
    pub fn encode(&self, text: &str, max_tokens: usize) -> Result<Vec<u32>, ModelError> {
        let mut pieces = self.tokenize(text);
        if pieces.is_empty() {
            return Err(ModelError::EmptyText);
        }
        pieces.truncate(max_tokens.saturating_sub(2).max(1));
        let mut ids = Vec::with_capacity(pieces.len() + 2);
        ids.push(self.cls_id);
        ids.extend(pieces);
        ids.push(self.sep_id);
        Ok(ids)
    }

    fn tokenize_plain(&self, text: &str, out: &mut Vec<u32>) {
        let normalized = normalize(text);
        for word in pre_tokenize(&normalized) {
            self.word_pieces(word, out);
        }
    }

    /// Greedy longest-match-first; one unmatched remainder makes the whole word `[UNK]`.
    fn word_pieces(&self, word: &str, out: &mut Vec<u32>) {
        let chars: Vec<(usize, char)> = word.char_indices().collect();
        if chars.len() > MAX_CHARS_PER_WORD {
            out.push(self.unk_id);
            return;
        }
        let mark = out.len();
        let mut start = 0;
        let mut candidate = String::new();
        while start < chars.len() {
            let mut end = chars.len();
            let mut found = None;
            while start < end {
                let from = chars[start].0;
                let to = chars.get(end).map_or(word.len(), |c| c.0);
                candidate.clear();
                if start > 0 {
                    candidate.push_str("##");
                }
                candidate.push_str(&word[from..to]);
                if let Some(&id) = self.vocab.get(candidate.as_str()) {
                    found = Some(id);
                    break;
                }
                end -= 1;
            }
            match found {
                Some(id) => out.push(id),
                None => {
                    out.truncate(mark);
                    out.push(self.unk_id);
                    return;
                }
            }
            start = end;
        }
    }
}

/// The earliest special-token literal in `text`: (byte offset, token).
fn next_special(text: &str) -> Option<(usize, &'static str)> {
    SPECIAL_TOKENS
        .iter()
        .filter_map(|tok| text.find(tok).map(|at| (at, *tok)))
        .min_by_key(|&(at, _)| at)
}

/// BertNormalizer: clean text, pad CJK ideographs with spaces, strip accents, lowercase; in
/// that order, as HF does (the order matters for characters such as U+0130).
pub fn normalize(text: &str) -> String {
    let mut cleaned = String::with_capacity(text.len());
    for c in text.chars() {
        if c == '\0' || c == '\u{fffd}' || is_control(c) {
            continue;
        }
        if is_whitespace(c) {
            cleaned.push(' ');
        } else if is_chinese_char(c) {
            cleaned.push(' ');
            cleaned.push(c);
            cleaned.push(' ');
        } else {
            cleaned.push(c);
        }
    }
    let stripped: String = cleaned.nfd().filter(|c| !c.is_mark_nonspacing()).collect();
    stripped.chars().flat_map(char::to_lowercase).collect()
}

/// BertPreTokenizer: split on whitespace (dropped), then isolate each punctuation char.
pub fn pre_tokenize(text: &str) -> Vec<&str> {
    let mut words = Vec::new();
    for chunk in text.split(char::is_whitespace) {
        let mut start = 0;
        for (i, c) in chunk.char_indices() {
            if is_bert_punctuation(c) {
                if start < i {
                    words.push(&chunk[start..i]);
                }
                words.push(&chunk[i..i + c.len_utf8()]);
                start = i + c.len_utf8();
            }
        }
        if start < chunk.len() {
            words.push(&chunk[start..]);
        }
    }
    words
}

fn is_whitespace(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r') || c.is_whitespace()
}

fn is_control(c: char) -> bool {
    !matches!(c, '\t' | '\n' | '\r') && c.is_other()
}

fn is_bert_punctuation(c: char) -> bool {
    c.is_ascii_punctuation() || c.is_punctuation()
}

/// The CJK Unified Ideograph blocks BERT treats as one word per character (Hangul and kana are
/// not among them, by BERT's design).
fn is_chinese_char(c: char) -> bool {
    matches!(
        c as u32,
        0x4E00..=0x9FFF
            | 0x3400..=0x4DBF
            | 0x20000..=0x2A6DF
            | 0x2A700..=0x2B73F
            | 0x2B740..=0x2B81F
            | 0x2B920..=0x2CEAF
            | 0xF900..=0xFAFF
            | 0x2F800..=0x2FA1F
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toy() -> WordPieceTokenizer {
        let vocab = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nun\n##aff\n##able\nhello\n,\n!\ncafe\n";
        WordPieceTokenizer::from_vocab_text(vocab).unwrap()
    }

    #[test]
    fn greedy_longest_match_with_continuations() {
        assert_eq!(toy().tokenize("unaffable"), vec![5, 6, 7]);
    }

    #[test]
    fn unmatched_remainder_makes_whole_word_unknown() {
        assert_eq!(toy().tokenize("unaffablex hello"), vec![1, 8]);
    }

    #[test]
    fn punctuation_is_split_and_case_and_accents_fold() {
        assert_eq!(toy().tokenize("HeLLo,Café!"), vec![8, 9, 11, 10]);
    }

    #[test]
    fn special_literals_map_to_their_ids() {
        assert_eq!(toy().tokenize("hello[SEP]hello"), vec![8, 3, 8]);
    }

    #[test]
    fn encode_wraps_truncates_and_rejects_empty() {
        let t = toy();
        assert_eq!(t.encode("hello hello hello", 4).unwrap(), vec![2, 8, 8, 3]);
        assert!(matches!(
            t.encode(" \t\u{0}", 8),
            Err(ModelError::EmptyText)
        ));
    }

    #[test]
    fn cjk_characters_become_words() {
        assert_eq!(
            pre_tokenize(&normalize("a中文b")),
            vec!["a", "中", "文", "b"]
        );
    }

    #[test]
    fn missing_special_token_is_reported() {
        let err = WordPieceTokenizer::from_vocab_text("[PAD]\n[CLS]\n").unwrap_err();
        assert!(err.contains("[UNK]"), "{err}");
    }
}
