//! What Nova's admin listings show of the simulated world, as `os-hypervisors/detail` gives
//! them on a real cloud (the simulator's credentials are an admin's).

use super::world::World;
use crate::snapshot::{Host, Hosts};

/// The hypervisor listing: every host with its state and allocation.
pub fn hypervisors(world: &World) -> Hosts {
    let vms = world.vms();
    let hosts = world
        .hosts()
        .iter()
        .enumerate()
        .map(|(i, h)| Host {
            name: h.name.clone(),
            node: h.name.clone(),
            up: !h.down,
            enabled: true,
            running_vms: Some(vms.iter().filter(|v| v.host == i).count() as u32),
            vcpus_used: Some(h.used_vcpus),
            vcpus: Some(h.vcpus),
            memory_used_mb: Some((h.used_ram_gib * 1024.0) as u64),
            memory_mb: Some((h.ram_gib * 1024.0) as u64),
        })
        .collect();
    Hosts::Listed { hosts }
}
