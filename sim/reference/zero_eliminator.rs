//! The zero eliminator: compacts the kept elements of a stream to its front, in order, with
//! a prefix sum of the drop flags and log2(n) shift layers (SPEC.md section 6.3).

/// Output of one pass: `values[..count]` are the kept elements in input order; the rest of
/// `values` is zero (the slots the hardware leaves empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compacted<T> {
    pub values: Vec<T>,
    pub count: usize,
}

/// Layer j moves an element down by 2^j when bit j of its drop count (the number of dropped
/// elements before it) is set. Elements move in increasing layer order, so an element's
/// partial shifts never collide with a kept element still to be moved (the standard proof:
/// after layer j every kept element sits at index i - (count mod 2^(j+1)), which is strictly
/// increasing in i).
pub fn eliminate<T: Copy + Default>(input: &[T], keep: &[bool]) -> Compacted<T> {
    let n = input.len().min(keep.len());
    // Prefix sum of zero (drop) flags: drops[i] = dropped elements at indices < i.
    let mut drops = vec![0usize; n];
    let mut acc = 0usize;
    for i in 0..n {
        drops[i] = acc;
        acc += usize::from(!keep[i]);
    }
    let count = n - acc;
    let layers = usize::BITS - n.max(1).leading_zeros();
    // Each slot holds (value, remaining drop count, valid).
    let mut slots: Vec<Option<(T, usize)>> = (0..n)
        .map(|i| keep[i].then_some((input[i], drops[i])))
        .collect();
    for j in 0..layers {
        let step = 1usize << j;
        let mut next: Vec<Option<(T, usize)>> = vec![None; n];
        for (i, slot) in slots.iter().enumerate() {
            if let Some((v, z)) = *slot {
                let dest = if z & step != 0 { i - step } else { i };
                debug_assert!(next[dest].is_none(), "zero eliminator collision");
                next[dest] = Some((v, z));
            }
        }
        slots = next;
    }
    let values = slots
        .into_iter()
        .map(|s| s.map_or(T::default(), |(v, _)| v))
        .collect();
    Compacted { values, count }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn equals_a_filter(items in prop::collection::vec((1u32..1000, any::<bool>()), 0..300)) {
            let input: Vec<u32> = items.iter().map(|x| x.0).collect();
            let keep: Vec<bool> = items.iter().map(|x| x.1).collect();
            let out = eliminate(&input, &keep);
            let want: Vec<u32> = items.iter().filter(|x| x.1).map(|x| x.0).collect();
            prop_assert_eq!(out.count, want.len());
            prop_assert_eq!(&out.values[..out.count], &want[..]);
            prop_assert!(out.values[out.count..].iter().all(|&v| v == 0));
            prop_assert_eq!(out.values.len(), input.len());
        }
    }
}
