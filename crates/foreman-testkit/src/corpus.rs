//! Made-up ticket text for search and submission benchmarks: a deterministic generator and a
//! vocabulary of [`VOCABULARY`] three-syllable words drawn with a skewed (Zipf-like) frequency,
//! so a benchmark has rare, common and very common words the same way every run.

/// Words in the vocabulary.
pub const VOCABULARY: usize = 4_000;

/// A deterministic generator (SplitMix64).
#[derive(Debug, Clone)]
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A word index, small ones far more often (the cube of a uniform draw).
    pub fn word(&mut self) -> usize {
        let u = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        ((u * u * u) * VOCABULARY as f64) as usize
    }
}

/// The made-up word of index `i`: three syllables, unique per index.
pub fn word(i: usize) -> String {
    const ONSETS: [&str; 16] = [
        "b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "ch", "sh",
    ];
    const VOWELS: [&str; 5] = ["a", "e", "i", "o", "u"];
    let syllable = |n: usize| format!("{}{}", ONSETS[n % 16], VOWELS[(n / 16) % 5]);
    format!(
        "{}{}{}x",
        syllable(i % 80),
        syllable((i / 80) % 80),
        syllable(i / 6400)
    )
}

/// `words` words drawn from the vocabulary, joined by spaces.
pub fn text(rng: &mut Rng, words: usize) -> String {
    (0..words)
        .map(|_| word(rng.word()))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_unique_and_draws_repeat_per_seed() {
        let words: std::collections::HashSet<String> = (0..VOCABULARY).map(word).collect();
        assert_eq!(words.len(), VOCABULARY);
        assert_eq!(text(&mut Rng(7), 20), text(&mut Rng(7), 20));
        assert_ne!(text(&mut Rng(7), 20), text(&mut Rng(8), 20));
        // skewed: the commonest word is drawn far more often than a word from the tail
        let mut rng = Rng(1);
        let draws: Vec<usize> = (0..100_000).map(|_| rng.word()).collect();
        let first = draws.iter().filter(|&&w| w == 0).count();
        let tail = draws.iter().filter(|&&w| w == VOCABULARY - 1).count();
        assert!(first > 10 * tail.max(1), "{first} vs {tail}");
    }
}
