//! `bench-report --chart bench/latency.svg bench/out/end-latency-*.json`: the Markdown table and the chart of the
//! runs `end-latency` wrote, shared and isolated side by side with the floor. Reports, never asserts.

use anyhow::{Context, Result};
use clap::Parser;
use plotters::prelude::*;
use serde_json::Value;
use std::path::PathBuf;

/// Table and chart of bench/end-latency runs.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Write the chart (SVG) here.
    #[arg(long)]
    chart: Option<PathBuf>,
    /// JSON files written by `end-latency --json`.
    #[arg(required = true)]
    runs: Vec<PathBuf>,
}

/// One run, as read back from its JSON.
struct Row {
    mode: String,
    n: u64,
    ours: Value,
    floor: Value,
    ratio: f64,
    load: String,
    machine: String,
}

fn ms(side: &Value, key: &str) -> f64 {
    side[key].as_f64().unwrap_or(f64::NAN)
}

fn read(path: &PathBuf) -> Result<Row> {
    let text = std::fs::read_to_string(path).with_context(|| format!("read {}", path.display()))?;
    let run: Value = serde_json::from_str(&text).with_context(|| format!("parse {}", path.display()))?;
    Ok(Row {
        mode: format!(
            "{}{}",
            if run["isolation"].is_null() { "shared" } else { "isolated" },
            if run["webhook"].as_bool() == Some(true) { "+webhook" } else { "" }
        ),
        n: run["n"].as_u64().context("n")?,
        ours: run["ours"].clone(),
        floor: run["floor"].clone(),
        ratio: run["p99_ratio"].as_f64().unwrap_or(f64::NAN),
        load: run["load_start"].as_str().unwrap_or("").split_whitespace().next().unwrap_or("").to_string(),
        machine: format!(
            "{} cores, {}",
            run["machine"]["nproc"],
            run["machine"]["cpu"].as_str().unwrap_or("unknown CPU")
        ),
    })
}

fn table(rows: &[Row]) {
    println!("| mode             |      N | ours p50 | ours p99 | floor p99 | p99 ratio | end CPU ours / floor | RSS/participant | joins/s | load (1m) |");
    println!("|------------------|-------:|---------:|---------:|----------:|----------:|---------------------:|----------------:|--------:|----------:|");
    for r in rows {
        println!(
            "| {:<16} | {:>6} | {:>5.1} ms | {:>5.1} ms | {:>6.1} ms | {:>9.2} | {:>11.0} / {:>3.0} ms | {:>10.1} KiB | {:>7.0} | {:>9} |",
            r.mode,
            r.n,
            ms(&r.ours, "p50_ms"),
            ms(&r.ours, "p99_ms"),
            ms(&r.floor, "p99_ms"),
            r.ratio,
            ms(&r.ours, "server_cpu_end_ms"),
            ms(&r.floor, "server_cpu_end_ms"),
            ms(&r.ours, "rss_per_participant_bytes") / 1024.0,
            ms(&r.ours, "join_rate_per_s"),
            r.load,
        );
    }
}

fn chart(rows: &[Row], path: &PathBuf) -> Result<()> {
    let x_max = rows.iter().map(|r| r.n).max().unwrap_or(1) as f64 * 1.05;
    let y_max = rows.iter().map(|r| ms(&r.ours, "p99_ms").max(ms(&r.floor, "p99_ms"))).fold(1.0, f64::max) * 1.1;
    let root = SVGBackend::new(path, (720, 440)).into_drawing_area();
    root.fill(&WHITE)?;
    let caption = format!("kickAll to every roomLeft, p99: endsession-server vs bare broadcast ({})", rows[0].machine);
    let mut chart = ChartBuilder::on(&root)
        .caption(caption, ("sans-serif", 14))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(56)
        .build_cartesian_2d(0f64..x_max, 0f64..y_max)?;
    chart
        .configure_mesh()
        .x_desc("connected participants N")
        .y_desc("latency (ms)")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .draw()?;
    // Runs with a webhook are in the table only: the chart compares against the floor, which has none.
    let series: [(&str, &str, RGBColor); 4] = [
        ("shared", "ours", RGBColor(0xd9, 0x48, 0x0f)),
        ("shared", "floor", RGBColor(0x1c, 0x7e, 0xd6)),
        ("isolated", "ours", RGBColor(0x86, 0x2e, 0x9c)),
        ("isolated", "floor", RGBColor(0x0b, 0x72, 0x85)),
    ];
    for (mode, side, color) in series {
        let mut points: Vec<(f64, f64)> = rows
            .iter()
            .filter(|r| r.mode == mode)
            .map(|r| (r.n as f64, ms(if side == "ours" { &r.ours } else { &r.floor }, "p99_ms")))
            .collect();
        if points.is_empty() {
            continue;
        }
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
        chart
            .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))?
            .label(format!("{side} p99, {mode}"))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
        chart.draw_series(points.into_iter().map(|p| Circle::new(p, 3, color.filled())))?;
    }
    chart.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).draw()?;
    root.present()?;
    Ok(())
}

fn main() -> Result<()> {
    let args = Args::parse();
    let mut rows = args.runs.iter().map(read).collect::<Result<Vec<_>>>()?;
    rows.sort_by(|a, b| (&a.mode, a.n).cmp(&(&b.mode, b.n)));
    table(&rows);
    if let Some(path) = &args.chart {
        chart(&rows, path)?;
        println!("\nchart: {}", path.display());
    }
    Ok(())
}
