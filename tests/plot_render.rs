//! Every figure type renders to SVG and PNG, byte-identically on a second render, and bad
//! data is refused with a typed error. Set SPATTEN_KEEP_PLOTS=DIR to keep the figures. The
//! text layout of a reference figure is a golden file (tests/golden/figures/); rewrite it
//! with `SPATTEN_UPDATE_GOLDEN=1 cargo test --release --test plot_render` after a deliberate
//! layout change.

use std::path::{Path, PathBuf};

use spatten::report::plot::*;

fn out_dir() -> (Option<tempfile::TempDir>, PathBuf) {
    match std::env::var_os("SPATTEN_KEEP_PLOTS") {
        Some(d) => {
            std::fs::create_dir_all(&d).unwrap();
            (None, PathBuf::from(d))
        }
        None => {
            let t = tempfile::tempdir().unwrap();
            let p = t.path().to_path_buf();
            (Some(t), p)
        }
    }
}

fn speedup() -> GroupedBars {
    GroupedBars {
        frame: Frame::new(
            "Speedup of SpAtten over each baseline",
            "Benchmark",
            "Speedup (x, log scale)",
        ),
        categories: ["BERT-base", "BERT-large", "GPT-2-small", "GPT-2-medium"]
            .map(String::from)
            .to_vec(),
        series: vec![
            Series {
                name: "TITAN Xp (modelled)".into(),
                values: vec![35.2, 61.0, 162.0, 240.5],
            },
            Series {
                name: "Xeon E5-2640 v4 (modelled)".into(),
                values: vec![120.0, 210.0, 347.0, 480.0],
            },
            Series {
                name: "A3 (published)".into(),
                values: vec![1.4, 1.6, 1.7, 1.9],
            },
        ],
        log_y: true,
        value_labels: Some("x".into()),
        reference: Some(Reference::parity("1x: as fast as the baseline")),
    }
}

fn energy() -> StackedBars {
    StackedBars::new(
        Frame::new("Energy breakdown per benchmark", "Benchmark", "Energy (mJ)"),
        ["BERT-base", "GPT-2-small", "GPT-2-medium"]
            .map(String::from)
            .to_vec(),
        vec![
            Series {
                name: "DRAM".into(),
                values: vec![1.2, 4.5, 9.1],
            },
            Series {
                name: "QxK".into(),
                values: vec![0.6, 1.1, 2.0],
            },
            Series {
                name: "Softmax".into(),
                values: vec![0.2, 0.4, 0.7],
            },
            Series {
                name: "ProbxV".into(),
                values: vec![0.3, 0.6, 1.0],
            },
        ],
    )
}

fn lines() -> LinePlot {
    let mut p = LinePlot::new(
        Frame::new(
            "Latency vs sequence length",
            "Sequence length (tokens)",
            "Latency (ms)",
        ),
        vec![
            Curve {
                name: "TITAN Xp".into(),
                points: vec![(128.0, 0.3), (256.0, 0.5), (512.0, 1.4), (1024.0, 4.9)],
            },
            Curve {
                name: "host CPU".into(),
                points: vec![(128.0, 2.0), (256.0, 6.5), (512.0, 24.0), (1024.0, 95.0)],
            },
        ],
    );
    p.log_x = true;
    p.log_y = true;
    p.references = vec![Reference {
        value: 1.0,
        label: "1 ms budget".into(),
    }];
    p
}

fn pareto() -> ParetoScatter {
    let pts = [
        (2.6, 360.0, "1024 mult"),
        (1.1, 180.0, "512 mult"),
        (0.6, 95.0, "256 mult"),
        (1.4, 150.0, ""),
        (3.1, 340.0, ""),
        (0.9, 60.0, ""),
    ];
    ParetoScatter {
        frame: Frame::new(
            "Design points: power vs throughput",
            "Power (W)",
            "Throughput (GOP/s)",
        ),
        points: pts
            .iter()
            .map(|&(x, y, l)| ScatterPoint {
                label: l.into(),
                x,
                y,
            })
            .collect(),
        x_goal: Goal::Minimize,
        y_goal: Goal::Maximize,
        log_x: false,
        log_y: false,
    }
}

fn roof() -> Roofline {
    Roofline {
        frame: Frame::new(
            "Roofline",
            "Operational intensity (op/B)",
            "Throughput (GOP/s)",
        ),
        ceilings: vec![
            Ceiling {
                name: "SpAtten".into(),
                peak_gops: 2048.0,
                bandwidth_gbps: 512.0,
            },
            Ceiling {
                name: "TITAN Xp".into(),
                peak_gops: 12150.0,
                bandwidth_gbps: 547.7,
            },
        ],
        points: vec![
            RooflinePoint {
                name: "GPT-2 generation".into(),
                intensity_ops_per_byte: 0.5,
                gops: 230.0,
            },
            RooflinePoint {
                name: "BERT summarization".into(),
                intensity_ops_per_byte: 40.0,
                gops: 1500.0,
            },
        ],
    }
}

fn render_twice(dir: &Path, name: &str, f: &dyn Fn(&Path) -> Result<Written, PlotError>) {
    let a = f(&dir.join(name)).unwrap();
    let (svg1, png1) = (
        std::fs::read(&a.svg).unwrap(),
        std::fs::read(&a.png).unwrap(),
    );
    let b = f(&dir.join(format!("{name}-again"))).unwrap();
    let (svg2, png2) = (
        std::fs::read(&b.svg).unwrap(),
        std::fs::read(&b.png).unwrap(),
    );
    assert_eq!(&png1[..8], b"\x89PNG\r\n\x1a\n", "{name}: not a PNG");
    assert!(
        String::from_utf8(svg1.clone()).unwrap().starts_with("<svg"),
        "{name}: not an SVG"
    );
    assert!(png1 == png2, "{name}: PNG differs between renders");
    assert!(svg1 == svg2, "{name}: SVG differs between renders");
    // Text was drawn with the embedded font: the SVG carries the title.
    assert!(
        String::from_utf8(svg1).unwrap().contains("<text"),
        "{name}: no text in SVG"
    );
    // No temporary files are left behind.
    let leftovers: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "{name}: temporary files left: {leftovers:?}"
    );
}

#[test]
fn every_figure_is_deterministic() {
    let (_keep, dir) = out_dir();
    render_twice(&dir, "speedup", &|p| grouped_bars(p, &speedup()));
    let mut linear = speedup();
    linear.log_y = false;
    linear.reference = None;
    linear.frame.title = "Speedup (linear)".into();
    render_twice(&dir, "speedup-linear", &|p| grouped_bars(p, &linear));
    render_twice(&dir, "energy", &|p| stacked_bars(p, &energy()));
    // The paper's 30 benchmarks: long names that must turn to fit.
    let tasks = [
        "CoLA", "MNLI-m", "MNLI-mm", "MRPC", "QNLI", "QQP", "RTE", "SST-2", "STS-B", "SQuAD1.1",
        "SQuAD2.0",
    ];
    let mut many: Vec<String> = Vec::new();
    for m in ["BERT-base", "BERT-large"] {
        many.extend(tasks.iter().map(|t| format!("{m} {t}")));
    }
    for m in ["GPT-2-small", "GPT-2-medium"] {
        many.extend(
            ["WikiText-2", "WikiText-103", "PTB", "1B Word"]
                .iter()
                .map(|t| format!("{m} {t}")),
        );
    }
    assert_eq!(many.len(), 30);
    let crowded = GroupedBars {
        frame: Frame {
            size: (1400, 700),
            ..Frame::new(
                "Speedup on 30 benchmarks",
                "Benchmark",
                "Speedup (x, log scale)",
            )
        },
        series: vec![
            Series {
                name: "TITAN Xp".into(),
                values: (0..30).map(|i| 20.0 + 8.0 * i as f64).collect(),
            },
            Series {
                name: "Xeon".into(),
                values: (0..30).map(|i| 100.0 + 15.0 * i as f64).collect(),
            },
        ],
        categories: many,
        log_y: true,
        value_labels: None,
        reference: None,
    };
    render_twice(&dir, "speedup-30", &|p| grouped_bars(p, &crowded));
    let mut shares = energy().percent();
    for s in &mut shares.components {
        s.values = vec![25.0; 3];
    }
    render_twice(&dir, "shares", &|p| stacked_bars(p, &shares));
    let panels = Panels {
        frame: Frame::new("Two metrics", "", ""),
        panels: vec![speedup(), linear.clone()],
    };
    render_twice(&dir, "panels", &|p| grouped_panels(p, &panels));
    render_twice(&dir, "latency", &|p| line_plot(p, &lines()));
    render_twice(&dir, "pareto", &|p| pareto_scatter(p, &pareto()));
    render_twice(&dir, "roofline", &|p| roofline(p, &roof()));
}

#[test]
fn bad_data_is_refused_without_output() {
    let (_keep, dir) = out_dir();
    let mut c = speedup();
    c.series[0].values[1] = 0.0;
    let e = grouped_bars(&dir.join("bad"), &c).unwrap_err();
    assert!(e.to_string().contains("log axis"), "{e}");
    c.series[0].values.pop();
    let e = grouped_bars(&dir.join("bad"), &c).unwrap_err();
    assert!(e.to_string().contains("3 values for 4 categories"), "{e}");
    let mut s = energy();
    s.components[0].values[0] = f64::NAN;
    assert!(stacked_bars(&dir.join("bad"), &s).is_err());
    assert!(!dir.join("bad.png").exists() && !dir.join("bad.svg").exists());
    let e = grouped_bars(&dir.join("no-such-dir/x"), &speedup()).unwrap_err();
    assert!(matches!(e, PlotError::Io { .. }), "{e}");
}

/// `<text>` elements of an SVG, one per line, as the golden file keeps them.
fn svg_texts(svg: &str) -> String {
    svg.lines()
        .filter(|l| l.starts_with("<text"))
        .map(|l| format!("{l}\n"))
        .collect()
}

#[test]
fn text_layout_matches_the_golden_file() {
    let (_keep, dir) = out_dir();
    let w = grouped_bars(&dir.join("golden-speedup"), &speedup()).unwrap();
    let now = svg_texts(&std::fs::read_to_string(&w.svg).unwrap());
    let golden = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden/figures/speedup-text.svg");
    if std::env::var("SPATTEN_UPDATE_GOLDEN").is_ok_and(|v| !v.is_empty()) {
        std::fs::create_dir_all(golden.parent().unwrap()).unwrap();
        std::fs::write(&golden, &now).unwrap();
    }
    let want = std::fs::read_to_string(&golden).unwrap();
    assert!(
        now == want,
        "text layout changed; diff against {}:\n{now}",
        golden.display()
    );
    // Every value label is there, with the digits together ("5.13x", not "5.1 3x").
    for label in ["35.2x", "162x", "1.4x", "480x"] {
        assert!(now.contains(&format!(">{label}</text>")), "{label} missing");
    }
    // The legend names each series once, and the reference line.
    assert_eq!(now.matches(">TITAN Xp (modelled)</text>").count(), 1);
    assert!(now.contains(">1x: as fast as the baseline</text>"));
}

#[test]
fn single_series_has_no_legend_and_shares_have_no_totals() {
    let (_keep, dir) = out_dir();
    let mut one = speedup();
    one.series.truncate(1);
    one.reference = None;
    let w = grouped_bars(&dir.join("one"), &one).unwrap();
    let texts = svg_texts(&std::fs::read_to_string(&w.svg).unwrap());
    assert!(!texts.contains(">TITAN Xp (modelled)</text>"), "{texts}");
    let mut shares = energy().percent();
    for s in &mut shares.components {
        s.values = vec![25.0; 3];
    }
    let w = stacked_bars(&dir.join("shares"), &shares).unwrap();
    let texts = svg_texts(&std::fs::read_to_string(&w.svg).unwrap());
    assert!(
        !texts.contains(">100%</text>"),
        "a total printed over a 100 % stack"
    );
    assert_eq!(texts.matches(">25%</text>").count(), 12);
}

#[test]
fn pareto_labels_move_off_a_neighbours_marker() {
    // Four policies as `spatten compare` draws them: streaming-llm and h2o a few pixels apart.
    // Above-right of streaming-llm is h2o's marker, so its label goes elsewhere, and h2o keeps
    // its own; every label is drawn.
    let (_keep, dir) = out_dir();
    let pts = [
        ("dense", 13.64, 75.61),
        ("streaming-llm", 2.52, 82.96),
        ("h2o", 2.86, 83.28),
        ("quest", 13.64, 76.61),
    ];
    let c = ParetoScatter {
        frame: Frame::new("Accuracy and latency", "latency (ms)", "perplexity"),
        points: pts
            .iter()
            .map(|&(l, x, y)| ScatterPoint {
                label: l.into(),
                x,
                y,
            })
            .collect(),
        x_goal: Goal::Minimize,
        y_goal: Goal::Minimize,
        log_x: false,
        log_y: false,
    };
    let w = pareto_scatter(&dir.join("pareto-neighbours"), &c).unwrap();
    let texts = svg_texts(&std::fs::read_to_string(&w.svg).unwrap());
    for (l, _, _) in pts {
        assert!(
            texts.contains(&format!(">{l}</text>")),
            "{l} missing:\n{texts}"
        );
    }
}
