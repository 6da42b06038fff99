//! SVG charts for the HTML report, drawn with plotters' SVG backend into a
//! string. Text is left to the browser's sans-serif font, so no font file is
//! needed; the SVG is inlined in the page.

use crate::eval::compare::{Comparison, Lang};
use crate::{Error, Result};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

const WIDTH: u32 = 760;
const HEIGHT: u32 = 380;

/// Series colours (colour-blind-safe Tableau hues), by system position.
const COLORS: [RGBColor; 5] =
    [RGBColor(31, 119, 180), RGBColor(255, 127, 14), RGBColor(44, 160, 44), RGBColor(148, 103, 189), RGBColor(140, 86, 75)];

/// One bar series: a system and its value per category (`None`: not measured).
pub struct Series {
    pub name: String,
    pub values: Vec<Option<f64>>,
}

/// A grouped bar chart.
pub struct BarChart {
    pub title: String,
    pub y_label: String,
    pub categories: Vec<String>,
    pub series: Vec<Series>,
    /// Fixed top of the y axis (e.g. 1 for scores); otherwise from the data.
    pub y_max: Option<f64>,
    /// Formats the value printed above each bar.
    pub value_format: fn(f64) -> String,
    /// Formats the y-axis tick labels.
    pub axis_format: fn(&f64) -> String,
    /// Printed where a value is missing.
    pub missing_label: String,
}

fn plot_err<E: std::fmt::Debug>(e: E) -> Error {
    Error::msg(format!("drawing a chart: {e:?}"))
}

impl BarChart {
    /// Renders the chart as an SVG document string.
    pub fn to_svg(&self) -> Result<String> {
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
            root.fill(&WHITE).map_err(plot_err)?;
            let n = self.categories.len().max(1) as f64;
            let data_max = self.series.iter().flat_map(|s| s.values.iter().flatten()).fold(0.0f64, |a, &b| a.max(b));
            // Headroom above the tallest bar for its value label and the legend.
            let y_max = self.y_max.unwrap_or(if data_max > 0.0 { data_max } else { 1.0 }) * 1.35;
            let mut chart = ChartBuilder::on(&root)
                .caption(&self.title, ("sans-serif", 18))
                .margin(12)
                .x_label_area_size(36)
                .y_label_area_size(64)
                .build_cartesian_2d(0f64..n, 0f64..y_max)
                .map_err(plot_err)?;
            chart
                .configure_mesh()
                .disable_x_mesh()
                .x_labels(0)
                .y_labels(6)
                .y_label_formatter(&self.axis_format)
                .light_line_style(RGBColor(238, 240, 244))
                .y_desc(self.y_label.as_str())
                .label_style(("sans-serif", 12))
                .draw()
                .map_err(plot_err)?;

            let groups = self.series.len().max(1) as f64;
            let bar_w = 0.8 / groups;
            let value_style = TextStyle::from(("sans-serif", 11).into_font()).pos(Pos::new(HPos::Center, VPos::Bottom));
            let missing_style =
                TextStyle::from(("sans-serif", 11).into_font()).color(&RGBColor(120, 120, 120)).pos(Pos::new(HPos::Center, VPos::Bottom));
            for (s, series) in self.series.iter().enumerate() {
                let color = COLORS[s % COLORS.len()];
                let x_of = |i: usize| i as f64 + 0.1 + s as f64 * bar_w;
                chart
                    .draw_series(
                        series
                            .values
                            .iter()
                            .enumerate()
                            .filter_map(|(i, v)| v.map(|v| Rectangle::new([(x_of(i), 0.0), (x_of(i) + bar_w * 0.92, v)], color.filled()))),
                    )
                    .map_err(plot_err)?
                    .label(series.name.as_str())
                    .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 14, y + 6)], color.filled()));
                let fmt = self.value_format;
                chart
                    .draw_series(series.values.iter().enumerate().map(|(i, v)| {
                        let at = (x_of(i) + bar_w * 0.46, v.unwrap_or(0.0));
                        match v {
                            Some(v) => Text::new(fmt(*v), at, value_style.clone()),
                            None => Text::new(self.missing_label.clone(), at, missing_style.clone()),
                        }
                    }))
                    .map_err(plot_err)?;
            }
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperRight)
                .background_style(WHITE.mix(0.9))
                .border_style(BLACK.mix(0.3))
                .label_font(("sans-serif", 13))
                .draw()
                .map_err(plot_err)?;
            // Category names under the x axis, centred on their group.
            let label_style = TextStyle::from(("sans-serif", 13).into_font()).pos(Pos::new(HPos::Center, VPos::Top));
            for (i, name) in self.categories.iter().enumerate() {
                let (px, py) = chart.backend_coord(&(i as f64 + 0.5, 0.0));
                root.draw(&Text::new(name.clone(), (px, py + 8), label_style.clone())).map_err(plot_err)?;
            }
            root.present().map_err(plot_err)?;
        }
        Ok(svg)
    }
}

fn series_for(c: &Comparison, keys: &[&str], scale: f64) -> Vec<Series> {
    c.systems
        .iter()
        .map(|s| Series {
            name: s.display_name.clone(),
            values: keys
                .iter()
                .map(|k| c.metric(k).and_then(|m| m.values.iter().find(|v| v.system == s.label)).and_then(|v| v.value).map(|v| v * scale))
                .collect(),
        })
        .collect()
}

/// The report's charts: (title, SVG).
pub fn report_charts(c: &Comparison) -> Result<Vec<(String, String)>> {
    let l = c.lang;
    let missing = l.pick("n/m", "n/m").to_string();
    let quality = BarChart {
        title: l.pick("Qualité des réponses (plus haut = mieux)", "Answer quality (higher is better)").into(),
        y_label: l.pick("score (0–1 ; BLEU ÷ 100)", "score (0–1; BLEU ÷ 100)").into(),
        categories: match l {
            Lang::Fr => ["Réponses", "Justes", "Exact", "Faits clés", "F1", "ROUGE-L", "BLEU", "BLEU corpus"],
            Lang::En => ["Answered", "Right", "Exact", "Key facts", "F1", "ROUGE-L", "BLEU", "Corpus BLEU"],
        }
        .iter()
        .map(|s| s.to_string())
        .collect(),
        series: series_for(
            c,
            &[
                "success_rate",
                "correct_rate",
                "exact_match_rate",
                "mean_keyword_recall",
                "mean_f1",
                "mean_rouge_l",
                "mean_bleu",
                "corpus_bleu",
            ],
            1.0,
        ),
        y_max: Some(1.0),
        value_format: |v| format!("{v:.2}"),
        axis_format: |v| format!("{v:.1}"),
        missing_label: missing.clone(),
    };
    let latency = BarChart {
        title: l.pick("Latence par question (plus bas = mieux)", "Latency per question (lower is better)").into(),
        y_label: "ms".into(),
        categories: match l {
            Lang::Fr => ["moyenne", "p50", "p95", "1er token (moy.)"],
            Lang::En => ["mean", "p50", "p95", "first token (mean)"],
        }
        .iter()
        .map(|s| s.to_string())
        .collect(),
        series: series_for(c, &["latency_mean_ms", "latency_p50_ms", "latency_p95_ms", "first_token_mean_ms"], 1.0),
        y_max: None,
        value_format: |v| format!("{v:.0}"),
        axis_format: |v| format!("{v:.0}"),
        missing_label: missing.clone(),
    };
    let tokens = BarChart {
        title: l.pick("Tokens par question (plus bas = moins coûteux)", "Tokens per question (lower is cheaper)").into(),
        y_label: "tokens".into(),
        categories: match l {
            Lang::Fr => ["prompt", "réponse", "total"],
            Lang::En => ["prompt", "answer", "total"],
        }
        .iter()
        .map(|s| s.to_string())
        .collect(),
        series: series_for(c, &["prompt_tokens_per_question", "completion_tokens_per_question", "total_tokens_per_question"], 1.0),
        y_max: None,
        value_format: |v| format!("{v:.0}"),
        axis_format: |v| format!("{v:.0}"),
        missing_label: missing,
    };
    [quality, latency, tokens].into_iter().map(|ch| Ok((ch.title.clone(), ch.to_svg()?))).collect()
}
