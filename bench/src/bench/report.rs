//! The results of a run: JSON (every figure), a Markdown table and an SVG
//! chart of each ratio against its goal, in `bench/results/`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::Error;

/// One figure beside its baseline from the same run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Figure {
    /// A stable name, for the regression guard.
    pub key: &'static str,
    pub name: String,
    pub paylink: String,
    pub baseline: String,
    /// paylink's figure over the baseline's, in the sense of `goal`.
    pub ratio: f64,
    /// What the ratio must reach: at least (`>=`) or at most (`<=`).
    pub goal: Goal,
    pub raw: serde_json::Value,
}

#[derive(Debug, Clone, Copy, serde::Serialize)]
pub enum Goal {
    AtLeast(f64),
    AtMost(f64),
    /// No goal set: higher is better, and the guard only watches for a
    /// fall against the last full run.
    Tracked,
}

impl Goal {
    pub fn met(self, ratio: f64) -> bool {
        match self {
            Goal::AtLeast(g) => ratio >= g,
            Goal::AtMost(g) => ratio <= g,
            Goal::Tracked => true,
        }
    }
    /// The regression guard: the ratio is within half its goal or, for a
    /// goal not reached yet, within a third of the `recorded` ratio (the
    /// last full run's, in `bench/results/latest.json`: this machine's
    /// ratios vary up to ×2 between runs), whichever is laxer.
    pub fn guard(self, ratio: f64, recorded: Option<f64>) -> bool {
        match self {
            Goal::AtLeast(g) => ratio >= (g / 2.0).min(recorded.map_or(f64::MAX, |r| r / 3.0)),
            Goal::AtMost(g) => ratio <= (g * 2.0).max(recorded.map_or(0.0, |r| r * 3.0)),
            Goal::Tracked => recorded.is_none_or(|r| ratio >= r / 3.0),
        }
    }
    fn text(self) -> String {
        match self {
            Goal::AtLeast(g) => format!("≥ {g}"),
            Goal::AtMost(g) => format!("≤ {g}"),
            Goal::Tracked => "none set".into(),
        }
    }
}

pub fn markdown(date: &str, machine: &str, figures: &[Figure]) -> String {
    let mut md = format!("# paylink benchmarks, {date}\n\n{machine}\n\n| figure | paylink | baseline (same run) | ratio | goal | met |\n|---|---|---|---|---|---|\n");
    for f in figures {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {:.3} | {} | {} |",
            f.name,
            f.paylink,
            f.baseline,
            f.ratio,
            f.goal.text(),
            match f.goal {
                Goal::Tracked => "—",
                g if g.met(f.ratio) => "yes",
                _ => "**no**",
            }
        );
    }
    md
}

/// The ratios of the last full run, by key (none if there was none).
pub fn recorded(dir: &Path) -> std::collections::HashMap<String, f64> {
    std::fs::read_to_string(dir.join("latest.json"))
        .ok()
        .and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok())
        .and_then(|v| {
            v.get("ratios")
                .and_then(serde_json::Value::as_object)
                .map(|m| {
                    m.iter()
                        .filter_map(|(k, r)| Some((k.clone(), r.as_f64()?)))
                        .collect()
                })
        })
        .unwrap_or_default()
}

/// Bars of each ratio as a share of its goal (100% = the goal met
/// exactly), each under its figure's name.
pub fn svg(figures: &[Figure]) -> String {
    let row = 46;
    let full = 400.0; // the bar of a goal met exactly
    let width = 760;
    let height = 44 + row * figures.len();
    let mut s = format!("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n<text x=\"10\" y=\"20\" font-weight=\"bold\">Share of each goal reached (dashed line: goal met)</text>\n<line x1=\"{}\" y1=\"30\" x2=\"{}\" y2=\"{height}\" stroke=\"#888\" stroke-dasharray=\"4\"/>\n", 10.0 + full, 10.0 + full);
    for (i, f) in figures.iter().enumerate() {
        let share = match f.goal {
            Goal::AtLeast(g) => f.ratio / g,
            Goal::AtMost(g) => g / f.ratio.max(1e-9),
            Goal::Tracked => 1.0,
        };
        let y = 36 + row * i;
        let w = (share.clamp(0.0, 1.6) * full).round();
        let color = if matches!(f.goal, Goal::Tracked) {
            "#6b7280"
        } else if f.goal.met(f.ratio) {
            "#15803d"
        } else {
            "#b91c1c"
        };
        let name = f.name.replace('&', "&amp;").replace('<', "&lt;");
        let _ = writeln!(
            s,
            "<text x=\"10\" y=\"{}\">{name}</text><rect x=\"10\" y=\"{}\" width=\"{w}\" height=\"16\" fill=\"{color}\"/><text x=\"{}\" y=\"{}\">{}</text>",
            y + 10,
            y + 16,
            15.0 + w,
            y + 29,
            match f.goal {
                Goal::Tracked => format!("no goal set (ratio {:.3})", f.ratio),
                _ => format!("{:.0}% (ratio {:.3})", share * 100.0, f.ratio),
            }
        );
    }
    s.push_str("</svg>\n");
    s
}

/// Writes `<dir>/<date>.json`, `.md` and `.svg`, and `<dir>/latest.json`
/// (each figure's ratio, for the regression guard); returns the Markdown
/// path.
/// `extra` is Markdown appended to the table (the figures at each scale).
pub fn write(
    dir: &Path,
    date: &str,
    machine: &str,
    figures: &[Figure],
    extra: &str,
) -> Result<PathBuf, Error> {
    std::fs::create_dir_all(dir)?;
    let json = serde_json::json!({"date": date, "machine": machine, "figures": figures});
    std::fs::write(
        dir.join(format!("{date}.json")),
        serde_json::to_string_pretty(&json)?,
    )?;
    let ratios: serde_json::Map<String, serde_json::Value> = figures
        .iter()
        .map(|f| (f.key.to_string(), serde_json::json!(f.ratio)))
        .collect();
    std::fs::write(
        dir.join("latest.json"),
        serde_json::to_string_pretty(&serde_json::json!({"date": date, "ratios": ratios}))?,
    )?;
    std::fs::write(dir.join(format!("{date}.svg")), svg(figures))?;
    let md = dir.join(format!("{date}.md"));
    std::fs::write(&md, markdown(date, machine, figures) + extra)?;
    Ok(md)
}
