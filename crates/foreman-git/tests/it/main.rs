//! Integration tests for `foreman-git`: real `git`, real temporary repositories, local bare
//! remotes, and the fake hosts of `foreman-fakes`.

mod credentials;
mod hardening;
mod history;
mod host;
mod hygiene;
mod merge;
mod repo;
mod support;
