//! One part of a `renormalise` batch as SQLite's batch read sends it, cut into its items.

use crate::StoreError;
use crate::page::StoredChild;

/// The items of one part of a batch read, in key order: `fields` is a JSON array of
/// `[fields, data length in bytes]` and `data` the items' data concatenated in that order.
pub(super) fn items(fields: &str, data: &str) -> Result<Vec<StoredChild>, StoreError> {
    let corrupt =
        |what: &str| StoreError::Corrupt(format!("a part of a stored-items batch: {what}"));
    let read: Vec<(StoredChild, usize)> =
        serde_json::from_str(fields).map_err(|e| corrupt(&e.to_string()))?;
    let mut rest = data;
    let mut items = Vec::with_capacity(read.len());
    for (mut item, bytes) in read {
        let (own, after) = (rest.get(..bytes), rest.get(bytes..));
        let (Some(own), Some(after)) = (own, after) else {
            return Err(corrupt(&format!(
                "the data of {} is not where its length says",
                item.item_id
            )));
        };
        own.clone_into(&mut item.data);
        rest = after;
        items.push(item);
    }
    if !rest.is_empty() {
        return Err(corrupt("more data than its items' lengths"));
    }
    // SQL does not promise an aggregate's order without a sort of its own (both aggregates
    // step through the same rows, so they agree with each other); the rows come in key
    // order, and sorting rows already in order is one pass.
    items.sort_by(|a, b| (a.feed_id, &a.item_id).cmp(&(b.feed_id, &b.item_id)));
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(item_id: &str, data: &str) -> String {
        fields_of_length(item_id, data.len())
    }

    fn fields_of_length(item_id: &str, bytes: usize) -> String {
        format!(
            r#"[[7,"https://feed.example/","{item_id}","ScheduledSession",1,"child",null,"s","ok",null,1,2,3],{}]"#,
            bytes
        )
    }

    #[test]
    fn a_part_is_cut_into_its_items_data_by_their_lengths_in_key_order() {
        // Out of key order, with data holding quotes, escapes and characters of 2-4 bytes.
        let data = [r#"{"name":"b \"é\" \u00e9"}"#, r#"{"name":"a 🏃"}"#, "{}"];
        let part = format!(
            "[{},{},{}]",
            fields("b", data[0]),
            fields("a", data[1]),
            fields("c", data[2])
        );
        let read_items = items(&part, &data.concat()).expect("a part");
        let read: Vec<(&str, &str)> = read_items
            .iter()
            .map(|i| (i.item_id.as_str(), i.data.as_str()))
            .collect();
        assert_eq!(read, [("a", data[1]), ("b", data[0]), ("c", data[2])]);
        assert_eq!(read_items[0].digest_ids, Some(3));
        assert_eq!(items("[]", "").expect("empty").len(), 0);
    }

    #[test]
    fn data_that_does_not_fit_its_lengths_is_an_error_naming_the_item() {
        let part = format!("[{},{}]", fields("a", "{}"), fields("b", r#"{"n":"é"}"#));
        // b's length ends inside the é.
        let cut = format!("[{},{}]", fields("a", "{}"), fields_of_length("b", 7));
        let cases = [
            (&part, r#"{}{"n":""#, "b"),              // Too short.
            (&part, r#"{}{"n":"é"}{}"#, "more data"), // Too long.
            (&cut, r#"{}{"n":"é"}"#, "b"),
        ];
        for (part, data, named) in cases {
            let error = items(part, data).expect_err(data).to_string();
            assert!(error.contains(named), "{data}: {error}");
        }
    }
}
