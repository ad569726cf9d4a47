//! A tiny hand-written SVG plotter for the HTML report: a time axis with clock-aligned ticks, a
//! linear y axis with "nice" ticks, polylines, shaded bands, horizontal and vertical rules,
//! point markers with tooltips and an in-SVG legend. Pure string building; every piece of text
//! goes through [`esc`].

use crate::policy::units::Timestamp;
use std::fmt::Write;

/// Escapes text for HTML/SVG element content and double- or single-quoted attributes.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A point of a series: seconds since the run's start, and a value (`None` is a gap).
pub type Point = (f64, Option<f64>);

/// Keeps at most `max_points` points by taking, per bucket of consecutive points, the minimum
/// and the maximum in their original order, so that a one-minute spike survives. A bucket with
/// no value becomes a gap.
pub fn downsample(points: &[Point], max_points: usize) -> Vec<Point> {
    if points.len() <= max_points || max_points < 2 {
        return points.to_vec();
    }
    let buckets = max_points / 2;
    let size = points.len().div_ceil(buckets);
    let mut out = Vec::with_capacity(max_points);
    for chunk in points.chunks(size) {
        let values = chunk
            .iter()
            .enumerate()
            .filter_map(|(i, (_, v))| v.map(|v| (i, v)));
        let lo = values.clone().min_by(|a, b| a.1.total_cmp(&b.1));
        let hi = values.max_by(|a, b| a.1.total_cmp(&b.1));
        match (lo, hi) {
            (Some(lo), Some(hi)) if lo.0 == hi.0 => out.push(chunk[lo.0]),
            (Some(lo), Some(hi)) => {
                let (a, b) = if lo.0 < hi.0 { (lo.0, hi.0) } else { (hi.0, lo.0) };
                out.push(chunk[a]);
                out.push(chunk[b]);
            }
            _ => out.push((chunk[chunk.len() / 2].0, None)),
        }
    }
    out
}

/// Ticks at 1, 2 or 5 × 10^k covering `lo..=hi` with about `target` steps.
pub fn nice_ticks(lo: f64, hi: f64, target: usize) -> Vec<f64> {
    let (lo, hi) = if hi > lo { (lo, hi) } else { (lo, lo + 1.0) };
    let raw = (hi - lo) / target.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let first = (lo / step).floor() as i64;
    let last = (hi / step - 1e-9).ceil() as i64;
    (first..=last).map(|i| i as f64 * step).collect()
}

/// A compact number: `1.5k`, `12`, `0.25`, with as many decimals as `step` needs.
pub fn fmt_num(v: f64, step: f64) -> String {
    let (v, step, suffix) = if step >= 1e6 {
        (v / 1e6, step / 1e6, "M")
    } else if step >= 1e3 || v.abs() >= 1e4 {
        (v / 1e3, step / 1e3, "k")
    } else {
        (v, step, "")
    };
    let decimals = if step >= 1.0 {
        0
    } else {
        (-step.log10().floor()) as usize + 1
    }
    .min(4);
    let mut s = format!("{v:.decimals$}");
    if s.contains('.') {
        s = s.trim_end_matches('0').trim_end_matches('.').to_owned();
    }
    if s == "0" || s == "-0" {
        return "0".into();
    }
    s + suffix
}

/// Seconds since the start → wall-clock labels in one fixed UTC offset.
#[derive(Debug, Clone, Copy)]
pub struct TimeAxis {
    /// Unix time of x = 0.
    pub start: f64,
    /// The displayed zone's offset from UTC, seconds.
    pub offset_s: f64,
}

impl TimeAxis {
    /// `YYYY-MM-DDTHH:MM:SS` in the displayed zone for `x` seconds after the start.
    fn local(&self, x: f64) -> String {
        // Shifting the instant by the offset and printing it as UTC gives the local wall time.
        let s = Timestamp::from_unix((self.start + x + self.offset_s).floor()).to_string();
        s.trim_end_matches('Z').to_owned()
    }

    /// `HH:MM` (or `HH:MM:SS` with `seconds`) for `x` seconds after the start.
    pub fn clock(&self, x: f64, seconds: bool) -> String {
        let s = self.local(x);
        s.get(11..if seconds { 19 } else { 16 })
            .unwrap_or_default()
            .to_owned()
    }

    /// `MM-DD HH:MM:SS` for `x` seconds after the start.
    pub fn day_clock(&self, x: f64) -> String {
        let s = self.local(x);
        format!(
            "{} {}",
            s.get(5..10).unwrap_or_default(),
            s.get(11..19).unwrap_or_default()
        )
    }

    /// `YYYY-MM-DD HH:MM` for `x` seconds after the start.
    pub fn date_time(&self, x: f64) -> String {
        let s = self.local(x);
        format!(
            "{} {}",
            s.get(..10).unwrap_or_default(),
            s.get(11..16).unwrap_or_default()
        )
    }

    /// Tick positions aligned to round clock times, with labels (dates at midnight).
    fn ticks(&self, x0: f64, x1: f64) -> Vec<(f64, String)> {
        const STEPS: [f64; 11] = [
            60.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0, 10800.0, 21600.0, 43200.0, 86400.0,
        ];
        let span = (x1 - x0).max(60.0);
        let step = STEPS
            .iter()
            .copied()
            .find(|s| span / s <= 12.0)
            .unwrap_or(86400.0 * (span / 86400.0 / 12.0).ceil());
        let local0 = self.start + self.offset_s + x0;
        let mut t = (local0 / step).ceil() * step;
        let mut out = Vec::new();
        while t - self.start - self.offset_s <= x1 + 1e-6 {
            let x = t - self.start - self.offset_s;
            let full = self.local(x);
            let hm = full.get(11..16).unwrap_or_default().to_owned();
            let label = if hm == "00:00" && span > 6.0 * 3600.0 {
                full.get(5..10).unwrap_or_default().to_owned()
            } else {
                hm
            };
            out.push((x, label));
            t += step;
        }
        out
    }
}

/// One line.
#[derive(Debug, Clone)]
pub struct Series {
    /// Legend text.
    pub name: String,
    /// Stroke colour.
    pub colour: &'static str,
    /// SVG `stroke-dasharray`, if dashed.
    pub dash: Option<&'static str>,
    /// The data, in x order.
    pub points: Vec<Point>,
}

/// A shaded span of x.
#[derive(Debug, Clone)]
pub struct Band {
    /// From (s since start).
    pub x0: f64,
    /// To.
    pub x1: f64,
    /// Tooltip.
    pub title: String,
}

/// A vertical rule (fault, scheduled peak).
#[derive(Debug, Clone)]
pub struct VLine {
    /// Where (s since start).
    pub x: f64,
    /// Short label at the top.
    pub label: String,
    /// Colour.
    pub colour: &'static str,
}

/// A horizontal rule (objective threshold, size bounds).
#[derive(Debug, Clone)]
pub struct HLine {
    /// Where.
    pub y: f64,
    /// Label at the right end.
    pub label: String,
    /// Colour.
    pub colour: &'static str,
}

/// Marker shapes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// ▲
    Up,
    /// ▼
    Down,
    /// ◆
    Diamond,
}

/// A point marker with a tooltip.
#[derive(Debug, Clone)]
pub struct Marker {
    /// x (s since start).
    pub x: f64,
    /// y in data units.
    pub y: f64,
    /// Shape.
    pub shape: Shape,
    /// Fill colour.
    pub colour: &'static str,
    /// Tooltip (plain text; escaped when drawn).
    pub title: String,
}

/// One chart. Build with struct syntax, then [`Chart::render`].
#[derive(Debug, Clone)]
pub struct Chart {
    /// Accessible name of the SVG.
    pub title: String,
    /// Unit shown above the y axis.
    pub y_unit: String,
    /// x span, seconds since start.
    pub x_range: (f64, f64),
    /// Values above this are drawn at it and marked as clipped.
    pub y_clip: Option<f64>,
    /// The y range always includes these values (e.g. a threshold).
    pub y_include: Vec<f64>,
    /// Lines.
    pub series: Vec<Series>,
    /// Shaded spans with the band colour.
    pub bands: Vec<Band>,
    /// Legend text for the bands, if any.
    pub band_legend: Option<String>,
    /// Vertical rules.
    pub vlines: Vec<VLine>,
    /// Horizontal rules (drawn only when inside the y range).
    pub hlines: Vec<HLine>,
    /// Markers (legend entries come from `marker_legend`).
    pub markers: Vec<Marker>,
    /// Legend entries for markers: (shape, colour, text).
    pub marker_legend: Vec<(Shape, &'static str, String)>,
    /// Time labels.
    pub axis: TimeAxis,
}

const W: f64 = 1100.0;
const H: f64 = 320.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 16.0;
const BOTTOM: f64 = 28.0;
const BAND_COLOUR: &str = "#fecaca";
const CLIP_COLOUR: &str = "#b91c1c";

fn shape_path(shape: Shape, x: f64, y: f64, r: f64) -> String {
    match shape {
        Shape::Up => format!(
            "M{:.1} {:.1}L{:.1} {:.1}L{:.1} {:.1}Z",
            x,
            y - r,
            x + r,
            y + r * 0.8,
            x - r,
            y + r * 0.8
        ),
        Shape::Down => format!(
            "M{:.1} {:.1}L{:.1} {:.1}L{:.1} {:.1}Z",
            x,
            y + r,
            x + r,
            y - r * 0.8,
            x - r,
            y - r * 0.8
        ),
        Shape::Diamond => format!(
            "M{:.1} {:.1}L{:.1} {:.1}L{:.1} {:.1}L{:.1} {:.1}Z",
            x,
            y - r,
            x + r,
            y,
            x,
            y + r,
            x - r,
            y
        ),
    }
}

impl Chart {
    /// The y range: from 0 (or the smallest value if negative) to the largest value, the
    /// `y_include` values and at most `y_clip`, rounded out to nice ticks.
    fn y_ticks(&self) -> Vec<f64> {
        let values = self
            .series
            .iter()
            .flat_map(|s| s.points.iter().filter_map(|p| p.1));
        let values = values
            .chain(self.markers.iter().map(|m| m.y))
            .chain(self.y_include.iter().copied());
        let (mut lo, mut hi) = values.fold((0.0f64, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
        if let Some(clip) = self.y_clip {
            hi = hi.min(clip);
        }
        if !hi.is_finite() || hi <= lo {
            hi = lo + 1.0;
        }
        lo = lo.min(0.0);
        nice_ticks(lo, hi, 5)
    }

    /// Legend rows: (swatch svg, text) laid out left to right, wrapping.
    fn legend(&self) -> (String, f64) {
        let mut items: Vec<(String, String)> = Vec::new();
        for s in &self.series {
            let dash = s
                .dash
                .map(|d| format!(" stroke-dasharray=\"{d}\""))
                .unwrap_or_default();
            items.push((
                format!(
                    "<line x1=\"0\" y1=\"0\" x2=\"18\" y2=\"0\" stroke=\"{}\" stroke-width=\"2.5\"{dash}/>",
                    s.colour
                ),
                s.name.clone(),
            ));
        }
        if let Some(text) = &self.band_legend {
            items.push((
                format!("<rect x=\"0\" y=\"-6\" width=\"18\" height=\"12\" fill=\"{BAND_COLOUR}\"/>"),
                text.clone(),
            ));
        }
        for (shape, colour, text) in &self.marker_legend {
            items.push((
                format!(
                    "<path d=\"{}\" fill=\"{colour}\"/>",
                    shape_path(*shape, 9.0, 0.0, 5.5)
                ),
                text.clone(),
            ));
        }
        let mut out = String::new();
        let (mut x, mut y) = (LEFT, 14.0);
        for (swatch, text) in items {
            let w = 30.0 + text.chars().count() as f64 * 6.6;
            if x + w > W - 8.0 && x > LEFT {
                x = LEFT;
                y += 18.0;
            }
            let _ = write!(
                out,
                "<g transform=\"translate({x:.0},{y:.0})\">{swatch}<text x=\"24\" y=\"4\">{}</text></g>",
                esc(&text)
            );
            x += w + 14.0;
        }
        (out, y + 14.0)
    }

    /// The SVG element.
    pub fn render(&self) -> String {
        let (legend, top) = self.legend();
        let (x0, x1) = (self.x_range.0, self.x_range.1.max(self.x_range.0 + 1.0));
        let yt = self.y_ticks();
        let (y0, y1) = (yt[0], *yt.last().unwrap_or(&1.0));
        let y_step = if yt.len() > 1 { yt[1] - yt[0] } else { 1.0 };
        let (pw, ph) = (W - LEFT - RIGHT, H - top - BOTTOM);
        let px = |x: f64| LEFT + (x - x0) / (x1 - x0) * pw;
        let py = |y: f64| top + ph - (y.clamp(y0, y1) - y0) / (y1 - y0) * ph;
        let mut s = String::with_capacity(64 * 1024);
        let _ = write!(
            s,
            "<svg class=\"plot\" viewBox=\"0 0 {W} {H}\" xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" \
             aria-label=\"{t}\"><title>{t}</title>",
            t = esc(&self.title)
        );
        s.push_str(&legend);
        // Bands under everything else.
        for b in &self.bands {
            let (a, z) = (px(b.x0.max(x0)), px(b.x1.min(x1)));
            let _ = write!(
                s,
                "<rect x=\"{a:.1}\" y=\"{top:.1}\" width=\"{:.1}\" height=\"{ph:.1}\" fill=\"{BAND_COLOUR}\" \
                 opacity=\"0.7\"><title>{}</title></rect>",
                (z - a).max(0.8),
                esc(&b.title)
            );
        }
        // Grid and y axis.
        for v in &yt {
            let y = py(*v);
            let _ = write!(
                s,
                "<line class=\"grid\" x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{y:.1}\" y2=\"{y:.1}\"/>\
                 <text class=\"tick\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
                LEFT + pw,
                LEFT - 6.0,
                y + 4.0,
                esc(&fmt_num(*v, y_step))
            );
        }
        let _ = write!(
            s,
            "<text class=\"unit\" x=\"6\" y=\"{:.1}\">{}</text>",
            top - 6.0,
            esc(&self.y_unit)
        );
        // Time axis.
        let bottom = top + ph;
        for (x, label) in self.axis.ticks(x0, x1) {
            let xp = px(x);
            let _ = write!(
                s,
                "<line class=\"grid\" x1=\"{xp:.1}\" x2=\"{xp:.1}\" y1=\"{top:.1}\" y2=\"{bottom:.1}\"/>\
                 <text class=\"tick\" x=\"{xp:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                bottom + 16.0,
                esc(&label)
            );
        }
        let _ = write!(
            s,
            "<rect class=\"frame\" x=\"{LEFT}\" y=\"{top:.1}\" width=\"{pw:.1}\" height=\"{ph:.1}\"/>"
        );
        for v in &self.vlines {
            if v.x < x0 || v.x > x1 {
                continue;
            }
            let xp = px(v.x);
            let _ = write!(
                s,
                "<g><title>{l}</title><line x1=\"{xp:.1}\" x2=\"{xp:.1}\" y1=\"{top:.1}\" y2=\"{bottom:.1}\" stroke=\"{c}\" \
                 stroke-dasharray=\"2 3\" stroke-width=\"1.2\"/><text class=\"vlabel\" x=\"{:.1}\" y=\"{:.1}\" \
                 fill=\"{c}\">{l}</text></g>",
                xp + 3.0,
                top + 11.0,
                l = esc(&v.label),
                c = v.colour
            );
        }
        for h in &self.hlines {
            if h.y < y0 || h.y > y1 {
                continue;
            }
            let yp = py(h.y);
            let _ = write!(
                s,
                "<g class=\"hline\"><line x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{yp:.1}\" y2=\"{yp:.1}\" stroke=\"{c}\" \
                 stroke-width=\"1.5\" stroke-dasharray=\"7 4\"/><text x=\"{:.1}\" y=\"{:.1}\" fill=\"{c}\" \
                 text-anchor=\"end\" font-weight=\"600\">{l}</text></g>",
                LEFT + pw,
                LEFT + pw - 6.0,
                yp - 4.0,
                c = h.colour,
                l = esc(&h.label)
            );
        }
        // Series: one polyline per run without gaps.
        let mut clipped: Vec<(i64, f64)> = Vec::new();
        for series in &self.series {
            let dash = series
                .dash
                .map(|d| format!(" stroke-dasharray=\"{d}\""))
                .unwrap_or_default();
            let mut runs: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
            for &(x, v) in &series.points {
                match v {
                    Some(v) if x >= x0 && x <= x1 => {
                        if self.y_clip.is_some_and(|c| v > c) {
                            let col = px(x).round() as i64;
                            match clipped.iter_mut().find(|p| p.0 == col) {
                                Some(p) => p.1 = p.1.max(v),
                                None => clipped.push((col, v)),
                            }
                        }
                        if let Some(r) = runs.last_mut() {
                            r.push((px(x), py(v)));
                        }
                    }
                    _ => {
                        if runs.last().is_some_and(|r| !r.is_empty()) {
                            runs.push(Vec::new());
                        }
                    }
                }
            }
            let _ = write!(
                s,
                "<g fill=\"none\" stroke=\"{}\" stroke-width=\"1.8\"{dash}><title>{}</title>",
                series.colour,
                esc(&series.name)
            );
            for run in runs.iter().filter(|r| !r.is_empty()) {
                if run.len() == 1 {
                    let _ = write!(
                        s,
                        "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"1.8\" fill=\"{}\"/>",
                        run[0].0, run[0].1, series.colour
                    );
                    continue;
                }
                s.push_str("<polyline points=\"");
                for (i, (x, y)) in run.iter().enumerate() {
                    let _ = write!(s, "{}{x:.1},{y:.1}", if i == 0 { "" } else { " " });
                }
                s.push_str("\"/>");
            }
            s.push_str("</g>");
        }
        // Clipped values: a red tick on the top edge per pixel column, with the true maximum.
        clipped.sort_by_key(|c| c.0);
        for (col, v) in clipped {
            let _ = write!(
                s,
                "<path class=\"clip\" d=\"M{c} {t:.1}l-3 -5h6z\" fill=\"{CLIP_COLOUR}\"><title>clipped: {}</title></path>",
                esc(&fmt_num(v, y_step / 100.0)),
                c = col,
                t = top
            );
        }
        for m in &self.markers {
            if m.x < x0 || m.x > x1 {
                continue;
            }
            let _ = write!(
                s,
                "<path class=\"marker\" d=\"{}\" fill=\"{}\" stroke=\"#fff\" stroke-width=\"0.8\"><title>{}</title></path>",
                shape_path(m.shape, px(m.x), py(m.y), 6.0),
                m.colour,
                esc(&m.title)
            );
        }
        s.push_str("</svg>");
        s
    }
}

#[cfg(test)]
mod tests;
