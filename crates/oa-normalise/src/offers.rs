//! What an opportunity costs: its offers' prices as published (numbers, numeric strings,
//! and in early feeds text such as "£7-10"), read once here for the price, the tags and the
//! data-quality problems alike.

use oa_model::Price;
use serde_json::Value;

use crate::jsonld::{boolean, list, text};

/// What an offer's `price` says. OpenActive wants a number; feeds also send numeric strings
/// ("7.60") and, in early feeds, text ("£7-10", "£25+").
#[derive(Debug, Clone, PartialEq)]
pub enum PriceReading {
    Absent,
    /// A number, or a string holding only one.
    Number(f64),
    /// Text read as a range: `high` is `None` for an open-ended "£25+". `currency` is the
    /// one its symbol names.
    Text {
        low: f64,
        high: Option<f64>,
        currency: Option<&'static str>,
    },
    /// Text that is not a price (or a negative one), as published.
    Unreadable(String),
}

impl PriceReading {
    /// (lowest, highest) someone may pay; the highest is unknown for open-ended text.
    pub fn bounds(&self) -> Option<(f64, Option<f64>)> {
        match *self {
            PriceReading::Number(n) => Some((n, Some(n))),
            PriceReading::Text { low, high, .. } => Some((low, high)),
            PriceReading::Absent | PriceReading::Unreadable(_) => None,
        }
    }
}

/// Reads one offer's `price`.
pub fn read_price(value: Option<&Value>) -> PriceReading {
    let text = match value {
        None | Some(Value::Null) => return PriceReading::Absent,
        Some(Value::Number(n)) => {
            return match n.as_f64().filter(|n| n.is_finite() && *n >= 0.0) {
                Some(n) => PriceReading::Number(n),
                None => PriceReading::Unreadable(n.to_string()),
            };
        }
        Some(Value::String(s)) => s.trim(),
        Some(other) => return PriceReading::Unreadable(other.to_string()),
    };
    if text.is_empty() {
        return PriceReading::Absent;
    }
    if let Ok(n) = text.parse::<f64>()
        && n.is_finite()
        && n >= 0.0
    {
        return PriceReading::Number(n);
    }
    price_text(text).unwrap_or_else(|| PriceReading::Unreadable(text.to_owned()))
}

/// "£7-10", "£7 - £10", "£5 to £7", "£25+", "£3.50", "free": a symbol, an amount, then a
/// second amount after a dash or "to", or a "+" meaning "or more".
fn price_text(text: &str) -> Option<PriceReading> {
    let lower = text.to_lowercase();
    if lower == "free" {
        return Some(PriceReading::Text {
            low: 0.0,
            high: Some(0.0),
            currency: None,
        });
    }
    let mut currency = None;
    let mut amount = |part: &str| -> Option<f64> {
        let part = part.trim();
        let digits = match part.chars().next()? {
            '£' => {
                currency = Some("GBP");
                &part['£'.len_utf8()..]
            }
            '€' => {
                currency = Some("EUR");
                &part['€'.len_utf8()..]
            }
            '$' => {
                currency = Some("USD");
                &part[1..]
            }
            _ => part,
        };
        digits
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|n| n.is_finite() && *n >= 0.0)
    };
    let (low, high) = if let Some(from) = lower.strip_suffix('+') {
        (amount(from)?, None)
    } else if let Some((from, to)) = lower
        .split_once(['-', '–'])
        .or_else(|| lower.split_once(" to "))
    {
        (amount(from)?, Some(amount(to)?))
    } else {
        let single = amount(&lower)?;
        (single, Some(single))
    };
    if high.is_some_and(|high| high < low) {
        return None;
    }
    Some(PriceReading::Text {
        low,
        high,
        currency,
    })
}

/// The offers of an item, whether published as `offers` (a list or one object) or `offer`.
pub fn offers(data: &Value) -> Vec<&Value> {
    list(data.get("offers").or_else(|| data.get("offer")))
}

pub fn price(data: &Value) -> Price {
    let offers = offers(data);
    let readings: Vec<PriceReading> = offers.iter().map(|o| read_price(o.get("price"))).collect();
    let bounds: Vec<(f64, Option<f64>)> =
        readings.iter().filter_map(PriceReading::bounds).collect();
    // One open-ended offer ("£25+") leaves the highest price unknown.
    let max = if bounds.iter().any(|(_, high)| high.is_none()) {
        None
    } else {
        bounds.iter().filter_map(|(_, high)| *high).reduce(f64::max)
    };
    let currency = offers
        .iter()
        .find_map(|offer| text(offer.get("priceCurrency")))
        .or_else(|| {
            readings.iter().find_map(|r| match r {
                PriceReading::Text { currency, .. } => currency.map(str::to_owned),
                _ => None,
            })
        });
    Price {
        min: bounds.iter().map(|(low, _)| *low).reduce(f64::min),
        max,
        currency,
        accessible_for_free: boolean(data.get("isAccessibleForFree")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn prices_from_offers_in_any_shape() {
        let p =
            price(&json!({"offers": [{"price": "5.00", "priceCurrency": "GBP"}, {"price": 2.5}]}));
        assert_eq!(
            (p.min, p.max, p.currency.as_deref()),
            (Some(2.5), Some(5.0), Some("GBP"))
        );
        let single = price(&json!({"offer": {"price": 0}}));
        assert_eq!(single.min, Some(0.0));
        assert_eq!(price(&json!({})).min, None);
    }

    #[test]
    fn prices_published_as_text() {
        let read = |text: &str| read_price(Some(&json!(text)));
        let gbp = |low, high| PriceReading::Text {
            low,
            high,
            currency: Some("GBP"),
        };
        assert_eq!(read("£7-10"), gbp(7.0, Some(10.0)));
        assert_eq!(read("£7 – £10"), gbp(7.0, Some(10.0)));
        assert_eq!(read("£5 to £7.50"), gbp(5.0, Some(7.5)));
        assert_eq!(read("£25+"), gbp(25.0, None));
        assert_eq!(read("£3.50"), gbp(3.5, Some(3.5)));
        assert_eq!(read("5.00"), PriceReading::Number(5.0));
        assert_eq!(read("£10-7"), PriceReading::Unreadable("£10-7".into()));
        assert_eq!(read("ask"), PriceReading::Unreadable("ask".into()));
        assert_eq!(
            read_price(Some(&json!(-1))),
            PriceReading::Unreadable("-1".into())
        );
        let open = price(&json!({"offers": [{"price": "£25+"}, {"price": 30}]}));
        assert_eq!(
            (open.min, open.max, open.currency.as_deref()),
            (Some(25.0), None, Some("GBP"))
        );
    }
}
