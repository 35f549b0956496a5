//! A Hugging Face `tokenizer.json` (byte-level BPE for GPT-2 / Llama 3, WordPiece, ...)
//! through the `tokenizers` crate, so ids match the model's own tokenizer exactly.

use std::path::{Path, PathBuf};

use super::error::ModelError;

#[derive(Clone)]
pub struct HfTokenizer {
    inner: tokenizers::Tokenizer,
    path: PathBuf,
}

impl std::fmt::Debug for HfTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HfTokenizer")
            .field("path", &self.path)
            .field("vocab_size", &self.vocab_size())
            .finish()
    }
}

impl HfTokenizer {
    pub fn from_file(path: &Path) -> Result<Self, ModelError> {
        if !path.is_file() {
            return Err(ModelError::MissingFile {
                path: path.to_path_buf(),
            });
        }
        let inner = tokenizers::Tokenizer::from_file(path).map_err(|e| ModelError::Vocab {
            path: path.to_path_buf(),
            reason: format!("not a valid tokenizer.json: {e}"),
        })?;
        Ok(Self {
            inner,
            path: path.to_path_buf(),
        })
    }

    /// Ids of `text`; `special` adds the tokenizer's template tokens (BERT's [CLS]/[SEP]).
    pub fn encode(&self, text: &str, special: bool) -> Result<Vec<u32>, ModelError> {
        let enc = self
            .inner
            .encode(text, special)
            .map_err(|e| ModelError::Vocab {
                path: self.path.clone(),
                reason: format!("cannot encode text: {e}"),
            })?;
        Ok(enc.get_ids().to_vec())
    }

    pub fn decode(&self, ids: &[u32]) -> Result<String, ModelError> {
        self.inner
            .decode(ids, false)
            .map_err(|e| ModelError::Vocab {
                path: self.path.clone(),
                reason: format!("cannot decode ids: {e}"),
            })
    }

    /// Tokens including added (special) ones.
    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    /// The tokenizer's truncation setting disabled: callers cut windows themselves.
    pub fn without_truncation(mut self) -> Self {
        let _ = self.inner.with_truncation(None);
        self.inner.with_padding(None);
        self
    }
}
