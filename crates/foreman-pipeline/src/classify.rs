//! Reading test output and classifying failures.

use serde::{Deserialize, Serialize};

pub use foreman_domain::pipeline::FailureClass;

/// What a test run before the implementation shows (the "red" half of the red→green proof).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TestOutcome {
    /// Every test passed.
    Passed,
    /// Tests ran and at least one assertion failed: a valid red.
    AssertionFailure,
    /// The tests did not build, import or collect: not a valid red.
    BuildFailure,
    /// The runner found no tests.
    NoTests,
    /// The run was killed for taking too long.
    TimedOut,
}

/// Classifies a test run from its exit code and combined output. Build-level problems win over
/// assertion failures, since a suite that does not compile proves nothing about behaviour.
#[must_use]
pub fn classify_test_run(exit_code: Option<i32>, output: &str) -> TestOutcome {
    let Some(code) = exit_code else {
        return TestOutcome::TimedOut;
    };
    const BUILD: &[&str] = &[
        "error[E",                   // rustc
        "could not compile",         // cargo
        "error: cannot find",        // rustc
        "ModuleNotFoundError",       // python
        "ImportError",               // python
        "SyntaxError",               // python, js
        "IndentationError",          // python
        "NameError: name",           // python at import time
        "errors during collection",  // pytest
        "error during collection",   // pytest
        "[build failed]",            // go test
        "undefined: ",               // go
        "syntax error",              // go, sh
        "Cannot find module",        // node
        "error TS",                  // typescript
        "ReferenceError",            // js at load
        "compilation failed",        // generic
        "No such file or directory", // missing test file or binary
        "command not found",         // missing tool
    ];
    const NO_TESTS: &[&str] = &[
        "no tests ran",
        "collected 0 items",
        "running 0 tests",
        "no test files",
        "No tests found",
        "Ran 0 tests",
    ];
    const ASSERT: &[&str] = &[
        "assertion failed",
        "assertion `left == right` failed",
        "AssertionError",
        "assert ",
        "--- FAIL",
        "expected",
        "Expected",
        "FAILED",
        "panicked at",
        "not ok ",
        "Failures:",
    ];
    if BUILD.iter().any(|m| output.contains(m)) && code != 0 {
        return TestOutcome::BuildFailure;
    }
    if code == 0 {
        if NO_TESTS.iter().any(|m| output.contains(m)) {
            return TestOutcome::NoTests;
        }
        return TestOutcome::Passed;
    }
    if code == 5 && output.contains("collected 0 items")
        || NO_TESTS.iter().any(|m| output.contains(m)) && !ASSERT.iter().any(|m| output.contains(m))
    {
        return TestOutcome::NoTests;
    }
    if ASSERT.iter().any(|m| output.contains(m)) {
        return TestOutcome::AssertionFailure;
    }
    // A non-zero exit with nothing recognisable: treat as a build-level problem, the safe side
    // for the red proof (it is not evidence of a failing assertion).
    TestOutcome::BuildFailure
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_common_runners() {
        let cases = [
            (
                Some(0),
                "test result: ok. 3 passed; 0 failed",
                TestOutcome::Passed,
            ),
            (
                Some(101),
                "thread 'x' panicked at src/lib.rs:4:5:\nassertion `left == right` failed\n  left: 1\n right: 2\ntest result: FAILED",
                TestOutcome::AssertionFailure,
            ),
            (
                Some(101),
                "error[E0425]: cannot find function `add` in this scope\nerror: could not compile `calc`",
                TestOutcome::BuildFailure,
            ),
            (
                Some(1),
                "E   AssertionError: assert 3 == 4\n1 failed in 0.02s",
                TestOutcome::AssertionFailure,
            ),
            (
                Some(2),
                "ImportError while importing test module\nModuleNotFoundError: No module named 'calc'",
                TestOutcome::BuildFailure,
            ),
            (
                Some(5),
                "collected 0 items\n\nno tests ran in 0.01s",
                TestOutcome::NoTests,
            ),
            (
                Some(1),
                "--- FAIL: TestAdd (0.00s)\n    add_test.go:8: expected 4, got 3\nFAIL",
                TestOutcome::AssertionFailure,
            ),
            (
                Some(1),
                "# calc [calc.test]\n./add_test.go:6:9: undefined: Add\nFAIL\tcalc [build failed]",
                TestOutcome::BuildFailure,
            ),
            (
                Some(1),
                "Error: Cannot find module './add'",
                TestOutcome::BuildFailure,
            ),
            (Some(137), "", TestOutcome::BuildFailure),
            (None, "partial output", TestOutcome::TimedOut),
            (
                Some(0),
                "running 0 tests\ntest result: ok. 0 passed",
                TestOutcome::NoTests,
            ),
        ];
        for (code, out, want) in cases {
            assert_eq!(classify_test_run(code, out), want, "{out}");
        }
    }
}
