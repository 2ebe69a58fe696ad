//! What a request may carry, stated once.
//!
//! Each type here is both a value's OpenAPI schema and the check of that value: it renders its
//! bounds into the document (`minimum`, `maximum`, `minLength`, `maxLength`, `pattern`) and
//! refuses anything outside them while the request is deserialised. A route that takes one of
//! these cannot document a constraint it does not enforce, nor enforce one it does not
//! document. A refused value becomes a 400 whose message names the parameter or field (the
//! extractors in `extract.rs` report serde's path).

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, Schema, SchemaFormat, SchemaType, Type};
use utoipa::openapi::{RefOr, schema};
use utoipa::{PartialSchema, ToSchema};

/// The largest integer every JSON client represents exactly (2^53 − 1): the maximum of
/// offsets and event sequence numbers in requests.
pub const MAX_SAFE_INTEGER: i64 = (1 << 53) - 1;

/// An integer from `MIN` to `MAX` inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Int<const MIN: i64, const MAX: i64>(i64);

impl<const MIN: i64, const MAX: i64> Int<MIN, MAX> {
    /// `value` when it is in range.
    #[must_use]
    pub const fn new(value: i64) -> Option<Self> {
        if value >= MIN && value <= MAX {
            Some(Self(value))
        } else {
            None
        }
    }

    /// The value.
    #[must_use]
    pub const fn get(self) -> i64 {
        self.0
    }

    /// The value as any integer type that holds the whole range (`u32` for page sizes, `u64`
    /// for offsets); the conversion cannot fail for a range that fits, and saturates otherwise.
    #[must_use]
    pub fn to<T: TryFrom<i64> + Bounded>(self) -> T {
        T::try_from(self.0).unwrap_or(if self.0 < 0 { T::LOW } else { T::HIGH })
    }

    fn out_of_range() -> String {
        format!("must be an integer from {MIN} to {MAX}")
    }
}

/// Integer types [`Int::to`] converts to.
pub trait Bounded {
    /// The smallest value.
    const LOW: Self;
    /// The largest value.
    const HIGH: Self;
}

macro_rules! bounded {
    ($($t:ty),*) => {$(
        impl Bounded for $t {
            const LOW: Self = <$t>::MIN;
            const HIGH: Self = <$t>::MAX;
        }
    )*};
}
bounded!(i32, i64, u32, u64, usize);

impl<'de, const MIN: i64, const MAX: i64> Deserialize<'de> for Int<MIN, MAX> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct IntVisitor<const MIN: i64, const MAX: i64>;

        impl<const MIN: i64, const MAX: i64> Visitor<'_> for IntVisitor<MIN, MAX> {
            type Value = Int<MIN, MAX>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "an integer from {MIN} to {MAX}")
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Int::new(v).ok_or_else(|| E::custom(Int::<MIN, MAX>::out_of_range()))
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                i64::try_from(v)
                    .ok()
                    .and_then(Int::new)
                    .ok_or_else(|| E::custom(Int::<MIN, MAX>::out_of_range()))
            }
        }

        // Query strings hand over text, which `deserialize_i64` parses; JSON hands over
        // numbers. Either way, text in a JSON body is refused: the schema says integer.
        deserializer
            .deserialize_i64(IntVisitor::<MIN, MAX>)
            .map_err(|e| {
                let text = e.to_string();
                if text.contains("too large") || text.contains("too small") {
                    de::Error::custom(Self::out_of_range())
                } else {
                    e
                }
            })
    }
}

impl<const MIN: i64, const MAX: i64> PartialSchema for Int<MIN, MAX> {
    fn schema() -> RefOr<Schema> {
        let format = if MIN >= i64::from(i32::MIN) && MAX <= i64::from(i32::MAX) {
            KnownFormat::Int32
        } else {
            KnownFormat::Int64
        };
        ObjectBuilder::new()
            .schema_type(SchemaType::Type(Type::Integer))
            .format(Some(SchemaFormat::KnownFormat(format)))
            .minimum(Some(MIN))
            .maximum(Some(MAX))
            .into()
    }
}

impl<const MIN: i64, const MAX: i64> ToSchema for Int<MIN, MAX> {}

/// A page size of the ticket lists and the event feed.
pub type PageLimit = Int<1, { foreman_domain::MAX_PAGE_LIMIT as i64 }>;
/// Items to skip.
pub type Offset = Int<0, MAX_SAFE_INTEGER>;
/// An event sequence number to resume after.
pub type Seq = Int<0, MAX_SAFE_INTEGER>;
/// The page size of `GET /api/stats/recent-prs`.
pub type RecentPrLimit = Int<1, 100>;
/// Days until a new token expires.
pub type ExpiryDays = Int<1, 3650>;
/// A ticket's priority (higher runs first). Trackers' names map to 0 (none), 10 (low),
/// 20 (medium), 30 (high) and 40 (urgent).
pub type Priority = Int<0, 100>;

/// Seconds one task of a submitted ticket may take.
pub type TimeoutSecs = Int<1, { foreman_domain::ticket_submission::MAX_TIMEOUT_SECS as i64 }>;

/// A priority given by name (`urgent`, `high`, `normal`, `low`: 40, 30, 20, 10, the scale
/// tracker priorities map onto, so claims order them alike) or as a number from 0 to 100.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PriorityInput(i32);

impl PriorityInput {
    /// The default of a submitted ticket: `normal`.
    pub const NORMAL: Self = Self(foreman_domain::PriorityName::Normal.value());

    /// The number claims order by.
    #[must_use]
    pub const fn get(self) -> i32 {
        self.0
    }
}

impl Default for PriorityInput {
    fn default() -> Self {
        Self::NORMAL
    }
}

impl Serialize for PriorityInput {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_i32(self.0)
    }
}

impl<'de> Deserialize<'de> for PriorityInput {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        const WHAT: &str = "must be urgent, high, normal or low, or an integer from 0 to 100";

        impl Visitor<'_> for V {
            type Value = PriorityInput;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                // the same words as the range error, so every refusal reads alike
                f.write_str("urgent, high, normal or low, or an integer from 0 to 100")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                foreman_domain::PriorityName::parse(v)
                    .map(|p| PriorityInput(p.value()))
                    .ok_or_else(|| E::custom(WHAT))
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Priority::new(v)
                    .and_then(|p| i32::try_from(p.get()).ok())
                    .map(PriorityInput)
                    .ok_or_else(|| E::custom(WHAT))
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                i64::try_from(v)
                    .map_err(|_| E::custom(WHAT))
                    .and_then(|v| self.visit_i64(v))
            }

            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Err(E::custom(WHAT))
            }
        }

        deserializer.deserialize_any(V)
    }
}

impl PartialSchema for PriorityInput {
    fn schema() -> RefOr<Schema> {
        schema::OneOfBuilder::new()
            .item(
                ObjectBuilder::new()
                    .schema_type(SchemaType::Type(Type::String))
                    .enum_values(Some(
                        foreman_domain::PriorityName::ALL.iter().map(|p| p.as_str()),
                    )),
            )
            .item(Priority::schema())
            .description(Some(
                "urgent (40), high (30), normal (20) or low (10), or a number from 0 to 100; \
                 higher is claimed first",
            ))
            .into()
    }
}

impl ToSchema for PriorityInput {}

/// A ticket's own budget in USD, from 0 to 100.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(transparent)]
pub struct BudgetUsd(f64);

impl BudgetUsd {
    /// The amount in micro-dollars.
    #[must_use]
    pub fn micros(self) -> foreman_domain::Micros {
        foreman_domain::Micros::from_usd(self.0)
    }
}

impl<'de> Deserialize<'de> for BudgetUsd {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let v = f64::deserialize(deserializer)?;
        if v.is_finite() && (0.0..=100.0).contains(&v) {
            Ok(Self(v))
        } else {
            Err(de::Error::custom("must be a number of USD from 0 to 100"))
        }
    }
}

impl PartialSchema for BudgetUsd {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(SchemaType::Type(Type::Number))
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Double)))
            .minimum(Some(0))
            .maximum(Some(100))
            .into()
    }
}

impl ToSchema for BudgetUsd {}

/// A ticket's tags: at most 10, each 1 to 50 characters.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
#[serde(transparent)]
pub struct Tags(Vec<String>);

impl Tags {
    /// The tags.
    #[must_use]
    pub fn into_vec(self) -> Vec<String> {
        self.0
    }
}

impl<'de> Deserialize<'de> for Tags {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use foreman_domain::ticket_submission::{MAX_TAG_CHARS, MAX_TAGS};
        let tags = Vec::<String>::deserialize(deserializer)?;
        if tags.len() > MAX_TAGS {
            return Err(de::Error::custom("at most 10 tags"));
        }
        if let Some(i) = tags
            .iter()
            .position(|t| !(1..=MAX_TAG_CHARS).contains(&t.chars().count()))
        {
            return Err(de::Error::custom(format!(
                "tag {i} must be 1 to 50 characters"
            )));
        }
        Ok(Self(tags))
    }
}

impl PartialSchema for Tags {
    fn schema() -> RefOr<Schema> {
        schema::ArrayBuilder::new()
            .items(
                ObjectBuilder::new()
                    .schema_type(SchemaType::Type(Type::String))
                    .min_length(Some(1))
                    .max_length(Some(foreman_domain::ticket_submission::MAX_TAG_CHARS)),
            )
            .max_items(Some(foreman_domain::ticket_submission::MAX_TAGS))
            .into()
    }
}

impl ToSchema for Tags {}

/// An absolute `http` or `https` URL with a host, at most 2,048 characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct HttpUrl(String);

impl HttpUrl {
    /// The URL.
    #[must_use]
    pub fn into_string(self) -> String {
        self.0
    }
}

impl<'de> Deserialize<'de> for HttpUrl {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        if foreman_domain::ticket_submission::is_http_url(&s) {
            Ok(Self(s))
        } else {
            Err(de::Error::custom(
                "must be an http or https URL with a host, at most 2048 characters",
            ))
        }
    }
}

impl PartialSchema for HttpUrl {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(SchemaType::Type(Type::String))
            .format(Some(SchemaFormat::Custom("uri".to_owned())))
            .max_length(Some(
                foreman_domain::ticket_submission::MAX_WEBHOOK_URL_CHARS,
            ))
            .pattern(Some("^[Hh][Tt][Tt][Pp][Ss]?://[^/?#\\s]+"))
            .into()
    }
}

impl ToSchema for HttpUrl {}

/// A list of 1 to `MAX` items (`minItems: 1`, `maxItems: MAX`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Batch<T, const MAX: usize>(Vec<T>);

impl<T, const MAX: usize> Batch<T, MAX> {
    /// The items.
    #[must_use]
    pub fn into_vec(self) -> Vec<T> {
        self.0
    }
}

impl<'de, T: Deserialize<'de>, const MAX: usize> Deserialize<'de> for Batch<T, MAX> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // counted before the items are read, so a long list is refused by its length
        struct V<T, const MAX: usize>(std::marker::PhantomData<T>);

        impl<'de, T: Deserialize<'de>, const MAX: usize> Visitor<'de> for V<T, MAX> {
            type Value = Batch<T, MAX>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "a list of 1 to {MAX} items")
            }

            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    if items.len() == MAX {
                        return Err(de::Error::custom(format!("at most {MAX} items")));
                    }
                    items.push(item);
                }
                if items.is_empty() {
                    return Err(de::Error::custom("must have at least one item"));
                }
                Ok(Batch(items))
            }
        }

        deserializer.deserialize_seq(V::<T, MAX>(std::marker::PhantomData))
    }
}

impl<T: PartialSchema, const MAX: usize> PartialSchema for Batch<T, MAX> {
    fn schema() -> RefOr<Schema> {
        schema::ArrayBuilder::new()
            .items(T::schema())
            .min_items(Some(1))
            .max_items(Some(MAX))
            .into()
    }
}

impl<T: PartialSchema, const MAX: usize> ToSchema for Batch<T, MAX> {}

/// The characters Rust's `char::is_whitespace` (Unicode `White_Space`) accepts, as ranges: a
/// name or title must contain a character outside them.
const WHITE_SPACE: &[(char, char)] = &[
    ('\t', '\r'),
    (' ', ' '),
    ('\u{85}', '\u{85}'),
    ('\u{a0}', '\u{a0}'),
    ('\u{1680}', '\u{1680}'),
    ('\u{2000}', '\u{200a}'),
    ('\u{2028}', '\u{2029}'),
    ('\u{202f}', '\u{202f}'),
    ('\u{205f}', '\u{205f}'),
    ('\u{3000}', '\u{3000}'),
];

/// The pattern of text with at least one character that is not whitespace (`\uXXXX` escapes
/// read the same in ECMA-262 and Python regular expressions).
fn not_blank_pattern() -> String {
    let mut class = String::from("[^");
    for &(lo, hi) in WHITE_SPACE {
        class.push_str(&format!("\\u{:04x}", u32::from(lo)));
        if hi != lo {
            class.push_str(&format!("-\\u{:04x}", u32::from(hi)));
        }
    }
    class.push(']');
    class
}

/// Text of 1 to `MAX` characters (Unicode scalar values, as JSON Schema's `maxLength` counts
/// them) with at least one that is not whitespace; handlers store it trimmed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Text<const MAX: usize>(String);

impl<const MAX: usize> Text<MAX> {
    /// `value` when it is 1 to `MAX` characters with one that is not whitespace.
    #[must_use]
    pub fn new(value: String) -> Option<Self> {
        let chars = value.chars().count();
        ((1..=MAX).contains(&chars) && value.chars().any(|c| !c.is_whitespace()))
            .then_some(Self(value))
    }

    /// The text without leading and trailing whitespace.
    #[must_use]
    pub fn trimmed(&self) -> &str {
        self.0.trim()
    }
}

impl<'de, const MAX: usize> Deserialize<'de> for Text<MAX> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Self::new(s).ok_or_else(|| {
            de::Error::custom(format!("must be 1 to {MAX} characters, not all whitespace"))
        })
    }
}

impl<const MAX: usize> PartialSchema for Text<MAX> {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(SchemaType::Type(Type::String))
            .min_length(Some(1))
            .max_length(Some(MAX))
            .pattern(Some(not_blank_pattern()))
            .into()
    }
}

impl<const MAX: usize> ToSchema for Text<MAX> {}

/// A project slug (`foreman_domain::project::is_valid_project_name`: 1 to 64 of a-z, 0-9, `-`
/// and `_`, starting with a letter or digit), or the empty string for the configured default.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct ProjectName(String);

/// [`ProjectName`]'s pattern; a unit test checks it against the domain's rule.
pub const PROJECT_NAME_PATTERN: &str = "^([a-z0-9][a-z0-9_-]{0,63})?$";

impl ProjectName {
    /// The slug, `None` for the empty string.
    #[must_use]
    pub fn get(&self) -> Option<&str> {
        (!self.0.is_empty()).then_some(self.0.as_str())
    }
}

impl<'de> Deserialize<'de> for ProjectName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        if s.is_empty() || foreman_domain::project::is_valid_project_name(&s) {
            Ok(Self(s))
        } else {
            Err(de::Error::custom(
                "must be 1 to 64 of a-z, 0-9, '-' and '_', starting with a letter or digit",
            ))
        }
    }
}

impl PartialSchema for ProjectName {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(SchemaType::Type(Type::String))
            .max_length(Some(64))
            .pattern(Some(PROJECT_NAME_PATTERN))
            .into()
    }
}

impl ToSchema for ProjectName {}

/// A list of at least one item (`minItems: 1`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct NonEmpty<T>(Vec<T>);

impl<T> NonEmpty<T> {
    /// The items.
    #[must_use]
    pub fn into_vec(self) -> Vec<T> {
        self.0
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for NonEmpty<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let items = Vec::<T>::deserialize(deserializer)?;
        if items.is_empty() {
            Err(de::Error::custom("must have at least one item"))
        } else {
            Ok(Self(items))
        }
    }
}

impl<T: PartialSchema> PartialSchema for NonEmpty<T> {
    fn schema() -> RefOr<Schema> {
        schema::ArrayBuilder::new()
            .items(T::schema())
            .min_items(Some(1))
            .into()
    }
}

impl<T: PartialSchema> ToSchema for NonEmpty<T> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct Q {
        limit: Option<PageLimit>,
        offset: Option<Offset>,
    }

    /// Parses like the `ApiQuery` extractor does; the error is its message.
    fn query(q: &str) -> Result<Q, String> {
        let uri: axum::http::Uri = format!("/?{q}").parse().unwrap();
        axum::extract::Query::<Q>::try_from_uri(&uri)
            .map(|axum::extract::Query(q)| q)
            .map_err(|e| crate::error::ApiError::from(e).to_string())
    }

    #[test]
    fn integers_in_range_pass_and_others_name_their_parameter() {
        let q = query("limit=500&offset=9007199254740991").unwrap();
        assert_eq!(q.limit.map(Int::get), Some(500));
        assert_eq!(q.offset.map(|o| o.to::<u64>()), Some(9_007_199_254_740_991));
        for (bad, name) in [
            ("limit=0", "limit"),
            ("limit=501", "limit"),
            ("limit=2147483648", "limit"),
            ("limit=-1", "limit"),
            ("limit=1.5", "limit"),
            ("limit=many", "limit"),
            ("offset=9007199254740992", "offset"),
            ("offset=9223372036854775808", "offset"),
            ("offset=99999999999999999999999", "offset"),
        ] {
            let e = query(bad).unwrap_err();
            assert!(
                e.starts_with(&format!("invalid query: {name}: ")),
                "{bad}: {e}"
            );
        }
        assert_eq!(
            query("offset=9223372036854775808").unwrap_err(),
            "invalid query: offset: must be an integer from 0 to 9007199254740991"
        );
    }

    #[test]
    fn json_integers_refuse_text_and_fractions() {
        assert_eq!(serde_json::from_str::<Priority>("40").unwrap().get(), 40);
        for bad in [
            "\"40\"",
            "40.5",
            "-1",
            "101",
            "-59870",
            "18446744073709551615",
        ] {
            assert!(serde_json::from_str::<Priority>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn priorities_by_name_or_number() {
        let p = |s: &str| serde_json::from_str::<PriorityInput>(s).map(PriorityInput::get);
        assert_eq!(p("\"urgent\"").unwrap(), 40);
        assert_eq!(p("\"high\"").unwrap(), 30);
        assert_eq!(p("\"normal\"").unwrap(), 20);
        assert_eq!(p("\"low\"").unwrap(), 10);
        assert_eq!(p("0").unwrap(), 0);
        assert_eq!(p("100").unwrap(), 100);
        for bad in [
            "\"HIGH\"", "\"p1\"", "101", "-1", "1.5", "null", "true", "[]",
        ] {
            let e = p(bad).unwrap_err().to_string();
            assert!(e.contains("urgent, high, normal or low"), "{bad}: {e}");
        }
        assert_eq!(PriorityInput::default().get(), 20);
    }

    #[test]
    fn budgets_tags_urls_and_batches_refuse_what_is_out_of_bounds() {
        assert!(serde_json::from_str::<BudgetUsd>("0").is_ok());
        assert_eq!(
            serde_json::from_str::<BudgetUsd>("0.5").unwrap().micros(),
            foreman_domain::Micros(500_000)
        );
        for bad in ["-0.01", "100.01", "\"1\""] {
            assert!(serde_json::from_str::<BudgetUsd>(bad).is_err(), "{bad}");
        }
        let tags = |n: usize, len: usize| serde_json::to_string(&vec!["x".repeat(len); n]).unwrap();
        assert!(serde_json::from_str::<Tags>(&tags(10, 50)).is_ok());
        assert!(serde_json::from_str::<Tags>(&tags(11, 1)).is_err());
        assert!(serde_json::from_str::<Tags>(&tags(1, 51)).is_err());
        assert!(serde_json::from_str::<Tags>(&tags(1, 0)).is_err());
        assert!(serde_json::from_str::<HttpUrl>("\"https://example.com/h\"").is_ok());
        assert!(serde_json::from_str::<HttpUrl>("\"ftp://example.com\"").is_err());
        let batch = |n: usize| serde_json::to_string(&vec![1; n]).unwrap();
        assert!(serde_json::from_str::<Batch<u8, 20>>(&batch(20)).is_ok());
        let e = serde_json::from_str::<Batch<u8, 20>>(&batch(21)).unwrap_err();
        assert!(e.to_string().contains("at most 20 items"), "{e}");
        assert!(serde_json::from_str::<Batch<u8, 20>>("[]").is_err());
    }

    #[test]
    fn the_schema_states_the_bounds() {
        let v = serde_json::to_value(PageLimit::schema()).unwrap();
        assert_eq!(v["minimum"], 1);
        assert_eq!(v["maximum"], 500);
        assert_eq!(v["format"], "int32");
        let v = serde_json::to_value(Offset::schema()).unwrap();
        assert_eq!(v["maximum"], MAX_SAFE_INTEGER);
        assert_eq!(v["format"], "int64");
    }

    /// The pattern's class is exactly `char::is_whitespace`, so the schema and the check agree
    /// on which titles are blank.
    #[test]
    fn the_blank_pattern_is_rusts_whitespace() {
        let listed: Vec<char> = WHITE_SPACE.iter().flat_map(|&(lo, hi)| lo..=hi).collect();
        let all: Vec<char> = (0..=0x10FFFF)
            .filter_map(char::from_u32)
            .filter(|c| c.is_whitespace())
            .collect();
        assert_eq!(listed, all);
        assert_eq!(
            not_blank_pattern(),
            "[^\\u0009-\\u000d\\u0020\\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028-\\u2029\\u202f\\u205f\\u3000]"
        );
    }

    #[test]
    fn text_counts_characters_and_refuses_blanks() {
        assert!(Text::<3>::new("ééé".to_owned()).is_some());
        assert!(Text::<3>::new("éééé".to_owned()).is_none());
        assert!(Text::<3>::new(String::new()).is_none());
        assert!(Text::<3>::new(" \u{3000}\t".to_owned()).is_none());
        assert_eq!(Text::<5>::new(" a ".to_owned()).unwrap().trimmed(), "a");
    }

    #[test]
    fn the_project_pattern_is_the_domains_rule() {
        let ok = |s: &str| {
            serde_json::from_value::<ProjectName>(serde_json::Value::String(s.to_owned())).is_ok()
        };
        for (s, valid) in [
            ("", true),
            ("web", true),
            ("a-b_c9", true),
            ("-web", false),
            ("Web", false),
            ("a b", false),
            (&"a".repeat(64), true),
            (&"a".repeat(65), false),
        ] {
            assert_eq!(ok(s), valid, "{s:?}");
        }
    }
}
