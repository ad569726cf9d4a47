//! `sloop import openslo`: OpenSLO v1 SLO documents to sloop objectives. Pure.

use crate::document::Diagnostic;

/// Converts OpenSLO documents to a YAML fragment of sloop objectives.
pub fn import(file: &str, _bytes: &[u8]) -> Result<String, Vec<Diagnostic>> {
    let mut d = Diagnostic::at(crate::document::Pos::START, "OpenSLO import is not built yet".into(), "");
    d.file = file.into();
    Err(vec![d])
}
