//! The binary sets its allocator's options as it loads, before anything allocates
//! (`src/allocator.rs`, `src/main.rs`), and an operator's `MIMALLOC_*` variables still win.

use std::process::Command;

use oa_aggregator::allocator::PURGE_DELAY_MS;

/// What mimalloc reports of its options when the binary starts. `MIMALLOC_VERBOSE=1` prints
/// them at mimalloc's own initialisation, before its first arena is reserved: a value seen
/// there is the one the arena was made with.
fn options_at_start(environment: &[(&str, &str)]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_oa-aggregator"))
        .arg("--version")
        .env("MIMALLOC_VERBOSE", "1")
        .env_remove("MIMALLOC_ARENA_EAGER_COMMIT")
        .env_remove("MIMALLOC_PURGE_DELAY")
        .envs(environment.iter().copied())
        .output()
        .expect("run the binary");
    assert!(output.status.success(), "{output:?}");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn the_binary_commits_arena_memory_on_demand_and_gives_freed_memory_back_soon() {
    let reported = options_at_start(&[]);
    assert!(
        reported.contains("option 'arena_eager_commit': 0 "),
        "{reported}"
    );
    assert!(
        reported.contains(&format!("option 'purge_delay': {PURGE_DELAY_MS} ")),
        "{reported}"
    );
}

#[test]
fn an_operators_mimalloc_variables_override_the_binarys_settings() {
    let reported = options_at_start(&[
        ("MIMALLOC_PURGE_DELAY", "7"),
        ("MIMALLOC_ARENA_EAGER_COMMIT", "1"),
    ]);
    assert!(reported.contains("option 'purge_delay': 7 "), "{reported}");
    assert!(
        reported.contains("option 'arena_eager_commit': 1 "),
        "{reported}"
    );
}
