//! What the benches share: a fresh PostgreSQL schema that a child process can be pointed
//! at, a SQLite database removed whole, and a process's CPU time and peak memory.

// Each bench is its own crate and uses a part of this.
#![allow(dead_code)]

use oa_store::PgStore;

/// Drops `schema` and creates it anew with the store's tables; the store, and the URL that
/// makes another process use that schema (`search_path` as a connection option).
pub async fn fresh_pg_schema(url: &str, schema: &str) -> (PgStore, String) {
    let admin = PgStore::connect(url).await.expect("postgres");
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "drop schema if exists {schema} cascade"
    )))
    .execute(admin.pool())
    .await
    .expect("drop schema");
    let store = PgStore::connect_in_schema(url, schema)
        .await
        .expect("schema");
    (store, in_schema(url, schema))
}

/// `url` with every connection's `search_path` set to `schema`.
pub fn in_schema(url: &str, schema: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}options=-c%20search_path%3D{schema}")
}

/// Removes a SQLite database with its WAL and shared-memory files.
pub fn remove_sqlite(file: &std::path::Path) {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
    }
}

/// (utime + stime in seconds, VmHWM in MB) of a live process, from /proc. CPU seconds tell
/// builds apart better than wall time on a machine whose shared vCPUs slow it by hours.
pub fn cpu_and_peak(pid: u32) -> Option<(f64, f64)> {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    let ticks = *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            .unwrap_or(100.0)
    });
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised command name; utime and stime are the 14th and 15th.
    let rest = stat.rsplit_once(") ")?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let cpu = (fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?) / ticks;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let peak_kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some((cpu, peak_kb / 1024.0))
}
