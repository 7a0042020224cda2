//! The result of a conformance run and its three renderings: lines for a
//! person, JSON for tools, JUnit XML for CI systems.

use std::time::Duration;

use serde::Serialize;

/// How a check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// The plugin behaves.
    Pass,
    /// The plugin does not; the message says what to change.
    Fail,
    /// Not run (nothing to check it with); the message says why.
    Skip,
}

/// One named check.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// Stable name, e.g. `robustness: empty body`.
    pub name: String,
    /// Pass, fail or skip.
    pub status: Status,
    /// What was found, or what to change.
    pub message: String,
    /// How long the check took, in milliseconds.
    pub elapsed_ms: u64,
}

/// Everything a run found.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The component file.
    pub file: String,
    /// `id version`, when the manifest could be read.
    pub plugin: Option<String>,
    /// The checks, in the order they ran.
    pub checks: Vec<Check>,
}

/// Output format of `omni plugin test`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A line per check.
    Human,
    /// One JSON document.
    Json,
    /// JUnit XML.
    Junit,
}

impl Report {
    /// A report for `file` with no checks yet.
    pub fn new(file: String) -> Self {
        Self {
            file,
            plugin: None,
            checks: Vec::new(),
        }
    }

    /// Records a check.
    pub fn add(&mut self, name: impl Into<String>, status: Status, message: impl Into<String>, elapsed: Duration) {
        self.checks.push(Check {
            name: name.into(),
            status,
            message: message.into(),
            elapsed_ms: elapsed.as_millis() as u64,
        });
    }

    /// Records a fixture case: passed when `problems` is empty.
    pub fn add_case(&mut self, name: String, file: &std::path::Path, problems: &[String], elapsed: Duration) {
        let file = file.display();
        if problems.is_empty() {
            self.add(name, Status::Pass, format!("{file}"), elapsed);
        } else {
            self.add(name, Status::Fail, format!("{file}: {}", problems.join("; ")), elapsed);
        }
    }

    /// Whether every check passed or was skipped.
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.status != Status::Fail)
    }

    fn count(&self, status: Status) -> usize {
        self.checks.iter().filter(|c| c.status == status).count()
    }

    /// The report in `format`.
    pub fn render(&self, format: Format) -> String {
        match format {
            Format::Human => self.human(),
            Format::Json => serde_json::to_string_pretty(&serde_json::json!({
                "file": self.file,
                "plugin": self.plugin,
                "passed": self.count(Status::Pass),
                "failed": self.count(Status::Fail),
                "skipped": self.count(Status::Skip),
                "checks": self.checks,
            }))
            .unwrap_or_default(),
            Format::Junit => self.junit(),
        }
    }

    fn human(&self) -> String {
        let mut out = format!(
            "omni plugin test {} ({})\n",
            self.file,
            self.plugin.as_deref().unwrap_or("manifest unreadable")
        );
        for check in &self.checks {
            let tag = match check.status {
                Status::Pass => "PASS",
                Status::Fail => "FAIL",
                Status::Skip => "SKIP",
            };
            out.push_str(&format!("  {tag}  {}: {}\n", check.name, check.message));
        }
        out.push_str(&format!(
            "{} checks: {} passed, {} failed, {} skipped\n",
            self.checks.len(),
            self.count(Status::Pass),
            self.count(Status::Fail),
            self.count(Status::Skip)
        ));
        out
    }

    fn junit(&self) -> String {
        let suite = format!("omni plugin test {}", self.plugin.as_deref().unwrap_or(&self.file));
        let seconds: f64 = self.checks.iter().map(|c| c.elapsed_ms as f64 / 1000.0).sum();
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        out.push_str(&format!(
            "<testsuites><testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" skipped=\"{}\" time=\"{seconds:.3}\">\n",
            xml(&suite),
            self.checks.len(),
            self.count(Status::Fail),
            self.count(Status::Skip)
        ));
        for check in &self.checks {
            out.push_str(&format!(
                "  <testcase classname=\"omni.conformance\" name=\"{}\" time=\"{:.3}\">",
                xml(&check.name),
                check.elapsed_ms as f64 / 1000.0
            ));
            match check.status {
                Status::Pass => {}
                Status::Fail => out.push_str(&format!(
                    "<failure message=\"{}\">{}</failure>",
                    xml(&check.message),
                    xml(&check.message)
                )),
                Status::Skip => out.push_str(&format!("<skipped message=\"{}\"/>", xml(&check.message))),
            }
            out.push_str("</testcase>\n");
        }
        out.push_str("</testsuite></testsuites>\n");
        out
    }
}

/// Escapes text for XML attributes and content; drops characters XML 1.0 forbids.
fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Report {
        let mut report = Report::new("x.wasm".into());
        report.plugin = Some("x 1.0.0".into());
        report.add(
            "contract",
            Status::Pass,
            "omni:plugin/connector@0.1.0",
            Duration::from_millis(3),
        );
        report.add(
            "robustness: empty body",
            Status::Fail,
            "trapped: <unreachable> & \"more\"",
            Duration::ZERO,
        );
        report.add("fixtures", Status::Skip, "no fixtures", Duration::ZERO);
        report
    }

    #[test]
    fn a_failure_fails_the_run_and_every_format_says_so() {
        let report = sample();
        assert!(!report.passed());
        let human = report.render(Format::Human);
        assert!(human.contains("  FAIL  robustness: empty body: trapped"), "{human}");
        assert!(human.contains("3 checks: 1 passed, 1 failed, 1 skipped"), "{human}");
        let json: serde_json::Value = serde_json::from_str(&report.render(Format::Json)).unwrap();
        assert_eq!(json["failed"], 1);
        assert_eq!(json["checks"][1]["status"], "fail");
        let junit = report.render(Format::Junit);
        assert!(junit.contains("tests=\"3\" failures=\"1\" skipped=\"1\""), "{junit}");
        assert!(
            junit.contains("<failure message=\"trapped: &lt;unreachable&gt; &amp; &quot;more&quot;\">"),
            "{junit}"
        );
        assert!(junit.contains("<skipped message=\"no fixtures\"/>"), "{junit}");
    }

    #[test]
    fn control_characters_do_not_break_the_xml() {
        assert_eq!(xml("a\u{1}b\nc"), "ab\nc");
    }
}
