//! `schema.graphql` never drifts from the code.

#[test]
fn schema_graphql_matches_the_code() {
    let committed = include_str!("../../../schema.graphql");
    let current = swarmdesk::api::sdl();
    assert!(
        committed == current,
        "schema.graphql is stale: regenerate it with `cargo run -- schema > schema.graphql`"
    );
}
