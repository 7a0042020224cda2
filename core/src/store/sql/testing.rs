//! Test support: a PostgreSQL schema of its own per test, so tests run in
//! parallel against one server. Used by this crate's tests and, with the
//! `testing` feature, by the end-to-end tests.

use std::time::Duration;

/// The server tests use: `OMNI_TEST_POSTGRES_URL`, by default the local
/// development server's `test` database.
pub fn postgres_url() -> String {
    std::env::var("OMNI_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// Whether a missing service must fail the test (`OMNI_REQUIRE_SERVICES=1`,
/// as CI sets) instead of skipping it.
pub fn services_required() -> bool {
    std::env::var("OMNI_REQUIRE_SERVICES").is_ok_and(|v| v == "1")
}

/// A fresh schema, dropped with everything in it when this is dropped.
pub struct TestSchema {
    /// A database URL whose connections use the schema.
    pub url: String,
    admin_url: String,
    schema: String,
}

impl TestSchema {
    /// Creates a schema; `None` (with a note on stderr) when the server is
    /// unreachable and services are not required. Panics when they are.
    pub async fn create() -> Option<Self> {
        sqlx::any::install_default_drivers();
        let admin_url = postgres_url();
        let connect = <sqlx::AnyConnection as sqlx::Connection>::connect(&admin_url);
        let mut admin = match tokio::time::timeout(Duration::from_secs(5), connect).await {
            Ok(Ok(conn)) => conn,
            Ok(Err(e)) => return unavailable(&admin_url, &e.to_string()),
            Err(_) => return unavailable(&admin_url, "connection timed out"),
        };
        let schema = format!("omni_test_{}", uuid::Uuid::now_v7().simple());
        sqlx::query(&format!("CREATE SCHEMA {schema}"))
            .execute(&mut admin)
            .await
            .expect("create a test schema");
        let separator = if admin_url.contains('?') { '&' } else { '?' };
        Some(Self {
            url: format!("{admin_url}{separator}options=-c%20search_path%3D{schema}"),
            admin_url,
            schema,
        })
    }
}

fn unavailable<T>(url: &str, why: &str) -> Option<T> {
    if services_required() {
        panic!("PostgreSQL at {url} is required (OMNI_REQUIRE_SERVICES=1) but unreachable: {why}");
    }
    eprintln!("skipping a PostgreSQL test: {url} is unreachable ({why}); set OMNI_REQUIRE_SERVICES=1 to fail instead");
    None
}

impl Drop for TestSchema {
    fn drop(&mut self) {
        let (url, sql) = (
            self.admin_url.clone(),
            format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema),
        );
        // Drop may run inside or outside a runtime; use a small one of its own.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build();
            if let Ok(runtime) = runtime {
                runtime.block_on(async {
                    if let Ok(mut conn) = <sqlx::AnyConnection as sqlx::Connection>::connect(&url).await {
                        let _ = sqlx::query(&sql).execute(&mut conn).await;
                    }
                });
            }
        })
        .join();
    }
}
