//! End-to-end tests of Foreman's binaries. The tests live in `tests/it/`; they run the real
//! `foreman-server` and `foreman` executables that cargo builds beside them, on a fresh data
//! directory each, and talk to them over HTTP like a user would.
