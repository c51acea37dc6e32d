//! NHS numbers: ten digits, the last a Modulus 11 check digit.

use std::fmt;

use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum NhsNumberError {
    #[error("NHS number '{0}' must be exactly ten digits")]
    NotTenDigits(String),
    #[error("NHS number '{0}' fails the Modulus 11 check digit")]
    BadCheckDigit(String),
}

/// A ten-digit NHS number whose check digit is valid.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NhsNumber(String);

impl NhsNumber {
    /// Parses and checks an NHS number.
    pub fn parse(value: &str) -> Result<Self, NhsNumberError> {
        let digits: Vec<u32> = value.chars().filter_map(|c| c.to_digit(10)).collect();
        if digits.len() != 10 || value.len() != 10 {
            return Err(NhsNumberError::NotTenDigits(value.to_owned()));
        }
        match check_digit(&digits[..9]) {
            Some(d) if d == digits[9] => Ok(Self(value.to_owned())),
            _ => Err(NhsNumberError::BadCheckDigit(value.to_owned())),
        }
    }

    /// Completes a nine-digit stem with its check digit, or `None` when the stem has no valid check digit
    /// (Modulus 11 gives 10).
    pub fn from_stem(stem: u64) -> Option<Self> {
        if stem > 999_999_999 {
            return None;
        }
        let text = format!("{stem:09}");
        let digits: Vec<u32> = text.chars().filter_map(|c| c.to_digit(10)).collect();
        check_digit(&digits).map(|d| Self(format!("{text}{d}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for NhsNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Modulus 11 check digit of nine digits; `None` when the remainder gives 10 (no valid number).
fn check_digit(digits: &[u32]) -> Option<u32> {
    let sum: u32 = digits.iter().zip((2..=10).rev()).map(|(d, w)| d * w).sum();
    match 11 - (sum % 11) {
        11 => Some(0),
        10 => None,
        d => Some(d),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_known_valid_numbers() {
        for n in ["9000000009", "9995000180", "9111231130", "9000000033"] {
            assert!(NhsNumber::parse(n).is_ok(), "{n}");
        }
    }

    #[test]
    fn rejects_bad_check_digit_and_shape() {
        assert_eq!(NhsNumber::parse("9000000008"), Err(NhsNumberError::BadCheckDigit("9000000008".into())));
        assert!(matches!(NhsNumber::parse("900000000"), Err(NhsNumberError::NotTenDigits(_))));
        assert!(matches!(NhsNumber::parse("90000000x9"), Err(NhsNumberError::NotTenDigits(_))));
    }

    #[test]
    fn stems_complete_to_valid_numbers_or_none() {
        assert_eq!(NhsNumber::from_stem(900000000).map(|n| n.0), Some("9000000009".into()));
        let mut produced = 0;
        for stem in 999_000_000..999_000_100 {
            if let Some(n) = NhsNumber::from_stem(stem) {
                assert!(NhsNumber::parse(n.as_str()).is_ok());
                produced += 1;
            }
        }
        assert!(produced > 80 && produced < 100, "about 1 in 11 stems has no check digit: {produced}");
    }
}
