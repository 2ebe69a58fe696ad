//! Properties over arbitrary text: scanning never panics (offsets stay on character
//! boundaries), a planted token is always redacted whatever surrounds it, and redacting twice
//! changes nothing more.

use foreman_secrets::SecretScanner;
use proptest::prelude::*;

use crate::support::{Fake, cat};

fn scanner() -> &'static SecretScanner {
    static S: std::sync::LazyLock<SecretScanner> =
        std::sync::LazyLock::new(SecretScanner::default_rules);
    &S
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_text_scans_and_redacts_without_panicking(text in "\\PC{0,400}") {
        let s = scanner();
        let found = s.scan(&text);
        for f in &found {
            prop_assert!(text.is_char_boundary(f.start) && text.is_char_boundary(f.end));
            prop_assert!(f.start < f.end);
        }
        let (once, _) = s.redact(&text);
        let _ = s.scan_diff(&text);
        prop_assert!(once.len() <= text.len() + found.len() * 40);
    }

    #[test]
    fn a_planted_token_is_redacted_whatever_surrounds_it(
        before in "[ -~\\n\\tàé日]{0,80}",
        after in "[ -~\\n\\tàé日]{0,80}",
        seed in any::<u64>(),
        sep in prop::sample::select(vec![" ", "\n", "\"", "'", "=", ": ", "(", "`"]),
    ) {
        let token = cat(&["ghp", "_", &Fake::new(seed).alnum(36)]);
        let text = format!("{before}{sep}{token}{sep}{after}");
        let (once, _) = scanner().redact(&text);
        prop_assert!(!once.contains(token.as_str()), "{}", once);
        let (twice, more) = scanner().redact(&once);
        prop_assert_eq!(&twice, &once);
        prop_assert!(more.is_empty());
    }
}
