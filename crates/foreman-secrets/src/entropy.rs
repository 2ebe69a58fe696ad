//! Shannon entropy, the gate that keeps placeholders and ordinary words out of the findings.

/// The Shannon entropy of `s` in bits per byte (0 for an empty string; at most 8).
///
/// `aaaa` gives 0, `abcd` gives 2, 40 random alphanumeric characters about 5.
#[must_use]
pub fn shannon_entropy(s: &str) -> f64 {
    let bytes = s.as_bytes();
    if bytes.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for &b in bytes {
        counts[usize::from(b)] += 1;
    }
    let len = bytes.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / len;
            -p * p.log2()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        assert!(shannon_entropy("").abs() < f64::EPSILON);
        assert!(shannon_entropy("aaaa").abs() < f64::EPSILON);
        assert!((shannon_entropy("abcd") - 2.0).abs() < 1e-9);
        assert!((shannon_entropy("aabb") - 1.0).abs() < 1e-9);
        let all: String = (0u8..=255).filter(u8::is_ascii).map(char::from).collect();
        assert!((shannon_entropy(&all) - 7.0).abs() < 1e-9);
    }
}
