//! The finder and coverage pages in a real browser (Debian's headless Chromium): the finder
//! loads, a search for a demo venue's postcode (the GET the form submits) lists that venue's
//! sessions, the coverage page draws its map, and screenshots of both are saved under the
//! test's output folder. Needs `chromium`; `.ci/run`
//! installs it and runs this with `--ignored`:
//!
//!     cargo test --test finder_browser -- --ignored

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_oa-aggregator");

fn chromium(args: &[&str]) -> String {
    let output = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
        ])
        .args(args)
        .output()
        .expect("chromium runs (install Debian's `chromium` package)");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
#[ignore = "needs Chromium; .ci/run installs it and runs this test"]
fn the_finder_works_in_a_browser() {
    let dir = tempfile::tempdir().expect("dir");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let mut server = Command::new(BIN)
        .args(["serve", "--demo"])
        .env("OA__SERVER__LISTEN", format!("127.0.0.1:{port}"))
        .env(
            "OA__DEMO__DATABASE_URL",
            format!("sqlite://{}", dir.path().join("demo.db").display()),
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("serve --demo");
    let seed: serde_json::Value =
        serde_json::from_str(include_str!("../fixtures/demo/seed.json")).expect("seed");
    let publisher = &seed["publishers"][0];
    let venue = &publisher["venues"][0];
    let postcode = venue["postcode"].as_str().expect("postcode");
    let expected: Vec<&str> = publisher["series"]
        .as_array()
        .expect("series")
        .iter()
        .filter(|s| s["venue"] == venue["key"])
        .filter_map(|s| s["name"].as_str())
        .collect();
    let base = format!("http://127.0.0.1:{port}");
    let search = format!(
        "{base}/?postcode={}&radius_miles=1",
        postcode.replace(' ', "+")
    );

    // The demo harvests in the background; wait until the venue's sessions are in.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut dom = String::new();
    while Instant::now() < deadline {
        dom = chromium(&["--dump-dom", &search]);
        if expected
            .iter()
            .all(|name| dom.contains(&format!("<h3>{name}</h3>")))
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    let landing = chromium(&["--dump-dom", &base]);
    let coverage = chromium(&["--dump-dom", &format!("{base}/coverage")]);
    let map_shot: PathBuf = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("coverage.png");
    let _ = std::fs::remove_file(&map_shot);
    chromium(&[
        "--window-size=900,2600",
        &format!("--screenshot={}", map_shot.display()),
        &format!("{base}/coverage"),
    ]);
    let shot: PathBuf = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("finder-phone.png");
    let _ = std::fs::remove_file(&shot);
    chromium(&[
        "--window-size=412,1800",
        &format!("--screenshot={}", shot.display()),
        &search,
    ]);
    let _ = server.kill();
    let _ = server.wait();

    assert!(
        expected
            .iter()
            .all(|name| dom.contains(&format!("<h3>{name}</h3>"))),
        "the venue's sessions {expected:?} are listed: {dom}"
    );
    assert!(dom.contains("sessions found") && dom.contains("miles away"));
    assert!(landing.contains("Find an activity near you") && landing.contains("name=\"postcode\""));
    assert!(
        coverage.contains("Distance to the nearest suitable session")
            && coverage.contains("<path ")
    );
    let map_size = std::fs::metadata(&map_shot).map(|m| m.len()).unwrap_or(0);
    assert!(
        map_size > 10_000,
        "the coverage page was captured at {}",
        map_shot.display()
    );
    let size = std::fs::metadata(&shot).map(|m| m.len()).unwrap_or(0);
    assert!(
        size > 10_000,
        "a screenshot was saved at {}",
        shot.display()
    );
}
