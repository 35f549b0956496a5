//! Pareto fronts over two objectives.

/// Indices of the points not dominated by any other, where larger `x` and smaller `y` are
/// better (e.g. throughput vs energy). Sorted by increasing `x`. Points with NaN are ignored.
pub fn front_max_x_min_y(points: &[(f64, f64)]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..points.len())
        .filter(|&i| points[i].0.is_finite() && points[i].1.is_finite())
        .collect();
    // Largest x first; among equal x the smallest y first, so it dominates its ties.
    order.sort_by(|&a, &b| {
        points[b]
            .0
            .total_cmp(&points[a].0)
            .then(points[a].1.total_cmp(&points[b].1))
            .then(a.cmp(&b))
    });
    let mut front = Vec::new();
    let mut best_y = f64::INFINITY;
    for i in order {
        if points[i].1 < best_y {
            best_y = points[i].1;
            front.push(i);
        }
    }
    front.reverse();
    front
}

/// Indices of the points not dominated, where larger `x` and larger `y` are better.
pub fn front_max_x_max_y(points: &[(f64, f64)]) -> Vec<usize> {
    let flipped: Vec<(f64, f64)> = points.iter().map(|&(x, y)| (x, -y)).collect();
    front_max_x_min_y(&flipped)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn dominated(p: (f64, f64), q: (f64, f64)) -> bool {
        q.0 >= p.0 && q.1 <= p.1 && (q.0 > p.0 || q.1 < p.1)
    }

    #[test]
    fn small_example() {
        let pts = [(1.0, 1.0), (2.0, 2.0), (2.0, 3.0), (0.5, 0.5), (1.5, 1.0)];
        assert_eq!(front_max_x_min_y(&pts), vec![3, 4, 1]);
    }

    proptest! {
        #[test]
        fn front_matches_brute_force(pts in proptest::collection::vec((0u8..20, 0u8..20), 1..60)) {
            let pts: Vec<(f64, f64)> = pts.into_iter().map(|(a, b)| (a as f64, b as f64)).collect();
            let front = front_max_x_min_y(&pts);
            for (i, &p) in pts.iter().enumerate() {
                let is_dominated = pts.iter().any(|&q| dominated(p, q));
                let duplicate_earlier_on_front = front.iter().any(|&j| j != i && pts[j] == p);
                prop_assert_eq!(front.contains(&i), !is_dominated && !duplicate_earlier_on_front);
            }
        }
    }
}
