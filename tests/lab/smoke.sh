#!/bin/bash
# Smoke checks against the lab cloud (curl + jq only). Exits non-zero on the first failure.
#   usage: smoke.sh [keystone] [nova] [net] [gnocchi] [octavia]   (default: all)
set -euo pipefail
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
. "${LAB_DIR:-/tmp/sloop-lab}/env.sh"
KS=http://127.0.0.1:5000/v3 NOVA=http://127.0.0.1:8774/v2.1 GN=http://127.0.0.1:8041/v1
OCT=http://127.0.0.1:9876/v2 SEN=http://127.0.0.1:8777/v1
MV=2.90                       # nova microversion used throughout (Zed max is 2.93)
T0=$(date +%s)
ok()   { echo "  ok  [+$(( $(date +%s) - T0 ))s] $*"; }
fail() { echo "FAIL [+$(( $(date +%s) - T0 ))s] $*" >&2; exit 1; }
tok_appcred() { curl -sf -i -X POST $KS/auth/tokens -H 'Content-Type: application/json' \
  -d "{\"auth\":{\"identity\":{\"methods\":[\"application_credential\"],\"application_credential\":{\"id\":\"$1\",\"secret\":\"$2\"}}}}" \
  | awk -F': ' 'tolower($1)=="x-subject-token"{print $2}' | tr -d '\r'; }
tok_pw() { curl -sf -i -X POST $KS/auth/tokens -H 'Content-Type: application/json' \
  -d "{\"auth\":{\"identity\":{\"methods\":[\"password\"],\"password\":{\"user\":{\"name\":\"$1\",\"domain\":{\"name\":\"Default\"},\"password\":\"$2\"}}},\"scope\":{\"project\":{\"name\":\"$3\",\"domain\":{\"name\":\"Default\"}}}}}" \
  | awk -F': ' 'tolower($1)=="x-subject-token"{print $2}' | tr -d '\r'; }
# api METHOD URL [json]  -> body on stdout; HTTP status in $CF (works inside $(...) too)
CF=$(mktemp); BF=$(mktemp); trap 'rm -f $CF $BF' EXIT
api() { curl -s -o "$BF" -w '%{http_code}' -X "$1" "$2" -H "X-Auth-Token: $TOK" -H "X-OpenStack-Nova-API-Version: $MV" \
    -H 'Content-Type: application/json' ${3:+-d "$3"} >"$CF"; cat "$BF"; }
code() { cat "$CF"; }
expect() { local c; c=$(code); [ "$c" = "$1" ] || fail "$2: expected HTTP $1 got $c: $(head -c 400 "$BF")"; }
srv() { api GET $NOVA/servers/$SID | jq -r ".server.$1"; }
wait_srv() { # status [timeout]
  local i s; for i in $(seq 1 "${2:-60}"); do
    s=$(api GET $NOVA/servers/$SID | jq -r '.server | "\(.status)/\(."OS-EXT-STS:task_state")"')
    [ "$s" = "$1/null" ] && return 0; case $s in ERROR*) fail "server went ERROR: $(api GET $NOVA/servers/$SID | jq -c .server.fault)";; esac
    sleep 1; done; fail "server $SID not $1 (is $s)"; }

ADMIN_TOK=$(tok_appcred "$OSLAB_ADMIN_APPCRED_ID" "$OSLAB_ADMIN_APPCRED_SECRET")
TOK=$ADMIN_TOK
PARTS=${*:-keystone nova net gnocchi octavia}

for part in $PARTS; do case $part in
keystone)
  echo "== keystone"
  [ -n "$TOK" ] || fail "admin appcred token"
  c=$(curl -s -o /dev/null -w '%{http_code}' $KS/auth/tokens -H "X-Auth-Token: $TOK" -H "X-Subject-Token: $TOK")
  [ "$c" = 200 ] || fail "validate token: $c"; ok "application credential token issued and validated (GET /v3/auth/tokens)"
  DT=$(tok_appcred "$OSLAB_DEMO_APPCRED_ID" "$OSLAB_DEMO_APPCRED_SECRET"); [ -n "$DT" ] || fail "demo appcred"
  ok "demo appcred token"
  PT=$(tok_pw demo demo demo); [ -n "$PT" ] || fail "demo password token"; ok "demo password token"
  n=$(curl -s $KS/auth/catalog -H "X-Auth-Token: $PT" | jq '.catalog|length'); [ "$n" -ge 5 ] || fail "catalog"
  ok "catalog has $n services";;
nova)
  echo "== nova (microversion $MV)"
  api GET $NOVA/os-services?binary=nova-compute | jq -e '[.services[]|select(.state=="up")]|length==2' >/dev/null || fail "2 computes up"
  ok "2 nova-compute services up"
  SID=$(api POST $NOVA/servers "{\"server\":{\"name\":\"smoke-$$\",\"imageRef\":\"$OSLAB_IMAGE_ID\",\"flavorRef\":\"$OSLAB_FLAVOR_ID\",\"networks\":\"none\",\"metadata\":{\"a\":\"1\"}}}" | jq -r .server.id)
  expect 202 "create server"; wait_srv ACTIVE 90; H1=$(srv '"OS-EXT-SRV-ATTR:host"'); ok "server $SID ACTIVE on $H1 (networks=none)"
  api PUT $NOVA/servers/$SID/metadata/role '{"meta":{"role":"web"}}' >/dev/null; expect 200 "set metadata item"
  api POST $NOVA/servers/$SID/metadata '{"metadata":{"b":"2"}}' >/dev/null; expect 200 "update metadata"
  api GET $NOVA/servers/$SID/metadata | jq -e '.metadata=={"a":"1","b":"2","role":"web"}' >/dev/null || fail "metadata get"
  ok "metadata set/get"
  api POST $NOVA/servers/$SID/action '{"reboot":{"type":"SOFT"}}' >/dev/null; expect 202 "soft reboot"; wait_srv ACTIVE; ok "soft reboot"
  api POST $NOVA/servers/$SID/action '{"reboot":{"type":"HARD"}}' >/dev/null; expect 202 "hard reboot"; wait_srv ACTIVE; ok "hard reboot"
  api POST $NOVA/servers/$SID/action '{"os-stop":null}' >/dev/null; expect 202 "stop"; wait_srv SHUTOFF
  [ "$(srv '"OS-EXT-STS:power_state"')" = 4 ] || fail "power_state after stop"; ok "stop -> SHUTOFF power_state=4"
  api POST $NOVA/servers/$SID/action '{"os-start":null}' >/dev/null; expect 202 "start"; wait_srv ACTIVE
  [ "$(srv '"OS-EXT-STS:power_state"')" = 1 ] || fail "power_state after start"; ok "start -> ACTIVE power_state=1"
  H2=compute1; [ "$H1" = compute1 ] && H2=compute2
  api POST $NOVA/servers/$SID/action "{\"os-migrateLive\":{\"host\":\"$H2\",\"block_migration\":\"auto\"}}" >/dev/null
  expect 202 "live migrate"; sleep 1; wait_srv ACTIVE 90
  [ "$(srv '"OS-EXT-SRV-ATTR:host"')" = "$H2" ] || fail "host did not change"; ok "live-migrate $H1 -> $H2"
  api GET "$NOVA/servers/$SID/migrations" >/dev/null
  api GET "$NOVA/os-migrations?instance_uuid=$SID" | jq -e '.migrations[0].status=="completed"' >/dev/null || fail "migration record"
  ok "os-migrations record completed"
  api POST $NOVA/servers/$SID/action '{"os-migrateLive":{"host":null,"block_migration":"auto"}}' >/dev/null
  expect 202 "live migrate (scheduler picks)"; sleep 1; wait_srv ACTIVE 90
  [ "$(srv '"OS-EXT-SRV-ATTR:host"')" = "$H1" ] || fail "scheduled live migration"; ok "live-migrate back (scheduler chose $H1)"
  api POST $NOVA/servers/$SID/action '{"os-resetState":{"state":"error"}}' >/dev/null; expect 202 "resetState error"
  [ "$(srv status)" = ERROR ] || fail "reset to ERROR"; ok "os-resetState -> ERROR"
  api POST $NOVA/servers/$SID/action '{"os-resetState":{"state":"active"}}' >/dev/null; expect 202 "resetState active"
  [ "$(srv status)" = ACTIVE ] || fail "reset to ACTIVE"; ok "os-resetState -> ACTIVE"
  api DELETE $NOVA/servers/$SID >/dev/null; expect 204 "delete"
  for i in $(seq 1 60); do api GET $NOVA/servers/$SID >/dev/null; [ "$(code)" = 404 ] && break; sleep 1; done
  expect 404 "server gone"; ok "delete -> 404";;
net)
  echo "== net: demo server on $OSLAB_NETWORK_NAME (IPv6 + IPv4, oslab ML2 driver), admin live migration, octavia member"
  DEMO_TOK=$(tok_appcred "$OSLAB_DEMO_APPCRED_ID" "$OSLAB_DEMO_APPCRED_SECRET"); [ -n "$DEMO_TOK" ] || fail "demo appcred token"
  NEU=http://127.0.0.1:9696/v2.0
  # addresses on lab-net as sorted "version addr" lines
  addrs() { api GET $NOVA/servers/$SID | jq -r --arg n "$OSLAB_NETWORK_NAME" '[.server.addresses[$n][]?|"\(.version) \(.addr)"]|sort|join(",")'; }
  TOK=$DEMO_TOK; TC=$(date +%s.%N)
  SID=$(api POST $NOVA/servers "{\"server\":{\"name\":\"smoke-net-$$\",\"imageRef\":\"$OSLAB_IMAGE_ID\",\"flavorRef\":\"$OSLAB_FLAVOR_ID\",\"networks\":[{\"uuid\":\"$OSLAB_NETWORK_ID\"}]}}" | jq -r .server.id)
  expect 202 "create server on $OSLAB_NETWORK_NAME (demo appcred)"; wait_srv ACTIVE 90
  A0=$(addrs); V6=$(api GET $NOVA/servers/$SID | jq -r --arg n "$OSLAB_NETWORK_NAME" '.server.addresses[$n][]|select(.version==6).addr')
  V4=$(api GET $NOVA/servers/$SID | jq -r --arg n "$OSLAB_NETWORK_NAME" '.server.addresses[$n][]|select(.version==4).addr')
  [ "$(echo "$A0" | tr ',' '\n' | grep -c '^6 ')" = 1 ] && [ "$(echo "$A0" | tr ',' '\n' | grep -c '^4 ')" = 1 ] || fail "want one IPv6 + one IPv4 address, got '$A0'"
  case $V6 in fd00:5eed:*) ;; *) fail "IPv6 $V6 not in $OSLAB_SUBNET_V6_CIDR";; esac; case $V4 in 10.77.0.*) ;; *) fail "IPv4 $V4 not in $OSLAB_SUBNET_V4_CIDR";; esac
  ok "demo server $SID ACTIVE in $(echo "$(date +%s.%N) - $TC" | bc | cut -c1-4)s with $V6 and $V4"
  TOK=$ADMIN_TOK
  P=$(api GET "$NEU/ports?device_id=$SID"); H1=$(srv '"OS-EXT-SRV-ATTR:host"')
  echo "$P" | jq -e --arg h "$H1" '.ports|length==1 and .[0].status=="ACTIVE" and .[0]["binding:vif_type"]=="ovs" and .[0]["binding:host_id"]==$h' >/dev/null \
    || fail "port not bound/ACTIVE on $H1: $(echo "$P" | jq -c '[.ports[]|{status,"binding:vif_type","binding:host_id"}]')"
  ok "port $(echo "$P" | jq -r '.ports[0].id') ACTIVE, binding:vif_type=ovs, binding:host_id=$H1"
  TOK=$DEMO_TOK
  api POST $NOVA/servers/$SID/action '{"reboot":{"type":"SOFT"}}' >/dev/null; expect 202 "soft reboot"; wait_srv ACTIVE
  [ "$(addrs)" = "$A0" ] || fail "addresses changed after soft reboot: $(addrs)"; ok "soft reboot, addresses unchanged"
  api POST $NOVA/servers/$SID/action '{"reboot":{"type":"HARD"}}' >/dev/null; expect 202 "hard reboot"; wait_srv ACTIVE
  [ "$(addrs)" = "$A0" ] || fail "addresses changed after hard reboot: $(addrs)"; ok "hard reboot, addresses unchanged"
  TOK=$ADMIN_TOK; H2=compute1; [ "$H1" = compute1 ] && H2=compute2
  api POST $NOVA/servers/$SID/action "{\"os-migrateLive\":{\"host\":\"$H2\",\"block_migration\":\"auto\"}}" >/dev/null
  expect 202 "live migrate (admin)"; sleep 1; wait_srv ACTIVE 90
  [ "$(srv '"OS-EXT-SRV-ATTR:host"')" = "$H2" ] || fail "host did not change"
  [ "$(addrs)" = "$A0" ] || fail "addresses changed after live migration: $(addrs)"
  api GET "$NEU/ports?device_id=$SID" | jq -e --arg h "$H2" '.ports|length==1 and .[0].status=="ACTIVE" and .[0]["binding:host_id"]==$h' >/dev/null \
    || fail "port binding not moved to $H2: $(api GET "$NEU/ports?device_id=$SID" | jq -c '[.ports[]|{status,"binding:host_id"}]')"
  ok "live-migrate $H1 -> $H2 (admin), addresses unchanged, port bound on $H2"
  TOK=$DEMO_TOK
  wait_lb() { local i s; for i in $(seq 1 60); do s=$(api GET $OCT/lbaas/loadbalancers/$LB | jq -r .loadbalancer.provisioning_status)
    [ "$s" = ACTIVE ] && return 0; [ "$s" = ERROR ] && fail "LB ERROR"; sleep 1; done; fail "LB not ACTIVE ($s)"; }
  LB=$(api POST $OCT/lbaas/loadbalancers "{\"loadbalancer\":{\"name\":\"smoke-net-lb\",\"vip_network_id\":\"$OSLAB_NETWORK_ID\",\"provider\":\"amphora\"}}" | jq -r .loadbalancer.id)
  expect 201 "create LB (demo appcred)"; wait_lb
  LI=$(api POST $OCT/lbaas/listeners "{\"listener\":{\"name\":\"l6\",\"loadbalancer_id\":\"$LB\",\"protocol\":\"HTTP\",\"protocol_port\":80}}" | jq -r .listener.id)
  expect 201 "create listener"; wait_lb
  PO=$(api POST $OCT/lbaas/pools "{\"pool\":{\"name\":\"p6\",\"listener_id\":\"$LI\",\"protocol\":\"HTTP\",\"lb_algorithm\":\"ROUND_ROBIN\"}}" | jq -r .pool.id)
  expect 201 "create pool"; wait_lb
  ME=$(api POST $OCT/lbaas/pools/$PO/members "{\"member\":{\"address\":\"$V6\",\"protocol_port\":8080,\"subnet_id\":\"$OSLAB_SUBNET_V6_ID\"}}" | jq -r .member.id)
  expect 201 "create member $V6"; wait_lb
  api GET $OCT/lbaas/pools/$PO/members/$ME | jq -e --arg a "$V6" '.member|.address==$a and .provisioning_status=="ACTIVE"' >/dev/null || fail "IPv6 member"
  ok "octavia member $ME ACTIVE with address $V6 (LB $LB, vip $(api GET $OCT/lbaas/loadbalancers/$LB | jq -r .loadbalancer.vip_address))"
  api DELETE "$OCT/lbaas/loadbalancers/$LB?cascade=true" >/dev/null; expect 204 "cascade delete LB"
  api DELETE $NOVA/servers/$SID >/dev/null; expect 204 "delete"
  for i in $(seq 1 60); do api GET $NOVA/servers/$SID >/dev/null; [ "$(code)" = 404 ] && break; sleep 1; done
  expect 404 "server gone"
  TOK=$ADMIN_TOK; for i in $(seq 1 30); do n=$(api GET "$NEU/ports?device_id=$SID" | jq '.ports|length'); [ "$n" = 0 ] && break; sleep 1; done
  [ "$n" = 0 ] || fail "ports of deleted server remain"
  api GET "$NEU/ports?network_id=$OSLAB_NETWORK_ID" | jq -e --arg a "$V6" '[.ports[].fixed_ips[]|select(.ip_address==$a)]|length==0' >/dev/null || fail "$V6 still allocated"
  ok "delete -> 404, its port is gone and $V6 is free again";;
gnocchi)
  echo "== gnocchi"
  api GET $GN/resource_type/instance | jq -e '.attributes|has("flavor_name") and has("host")' >/dev/null || fail "resource type instance"
  ok "resource type 'instance' present"
  AP=$(api GET $GN/archive_policy | jq -r '[.[].name]|join(",")'); ok "archive policies: $AP"
  RID=$(cat /proc/sys/kernel/random/uuid)
  api POST $GN/resource/instance "{\"id\":\"$RID\",\"display_name\":\"vm1\",\"flavor_id\":\"1\",\"flavor_name\":\"m1.tiny\",\"host\":\"compute1\",\"image_ref\":\"$OSLAB_IMAGE_ID\",
    \"metrics\":{\"cpu\":{\"archive_policy_name\":\"ceilometer-low-rate\"},\"memory.usage\":{\"archive_policy_name\":\"ceilometer-low\"},\"network.incoming.bytes\":{\"archive_policy_name\":\"ceilometer-low\"}}}" >/dev/null
  expect 201 "create instance resource"; ok "resource $RID with metrics cpu, memory.usage, network.incoming.bytes (cpu: ceilometer-low-rate, others: ceilometer-low)"
  NOW=$(date -u +%s); M='['; for k in 0 1 2 3 4 5; do t=$(date -u -d @$((NOW - 300*(6-k))) +%Y-%m-%dT%H:%M:%S); M="$M{\"timestamp\":\"$t\",\"value\":$((k*10))},"; done; M="${M%,}]"
  api POST $GN/batch/resources/metrics/measures "{\"$RID\":{\"cpu\":$M,\"memory.usage\":$M,\"network.incoming.bytes\":$M}}" >/dev/null
  expect 202 "post measures"; TP=$(date +%s.%N)
  for i in $(seq 1 120); do
    n=$(api GET "$GN/resource/instance/$RID/metric/memory.usage/measures?granularity=300&aggregation=mean" | jq 'length')
    [ "$n" -ge 6 ] && break; sleep 0.5; done
  [ "$n" -ge 6 ] || fail "measures not processed"; ok "metricd processed measures in $(echo "$(date +%s.%N) - $TP" | bc | cut -c1-4)s ($n points, granularity 300 mean)"
  api POST "$GN/aggregates?granularity=300&start=$(date -u -d @$((NOW-3600)) +%Y-%m-%dT%H:%M:%S)" \
    "{\"operations\":\"(aggregate mean (metric (cpu mean) (memory.usage mean)))\",\"search\":\"id=$RID\",\"resource_type\":\"instance\"}" \
    | jq -e '.measures.aggregated|length>=6' >/dev/null || fail "aggregates"
  ok "/v1/aggregates over cpu+memory.usage"
  api DELETE $GN/resource/instance/$RID >/dev/null; expect 204 "delete resource";;
octavia)
  echo "== octavia (provider amphora + noop compute/network/amphora drivers)"
  wait_lb() { local i s; for i in $(seq 1 60); do s=$(api GET $OCT/lbaas/loadbalancers/$LB | jq -r .loadbalancer.provisioning_status)
    [ "$s" = ACTIVE ] && return 0; [ "$s" = ERROR ] && fail "LB ERROR"; sleep 1; done; fail "LB not ACTIVE ($s)"; }
  LB=$(api POST $OCT/lbaas/loadbalancers '{"loadbalancer":{"name":"smoke-lb","vip_network_id":"aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee","provider":"amphora"}}' | jq -r .loadbalancer.id)
  expect 201 "create LB"; wait_lb; ok "loadbalancer $LB ACTIVE"
  LI=$(api POST $OCT/lbaas/listeners "{\"listener\":{\"name\":\"l1\",\"loadbalancer_id\":\"$LB\",\"protocol\":\"HTTP\",\"protocol_port\":80}}" | jq -r .listener.id)
  expect 201 "create listener"; wait_lb; ok "listener ACTIVE"
  PO=$(api POST $OCT/lbaas/pools "{\"pool\":{\"name\":\"p1\",\"listener_id\":\"$LI\",\"protocol\":\"HTTP\",\"lb_algorithm\":\"ROUND_ROBIN\"}}" | jq -r .pool.id)
  expect 201 "create pool"; wait_lb; ok "pool ACTIVE"
  ME=$(api POST $OCT/lbaas/pools/$PO/members '{"member":{"address":"192.0.2.10","protocol_port":8080,"weight":1}}' | jq -r .member.id)
  expect 201 "create member"; wait_lb
  api POST $OCT/lbaas/pools/$PO/members '{"member":{"address":"192.0.2.11","protocol_port":8080}}' >/dev/null; wait_lb; ok "2 members created"
  api PUT $OCT/lbaas/pools/$PO/members/$ME '{"member":{"weight":5,"admin_state_up":false}}' >/dev/null; expect 200 "update member"; wait_lb
  api GET $OCT/lbaas/pools/$PO/members/$ME | jq -e '.member|.weight==5 and .admin_state_up==false and .provisioning_status=="ACTIVE"' >/dev/null || fail "member update"
  ok "member weight=5 admin_state_up=false, ACTIVE ($(api GET $OCT/lbaas/pools/$PO/members/$ME | jq -r .member.operating_status))"
  api DELETE "$OCT/lbaas/loadbalancers/$LB?cascade=true" >/dev/null; expect 204 "cascade delete"
  for i in $(seq 1 60); do api GET $OCT/lbaas/loadbalancers/$LB >/dev/null; s=$(api GET $OCT/lbaas/loadbalancers/$LB | jq -r .loadbalancer.provisioning_status); { [ "$(code)" = 404 ] || [ "$s" = DELETED ]; } && break; sleep 1; done
  ok "cascade delete -> $s/$(code)";;
esac; done
echo "SMOKE PASSED in $(( $(date +%s) - T0 ))s"
