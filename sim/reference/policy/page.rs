//! Quest's page summaries: per page of keys the elementwise minimum and maximum, and the
//! bound they give on q . k, used to pick the pages a query loads.

/// Elementwise min and max of each page's key rows (`keys` row-major, `d` words per row,
/// pages of `page_size` consecutive rows; the last page may be shorter).
pub fn summaries(keys: &[i16], d: usize, page_size: usize) -> Vec<(Vec<i16>, Vec<i16>)> {
    keys.chunks(page_size * d)
        .map(|page| {
            let mut lo = page[..d].to_vec();
            let mut hi = page[..d].to_vec();
            for row in page.chunks_exact(d) {
                for i in 0..d {
                    lo[i] = lo[i].min(row[i]);
                    hi[i] = hi[i].max(row[i]);
                }
            }
            (lo, hi)
        })
        .collect()
}

/// sum_i max(q_i min_i, q_i max_i): no key of the page scores above it (exact in i64).
pub fn bound(q: &[i16], lo: &[i16], hi: &[i16]) -> i64 {
    q.iter()
        .zip(lo.iter().zip(hi))
        .map(|(&q, (&l, &h))| (q as i64 * l as i64).max(q as i64 * h as i64))
        .sum()
}

/// A signed bound as an unsigned engine key with the same order.
pub fn engine_key(b: i64) -> u64 {
    (b as u64) ^ (1 << 63)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn a_page_bound_is_never_below_its_true_max_score(
            d in 1usize..16, rows in 1usize..40, page in 1usize..9, seed in any::<u64>(),
        ) {
            let mut s = seed;
            let mut next = || { s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407); ((s >> 33) % 4095) as i16 - 2047 };
            let q: Vec<i16> = (0..d).map(|_| next()).collect();
            let k: Vec<i16> = (0..rows * d).map(|_| next()).collect();
            let sums = summaries(&k, d, page);
            prop_assert_eq!(sums.len(), rows.div_ceil(page));
            for (p, (lo, hi)) in sums.iter().enumerate() {
                let b = bound(&q, lo, hi);
                let max = k[p * page * d..((p + 1) * page).min(rows) * d]
                    .chunks_exact(d)
                    .map(|r| crate::reference::qk::dot(&q, r) as i64)
                    .max()
                    .unwrap();
                prop_assert!(b >= max, "page {p}: bound {b} < max {max}");
            }
        }
    }

    #[test]
    fn a_one_row_page_bound_is_its_score() {
        let q = [3i16, -2];
        let k = [5i16, 7];
        let s = summaries(&k, 2, 1);
        assert_eq!(bound(&q, &s[0].0, &s[0].1), 3 * 5 - 2 * 7);
        assert!(engine_key(-1) < engine_key(0) && engine_key(0) < engine_key(5));
    }
}
