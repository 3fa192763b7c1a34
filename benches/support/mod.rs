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

/// Clock ticks a second, the unit of /proc's CPU times.
fn ticks() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// A process's command name and the CPU fields of its /proc stat, in ticks: utime, stime,
/// and its exited children's cutime, cstime (the 14th to 17th fields).
fn stat_cpu(pid: &str) -> Option<(String, [f64; 4])> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (head, rest) = stat.rsplit_once(") ")?;
    let name = head.split_once(" (")?.1.to_owned();
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |n: usize| fields.get(n).and_then(|f| f.parse::<f64>().ok());
    Some((name, [field(11)?, field(12)?, field(13)?, field(14)?]))
}

/// CPU seconds used so far by every `postgres` process of this machine, with the backends
/// that have exited (counted into their parent's children times): read before and after a
/// harvest into a local server, the server's share of the work.
pub fn local_postgres_cpu() -> f64 {
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return 0.0;
    };
    procs
        .flatten()
        .filter_map(|entry| stat_cpu(&entry.file_name().to_string_lossy()))
        .filter(|(name, _)| name == "postgres")
        .map(|(_, cpu)| cpu.iter().sum::<f64>())
        .sum::<f64>()
        / ticks()
}

/// (utime + stime in seconds, VmHWM in MB) of a live process, from /proc. CPU seconds tell
/// builds apart better than wall time on a machine whose shared vCPUs slow it by hours.
pub fn cpu_and_peak(pid: u32) -> Option<(f64, f64)> {
    let (_, [utime, stime, _, _]) = stat_cpu(&pid.to_string())?;
    let cpu = (utime + stime) / ticks();
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
