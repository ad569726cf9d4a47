//! `sloop plan`: one observe → judge → plan pass against the real cloud, printed like
//! `terraform plan`. Nothing is executed: the backend is only observed, and the summary line
//! counts the API writes sent (always 0) so the claim can be checked.

use super::check::render;
use crate::{
    clock::{Clock, SystemClock},
    cloud::openstack::{CloudOptions, OpenStackCloud, config},
    decide::decide,
    decision::{Action, Cause, Decision, PlannedAction},
    history::History,
    policy,
    snapshot::Snapshot,
};
use std::{path::PathBuf, process::ExitCode, sync::Arc};

/// Arguments of `sloop plan`.
#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    /// The policy file.
    #[arg(long)]
    policy: PathBuf,
    /// Cloud name in clouds.yaml (default: the policy's `group.cloud`, then `$OS_CLOUD`).
    #[arg(long)]
    cloud: Option<String>,
    /// A clouds.yaml to use instead of the standard search path.
    #[arg(long, value_name = "PATH")]
    clouds_yaml: Option<PathBuf>,
    /// Print the decision as JSON.
    #[arg(long)]
    json: bool,
}

/// Runs one planning pass; exit 0 when it could plan, 1 when the policy, the credentials or
/// the cloud failed.
pub fn run(args: &PlanArgs) -> ExitCode {
    let loaded = match policy::load_file(&args.policy) {
        Ok(l) => l,
        Err(errors) => {
            for e in &errors {
                eprintln!("{}", render(e));
            }
            return ExitCode::from(1);
        }
    };
    let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match rt.block_on(plan(args, loaded)) {
        Ok(text) => {
            outln!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

async fn plan(args: &PlanArgs, loaded: policy::LoadedPolicy) -> Result<String, String> {
    let policy = loaded.policy;
    let name = args
        .cloud
        .clone()
        .unwrap_or_else(|| policy.spec.group.cloud.clone());
    let cfg = config::load(Some(&name), args.clouds_yaml.as_deref()).map_err(|e| e.to_string())?;
    let opts = CloudOptions {
        policy_dir: loaded.file.parent().map(PathBuf::from).unwrap_or_default(),
        ..CloudOptions::default()
    };
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let now = clock.now();
    let mut cloud = OpenStackCloud::connect(cfg, policy.clone(), opts, clock)
        .await
        .map_err(|e| format!("cloud `{name}`: {e}"))?;
    let snap = cloud.observe(now).await.map_err(|e| e.to_string())?;
    let (decision, _) = decide(&policy, &snap, &History::default(), now);
    let writes = cloud.api().stats().writes;
    if args.json {
        let out = serde_json::json!({ "snapshot": snap, "decision": decision, "api_writes": writes });
        return serde_json::to_string_pretty(&out).map_err(|e| e.to_string());
    }
    Ok(render_plan(
        &policy.metadata.name,
        &name,
        &snap,
        &decision,
        writes,
    ))
}

fn describe(a: &PlannedAction, snap: &Snapshot) -> String {
    let name = |id: &str| {
        snap.inventory
            .iter()
            .find(|i| i.id == id)
            .map_or_else(|| id.to_owned(), |i| format!("{} ({id})", i.name))
    };
    match &a.action {
        Action::ScaleOut { count } => format!("+ create {count} server(s)"),
        Action::ScaleIn { instances } => {
            let names: Vec<String> = instances.iter().map(|i| name(i)).collect();
            format!("- drain and delete {}", names.join(", "))
        }
        Action::Drain { instance } => format!("~ drain {}", name(instance)),
        Action::Admit { instance } => format!("~ admit {} to the pool", name(instance)),
        Action::Reboot { instance, hard } => {
            format!(
                "~ {} reboot {}",
                if *hard { "hard" } else { "soft" },
                name(instance)
            )
        }
        Action::Rebuild { instance } => format!("~ rebuild {}", name(instance)),
        Action::Replace { instance, .. } => format!("-/+ replace {}", name(instance)),
        Action::Migrate { instance, from_host } => {
            format!("~ live-migrate {} off {from_host}", name(instance))
        }
    }
}

/// The plan as people read it.
pub fn render_plan(policy: &str, cloud: &str, snap: &Snapshot, d: &Decision, writes: u64) -> String {
    let mut out = format!(
        "sloop plan: policy `{policy}` on cloud `{cloud}`: {} server(s), {} in flight, {} pool member(s)\n",
        snap.inventory.len(),
        snap.in_flight.len(),
        snap.inventory.iter().filter(|i| i.member.is_some()).count()
    );
    for i in &snap.inventory {
        let member = i
            .member
            .map_or("no member".to_owned(), |m| format!("weight {}", m.weight));
        out += &format!(
            "    {} {} {:?} on {} ({member})\n",
            i.id,
            i.name,
            i.status,
            i.host.as_deref().unwrap_or("?")
        );
    }
    if let Some(e) = &snap.telemetry.source_error {
        out += &format!("  telemetry: {e}\n");
    }
    if snap.instances_probed.is_empty() {
        out += "  note: a one-off pass runs no probes and hears no remote agents: instance health is judged from the cloud's states only, and healing that needs probe evidence waits for `sloop run`\n";
    }
    out += "\n";
    for a in &d.actions {
        out += &format!(
            "  {}\n      because {}: {}\n",
            describe(a, snap),
            cause_label(a.cause),
            a.evidence.summary
        );
    }
    for r in &d.refusals {
        out += &format!(
            "  x not doing {:?}: {} ({})\n",
            r.action.kind(),
            r.reason.label(),
            r.evidence.summary
        );
    }
    for a in &d.alerts {
        out += &format!("  ! alert {} ({:?}): {}\n", a.name, a.severity, a.summary);
    }
    let n = d.actions.len();
    out += &format!(
        "\nPlan: {n} action(s), {} refused, {} alert(s). Nothing was changed ({writes} API writes).",
        d.refusals.len(),
        d.alerts.len()
    );
    out
}

/// The cause in its kebab-case form (`below-minimum`), as in the decision log.
fn cause_label(c: Cause) -> String {
    serde_json::to_value(c)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| format!("{c:?}"))
}
