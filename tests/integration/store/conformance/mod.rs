//! One conformance suite for the `EventStore` contract, run against both backends:
//! `store::conformance::sled::*` and `store::conformance::postgres::*` are the same
//! tests. The PostgreSQL half needs `SWARMDESK_TEST_POSTGRES` (see `harness`), and
//! there each test also writes through a second node on the same database where
//! the contract is about concurrency or live events.

pub mod harness;
mod log;
mod writes;

/// Declares each contract test once per backend.
macro_rules! conformance {
    ($($module:ident :: $name:ident),* $(,)?) => {
        mod sled {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let f = super::harness::Fresh::open(super::harness::Backend::Sled).await;
                    super::$module::$name(f.expect("sled is always there")).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    // None: skipped, and said so (or a failure under CI=true).
                    if let Some(f) =
                        super::harness::Fresh::open(super::harness::Backend::Postgres).await
                    {
                        super::$module::$name(f).await;
                    }
                }
            )*
        }
    };
}

conformance!(
    writes::appends_read_back_as_written,
    writes::expected_versions_are_enforced_and_refusals_write_nothing,
    writes::idempotency_keys_return_the_first_result,
    writes::racing_writers_have_exactly_one_winner_per_version,
    log::positions_are_gapless_under_concurrent_writers,
    log::catch_up_subscriptions_see_every_event_once_in_order,
    log::snapshots_are_saved_overwritten_and_kept,
    log::appends_are_durable_across_a_reopen,
    log::records_carry_one_hash_chain_in_the_shared_format,
    log::imports_continue_the_log_verbatim_or_not_at_all,
    log::a_long_replay_visits_every_event_once_in_order_and_stops_when_told,
    log::releasing_the_read_state_keeps_the_log_its_readers_and_writers,
);
