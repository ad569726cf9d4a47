//! How fast the world steps: a day at 1 s resolution with 50 VMs and 4 locations. Prints the
//! figure (run with `cargo test --release --test decisions sim_speed:: -- --nocapture`); asserts nothing
//! about time, because test machines vary. Debug builds step one hour and extrapolate.

use sloop::{
    clock::Stopwatch,
    policy,
    sim::{SimCloud, World, scenario::load_scenario},
};
use std::path::PathBuf;

#[test]
fn a_day_with_fifty_vms_steps_quickly() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let policy = policy::load_file(&root.join("policies/election-web.yaml"))
        .unwrap()
        .policy;
    let mut scenario = load_scenario(&root.join("policies/scenarios/steady-day.yaml")).unwrap();
    scenario.world.initial_instances = 50;
    // Fifty instances at about half load, so the queues do real work.
    scenario.load.base = sloop::sim::scenario::BaseLoad::Constant(2500.0);
    let steps = if cfg!(debug_assertions) { 3_600 } else { 86_400 };

    let mut world = World::new(&scenario, &policy, 1);
    let watch = Stopwatch::start();
    for _ in 0..steps {
        world.step(1.0);
    }
    let world_secs = watch.elapsed().as_secs_f64();
    assert_eq!(world.vms().len(), 50);

    let mut cloud = SimCloud::new(&scenario, &policy, 1);
    let watch = Stopwatch::start();
    cloud.advance_to(cloud.world().start() + steps as f64);
    let cloud_secs = watch.elapsed().as_secs_f64();
    let per_day = |s: f64| s * 86_400.0 / steps as f64;
    println!(
        "{steps} steps, 50 VMs, 4 locations: world {world_secs:.3} s ({:.2} s/day, {:.0} ns/VM-step); \
         with probes + telemetry {cloud_secs:.3} s ({:.2} s/day){}",
        per_day(world_secs),
        world_secs * 1e9 / (steps as f64 * 50.0),
        per_day(cloud_secs),
        if cfg!(debug_assertions) {
            " [debug build, extrapolated]"
        } else {
            ""
        },
    );
    assert_eq!(world.truth().minutes.len(), steps / 60);
}
