//! Targets and thresholds: an OpenSLO objective's numbers become a sloop quantile and bound,
//! with the unit of the metric made explicit and every conversion noted.

use super::super::*;
use super::{Importer, Unit};
use crate::policy::openslo::render::number_text;

impl Importer<'_> {
    pub(super) fn target(
        &mut self,
        base: &[PathSeg],
        doc: &Node,
        o: &Node,
        at: &dyn Fn(&str) -> String,
        name: &str,
        i: usize,
    ) -> Option<f64> {
        let (field, target) = match (o.field("target"), o.field("targetPercent")) {
            (Some(t), None) => ("target", number(t)),
            (None, Some(t)) => ("targetPercent", number(t).map(|p| p / 100.0)),
            (Some(_), Some(_)) => {
                self.fail(
                    doc,
                    base,
                    &at("targetPercent"),
                    "both `target` and `targetPercent` are set".into(),
                    "keep one",
                );
                return None;
            }
            (None, None) => {
                self.fail(
                    doc,
                    base,
                    &at(""),
                    format!("objective {} of `{name}` has no `target`", i + 1),
                    "add `target: 0.999` (a fraction) or `targetPercent: 99.9`",
                );
                return None;
            }
        };
        match target {
            Some(t) if t > 0.0 && t < 1.0 => Some(t),
            _ => {
                self.fail(
                    doc,
                    base,
                    &at(field),
                    format!(
                        "`{field}` must be a number strictly between 0 and {}",
                        if field == "target" { "1" } else { "100" }
                    ),
                    "a target of 100 % leaves no error budget; e.g. `target: 0.999`",
                );
                None
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn threshold(
        &mut self,
        base: &[PathSeg],
        doc: &Node,
        o: &Node,
        at: &dyn Fn(&str) -> String,
        name: &str,
        i: usize,
        unit: Option<&Unit>,
    ) -> Option<String> {
        match o.field("op").and_then(text) {
            Some("lt" | "lte") => {}
            Some(op @ ("gt" | "gte")) => {
                self.fail(
                    doc,
                    base,
                    &at("op"),
                    format!("`op: {op}` cannot be mapped: sloop latency objectives keep a percentile *under* a threshold"),
                    "only thresholdMetrics with `op: lt` or `op: lte` (latency-like: lower is better) can be imported",
                );
                return None;
            }
            Some(other) => {
                self.fail(
                    doc,
                    base,
                    &at("op"),
                    format!("`{other}` is not an OpenSLO operator"),
                    "use one of lt, lte, gt, gte",
                );
                return None;
            }
            None => {
                self.fail(
                    doc,
                    base,
                    &at("op"),
                    format!("objective {} of `{name}` has no `op`", i + 1),
                    "a thresholdMetric objective needs `op: lte` and a `value`",
                );
                return None;
            }
        }
        match o.field("value").and_then(number) {
            Some(v) if v > 0.0 => {
                // OpenSLO values carry no unit: guessing one read `0.3` (seconds) as 300us.
                let Some(unit) = unit else {
                    self.fail(
                        doc,
                        base,
                        &at("value"),
                        format!(
                            "`value: {}` of objective {} of `{name}` has no unit: OpenSLO threshold values are unitless",
                            number_text(v),
                            i + 1
                        ),
                        format!(
                            "annotate the SLO with `{THRESHOLD_UNIT_ANNOTATION}: s` (or ms, us), or pass `--threshold-unit s|ms|us` for SLOs without the annotation"
                        ),
                    );
                    return None;
                };
                let micros = (v * unit.micros).round() as u64;
                Some(if micros.is_multiple_of(1000) {
                    format!("{}ms", micros / 1000)
                } else {
                    format!("{micros}us")
                })
            }
            _ => {
                self.fail(
                    doc,
                    base,
                    &at("value"),
                    format!("objective {} of `{name}` needs a positive numeric `value`", i + 1),
                    "the threshold, e.g. `value: 800` (milliseconds)",
                );
                None
            }
        }
    }

    /// The unit of the SLO's thresholdMetric values: its annotation, else the importer's
    /// `--threshold-unit`, else none (a threshold then is an error, never a guess).
    pub(super) fn threshold_unit(&mut self, base: &[PathSeg], doc: &Node) -> Option<Unit> {
        let Some(raw) = doc
            .field("metadata")
            .and_then(|m| m.field("annotations"))
            .and_then(|a| a.field(THRESHOLD_UNIT_ANNOTATION))
        else {
            return self.default_unit.map(|u| Unit {
                micros: u.micros(),
                note: format!("The value is in {}, as --threshold-unit says.", u.symbol()),
            });
        };
        let Some(unit) = text(raw).and_then(ThresholdUnit::from_symbol) else {
            self.fail(
                doc,
                base,
                &format!("metadata.annotations.{THRESHOLD_UNIT_ANNOTATION}"),
                format!("`{}` is not a unit sloop knows", text(raw).unwrap_or("")),
                "use s, ms or us",
            );
            return None;
        };
        Some(Unit {
            micros: unit.micros(),
            note: format!(
                "The value is in {}, as annotation `{THRESHOLD_UNIT_ANNOTATION}` says.",
                unit.symbol()
            ),
        })
    }
}
