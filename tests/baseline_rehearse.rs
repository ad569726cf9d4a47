//! Every decider runs the election night end to end through the decider seam, and sloop behind
//! the seam decides exactly what the reconcile loop decides.

use sloop::{
    policy,
    sim::{
        self,
        decider::{DeciderKind, SloopDecider},
        rehearse::{rehearse, rehearse_with},
    },
};
use std::path::Path;

fn policy() -> sloop::policy::Policy {
    policy::load_file(Path::new("policies/election-web.yaml"))
        .expect("policy")
        .policy
}

#[test]
fn every_decider_runs_the_election_night() {
    let policy = policy();
    let scenario = sim::load_scenario(Path::new("policies/scenarios/election-night.yaml")).expect("scenario");
    for kind in DeciderKind::ALL {
        if kind == DeciderKind::Sloop {
            continue; // rehearse_scenarios covers sloop on this scenario
        }
        let mut decider = kind.build(&policy, &scenario);
        let r = rehearse_with(&policy, &scenario, scenario.seed, decider.as_mut(), &mut |_| {}).report;
        assert_eq!(r.decider, kind.label());
        assert!(r.ticks > 1000, "{kind}: {} ticks", r.ticks);
        assert!(r.vm_hours > 0.0, "{kind}");
        // Every peer scales out for a fifteen-fold surge, except Senlin's health policy,
        // which has no scaling of its own.
        let scale_outs = r.actions.get("scale-out").copied().unwrap_or(0);
        if kind == DeciderKind::SenlinHealth {
            assert_eq!(scale_outs, 0, "{kind}");
        } else {
            assert!(scale_outs > 0, "{kind} never scaled out");
            assert!(r.peak_instances > 4, "{kind}: peak {}", r.peak_instances);
        }
    }
}

#[test]
fn sloop_behind_the_seam_decides_what_the_reconcile_loop_decides() {
    let policy = policy();
    let scenario = sim::load_scenario(Path::new("policies/scenarios/instance-crash.yaml")).expect("scenario");
    let direct = rehearse(&policy, &scenario, scenario.seed, None, &mut |_| {}).report;
    let mut seam = SloopDecider::new(&policy);
    let via = rehearse_with(&policy, &scenario, scenario.seed, &mut seam, &mut |_| {}).report;
    assert_eq!(direct, via);
}

#[test]
fn decider_names_parse_and_unknown_ones_are_refused() {
    for kind in DeciderKind::ALL {
        assert_eq!(kind.label().parse::<DeciderKind>(), Ok(kind));
    }
    let err = "heat".parse::<DeciderKind>().unwrap_err();
    assert!(err.contains("heat-aodh"), "{err}");
}
