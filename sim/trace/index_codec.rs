//! The compact encoding of token index lists in trace version 3 (traces/FORMAT.md): each
//! list (one head call's keys or values, one layer's kept tokens) is stored in whichever of
//! three forms is shortest, chosen per list. All forms hold strictly ascending indices.
//!
//! - `LIST` (0): the indices themselves.
//! - `RANGES` (1): `(start, length)` pairs of maximal runs of consecutive indices.
//! - `BITMAP` (2): `first, span`, then `ceil(span / 32)` words; bit b of word w (bit 0 the
//!   least significant) set means index `first + 32 w + b` is in the list. `span` is
//!   `last - first + 1`; no bit at or beyond `span` is set.
//!
//! Ties go to the lower code, so the choice is deterministic. An empty list is `LIST`.

pub const LIST: u8 = 0;
pub const RANGES: u8 = 1;
pub const BITMAP: u8 = 2;

fn runs(list: &[u32]) -> Vec<u32> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < list.len() {
        let start = list[i];
        let mut j = i + 1;
        while j < list.len() && list[j] == list[j - 1] + 1 {
            j += 1;
        }
        out.push(start);
        out.push((j - i) as u32);
        i = j;
    }
    out
}

fn bitmap(list: &[u32]) -> Vec<u32> {
    let (first, last) = (list[0], *list.last().expect("non-empty"));
    let span = last - first + 1;
    let mut out = vec![first, span];
    out.resize(2 + span.div_ceil(32) as usize, 0);
    for &t in list {
        let b = t - first;
        out[2 + (b / 32) as usize] |= 1 << (b % 32);
    }
    out
}

/// The shortest encoding of a strictly ascending list: (code, words).
pub fn encode(list: &[u32]) -> (u8, Vec<u32>) {
    if list.is_empty() {
        return (LIST, Vec::new());
    }
    // Word counts first, so a long sparse list never builds its bitmap.
    let run_words = 2 * (1 + list.windows(2).filter(|w| w[1] != w[0] + 1).count());
    let span = (*list.last().unwrap() - list[0]) as usize + 1;
    let bitmap_words = 2 + span.div_ceil(32);
    let best = list.len().min(run_words).min(bitmap_words);
    if best == list.len() {
        (LIST, list.to_vec())
    } else if best == run_words {
        (RANGES, runs(list))
    } else {
        (BITMAP, bitmap(list))
    }
}

/// How many indices `words` decode to (at most; malformed words are caught by [`decode`]),
/// computed without decoding, so a reader can refuse a file that would expand past its
/// memory limit before allocating.
pub fn decoded_len(code: u8, words: &[u32]) -> u64 {
    match code {
        RANGES => words
            .chunks(2)
            .map(|p| p.get(1).copied().unwrap_or(0) as u64)
            .sum(),
        BITMAP => words.iter().skip(2).map(|w| w.count_ones() as u64).sum(),
        _ => words.len() as u64,
    }
}

/// Decodes one list; `limit` bounds every index (the trace's token count), so a hostile
/// file cannot make a huge list. Errors say what is wrong.
pub fn decode(code: u8, words: &[u32], limit: u64) -> Result<Vec<u32>, String> {
    let ascending = |v: &[u32]| v.windows(2).all(|w| w[0] < w[1]);
    match code {
        LIST => Ok(words.to_vec()),
        RANGES => {
            if !words.len().is_multiple_of(2) {
                return Err(format!(
                    "{} range words: not (start, length) pairs",
                    words.len()
                ));
            }
            let total: u64 = words.chunks(2).map(|p| p[1] as u64).sum();
            if total > limit {
                return Err(format!("ranges hold {total} indices, above {limit} tokens"));
            }
            let mut out = Vec::with_capacity(total as usize);
            for p in words.chunks(2) {
                let end = p[0] as u64 + p[1] as u64;
                if p[1] == 0 || end > limit {
                    return Err(format!(
                        "range ({}, {}) is empty or reaches past {limit} tokens",
                        p[0], p[1]
                    ));
                }
                out.extend(p[0]..end as u32);
            }
            if !ascending(&out) {
                return Err("ranges overlap or are not ascending".into());
            }
            Ok(out)
        }
        BITMAP => {
            let [first, span, bits @ ..] = words else {
                return Err("a bitmap needs its first index and span".into());
            };
            let (first, span) = (*first as u64, *span as u64);
            if span == 0 || first + span > limit || bits.len() as u64 != span.div_ceil(32) {
                return Err(format!(
                    "bitmap from {first} over {span} tokens with {} words does not fit {limit} tokens",
                    bits.len()
                ));
            }
            let mut out = Vec::new();
            for (w, &word) in bits.iter().enumerate() {
                for b in 0..32 {
                    if word >> b & 1 == 1 {
                        let i = w as u64 * 32 + b;
                        if i >= span {
                            return Err(format!("bitmap bit {i} is beyond its span {span}"));
                        }
                        out.push((first + i) as u32);
                    }
                }
            }
            Ok(out)
        }
        other => Err(format!(
            "unknown index encoding {other} (0 list, 1 ranges, 2 bitmap)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_form_is_chosen_where_it_is_shortest() {
        assert_eq!(encode(&[]), (LIST, vec![]));
        assert_eq!(encode(&[3, 9, 1000]).0, LIST);
        let dense: Vec<u32> = (100..5000).collect();
        assert_eq!(encode(&dense), (RANGES, vec![100, 4900]));
        let every_third: Vec<u32> = (0..3000).step_by(3).collect();
        assert_eq!(encode(&every_third).0, BITMAP);
        for l in [dense, every_third, vec![0, 1, 2, 7, 8, 31, 32, 33, 64]] {
            let (c, w) = encode(&l);
            assert_eq!(decode(c, &w, 1 << 17).unwrap(), l);
        }
    }

    #[test]
    fn hostile_words_are_errors() {
        assert!(decode(RANGES, &[5], 100).is_err());
        assert!(decode(RANGES, &[90, 20], 100).is_err());
        assert!(decode(RANGES, &[10, 5, 12, 3], 100).is_err());
        assert!(decode(RANGES, &[0, 0], 100).is_err());
        assert!(decode(BITMAP, &[0], 100).is_err());
        assert!(decode(BITMAP, &[0, 40, 1], 100).is_err());
        assert!(decode(BITMAP, &[0, 3, 0b1000], 100).is_err());
        assert!(decode(7, &[], 100).is_err());
    }
}
