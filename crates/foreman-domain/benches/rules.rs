//! Validation-rule evaluation: 50 rules (40 `regex`, 5 `missing`, 5 `forbidden_path`, with
//! `applies_to` globs) over a 5,000-added-line diff of 50 files, parse included.
//!
//! Run with `cargo bench -p foreman-domain --bench rules`. Prints a Markdown table; the figures
//! in `docs/benchmarks.md` (## Validation rules) come from it.

#![allow(clippy::print_stdout, reason = "a benchmark reports to its terminal")]

use std::fmt::Write as _;
use std::hint::black_box;
use std::time::{Duration, Instant};

use chrono::Utc;
use foreman_domain::rules::{RuleInput, RuleKind, RuleSet, parse_diff, validate_rules};

fn rules() -> Vec<RuleInput> {
    let mut out = Vec::new();
    let words = [
        "unwrap\\(\\)",
        "todo!",
        "dbg!",
        "println!",
        "panic!",
        "unsafe",
        "expect\\(\"",
        "FIXME",
        "XXX",
        "console\\.log",
        "eval\\(",
        "password\\s*=",
        "http://",
        "sleep\\(",
        "as_ptr",
        "transmute",
        "lazy_static",
        "std::process::exit",
        "\\bany\\b",
        "#\\[allow",
    ];
    for i in 0..40 {
        out.push(RuleInput {
            kind: RuleKind::Regex,
            pattern: format!(
                "{}{}",
                words[i % words.len()],
                if i >= 20 { "\\s*;" } else { "" }
            ),
            applies_to: if i % 2 == 0 {
                vec!["**/*.rs".into()]
            } else {
                vec![]
            },
            ..RuleInput::default()
        });
    }
    for i in 0..5 {
        out.push(RuleInput {
            kind: RuleKind::Missing,
            pattern: format!("^//! module {i}|SPDX-License-Identifier"),
            applies_to: vec![format!("src/m{i}/**")],
            ..RuleInput::default()
        });
    }
    for i in 0..5 {
        out.push(RuleInput {
            kind: RuleKind::ForbiddenPath,
            pattern: format!("**/secret{i}/**"),
            ..RuleInput::default()
        });
    }
    out
}

fn diff() -> (String, usize) {
    let mut d = String::new();
    let mut lines = 0;
    for f in 0..50 {
        let path = format!("src/m{}/file_{f}.rs", f % 7);
        let _ = write!(
            d,
            "diff --git a/{path} b/{path}\n--- a/{path}\n+++ b/{path}\n@@ -1,0 +1,100 @@\n"
        );
        for l in 0..100 {
            let _ = writeln!(
                d,
                "+    let value_{l} = compute(input_{l}, &config.settings[{l}]).map(|x| x * 2){};",
                if l % 37 == 0 { ".unwrap()" } else { "" }
            );
            lines += 1;
        }
    }
    (d, lines)
}

fn main() {
    let set = RuleSet::compile(&validate_rules(rules(), &[], Utc::now()).expect("valid rules"))
        .expect("compiles");
    let (text, lines) = diff();
    let content = "//! module 0\nfn main() {}\n".to_owned();
    let run = || {
        let files = parse_diff(&text);
        set.evaluate(&files, &mut |_| Some(content.clone()))
    };
    let found = run().violations.len();
    let mut runs = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while runs.len() < 20 || (Instant::now() < deadline && runs.len() < 500) {
        let t = Instant::now();
        black_box(run());
        runs.push(t.elapsed());
    }
    runs.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let compile = {
        let t = Instant::now();
        black_box(
            RuleSet::compile(&validate_rules(rules(), &[], Utc::now()).expect("valid"))
                .expect("compiles"),
        );
        t.elapsed()
    };
    println!("| diff | rules | violations | runs | best | median | p95 | compile (once) |");
    println!("|---|---|---|---|---|---|---|---|");
    println!(
        "| {lines} added lines, 50 files | 50 | {found} | {} | {:.2} ms | {:.2} ms | {:.2} ms | {:.2} ms |",
        runs.len(),
        ms(runs[0]),
        ms(runs[runs.len() / 2]),
        ms(runs[runs.len() * 95 / 100]),
        ms(compile),
    );
}
