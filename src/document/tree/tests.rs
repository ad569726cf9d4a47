//! Syntax errors point at their cause: a tab error at the tab's own line.

use super::{Limits, parse};

/// The line and column of the error `src` gets, and its message.
fn error_at(src: &str) -> (usize, usize, String) {
    let d = parse(src, &Limits::default()).expect_err("the document has a syntax error");
    (d.pos.line, d.pos.col, d.message)
}

#[test]
fn a_tab_error_points_at_the_tab() {
    let cases = [
        // A tab indents a mapping's first key.
        "metadata:\n\tname: web\n",
        // A tab indents a later key of a nested mapping.
        "spec:\n  group:\n    cloud: sim\n\tsize: 2\n",
        // A tab indents a key below a key whose value is a block.
        "spec:\n  template:\n  \timage: x\n",
        // A tab after spaces indents a list item's key.
        "probes:\n  - name: a\n  \t interval: 10s\n",
        // A tab after a plain scalar's line: the scanner stops inside the scalar above.
        "metadata:\n  name: x\n\tlabels: {}\n",
        "probes:\n  - name: a\n\t  interval: 10s\n",
        "spec:\n  group:\n    cloud: sim\n\n\tsize: 2\n",
        "spec:\n  group:\n    cloud: sim\n    \tsize: 2\n",
    ];
    let mut wrong = Vec::new();
    for src in cases {
        let tab_line = src.lines().position(|l| l.contains('\t')).expect("a tab") + 1;
        let tab_col = src
            .lines()
            .nth(tab_line - 1)
            .and_then(|l| l.find('\t'))
            .expect("a tab")
            + 1;
        let (line, col, message) = error_at(src);
        assert!(message.contains("tab"), "{src:?}: {message}");
        if (line, col) != (tab_line, tab_col) {
            wrong.push(format!(
                "{src:?}: tab at {tab_line}:{tab_col}, reported at {line}:{col}"
            ));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}
