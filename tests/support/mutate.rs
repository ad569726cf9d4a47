//! Line-level mutations of a valid YAML file for the parser properties (policies, scenarios):
//! lines deleted, doubled, a value replaced by something nasty, garbage bytes inserted, the
//! file cut short. Shared by `tests/policy_props.rs` and `tests/reliability/bad_input.rs`.

use proptest::prelude::*;

#[derive(Debug, Clone)]
pub enum Mutation {
    DeleteLine(usize),
    DuplicateLine(usize),
    ReplaceValue(usize, String),
    InsertGarbage(usize, Vec<u8>),
    Truncate(usize),
}

/// One mutation; replaced values come from `values`.
pub fn mutation(values: BoxedStrategy<String>) -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<usize>().prop_map(Mutation::DeleteLine),
        any::<usize>().prop_map(Mutation::DuplicateLine),
        (any::<usize>(), values).prop_map(|(i, v)| Mutation::ReplaceValue(i, v)),
        (any::<usize>(), proptest::collection::vec(any::<u8>(), 0..40))
            .prop_map(|(i, g)| Mutation::InsertGarbage(i, g)),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

/// `text` with `mutations` applied in order (indices wrap around the current line count).
pub fn apply(text: &str, mutations: &[Mutation]) -> Vec<u8> {
    let mut lines: Vec<Vec<u8>> = text.lines().map(|l| l.as_bytes().to_vec()).collect();
    for m in mutations {
        if lines.is_empty() {
            break;
        }
        let n = lines.len();
        match m {
            Mutation::DeleteLine(i) => {
                lines.remove(i % n);
            }
            Mutation::DuplicateLine(i) => {
                let line = lines[i % n].clone();
                lines.insert(i % n, line);
            }
            Mutation::ReplaceValue(i, v) => {
                let line = &mut lines[i % n];
                // Replace whatever follows the first `: ` (a value), or the whole list item.
                let at = line
                    .windows(2)
                    .position(|w| w == b": ")
                    .map(|p| p + 2)
                    .or_else(|| line.iter().position(|&b| b == b'-').map(|p| p + 1));
                if let Some(at) = at {
                    line.truncate(at);
                    line.extend_from_slice(v.as_bytes());
                }
            }
            Mutation::InsertGarbage(i, g) => lines.insert(i % (n + 1), g.clone()),
            Mutation::Truncate(i) => lines.truncate(i % n),
        }
    }
    lines.join(&b'\n')
}
