//! Event type selection by glob lists such as `ticket_*,task_*`.

use std::collections::BTreeSet;

use foreman_domain::EventType;

/// A type filter that selects nothing, or a malformed pattern.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GlobError {
    /// A pattern uses characters event types never contain.
    #[error("invalid event type pattern {pattern:?}: use lowercase letters, '_', '*' and '?'")]
    Invalid {
        /// The pattern.
        pattern: String,
    },
    /// A pattern matches no event type.
    #[error("event type pattern {pattern:?} matches no event type")]
    NoMatch {
        /// The pattern.
        pattern: String,
    },
}

impl GlobError {
    /// A transport-neutral code.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::Invalid { .. } => "invalid_pattern",
            Self::NoMatch { .. } => "no_match",
        }
    }
}

/// Whether `text` matches `pattern`, where `*` matches any run of characters (including none)
/// and `?` exactly one. Every other character matches itself.
#[must_use]
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0usize, 0usize);
    // Position after the last '*' and the text position it was tried at.
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi + 1, ti));
            pi += 1;
        } else if let Some((after_star, tried)) = star {
            pi = after_star;
            ti = tried + 1;
            star = Some((after_star, tried + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// A set of event types chosen by comma-separated glob patterns.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TypeFilter {
    types: Option<BTreeSet<EventType>>,
}

impl TypeFilter {
    /// Every type.
    #[must_use]
    pub fn all() -> Self {
        Self { types: None }
    }

    /// Parses `ticket_*,task_*`-style lists. An empty list (or only blanks) selects every type.
    ///
    /// # Errors
    /// A pattern with characters event types never use, or one that matches no type (almost
    /// always a typo the client wants to hear about).
    pub fn parse(list: &str) -> Result<Self, GlobError> {
        let mut chosen = BTreeSet::new();
        let mut any = false;
        for pattern in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            any = true;
            if !pattern
                .chars()
                .all(|c| c.is_ascii_lowercase() || c == '_' || c == '*' || c == '?')
            {
                return Err(GlobError::Invalid {
                    pattern: pattern.to_owned(),
                });
            }
            let mut matched = false;
            for &t in EventType::ALL {
                if glob_match(pattern, t.as_str()) {
                    matched = true;
                    chosen.insert(t);
                }
            }
            if !matched {
                return Err(GlobError::NoMatch {
                    pattern: pattern.to_owned(),
                });
            }
        }
        Ok(Self {
            types: any.then_some(chosen),
        })
    }

    /// Whether every type passes.
    #[must_use]
    pub fn is_all(&self) -> bool {
        self.types.is_none()
    }

    /// Whether `t` passes.
    #[must_use]
    pub fn matches(&self, t: EventType) -> bool {
        self.types.as_ref().is_none_or(|s| s.contains(&t))
    }

    /// The chosen types for a log query (empty: every type).
    #[must_use]
    pub fn to_vec(&self) -> Vec<EventType> {
        self.types
            .as_ref()
            .map(|s| s.iter().copied().collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_simple_patterns() {
        assert!(glob_match("ticket_*", "ticket_created"));
        assert!(glob_match("*", ""));
        assert!(glob_match("*_pass", "task_tdd_verify_pass"));
        assert!(glob_match("task_*_pass", "task_tdd_verify_pass"));
        assert!(glob_match("pr_?losed", "pr_closed"));
        assert!(!glob_match("ticket_*", "task_created"));
        assert!(!glob_match("ticket", "ticket_created"));
        assert!(!glob_match("?", ""));
    }

    /// A direct recursive definition to check the iterative matcher against.
    fn reference(p: &[char], t: &[char]) -> bool {
        match (p.first(), t.first()) {
            (None, None) => true,
            (Some('*'), _) => reference(&p[1..], t) || (!t.is_empty() && reference(p, &t[1..])),
            (Some('?'), Some(_)) => reference(&p[1..], &t[1..]),
            (Some(a), Some(b)) if a == b => reference(&p[1..], &t[1..]),
            _ => false,
        }
    }

    proptest::proptest! {
        #[test]
        fn agrees_with_the_reference(p in "[ab_*?]{0,8}", t in "[ab_]{0,10}") {
            let pc: Vec<char> = p.chars().collect();
            let tc: Vec<char> = t.chars().collect();
            proptest::prop_assert_eq!(glob_match(&p, &t), reference(&pc, &tc));
        }

        #[test]
        fn star_matches_everything(t in "[a-z_]{0,30}") {
            proptest::prop_assert!(glob_match("*", &t));
            proptest::prop_assert!(glob_match(&t, &t));
        }

        #[test]
        fn expanded_types_all_match(p in "[a-z_*]{1,6}") {
            if let Ok(f) = TypeFilter::parse(&p) {
                for t in f.to_vec() {
                    proptest::prop_assert!(glob_match(&p, t.as_str()));
                }
            }
        }
    }

    #[test]
    fn parses_lists() {
        let f = TypeFilter::parse("ticket_*, task_done").unwrap();
        assert!(f.matches(EventType::TicketCreated));
        assert!(f.matches(EventType::TaskDone));
        assert!(!f.matches(EventType::TaskFailed));
        assert!(f.to_vec().contains(&EventType::TicketRetried));
        assert!(TypeFilter::parse("").unwrap().is_all());
        assert!(TypeFilter::parse(" , ").unwrap().is_all());
        assert_eq!(TypeFilter::parse("tiket_*").unwrap_err().code(), "no_match");
        assert_eq!(
            TypeFilter::parse("Ticket_*").unwrap_err().code(),
            "invalid_pattern"
        );
    }
}
