//! Persons as connected components of trusted links.

use std::collections::BTreeMap;

/// The connected components of `nodes` under `edges` (pairs of node ids);
/// each component sorted, components ordered by their smallest node. Edges
/// to nodes outside `nodes` are ignored.
pub fn components(nodes: &[i64], edges: &[(i64, i64)]) -> Vec<Vec<i64>> {
    let index: BTreeMap<i64, usize> = nodes.iter().enumerate().map(|(i, n)| (*n, i)).collect();
    let mut parent: Vec<usize> = (0..nodes.len()).collect();
    fn find(parent: &mut [usize], mut x: usize) -> usize {
        while parent[x] != x {
            parent[x] = parent[parent[x]];
            x = parent[x];
        }
        x
    }
    for (a, b) in edges {
        if let (Some(&a), Some(&b)) = (index.get(a), index.get(b)) {
            let (ra, rb) = (find(&mut parent, a), find(&mut parent, b));
            if ra != rb {
                parent[ra.max(rb)] = ra.min(rb);
            }
        }
    }
    let mut groups: BTreeMap<usize, Vec<i64>> = BTreeMap::new();
    for (i, node) in nodes.iter().enumerate() {
        let root = find(&mut parent, i);
        groups.entry(root).or_default().push(*node);
    }
    let mut out: Vec<Vec<i64>> = groups
        .into_values()
        .map(|mut g| {
            g.sort_unstable();
            g
        })
        .collect();
    out.sort_by_key(|g| g[0]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_into_connected_pieces() {
        let nodes = [1, 2, 3, 4, 5];
        assert_eq!(
            components(&nodes, &[(1, 2), (4, 5)]),
            vec![vec![1, 2], vec![3], vec![4, 5]]
        );
        assert_eq!(
            components(&nodes, &[(5, 1), (1, 3), (3, 5), (9, 2)]),
            vec![vec![1, 3, 5], vec![2], vec![4]]
        );
        assert!(components(&[], &[(1, 2)]).is_empty());
    }
}
