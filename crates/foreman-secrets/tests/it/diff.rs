//! `scan_diff`: only added lines, with the file and the new line number.

use foreman_secrets::{DiffFinding, SecretScanner, scan_diff};

use crate::support::{B64, Fake, UPPER_DIGITS, cat};

fn finding(path: &str, line: usize, rule: &str) -> DiffFinding {
    DiffFinding {
        path: path.into(),
        line,
        rule_id: rule.into(),
    }
}

#[test]
fn reports_added_lines_with_file_line_and_rule() {
    let mut f = Fake::new(3);
    let aws_old = cat(&["AKIA", &f.chars(UPPER_DIGITS, 16)]);
    let aws_new = cat(&["AKIA", &f.chars(UPPER_DIGITS, 16)]);
    let aws_ctx = cat(&["AKIA", &f.chars(UPPER_DIGITS, 16)]);
    let gh = cat(&["ghp", "_", &f.alnum(36)]);
    let key_body = f.chars(B64, 64);
    let diff = format!(
        "diff --git a/config/app.toml b/config/app.toml
index 1111111..2222222 100644
--- a/config/app.toml
+++ b/config/app.toml
@@ -1,4 +1,5 @@
 [aws]
-access_key = \"{aws_old}\"
+access_key = \"{aws_new}\"
 region = \"eu-west-1\"
+
 # old key kept for reference: {aws_ctx}
@@ -10,2 +11,3 @@ [github]
 user = \"bot\"
+token = \"{gh}\"
 org = \"acme\"
diff --git a/keys/deploy.txt b/keys/deploy.txt
new file mode 100644
index 0000000..3333333
--- /dev/null
+++ b/keys/deploy.txt
@@ -0,0 +1,4 @@
+notes
+-----BEGIN OPENSSH PRIVATE KEY-----
+{key_body}
+-----END OPENSSH PRIVATE KEY-----
diff --git a/old.env.example b/old.env.example
deleted file mode 100644
index 4444444..0000000
--- a/old.env.example
+++ /dev/null
@@ -1 +0,0 @@
-TOKEN={gh}
"
    );
    let found = scan_diff(&diff);
    assert_eq!(
        found,
        vec![
            finding("config/app.toml", 2, "aws_access_key"),
            finding("config/app.toml", 12, "github_token"),
            finding("keys/deploy.txt", 2, "private_key"),
        ]
    );
    // The findings name the place, never the value.
    let shown = format!("{found:?}");
    for secret in [&aws_new, &gh, &key_body] {
        assert!(!shown.contains(secret.as_str()));
    }
    // Control: the removed and context lines do hold secrets the scanner knows.
    let s = SecretScanner::default_rules();
    assert!(s.contains_secret(&format!("access_key = \"{aws_old}\"")));
    assert!(s.contains_secret(&format!("# old key kept for reference: {aws_ctx}")));
}

#[test]
fn plus_plus_plus_inside_a_hunk_is_an_added_line() {
    let gh = cat(&["ghp", "_", &Fake::new(5).alnum(36)]);
    let diff = format!("--- a/notes.md\n+++ b/notes.md\n@@ -1 +1,2 @@\n title\n+++ {gh}\n");
    assert_eq!(
        scan_diff(&diff),
        vec![finding("notes.md", 2, "github_token")]
    );
}

#[test]
fn clean_and_empty_diffs_have_no_findings() {
    assert!(scan_diff("").is_empty());
    let diff = "diff --git a/src/lib.rs b/src/lib.rs\n--- a/src/lib.rs\n+++ b/src/lib.rs\n@@ -1,2 +1,2 @@\n fn main() {\n-    let token = get_token();\n+    let token = fetch_token();\n";
    assert!(scan_diff(diff).is_empty());
    // CRLF line endings and a binary change
    let crlf = "--- a/x.txt\r\n+++ b/x.txt\r\n@@ -0,0 +1 @@\r\n+hello\r\nBinary files a/i.png and b/i.png differ\r\n";
    assert!(scan_diff(crlf).is_empty());
}

#[test]
fn custom_rules_apply_to_diffs() {
    let s = SecretScanner::with_extra(&[r"ACME-\d{8}".into()]).unwrap();
    let diff = "--- a/a.txt\n+++ b/a.txt\n@@ -3,0 +4,2 @@\n+one\n+id ACME-12345678\n";
    assert_eq!(s.scan_diff(diff), vec![finding("a.txt", 5, "custom")]);
    assert!(scan_diff(diff).is_empty());
}
