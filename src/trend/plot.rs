//! Trend charts drawn with plotters: volume bars and a net-sentiment line on one time axis,
//! with alert markers. One drawing routine serves the dashboard (an SVG string) and
//! `pulse trend --plot FILE.svg|FILE.png`, so both show the same chart.
//!
//! Text is drawn with an embedded DejaVu Sans (ab_glyph), so PNGs need no system fonts.

use super::TrendRow;
use chrono::{DateTime, TimeZone, Utc};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;
use std::sync::Once;

/// Fill of the volume bars (the browser test counts `rect`s of this colour).
pub const BAR_COLOR: RGBColor = RGBColor(0x4C, 0x78, 0xA8);
/// Net-sentiment line and its points (`circle`s of this colour).
pub const LINE_COLOR: RGBColor = RGBColor(0xF5, 0x85, 0x18);
/// Alert markers (vertical lines of this colour).
pub const MARKER_COLOR: RGBColor = RGBColor(0xD6, 0x27, 0x28);

/// The same colours as they appear in SVG output.
pub fn svg_color(c: RGBColor) -> String {
    format!("#{:02X}{:02X}{:02X}", c.0, c.1, c.2)
}

static FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
static FONT_ONCE: Once = Once::new();

fn register_font() {
    FONT_ONCE.call_once(|| {
        // The font is a fixed, known-good file; failing to parse it is a build defect.
        plotters::style::register_font("sans-serif", FontStyle::Normal, FONT)
            .map_err(|_| ())
            .expect("embedded DejaVu Sans parses");
    });
}

/// Errors from drawing a chart.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    #[error("cannot draw the chart: {0}")]
    Draw(String),
    #[error("cannot plot to {path}: use a file name ending in .svg or .png")]
    Format { path: String },
    #[error("cannot write the chart to {path}: {reason}")]
    Write { path: String, reason: String },
    #[error("nothing to plot: the trend has no buckets")]
    Empty,
}

fn draw_err<E: std::error::Error + Send + Sync>(e: DrawingAreaErrorKind<E>) -> PlotError {
    PlotError::Draw(e.to_string())
}

/// A point in time to mark on the chart (an alert).
#[derive(Debug, Clone, PartialEq)]
pub struct Marker {
    pub at: DateTime<Utc>,
    pub label: String,
}

/// What a chart shows.
#[derive(Debug, Clone, Copy)]
pub struct Chart<'a> {
    pub title: &'a str,
    pub rows: &'a [TrendRow],
    pub markers: &'a [Marker],
}

impl Chart<'_> {
    /// Width of one bucket in seconds, read from the series (hourly when it has one row).
    pub fn bucket_seconds(&self) -> i64 {
        match self.rows {
            [a, b, ..] => (b.start - a.start).num_seconds().max(1),
            _ => 3600,
        }
    }

    /// Markers that fall inside the charted span (the ones actually drawn).
    pub fn visible_markers(&self) -> impl Iterator<Item = &Marker> {
        let (x0, x1) = self.span();
        self.markers.iter().filter(move |m| {
            let t = m.at.timestamp();
            t >= x0 && t <= x1
        })
    }

    fn span(&self) -> (i64, i64) {
        match (self.rows.first(), self.rows.last()) {
            (Some(a), Some(b)) => (
                a.start.timestamp(),
                b.start.timestamp() + self.bucket_seconds(),
            ),
            _ => (0, 1),
        }
    }
}

/// Draw the chart as an SVG document.
pub fn svg_string(chart: &Chart<'_>, width: u32, height: u32) -> Result<String, PlotError> {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (width, height)).into_drawing_area();
        draw(root, chart)?;
    }
    Ok(out)
}

/// Write the chart to `path`, as SVG or PNG by the file's extension.
pub fn write_file(
    path: &Path,
    chart: &Chart<'_>,
    width: u32,
    height: u32,
) -> Result<(), PlotError> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let shown = path.display().to_string();
    if chart.rows.is_empty() {
        // Checked before a backend exists: a bitmap backend saves itself when dropped.
        return Err(PlotError::Empty);
    }
    match ext.as_deref() {
        Some("svg") => {
            let svg = svg_string(chart, width, height)?;
            std::fs::write(path, svg).map_err(|e| PlotError::Write {
                path: shown,
                reason: e.to_string(),
            })
        }
        Some("png") => {
            let root = BitMapBackend::new(path, (width, height)).into_drawing_area();
            draw(root, chart).map_err(|e| match e {
                PlotError::Draw(reason) => PlotError::Write {
                    path: shown,
                    reason,
                },
                other => other,
            })
        }
        _ => Err(PlotError::Format { path: shown }),
    }
}

/// Axis ticks on whole hours or days, at most about eight of them.
fn time_ticks(x0: i64, x1: i64) -> (Vec<i64>, i64) {
    const STEPS: [i64; 12] = [
        3600,
        2 * 3600,
        3 * 3600,
        6 * 3600,
        12 * 3600,
        86_400,
        2 * 86_400,
        7 * 86_400,
        14 * 86_400,
        30 * 86_400,
        91 * 86_400,
        365 * 86_400,
    ];
    let span = (x1 - x0).max(1);
    let step = STEPS
        .iter()
        .copied()
        .find(|s| span / s <= 8)
        .unwrap_or(365 * 86_400);
    let first = x0 + (step - x0.rem_euclid(step)) % step;
    (
        (0..)
            .map(|i| first + i * step)
            .take_while(|t| *t <= x1)
            .collect(),
        step,
    )
}

fn time_label(secs: i64, bucket: i64) -> String {
    let t = Utc.timestamp_opt(secs, 0).single().unwrap_or_default();
    if bucket >= 86_400 {
        t.format("%b %d").to_string()
    } else {
        t.format("%b %d %H:%M").to_string()
    }
}

/// The one drawing routine behind every output.
fn draw<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    chart: &Chart<'_>,
) -> Result<(), PlotError>
where
    DB::ErrorType: 'static,
{
    register_font();
    if chart.rows.is_empty() {
        return Err(PlotError::Empty);
    }
    root.fill(&WHITE).map_err(draw_err)?;
    let bucket = chart.bucket_seconds();
    let (x0, x1) = chart.span();
    let max = chart.rows.iter().map(|r| r.count).max().unwrap_or(0).max(1) as f64;
    let ymax = max * 1.1;

    let (ticks, tick_step) = time_ticks(x0, x1);
    let mut cc = ChartBuilder::on(&root)
        .caption(chart.title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(32)
        .y_label_area_size(48)
        .right_y_label_area_size(52)
        .build_cartesian_2d((x0..x1).with_key_points(ticks), 0f64..ymax)
        .map_err(draw_err)?
        .set_secondary_coord(x0..x1, -1f64..1f64);
    cc.configure_mesh()
        .x_labels(6)
        .y_labels(6)
        .x_label_formatter(&|x| time_label(*x, tick_step.max(bucket)))
        // Counts are whole: label only the integer ticks so small scales do not repeat.
        .y_label_formatter(&|y| {
            if (y - y.round()).abs() < 1e-9 {
                format!("{y:.0}")
            } else {
                String::new()
            }
        })
        .y_desc("mentions")
        .light_line_style(WHITE)
        .bold_line_style(RGBColor(0xE5, 0xE5, 0xE5))
        .label_style(("sans-serif", 12))
        .axis_desc_style(("sans-serif", 13))
        .draw()
        .map_err(draw_err)?;
    cc.configure_secondary_axes()
        .y_desc("net sentiment")
        .y_labels(5)
        .y_label_formatter(&|y| format!("{y:+.1}"))
        .label_style(("sans-serif", 12))
        .axis_desc_style(("sans-serif", 13))
        .draw()
        .map_err(draw_err)?;

    // Leave a gap between bars only when there is room for one.
    let gap = if chart.rows.len() <= 96 {
        bucket / 8
    } else {
        0
    };
    cc.draw_series(chart.rows.iter().map(|r| {
        let s = r.start.timestamp();
        Rectangle::new(
            [(s + gap, 0.0), (s + bucket - gap, r.count as f64)],
            BAR_COLOR.filled(),
        )
    }))
    .map_err(draw_err)?;

    // Zero line of the sentiment axis.
    cc.draw_secondary_series(std::iter::once(PathElement::new(
        vec![(x0, 0.0), (x1, 0.0)],
        RGBColor(0xBB, 0xBB, 0xBB),
    )))
    .map_err(draw_err)?;

    // The line breaks over empty buckets instead of pretending they were neutral.
    let mid = bucket / 2;
    let mut segments: Vec<Vec<(i64, f64)>> = vec![Vec::new()];
    for r in chart.rows {
        match r.net_sentiment {
            Some(n) => segments
                .last_mut()
                .expect("at least one segment")
                .push((r.start.timestamp() + mid, n)),
            None => {
                if !segments.last().is_some_and(Vec::is_empty) {
                    segments.push(Vec::new());
                }
            }
        }
    }
    for seg in segments.iter().filter(|s| s.len() > 1) {
        cc.draw_secondary_series(LineSeries::new(
            seg.iter().copied(),
            LINE_COLOR.stroke_width(2),
        ))
        .map_err(draw_err)?;
    }
    cc.draw_secondary_series(
        segments
            .iter()
            .flatten()
            .map(|p| Circle::new(*p, 3, LINE_COLOR.filled())),
    )
    .map_err(draw_err)?;

    let markers: Vec<&Marker> = chart.visible_markers().collect();
    cc.draw_series(markers.iter().map(|m| {
        let t = m.at.timestamp();
        PathElement::new(vec![(t, 0.0), (t, ymax)], MARKER_COLOR.stroke_width(2))
    }))
    .map_err(draw_err)?;
    // Labels sit right of their line, or left of it near the right edge so they stay inside.
    let label_shift = (x1 - x0) / 7;
    cc.draw_series(markers.iter().map(|m| {
        let t = m.at.timestamp();
        let x = if t > x1 - label_shift {
            t - label_shift
        } else {
            t + bucket / 4
        };
        Text::new(
            m.label.clone(),
            (x, ymax * 0.97),
            ("sans-serif", 11).into_font().color(&MARKER_COLOR),
        )
    }))
    .map_err(draw_err)?;

    root.present().map_err(draw_err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Label;
    use crate::trend::{dense_series, BucketCounts, Granularity};
    use chrono::Duration;

    fn rows() -> Vec<TrendRow> {
        let t0 = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
        let mut c = BucketCounts::default();
        c.add(Label::Positive, 0.6);
        c.add(Label::Negative, -0.4);
        c.add(Label::Positive, 0.2);
        let sparse = vec![(t0.timestamp() + 3600, c), (t0.timestamp() + 4 * 3600, c)];
        dense_series(&sparse, t0, t0 + Duration::hours(5), Granularity::Hour)
    }

    #[test]
    fn svg_has_one_bar_per_bucket_and_a_point_per_filled_bucket() {
        let rows = rows();
        let t = rows[2].start;
        let markers = vec![
            Marker {
                at: t,
                label: "volume spike".into(),
            },
            Marker {
                at: t - Duration::days(30),
                label: "outside".into(),
            },
        ];
        let chart = Chart {
            title: "Widget <b>",
            rows: &rows,
            markers: &markers,
        };
        let svg = svg_string(&chart, 800, 300).unwrap();
        let bars = svg
            .matches(&format!("fill=\"{}\"", svg_color(BAR_COLOR)))
            .count();
        assert_eq!(bars, rows.len());
        let points = svg.matches("<circle").count();
        assert_eq!(points, 2);
        assert_eq!(
            svg.matches(&format!("stroke=\"{}\"", svg_color(MARKER_COLOR)))
                .count(),
            1
        );
        assert!(svg.contains("Widget &lt;b&gt;"), "title escaped");
    }

    #[test]
    fn ticks_fall_on_whole_hours_and_days() {
        let t0 = Utc
            .with_ymd_and_hms(2026, 11, 1, 0, 30, 0)
            .unwrap()
            .timestamp();
        let (t, step) = time_ticks(t0, t0 + 5 * 3600);
        assert_eq!(step, 3600);
        assert_eq!(t.len(), 5);
        assert!(t.iter().all(|x| x % 3600 == 0));
        let (t, step) = time_ticks(t0, t0 + 30 * 86_400);
        assert_eq!(step, 7 * 86_400);
        assert!(t.iter().all(|x| x % 86_400 == 0) && t.len() <= 8);
    }

    #[test]
    fn png_and_svg_files_are_written_and_other_extensions_refused() {
        let rows = rows();
        let chart = Chart {
            title: "Widget",
            rows: &rows,
            markers: &[],
        };
        let dir = tempfile::tempdir().unwrap();
        let png = dir.path().join("t.png");
        write_file(&png, &chart, 640, 240).unwrap();
        let bytes = std::fs::read(&png).unwrap();
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
        let svg = dir.path().join("t.SVG");
        write_file(&svg, &chart, 640, 240).unwrap();
        assert!(std::fs::read_to_string(&svg).unwrap().starts_with("<svg"));
        let err = write_file(&dir.path().join("t.gif"), &chart, 640, 240).unwrap_err();
        assert!(err.to_string().contains(".svg or .png"), "{err}");
        assert!(matches!(
            write_file(
                &png,
                &Chart {
                    title: "x",
                    rows: &[],
                    markers: &[]
                },
                10,
                10
            ),
            Err(PlotError::Empty)
        ));
    }
}
