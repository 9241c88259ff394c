//! Enumerations stored as small integers. A value's code is its position in
//! [`Coded::ALL`]: the order is part of the database format, so new values
//! are appended and existing ones never move.

pub trait Coded: Copy + PartialEq + Sized + 'static {
    const ALL: &'static [Self];

    /// The name used in the API and in exports.
    fn name(self) -> &'static str;

    fn code(self) -> i64 {
        Self::ALL.iter().position(|v| *v == self).unwrap_or(0) as i64
    }

    fn from_code(code: i64) -> Option<Self> {
        usize::try_from(code)
            .ok()
            .and_then(|i| Self::ALL.get(i))
            .copied()
    }

    fn from_name(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|v| v.name() == name)
    }
}
