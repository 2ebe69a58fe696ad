//! Loop guards: stop a model that repeats itself or stops making progress.
//!
//! An identical tool call (same tool, same input) made again with no file change in between is
//! counted; at `warn_at` the result carries a warning, at `stop_at` the run stops as
//! `agent_stalled`. A run whose last `stall_turns` turns changed no file stops the same way.

use std::collections::HashMap;

use serde_json::Value;

/// What to do about a tool call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Run it.
    Proceed,
    /// Run it and warn the model: it made this exact call this many times.
    Warn(u32),
    /// Stop the run: it made this exact call this many times.
    Stop(u32),
}

/// Guard thresholds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GuardSettings {
    /// Identical calls that earn a warning.
    pub warn_at: u32,
    /// Identical calls that stop the run.
    pub stop_at: u32,
    /// Turns without a file change that stop the run (0: never).
    pub stall_turns: u32,
}

impl Default for GuardSettings {
    fn default() -> Self {
        Self {
            warn_at: 3,
            stop_at: 5,
            stall_turns: 8,
        }
    }
}

/// The guard state of one run.
#[derive(Debug, Clone)]
pub struct LoopGuard {
    settings: GuardSettings,
    counts: HashMap<String, u32>,
    turns_without_change: u32,
}

fn key(name: &str, input: &Value) -> String {
    // serde_json maps are ordered, so equal inputs serialise equally.
    format!("{name}\u{0}{input}")
}

impl LoopGuard {
    /// A fresh guard.
    #[must_use]
    pub fn new(settings: GuardSettings) -> Self {
        Self {
            settings,
            counts: HashMap::new(),
            turns_without_change: 0,
        }
    }

    /// Counts a tool call before it runs.
    pub fn on_call(&mut self, name: &str, input: &Value) -> Verdict {
        let n = self.counts.entry(key(name, input)).or_insert(0);
        *n += 1;
        if *n >= self.settings.stop_at {
            Verdict::Stop(*n)
        } else if *n >= self.settings.warn_at {
            Verdict::Warn(*n)
        } else {
            Verdict::Proceed
        }
    }

    /// A file changed: repeated calls may legitimately give new answers now.
    pub fn on_change(&mut self) {
        self.counts.clear();
        self.turns_without_change = 0;
    }

    /// A turn ended; `true` when the run has gone `stall_turns` turns without a change.
    pub fn end_turn(&mut self, changed: bool) -> bool {
        if changed {
            self.turns_without_change = 0;
            return false;
        }
        self.turns_without_change += 1;
        self.settings.stall_turns > 0 && self.turns_without_change >= self.settings.stall_turns
    }

    /// Turns since the last file change.
    #[must_use]
    pub fn turns_without_change(&self) -> u32 {
        self.turns_without_change
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn warns_then_stops_on_identical_calls() {
        let mut g = LoopGuard::new(GuardSettings::default());
        let i = json!({"path": "a.rs"});
        assert_eq!(g.on_call("read_file", &i), Verdict::Proceed);
        assert_eq!(g.on_call("read_file", &i), Verdict::Proceed);
        assert_eq!(g.on_call("read_file", &i), Verdict::Warn(3));
        assert_eq!(
            g.on_call("read_file", &json!({"path": "b.rs"})),
            Verdict::Proceed
        );
        assert_eq!(g.on_call("read_file", &i), Verdict::Warn(4));
        assert_eq!(g.on_call("read_file", &i), Verdict::Stop(5));
    }

    #[test]
    fn a_change_resets_the_counts() {
        let mut g = LoopGuard::new(GuardSettings::default());
        let i = json!({"command": "cargo test"});
        for _ in 0..4 {
            g.on_call("run_command", &i);
        }
        g.on_change();
        assert_eq!(g.on_call("run_command", &i), Verdict::Proceed);
    }

    #[test]
    fn stalls_after_turns_without_change() {
        let mut g = LoopGuard::new(GuardSettings {
            stall_turns: 3,
            ..GuardSettings::default()
        });
        assert!(!g.end_turn(false));
        assert!(!g.end_turn(false));
        assert!(!g.end_turn(true));
        assert!(!g.end_turn(false));
        assert!(!g.end_turn(false));
        assert!(g.end_turn(false));
    }
}
