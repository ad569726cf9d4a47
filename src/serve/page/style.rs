//! The status page's stylesheet: one inline `<style>`, no external assets.

/// State colours: met, at risk, violated, no data (text, background).
pub const MET: (&str, &str) = ("#166534", "#dcfce7");
/// At risk.
pub const AT_RISK: (&str, &str) = ("#92400e", "#fef3c7");
/// Violated.
pub const VIOLATED: (&str, &str) = ("#991b1b", "#fee2e2");
/// No data.
pub const NO_DATA: (&str, &str) = ("#334155", "#e2e8f0");

/// The stylesheet.
pub const CSS: &str = "\
*{box-sizing:border-box}\
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0;background:#eef2f7;color:#0f172a}\
a{color:#1d4ed8;text-decoration:none}a:hover{text-decoration:underline}\
.top{background:#0f172a;color:#e2e8f0;padding:10px 24px;display:flex;align-items:center;gap:14px;flex-wrap:wrap}\
.top .brand{font-weight:800;font-size:18px;color:#fff;letter-spacing:.5px}.top .meta{color:#94a3b8;font-size:13px}\
.top .spacer{flex:1}\
.chip{display:inline-block;padding:2px 9px;border-radius:999px;font-size:12px;font-weight:700;white-space:nowrap}\
.chip.leader{background:#16a34a;color:#fff}.chip.follower{background:#475569;color:#fff}\
.chip.dry{background:#f59e0b;color:#1f2937}.chip.stop{background:#dc2626;color:#fff}\
.chip.sim{background:#334155;color:#e2e8f0}\
main{max-width:1400px;margin:0 auto;padding:16px 24px 40px}\
.overview{display:flex;gap:10px;flex-wrap:wrap;margin:0 0 16px}\
.ov{display:flex;align-items:center;gap:8px;background:#fff;border-radius:10px;padding:8px 12px;\
box-shadow:0 1px 2px rgba(15,23,42,.08);border-left:6px solid #94a3b8}\
.ov b{font-size:15px}\
.alarm{background:#fff;border:2px solid #dc2626;border-radius:10px;padding:10px 14px;margin:0 0 16px}\
.alarm h3{margin:0 0 6px;color:#991b1b;font-size:15px}\
.alarm pre{white-space:pre-wrap;margin:4px 0 0;font-size:12px;background:#fef2f2;padding:6px 8px;border-radius:6px}\
.policy{background:#fff;border-radius:12px;box-shadow:0 1px 3px rgba(15,23,42,.1);margin:0 0 22px;overflow:hidden}\
.phead{display:flex;align-items:center;gap:12px;padding:12px 18px;border-bottom:1px solid #e2e8f0;flex-wrap:wrap}\
.phead h2{margin:0;font-size:20px}.phead .desc{color:#475569;font-size:13px}\
.pbody{padding:14px 18px}\
.state{display:inline-block;padding:3px 10px;border-radius:6px;font-weight:800;font-size:13px;letter-spacing:.4px}\
.tiles{display:grid;grid-template-columns:repeat(auto-fill,minmax(210px,1fr));gap:10px;margin:0 0 14px}\
.tile{border-radius:10px;padding:10px 12px;background:#f8fafc;border:1px solid #e2e8f0;border-top:5px solid #94a3b8}\
.tile .label{color:#475569;font-size:12px;font-weight:600;text-transform:uppercase;letter-spacing:.4px}\
.tile .value{font-size:24px;font-weight:800;font-variant-numeric:tabular-nums;line-height:1.2}\
.tile .sub{color:#475569;font-size:12px}\
.bar{height:8px;background:#e2e8f0;border-radius:4px;overflow:hidden;margin-top:6px}.bar i{display:block;height:100%}\
.notice{padding:8px 12px;border-radius:8px;margin:0 0 10px;font-weight:600}\
.notice.page{background:#fee2e2;color:#991b1b}.notice.ticket{background:#fef3c7;color:#92400e}\
.notice.diag{background:#ede9fe;color:#5b21b6}\
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(560px,1fr));gap:14px;margin:0 0 14px}\
.chart{border:1px solid #e2e8f0;border-radius:10px;padding:8px 10px}\
.chart h3,.cols h3{font-size:13px;margin:0 0 4px;color:#334155}\
.plot{width:100%;height:auto;font-size:14px}.plot .grid{stroke:#e2e8f0}.plot .frame{fill:none;stroke:#94a3b8}\
.plot .tick,.plot .unit{fill:#475569}.plot .vlabel{font-size:10px}.plot text{font-family:inherit}\
.cols{display:grid;grid-template-columns:minmax(0,3fr) minmax(0,2fr);gap:14px;margin:0 0 14px}\
table{border-collapse:collapse;width:100%;font-size:13px}\
th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #eef2f7;vertical-align:top}\
th{color:#475569;font-weight:600;font-size:12px;background:#f8fafc}\
td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}td.t{white-space:nowrap;font-variant-numeric:tabular-nums}\
.mono{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12px}\
.muted{color:#64748b}.small{font-size:12px}.windows{margin:2px 0 8px}\
.st{display:inline-block;padding:0 7px;border-radius:4px;font-size:12px;font-weight:600}\
.k{display:inline-block;white-space:nowrap;padding:0 7px;border-radius:4px;font-size:12px;font-weight:600;background:#e2e8f0}\
.k.scale-out{background:#dcfce7;color:#166534}.k.scale-in{background:#ffedd5;color:#9a3412}\
.k.heal{background:#f3e8ff;color:#6b21a8}.k.admit{background:#e0f2fe;color:#075985}\
.o{display:inline-block;padding:0 7px;border-radius:4px;font-size:12px;font-weight:700}\
.o.done{background:#dcfce7;color:#166534}.o.failed{background:#fecaca;color:#991b1b}.o.would{background:#fef3c7;color:#92400e}\
.o.refused{background:#e2e8f0;color:#334155}.o.skipped{background:#e2e8f0;color:#64748b}.o.abandoned{background:#fed7aa;color:#9a3412}.o.lifted{background:#e0f2fe;color:#075985}\
.dot{display:inline-block;width:9px;height:9px;border-radius:50%;margin-right:6px;vertical-align:middle}\
.weight{display:inline-block;width:60px;height:8px;background:#e2e8f0;border-radius:4px;vertical-align:middle;margin-right:6px}\
.weight i{display:block;height:100%;background:#2563eb;border-radius:4px}\
.empty{color:#64748b;font-style:italic;padding:6px 0}\
footer{color:#64748b;font-size:12px;text-align:center;padding:10px}";
