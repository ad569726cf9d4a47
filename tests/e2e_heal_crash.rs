//! kill -9 of `sloop run --cloud` against the OpenStack lab while it **repairs**: reboots and
//! live migrations (issue 7, crash safety; tests/e2e_crash.rs covers spawn, grow and scale-in).
//!
//! In the lab nothing answers on a server's address, so the test plays two remote probe agents
//! (`fra`, `nyc`, fake_agents.rs) over the real ingest endpoint, with tokens from
//! `--agent-tokens`: it fetches each location's assignment and posts a result per assigned
//! series. The real healing ladder of `lab-heal.yaml` then runs on evidence the test controls:
//! - reboot phase: one victim fails from both locations until Nova has rebooted it twice (so
//!   the ladder goes drain → soft reboot → hard reboot; a replacement counts as repaired too);
//! - migrate phase: two servers on one hypervisor fail together while their peer elsewhere
//!   answers (the decision core's host-fault diagnosis) until they are on another host.
//!
//! The controller is killed with SIGKILL `SLOOP_CRASH_KILLS` times per phase (default 2), each
//! time at a random instant (seeded dice) of the first 3 s of a reboot or migration whose
//! journal intent just appeared (of an idle stretch once no repair is left), and restarted. After every kill and at the end:
//! no duplicate or orphan server, no dangling pool member (crash_world.rs), every interrupted
//! action resolved by the restarted controller (done or abandoned, journalled), no rung or
//! migration started twice for one server, no Nova reboot or live migration that no journal
//! intent accounts for (Nova's `os-instance-actions` against the journal), the hourly budget
//! never exceeded; at the end of each phase the victims are repaired (migrated ones on another
//! host), every server ACTIVE and idle, every member back at weight 1.
//!
//! A longer run: `SLOOP_CRASH_KILLS=6 SLOOP_CRASH_SEED=9 cargo test --features e2e --test
//! e2e e2e_heal_crash:: -- --nocapture`.
use crate::{agents, controller, lab, repairs, world};
use controller::{Controller, Dice, Staged, env_num};
use repairs::{Journalled, host, times};
use serde_json::Value;
use sloop::{clock::Stopwatch, decision::ActionKind};
use std::{collections::BTreeMap, time::Duration};
use world::{Expect, Tally};

const POLICY: &str = "lab-heal.yaml";
/// `limits.maxActionsPerHour` of lab-heal.yaml.
const BUDGET: usize = 60;
/// Each phase must converge within this long after the last restart.
const CONVERGE: Duration = Duration::from_secs(150);

/// A server the test makes fail, and when it counts as repaired.
struct Victim {
    id: String,
    /// Its hypervisor when it started failing.
    host: String,
    /// Repaired once Nova has rebooted it this often (reboot phase), or moved it (0: migrate).
    reboots: usize,
}

impl Victim {
    fn repaired(&self, server: Option<&Value>, actions: &[String]) -> bool {
        match server {
            None => true, // replaced: its successor is a new, healthy server
            Some(_) if self.reboots > 0 => times(actions, "reboot") >= self.reboots,
            Some(v) => s(v, "status") == "ACTIVE" && host(v) != self.host && !host(v).is_empty(),
        }
    }
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or("")
}

/// Everything the phases share.
struct Run {
    ctl: Controller,
    w: world::World,
    agents: agents::Agents,
    dice: Dice,
    tally: Tally,
    /// Nova's actions per server ever seen in the group (kept after a server is gone).
    nova: BTreeMap<String, Vec<String>>,
    interrupted: usize,
}

impl Run {
    /// Reads the group and Nova's actions; heals the victims that got their repair.
    async fn update(&mut self, victims: &[Victim]) -> Vec<Value> {
        let servers = self.w.servers().await;
        for v in &servers {
            let id = s(v, "id").to_owned();
            let actions = repairs::nova_actions(&mut self.w.api, &id).await;
            if !actions.is_empty() {
                self.nova.insert(id, actions);
            }
        }
        for victim in victims {
            let server = servers.iter().find(|v| s(v, "id") == victim.id);
            let actions = self.nova.get(&victim.id).cloned().unwrap_or_default();
            if self.agents.failing().contains(&victim.id) && victim.repaired(server, &actions) {
                self.agents.heal(&victim.id);
            }
        }
        servers
    }

    async fn check(&mut self, when: &str, victims: &[Victim]) {
        self.update(victims).await;
        self.w.check(when, &mut self.tally).await;
        let j = Journalled::read(&self.ctl.journal());
        self.tally
            .violations
            .extend(repairs::check(when, &j, &self.nova, BUDGET));
    }

    /// Sleeps `secs`, keeping the fault model current.
    async fn wait(&mut self, secs: f64, victims: &[Victim]) {
        let sw = Stopwatch::start();
        while sw.elapsed().as_secs_f64() < secs {
            self.update(victims).await;
            tokio::time::sleep(Duration::from_millis(400)).await;
        }
    }

    /// Until the group is 3 idle, serving servers and every victim is repaired.
    async fn converge(&mut self, name: &str, victims: &[Victim]) -> f64 {
        let sw = Stopwatch::start();
        loop {
            self.check(&format!("{name}: converging"), victims).await;
            let failing = self.agents.failing();
            // The restarted controller resolves every intent a kill left without outcome
            // against Nova (`sloop::resolve`): done or abandoned, in the journal.
            let open = Journalled::read(&self.ctl.journal()).open();
            let state = match self.w.converged(&Expect::size(3)).await {
                Ok(()) if failing.is_empty() && open.is_empty() => break,
                Ok(()) if failing.is_empty() => format!("interrupted actions not resolved: {open:?}"),
                Ok(()) => format!("still failing: {failing:?}"),
                Err(why) => why,
            };
            if sw.elapsed() > CONVERGE {
                self.ctl.kill9();
                panic!(
                    "{name}: not converged {}s after the last restart: {state}\n(log: {})",
                    CONVERGE.as_secs(),
                    self.ctl.dir.join("sloop.log").display()
                );
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        sw.elapsed().as_secs_f64()
    }

    /// Reboots, replacements and migrations the journal shows started so far.
    fn repairs_started(&self) -> usize {
        let j = Journalled::read(&self.ctl.journal());
        [
            ActionKind::RebootSoft,
            ActionKind::RebootHard,
            ActionKind::Replace,
            ActionKind::Migrate,
        ]
        .iter()
        .map(|k| Journalled::count(&j.started, *k))
        .sum()
    }

    /// `kills` SIGKILLs, each at a random instant of the first 3 s of a repair (a reboot,
    /// replacement or migration whose intent just reached the journal; at a random instant
    /// after 45 s if none starts), then convergence.
    async fn phase(&mut self, name: &str, kills: u64, victims: &[Victim]) {
        let ids: Vec<String> = victims.iter().map(|v| v.id.clone()).collect();
        self.agents.fail(&ids);
        println!("  {name}: failing {ids:?}");
        for _ in 0..kills {
            let seen = self.repairs_started();
            let sw = Stopwatch::start();
            while self.repairs_started() == seen && sw.elapsed() < Duration::from_secs(45) {
                self.wait(0.3, victims).await;
            }
            let into = 3.0 * self.dice.unit();
            self.wait(into, victims).await;
            self.ctl.kill9();
            let after = sw.elapsed().as_secs_f64();
            let mut busy = self.w.busy().await;
            let open = Journalled::read(&self.ctl.journal()).open();
            busy.extend(open.iter().map(|o| format!("journal: {o} (no outcome)")));
            println!("  kill {:.1}s into a repair", into);
            self.tally.kill(name, after, &busy);
            self.check(&format!("{name}: after a kill at {after:.1}s"), victims)
                .await;
            self.ctl.start();
        }
        let took = self.converge(name, victims).await;
        println!("  {name}: {kills} kills, converged {took:.1}s after the last restart");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_nine_during_reboots_and_live_migrations_repeats_no_repair() {
    let _lab = lab::LAB.read().await;
    let kills = env_num("SLOOP_CRASH_KILLS", 2);
    let seed = env_num("SLOOP_CRASH_SEED", 20_261_127).max(1);
    let total = Stopwatch::start();
    let (staged, tokens) = Staged::new("sloop-heal-crash", POLICY, agents::write_tokens);

    let mut w = world::World::for_policy(POLICY).await;
    w.clean().await;
    let mut run = Run {
        ctl: staged.controller(),
        w,
        agents: agents::Agents::start(format!("http://{}", staged.listen), tokens),
        dice: Dice(seed),
        tally: Tally::default(),
        nova: BTreeMap::new(),
        interrupted: 0,
    };

    // Three healthy servers in the pool, no kills: the starting point.
    run.ctl.start();
    let took = run.converge("setup", &[]).await;
    println!("  setup: 3 servers serving after {took:.1}s");

    // Reboot phase: the first server fails until Nova rebooted it twice.
    let servers = run.update(&[]).await;
    let v = &servers[0];
    let victim = Victim {
        id: s(v, "id").to_owned(),
        host: host(v),
        reboots: 2,
    };
    run.phase("reboot", kills, std::slice::from_ref(&victim)).await;

    // Migrate phase: two servers on the busiest hypervisor fail together.
    let servers = run.update(&[]).await;
    let mut by_host: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for v in &servers {
        by_host.entry(host(v)).or_default().push(s(v, "id").to_owned());
    }
    let (bad_host, on_it) = by_host
        .iter()
        .max_by_key(|(_, ids)| ids.len())
        .expect("servers have hosts");
    assert!(on_it.len() >= 2, "3 servers on 2 hypervisors: {by_host:?}");
    let movers: Vec<Victim> = on_it
        .iter()
        .take(2)
        .map(|id| Victim {
            id: id.clone(),
            host: bad_host.clone(),
            reboots: 0,
        })
        .collect();
    let before = run.nova.clone();
    run.phase("migrate", kills, &movers).await;
    run.ctl.kill9();

    // Figures.
    run.check("end", &[]).await;
    let j = Journalled::read(&run.ctl.journal());
    let started: Vec<String> = [
        ActionKind::Drain,
        ActionKind::RebootSoft,
        ActionKind::RebootHard,
        ActionKind::Replace,
        ActionKind::Migrate,
        ActionKind::Admit,
    ]
    .iter()
    .map(|k| {
        format!(
            "{} {}/{}",
            k.label(),
            Journalled::count(&j.started, *k),
            Journalled::count(&j.done, *k)
        )
    })
    .collect();
    run.interrupted = j.open().len();
    println!(
        "  interrupted actions resolved after restarts: {} done, {} abandoned (retried at the same rung)",
        j.resolved_done,
        j.abandoned.values().map(|ids| ids.len()).sum::<usize>()
    );
    println!(
        "heal-crash e2e (seed {seed}): {} kills survived over {} controller starts in {:.0}s; {}",
        run.tally.kills,
        run.ctl.starts,
        total.elapsed().as_secs_f64(),
        run.tally.summary()
    );
    println!(
        "  repairs started/completed: {}; intents left without outcome by kills: {}; peak actions in an hour {} (budget {BUDGET})",
        started.join(", "),
        run.interrupted,
        j.peak_hour()
    );
    for (id, actions) in &run.nova {
        let mark = if id == &victim.id {
            " (reboot victim)"
        } else if movers.iter().any(|m| &m.id == id) {
            " (host-fault victim)"
        } else {
            ""
        };
        println!("  nova {id}{mark}: {actions:?}");
    }
    println!("  agents: {:?}", run.agents.stats());
    println!("  journal: {}", repairs::timeline(&run.ctl.journal()).join("; "));

    // The victims: repaired, the movers elsewhere (or replaced), each rung at most once.
    let reboots = j.of(&victim.id, &[ActionKind::RebootSoft, ActionKind::RebootHard]);
    let nova_reboots = times(run.nova.get(&victim.id).map_or(&[][..], |a| a), "reboot");
    assert!(
        nova_reboots <= reboots && reboots <= 2,
        "victim: Nova {nova_reboots} reboots, journal {reboots}"
    );
    // A server on a faulty host is moved once, never rebooted or replaced instead, also when
    // the kill came between two migrations of one decision (History::adopt_healing).
    let servers = run.update(&[]).await;
    for m in &movers {
        let Some(v) = servers.iter().find(|v| s(v, "id") == m.id) else {
            run.tally
                .violations
                .push(format!("{} was replaced instead of moved", m.id));
            continue;
        };
        assert_ne!(host(v), m.host, "{} still on the faulty host", m.id);
        assert_eq!(s(v, "status"), "ACTIVE");
        let now = run.nova.get(&m.id).map_or(&[][..], |a| a);
        let then = before.get(&m.id).map_or(&[][..], |a| a);
        let (moves, reboots) = (
            times(now, "live-migration") - times(then, "live-migration"),
            times(now, "reboot") - times(then, "reboot"),
        );
        if moves != 1 || reboots != 0 {
            run.tally.violations.push(format!(
                "{} on the faulty host: {moves} live migrations, {reboots} reboots (want 1, 0)",
                m.id
            ));
        }
    }
    run.w.clean().await;
    assert!(
        run.tally.violations.is_empty(),
        "{:#?}\n(log and journal kept in {})",
        run.tally.violations,
        staged.dir.display()
    );
    let _ = std::fs::remove_dir_all(&staged.dir);
    assert_eq!(run.tally.kills, 2 * kills as usize);
}
