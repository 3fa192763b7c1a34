//! Opaque keyset cursors: where the previous page ended, base64url-encoded so clients pass
//! it back untouched. Distances keep their exact bits, so no result is skipped or repeated.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use oa_store::search::SearchCursor;

pub fn encode(cursor: &SearchCursor) -> String {
    let plain = match cursor {
        SearchCursor::Start { start_at, id } => format!("s1:{start_at}:{id}"),
        SearchCursor::Distance { distance_km, id } => {
            format!("d1:{:016x}:{id}", distance_km.to_bits())
        }
    };
    URL_SAFE_NO_PAD.encode(plain)
}

/// The cursor, or what is wrong with it.
pub fn decode(text: &str) -> Result<SearchCursor, &'static str> {
    let malformed = || "malformed; pass back the `next_cursor` of a previous response unchanged";
    let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| malformed())?;
    let plain = String::from_utf8(bytes).map_err(|_| malformed())?;
    let mut parts = plain.splitn(3, ':');
    let (Some(kind), Some(position), Some(id)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(malformed());
    };
    if id.is_empty() {
        return Err(malformed());
    }
    match kind {
        "s1" => Ok(SearchCursor::Start {
            start_at: position.parse().map_err(|_| malformed())?,
            id: id.to_owned(),
        }),
        "d1" => {
            let bits = u64::from_str_radix(position, 16).map_err(|_| malformed())?;
            let distance_km = f64::from_bits(bits);
            if !distance_km.is_finite() || distance_km < 0.0 {
                return Err(malformed());
            }
            Ok(SearchCursor::Distance {
                distance_km,
                id: id.to_owned(),
            })
        }
        _ => Err(malformed()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_exactly() {
        for cursor in [
            SearchCursor::Start {
                start_at: 1_782_946_800,
                id: "0a1b:c".into(),
            },
            SearchCursor::Distance {
                distance_km: 0.1 + 0.2,
                id: "ff00".into(),
            },
        ] {
            assert_eq!(decode(&encode(&cursor)).expect("decodes"), cursor);
        }
    }

    #[test]
    fn tampered_cursors_are_refused() {
        for bad in ["", "!!!", "czE6eDphYmM", "eDE6MTphYmM", "czE6MTo"] {
            let error = decode(bad).expect_err(bad);
            assert!(error.starts_with("malformed"), "{bad}: {error}");
        }
    }
}
