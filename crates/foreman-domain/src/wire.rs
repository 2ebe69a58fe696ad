//! `wire_enum!`: a closed set of values with one wire and storage string each — the enum with
//! `ALL`, `as_str`, `expected`, `Display`, `FromStr` (an unknown string is refused naming the
//! kind and the values expected) and snake_case serde, and optionally a `Default`. One
//! definition for the notification, subscription and validation-rule vocabularies.

/// Declares a wire enum: `Name, "kind" [, default Variant] { Variant = "string", ... }`.
macro_rules! wire_enum {
    ($(#[$doc:meta])* $name:ident, $kind:literal $(, default $def:ident)? { $( $(#[$vdoc:meta])* $variant:ident = $s:literal ),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord,
            ::serde::Serialize, ::serde::Deserialize,
        )]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $( $(#[$vdoc])* $variant, )+
        }

        impl $name {
            /// Every value.
            pub const ALL: &'static [Self] = &[ $( Self::$variant, )+ ];

            /// The wire and storage string.
            #[must_use]
            pub const fn as_str(self) -> &'static str {
                match self { $( Self::$variant => $s, )+ }
            }

            /// Every wire string, comma-separated (for error messages).
            #[must_use]
            pub fn expected() -> String {
                Self::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", ")
            }
        }

        $(
            impl Default for $name {
                fn default() -> Self {
                    Self::$def
                }
            }
        )?

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $( $s => Ok(Self::$variant), )+
                    _ => Err(format!("unknown {} {s:?}; expected one of {}", $kind, Self::expected())),
                }
            }
        }
    };
}

pub(crate) use wire_enum;
