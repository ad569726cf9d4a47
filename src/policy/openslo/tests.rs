use super::convert::shorthand;
use super::render::scalar;
use super::split_documents;

#[test]
fn documents_split_at_markers_and_keep_their_line_numbers() {
    let src = "a: 1\n---\nb: 2\n--- # third\nc: 3\n";
    let chunks = split_documents(src);
    assert_eq!(
        chunks,
        vec![(1, "a: 1\n"), (2, "---\nb: 2\n"), (4, "--- # third\nc: 3\n")]
    );
    // A leading marker does not produce an empty first chunk.
    assert_eq!(split_documents("---\na: 1\n"), vec![(1, "---\na: 1\n")]);
    // `----` and indented `---` are content, not markers.
    assert_eq!(split_documents("a: |\n  ---\n----\n").len(), 1);
}

#[test]
fn shorthand_durations_become_sloop_durations() {
    assert_eq!(shorthand("28d").as_deref(), Some("28d"));
    assert_eq!(shorthand("1w").as_deref(), Some("1w"));
    assert_eq!(shorthand("1M").as_deref(), Some("30d"));
    assert_eq!(shorthand("1Q").as_deref(), Some("90d"));
    assert_eq!(shorthand("1Y").as_deref(), Some("365d"));
    assert_eq!(shorthand("5m").as_deref(), Some("5m"));
    assert_eq!(shorthand("28 days"), None);
    assert_eq!(shorthand("0d"), None);
    assert_eq!(shorthand("d"), None);
    assert_eq!(shorthand("99999999999999999999Y"), None);
}

#[test]
fn unsafe_names_are_quoted() {
    assert_eq!(scalar("web"), "web");
    assert_eq!(scalar("my service: prod"), "\"my service: prod\"");
    assert_eq!(scalar("true"), "\"true\"");
    assert_eq!(scalar("1web"), "\"1web\"");
}
