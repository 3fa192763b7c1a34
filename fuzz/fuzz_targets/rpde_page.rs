//! Fuzzes the RPDE page parser (`oa_model::parse_page`) and, for each valid item of a parsed
//! page, the store's preparation of it (`oa_normalise::prepare`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(page) = oa_model::parse_page(data) else {
        return;
    };
    for item in page.valid_items() {
        let prepared = oa_normalise::prepare(item);
        assert_eq!(prepared.id, item.id);
    }
    for item in &page.items {
        if let Err(error) = item {
            let _ = error.to_string();
        }
    }
    let next = page.next.clone();
    assert_eq!(page.is_last_page(&next), page.items.is_empty());
    let _ = page.is_last_page("https://publisher.example/feed?afterChangeNumber=1");
});
