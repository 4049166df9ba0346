//! Line and scatter charts for the reproduced figures and the run reports: plotters drawing into
//! memory with the DejaVu Sans font embedded (no system fonts needed), as PNG (written
//! atomically) or as SVG text (inlined in `report.html`).

use std::path::Path;
use std::sync::Once;

use crate::error::{err, Result};
use plotters::prelude::*;

/// How a series is drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mark {
    /// A polyline through the points, 2 px wide.
    Line,
    /// A filled dot of radius 2 px at each point.
    Dots,
}

/// One named series of (x, y) points.
#[derive(Debug, Clone)]
pub struct Series {
    /// Its legend entry; empty for none.
    pub label: String,
    /// The (x, y) points in data units; points with a non-finite coordinate are skipped.
    pub points: Vec<(f64, f64)>,
    /// Its colour.
    pub color: RGBColor,
    /// How it is drawn.
    pub mark: Mark,
}

impl Series {
    /// A series drawn as a line.
    pub fn line(label: impl Into<String>, points: Vec<(f64, f64)>, color: RGBColor) -> Self {
        Self { label: label.into(), points, color, mark: Mark::Line }
    }

    /// A series drawn as dots (a scatter).
    pub fn dots(label: impl Into<String>, points: Vec<(f64, f64)>, color: RGBColor) -> Self {
        Self { label: label.into(), points, color, mark: Mark::Dots }
    }
}

/// One panel: axes, labels and series. Ranges default to the data's extent.
#[derive(Debug, Clone, Default)]
pub struct Panel {
    /// The caption above the plot.
    pub title: String,
    /// The x axis's description.
    pub x_label: String,
    /// The y axis's description.
    pub y_label: String,
    /// The x axis's (min, max); None for the data's finite extent plus 5 % on each side.
    pub x_range: Option<(f64, f64)>,
    /// The y axis's (min, max); None for the data's finite extent plus 5 % on each side.
    pub y_range: Option<(f64, f64)>,
    /// The series drawn, in order (later ones on top); a legend is drawn when any has a label.
    pub series: Vec<Series>,
}

/// The colours the figures use, in order.
pub const COLORS: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(255, 127, 14),
    RGBColor(148, 103, 189),
    RGBColor(127, 127, 127),
];

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The only failure is malformed font bytes, which the dejavu crate does not ship.
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, dejavu::sans::regular());
    });
}

fn extent(panel: &Panel, axis: usize) -> (f64, f64) {
    let vals =
        panel.series.iter().flat_map(|s| s.points.iter().map(move |p| if axis == 0 { p.0 } else { p.1 }));
    let (lo, hi) = vals
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    // A constant series gets a visible band around it rather than one of width 1e-9.
    let pad = if hi - lo > 1e-12 { (hi - lo) * 0.05 } else { hi.abs().max(1.0) * 0.1 };
    (lo - pad, hi + pad)
}

/// Renders panels on a `cols`-wide grid, each `w`×`h` pixels, to PNG bytes.
pub fn render(panels: &[Panel], cols: usize, (w, h): (u32, u32)) -> Result<Vec<u8>> {
    register_font();
    let cols = cols.max(1);
    let rows = panels.len().div_ceil(cols).max(1);
    let (width, height) = (w * cols as u32, h * rows as u32);
    let mut buf = vec![0u8; (width * height * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err!("plot: {e}"))?;
        let areas = root.split_evenly((rows, cols));
        for (panel, area) in panels.iter().zip(areas) {
            draw_panel(panel, &area).map_err(|e| err!("plot '{}': {e}", panel.title))?;
        }
        root.present().map_err(|e| err!("plot: {e}"))?;
    }
    let img = image::RgbImage::from_raw(width, height, buf).ok_or_else(|| err!("plot buffer size"))?;
    let mut out = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)?;
    Ok(out)
}

/// Renders one panel as an SVG document of `w`×`h` pixels.
pub fn render_svg(panel: &Panel, (w, h): (u32, u32)) -> Result<String> {
    register_font();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err!("plot: {e}"))?;
        draw_panel(panel, &root).map_err(|e| err!("plot '{}': {e}", panel.title))?;
        root.present().map_err(|e| err!("plot: {e}"))?;
    }
    Ok(svg)
}

fn draw_panel<DB: DrawingBackend>(
    panel: &Panel,
    area: &DrawingArea<DB, plotters::coord::Shift>,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let (x0, x1) = panel.x_range.unwrap_or_else(|| extent(panel, 0));
    let (y0, y1) = panel.y_range.unwrap_or_else(|| extent(panel, 1));
    let mut chart = ChartBuilder::on(area)
        .caption(&panel.title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(56)
        .build_cartesian_2d(x0..x1, y0..y1)?;
    chart
        .configure_mesh()
        .x_desc(panel.x_label.as_str())
        .y_desc(panel.y_label.as_str())
        .label_style(("sans-serif", 13))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()?;
    let mut labelled = false;
    for s in &panel.series {
        let color = s.color;
        let pts = s.points.iter().copied().filter(|(x, y)| x.is_finite() && y.is_finite());
        let anno = match s.mark {
            Mark::Line => chart.draw_series(LineSeries::new(pts, color.stroke_width(2)))?,
            Mark::Dots => chart.draw_series(pts.map(|p| Circle::new(p, 2, color.filled())))?,
        };
        if !s.label.is_empty() {
            labelled = true;
            anno.label(s.label.as_str())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(3)));
        }
    }
    if labelled {
        chart
            .configure_series_labels()
            .label_font(("sans-serif", 13))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .position(SeriesLabelPosition::UpperRight)
            .draw()?;
    }
    Ok(())
}

/// Renders and writes a PNG atomically.
pub fn save(path: &Path, panels: &[Panel], cols: usize, size: (u32, u32)) -> Result<()> {
    gantry_core::fs::write_atomic(path, &render(panels, cols, size)?)?;
    Ok(())
}

/// A scatter of 2-D samples `[N, 2]` over the toy's modes, on [−3, 3]².
pub fn toy_panel(
    title: String,
    samples: &tch::Tensor,
    modes: &[Vec<f64>],
    color: RGBColor,
    mode_color: RGBColor,
) -> Result<Panel> {
    let pts: Vec<f32> = Vec::try_from(samples.to_device(tch::Device::Cpu).flatten(0, -1))?;
    Ok(Panel {
        title,
        x_label: "x₁".into(),
        y_label: "x₂".into(),
        x_range: Some((-3.0, 3.0)),
        y_range: Some((-3.0, 3.0)),
        series: vec![
            Series::dots("", pts.chunks(2).map(|c| (c[0] as f64, c[1] as f64)).collect(), color),
            Series::dots("modes", modes.iter().map(|m| (m[0], m[1])).collect(), mode_color),
        ],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_panels_with_text() {
        let p = Panel {
            title: "a title".into(),
            x_label: "x".into(),
            y_label: "y".into(),
            series: vec![
                Series::line("line", vec![(0.0, 0.0), (1.0, 1.0)], COLORS[0]),
                Series::dots("", vec![(0.5, 0.2)], COLORS[1]),
            ],
            ..Default::default()
        };
        let png = render(&[p.clone(), p.clone()], 2, (300, 200)).unwrap();
        let img = image::load_from_memory(&png).unwrap().to_rgb8();
        assert_eq!((img.width(), img.height()), (600, 200));
        // Something other than white was drawn (axes, text, the line).
        let dark = img.pixels().filter(|p| p.0.iter().all(|&c| c < 100)).count();
        assert!(dark > 500, "{dark} dark pixels");
        let svg = render_svg(&p, (300, 200)).unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("a title") && svg.contains("<polyline"), "{svg}");
    }
}
