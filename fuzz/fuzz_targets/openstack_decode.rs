//! Any bytes as an OpenStack API answer: the generic decoder (status + body → JSON or a
//! classified error, as for every Keystone, Nova, Octavia and Gnocchi call), then the typed
//! decoders of Nova servers, Octavia members, Nova hypervisors, Gnocchi aggregates and
//! Prometheus answers, the inventory mapping built on them, `Retry-After`, and a clouds.yaml
//! (Keystone auth) entry. Each returns `Ok` or an error, never a panic, a hang or unbounded
//! memory. (Keystone's token answers themselves are decoded inside osauth, not by sloop.)
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use sloop::cloud::openstack::{
    config, errors, gnocchi, hypervisors, inventory, nova, octavia, prometheus, session,
};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    // The first byte picks a status from 200 to 710, so both the success and error paths run.
    let status = data.first().map_or(200, |b| 200 + u16::from(*b) * 2);
    let _ = session::decode(status, None, &text, "compute", "GET servers/detail");
    let _ = errors::parse_retry_after(Some(&text));
    let _ = prometheus::parse(&text);
    let _ = config::parse(&text, "fuzz", "fuzz.yaml");
    let Ok(v) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let members = octavia::parse_members(v.clone()).unwrap_or_default();
    let mut servers = nova::parse_servers(v.clone()).unwrap_or_default();
    servers.extend(nova::parse_server(v.clone()));
    for s in &servers {
        let _ = inventory::status_of(s);
        let _ = inventory::in_flight_of(s);
        let i = inventory::instance_of(s, &members, Some(8080));
        let _ = i.member;
    }
    for h in hypervisors::parse_page(v.clone()).unwrap_or_default() {
        let _ = h.host().vcpu_load();
    }
    let _ = gnocchi::latest_by_group(&v, "id");
    let _ = gnocchi::latest(&v);
});
