#!/bin/bash
# Minimal OpenStack Zed (Debian bookworm packages) control plane on loopback.
# Idempotent: installs packages, writes configs, inits DBs, starts services,
# waits for them, prints endpoints/credentials.  Everything lives in $LAB_DIR (default /tmp/sloop-lab).
#   usage: up.sh [phase...]   (default: all phases)
#   phases: install infra keystone (with keystone-short, :5001, 30 s tokens) placement neutron glance nova gnocchi octavia bootstrap
#   ipv6 (the IPv6-only variant: the APIs on [::1] as region lab-v6, network lab-net6)
#   and, on request only, bodies (servers that serve, HAProxy on lab-net VIPs: tests/lab/README.md); nova-api (restart only the compute API). Derived from the verified ../shared/openstack-lab scripts; Senlin dropped.
set -euo pipefail
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin   # no pyenv shims
export DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8
L=${LAB_DIR:-/tmp/sloop-lab}; export LAB_DIR=$L; HERE=$(cd "$(dirname "$0")" && pwd); ETC=$L/etc; LOGS=$L/logs; RUN=$L/run; DATA=$L/data
PY=/usr/bin/python3
PW=secret                 # service users + DB password
ADMIN_PW=admin            # keystone 'admin' user
DEMO_PW=demo              # keystone 'demo' user
DBURL="postgresql+psycopg2://openstack:$PW@127.0.0.1:5432"
RABBIT="rabbit://openstack:$PW@127.0.0.1:5672/"
KS=http://127.0.0.1:5000
SHORT_TOKEN=30            # token lifetime (s) of keystone-short on :5001 (the e2e token-expiry test)
mkdir -p $ETC $LOGS $RUN $DATA
T0=$(date +%s)
log() { echo "[up.sh +$(( $(date +%s) - T0 ))s] $*"; }

PKGS="postgresql rabbitmq-server uwsgi-core uwsgi-plugin-python3 python3-psycopg2 curl jq
 keystone python3-openstackclient placement-api nova-api nova-conductor nova-scheduler python3-nova
 neutron-server glance-api gnocchi-api gnocchi-metricd octavia-api octavia-driver-agent octavia-worker
 mariadb-server python3-pymysql"

# ---------------------------------------------------------------- helpers
alive() { [ -f "$RUN/$1.pid" ] && kill -0 "$(cat "$RUN/$1.pid")" 2>/dev/null; }
# start NAME CMD...  : run in its own session (pgid == pid) so down.sh can kill the group
start() {
  local name=$1; shift
  if alive "$name"; then log "$name already running (pid $(cat $RUN/$name.pid))"; return 0; fi
  setsid "$@" >>"$LOGS/$name.log" 2>&1 </dev/null &
  echo $! >"$RUN/$name.pid"
  echo "$name" >>"$RUN/order"   # start order, down.sh stops in reverse
  log "started $name pid $!"
}
wait_port() { # port [timeout]
  local i; for i in $(seq 1 "${2:-120}"); do
    (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 1; done
  echo "timeout waiting for port $1" >&2; return 1; }
wait_http() { # url [timeout]  (any HTTP status < 500 counts as up)
  local i c; for i in $(seq 1 "${2:-180}"); do
    c=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$1" || true)
    [ "$c" != "000" ] && [ "$c" -lt 500 ] && return 0; sleep 1; done
  echo "timeout waiting for $1 (last code $c)" >&2; return 1; }
uwsgi_start() { # name port wsgi-file processes threads [--env K=V ...]
  local name=$1 port=$2 file=$3 procs=$4 thr=$5; shift 5
  start "$name" uwsgi --plugin python3 --http-socket 127.0.0.1:$port --master \
    --processes "$procs" --threads "$thr" --enable-threads --thunder-lock --lazy-apps \
    --die-on-term --buffer-size 65535 --add-header "Connection: close" --need-app --wsgi-file "$file" --procname-prefix "oslab-" "$@"
}
authtoken() { # section for keystonemiddleware, $1 = service user
cat <<EOF
[keystone_authtoken]
www_authenticate_uri = $KS
auth_url = $KS
auth_type = password
project_domain_name = Default
user_domain_name = Default
project_name = service
username = $1
password = $PW
service_token_roles_required = true
# validated tokens are cached 5 s (default 300): a revoked token is refused by every API worker
# soon after, which the e2e fault test relies on
token_cache_time = 5
EOF
}
svc_auth() { # [section] with password auth as service user $2
cat <<EOF
[$1]
auth_type = password
auth_url = $KS/v3
project_domain_name = Default
user_domain_name = Default
project_name = service
username = $2
password = $PW
region_name = RegionOne
EOF
}
psql_() { psql -h 127.0.0.1 -U postgres -v ON_ERROR_STOP=1 -qAt "$@"; }

# ---------------------------------------------------------------- install
phase_install() {
  local missing=""
  for p in $PKGS; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
  if [ -n "$missing" ]; then
    log "installing:$missing"
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d
    apt-get update -q >/dev/null
    apt-get install -y -q --no-install-recommends -o Dpkg::Options::=--force-confdef \
      -o Dpkg::Options::=--force-confold $missing >$LOGS/apt.log 2>&1
    log "apt install done"
  else log "packages already installed"; fi
}

# ---------------------------------------------------------------- postgres + rabbitmq
phase_infra() {
  local PGBIN=/usr/lib/postgresql/15/bin
  mkdir -p $RUN/pg; chown postgres $RUN/pg
  if [ ! -f $DATA/pg/PG_VERSION ]; then
    mkdir -p $DATA/pg; chown postgres $DATA/pg
    runuser -u postgres -- $PGBIN/initdb -D $DATA/pg -A trust -U postgres >$LOGS/initdb.log 2>&1
  fi
  start postgres runuser -u postgres -- $PGBIN/postgres -D $DATA/pg -c listen_addresses=127.0.0.1 \
    -c port=5432 -c unix_socket_directories=$RUN/pg -c max_connections=400 -c fsync=off \
    -c synchronous_commit=off -c full_page_writes=off
  wait_port 5432 60
  for i in $(seq 1 30); do psql_ -c 'select 1' >/dev/null 2>&1 && break; sleep 1; done
  psql_ -c "select 1 from pg_roles where rolname='openstack'" | grep -q 1 || \
    psql_ -c "create role openstack login superuser password '$PW'"
  for db in keystone nova_api nova nova_cell0 placement neutron glance gnocchi; do
    psql_ -c "select 1 from pg_database where datname='$db'" | grep -q 1 || psql_ -c "create database $db owner openstack"
  done
  # mariadb: only for octavia + senlin (their migrations fail on PostgreSQL)
  mkdir -p $RUN/mysql; chown mysql: $RUN/mysql
  if [ ! -d $DATA/mysql/mysql ]; then
    mkdir -p $DATA/mysql; chown mysql: $DATA/mysql
    mariadb-install-db --user=mysql --datadir=$DATA/mysql --skip-test-db >$LOGS/mariadb-install.log 2>&1
  fi
  start mariadb runuser -u mysql -- /usr/sbin/mariadbd --no-defaults --datadir=$DATA/mysql \
    --bind-address=127.0.0.1 --port=3306 --socket=$RUN/mysql/mysqld.sock --pid-file=$RUN/mysql/mysqld.pid \
    --skip-name-resolve --innodb-buffer-pool-size=64M --performance-schema=off --max-connections=200 \
    --innodb-flush-log-at-trx-commit=0 --log-error=$LOGS/mariadb-error.log
  wait_port 3306 60
  for i in $(seq 1 30); do mariadb --socket=$RUN/mysql/mysqld.sock -uroot -e 'select 1' >/dev/null 2>&1 && break; sleep 1; done
  mariadb --socket=$RUN/mysql/mysqld.sock -uroot -e "CREATE DATABASE IF NOT EXISTS octavia; CREATE DATABASE IF NOT EXISTS senlin;
    CREATE USER IF NOT EXISTS 'openstack'@'127.0.0.1' IDENTIFIED BY '$PW';
    GRANT ALL PRIVILEGES ON *.* TO 'openstack'@'127.0.0.1'; FLUSH PRIVILEGES;"
  # rabbitmq (epmd + node both on loopback only)
  mkdir -p $DATA/rabbitmq $LOGS/rabbitmq; chown rabbitmq: $DATA/rabbitmq $LOGS/rabbitmq
  echo '[].' >$DATA/rabbitmq/enabled_plugins; chown rabbitmq: $DATA/rabbitmq/enabled_plugins
  cat >$ETC/rabbitmq.env <<EOF
export HOME=/var/lib/rabbitmq
export RABBITMQ_NODENAME=rabbit@localhost
export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
export RABBITMQ_NODE_PORT=5672
export RABBITMQ_DIST_PORT=25672
export ERL_EPMD_ADDRESS=127.0.0.1
export ERL_EPMD_PORT=4369
export RABBITMQ_MNESIA_BASE=$DATA/rabbitmq/mnesia
export RABBITMQ_LOG_BASE=$LOGS/rabbitmq
export RABBITMQ_ENABLED_PLUGINS_FILE=$DATA/rabbitmq/enabled_plugins
export RABBITMQ_CONFIG_FILE=$DATA/rabbitmq/rabbitmq
export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
export RABBITMQ_CTL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
EOF
  printf 'listeners.tcp.default = 127.0.0.1:5672\nloopback_users = none\n' >$DATA/rabbitmq/rabbitmq.conf
  chown rabbitmq: $DATA/rabbitmq/rabbitmq.conf
  start epmd runuser -u rabbitmq -- /usr/bin/epmd -address 127.0.0.1 -port 4369
  wait_port 4369 20
  start rabbitmq bash -c ". $ETC/rabbitmq.env; exec runuser -u rabbitmq -- /usr/lib/rabbitmq/bin/rabbitmq-server"
  wait_port 5672 120
  local ctl="runuser -u rabbitmq -- env -i PATH=$PATH bash -c '. $ETC/rabbitmq.env; /usr/lib/rabbitmq/bin/rabbitmqctl -q"
  for i in $(seq 1 60); do eval "$ctl await_startup'" >/dev/null 2>&1 && break; sleep 1; done
  local users; users=$(eval "$ctl list_users'" || true)
  grep -q '^openstack' <<<"$users" || { eval "$ctl add_user openstack $PW'"; eval "$ctl set_permissions openstack \".*\" \".*\" \".*\"'"; }
}

# ---------------------------------------------------------------- keystone
phase_keystone() {
  mkdir -p $ETC/keystone $DATA/keystone
  cat >$ETC/keystone/keystone.conf <<EOF
[DEFAULT]
debug = false
[database]
connection = $DBURL/keystone
[token]
provider = fernet
expiration = 14400
[fernet_tokens]
key_repository = $DATA/keystone/fernet-keys
[credential]
key_repository = $DATA/keystone/credential-keys
[oslo_policy]
enforce_new_defaults = false
enforce_scope = false
EOF
  local KM="keystone-manage --config-file $ETC/keystone/keystone.conf"
  $KM db_sync >$LOGS/keystone-db_sync.log 2>&1
  [ -d $DATA/keystone/fernet-keys ] || { mkdir -p $DATA/keystone/fernet-keys; $KM fernet_setup --keystone-user root --keystone-group root; }
  [ -d $DATA/keystone/credential-keys ] || { mkdir -p $DATA/keystone/credential-keys; $KM credential_setup --keystone-user root --keystone-group root; }
  $KM bootstrap --bootstrap-password $ADMIN_PW --bootstrap-admin-url $KS/v3/ \
    --bootstrap-internal-url $KS/v3/ --bootstrap-public-url $KS/v3/ --bootstrap-region-id RegionOne \
    >>$LOGS/keystone-bootstrap.log 2>&1
  uwsgi_start keystone 5000 /usr/bin/keystone-wsgi-public 2 2 --env OS_KEYSTONE_CONFIG_DIR=$ETC/keystone
  # keystone-short: the same Keystone (database, fernet keys) on :5001, issuing tokens that expire
  # after $SHORT_TOKEN s, so the e2e suite sees a real expiry in seconds. Its tokens are validated
  # by every service through :5000 like any other.
  mkdir -p $ETC/keystone-short
  sed "s/^expiration = .*/expiration = $SHORT_TOKEN/" $ETC/keystone/keystone.conf >$ETC/keystone-short/keystone.conf
  uwsgi_start keystone-short 5001 /usr/bin/keystone-wsgi-public 1 2 --env OS_KEYSTONE_CONFIG_DIR=$ETC/keystone-short
  wait_http $KS/v3 120
  wait_http http://127.0.0.1:5001/v3 120
  $PY $HERE/ks_setup.py >$LOGS/ks_setup.log 2>&1 || { cat $LOGS/ks_setup.log; return 1; }
}

# ---------------------------------------------------------------- placement
phase_placement() {
  mkdir -p $ETC/placement
  { cat <<EOF
[DEFAULT]
debug = false
[placement_database]
connection = $DBURL/placement
[api]
auth_strategy = keystone
EOF
  authtoken placement; } >$ETC/placement/placement.conf
  placement-manage --config-file $ETC/placement/placement.conf db sync >$LOGS/placement-db_sync.log 2>&1
  uwsgi_start placement 8778 /usr/bin/placement-api 1 4 --env OS_PLACEMENT_CONFIG_DIR=$ETC/placement
  wait_http http://127.0.0.1:8778/ 120
}

# ---------------------------------------------------------------- neutron (no agents)
# ML2 with our agentless mechanism driver 'oslab' ($HERE/oslab_ml2.py): binds every port on every host (vif_type ovs,
# status ACTIVE), so servers with NICs on lab-net (flat, made by os_setup.py) go ACTIVE with IPv4+IPv6 addresses.
# It is registered by a small dist-info under $LAB_DIR/pylib, on neutron-server's PYTHONPATH only.
phase_neutron() {
  mkdir -p $ETC/neutron $DATA/neutron $L/pylib/oslab_ml2-1.0.dist-info
  cp $HERE/oslab_ml2.py $L/pylib/oslab_ml2.py
  printf 'Metadata-Version: 2.1\nName: oslab-ml2\nVersion: 1.0\nSummary: agentless ML2 driver for the oslab lab\n' \
    >$L/pylib/oslab_ml2-1.0.dist-info/METADATA
  printf '[neutron.ml2.mechanism_drivers]\noslab = oslab_ml2:LabMechanismDriver\n' >$L/pylib/oslab_ml2-1.0.dist-info/entry_points.txt
  cp /etc/neutron/api-paste.ini $ETC/neutron/api-paste.ini
  { cat <<EOF
[DEFAULT]
bind_host = 127.0.0.1
bind_port = 9696
core_plugin = ml2
service_plugins = router,port_forwarding
auth_strategy = keystone
transport_url = $RABBIT
api_workers = 1
rpc_workers = 0
rpc_state_report_workers = 0
notify_nova_on_port_status_changes = false
notify_nova_on_port_data_changes = false
api_paste_config = $ETC/neutron/api-paste.ini
state_path = $DATA/neutron
[database]
connection = $DBURL/neutron
[oslo_concurrency]
lock_path = $DATA/neutron/lock
[ml2]
type_drivers = flat
tenant_network_types =
mechanism_drivers = oslab
extension_drivers = port_security
[ml2_type_flat]
flat_networks = *
[agent]
root_helper = true
EOF
  authtoken neutron; } >$ETC/neutron/neutron.conf
  neutron-db-manage --config-file $ETC/neutron/neutron.conf upgrade heads >$LOGS/neutron-db_sync.log 2>&1
  start neutron-server env PYTHONPATH=$L/pylib neutron-server --config-file $ETC/neutron/neutron.conf
  wait_http http://127.0.0.1:9696/ 180
  # quirk: the first ports query in a fresh neutron API worker fails (AttributeError Port.port_forwardings,
  # sqlalchemy mappers not configured yet); any earlier query (networks) configures them.
  local t; t=$(curl -si -X POST $KS/v3/auth/tokens -H 'Content-Type: application/json' -d '{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"admin","domain":{"name":"Default"},"password":"'$ADMIN_PW'"}}},"scope":{"project":{"name":"admin","domain":{"name":"Default"}}}}}' | awk -F': ' 'tolower($1)=="x-subject-token"{print $2}' | tr -d '\r')
  curl -s -o /dev/null -H "X-Auth-Token: $t" http://127.0.0.1:9696/v2.0/networks
}

# ---------------------------------------------------------------- glance
phase_glance() {
  mkdir -p $ETC/glance $DATA/glance/images $DATA/glance/staging
  cp /etc/glance/glance-api-paste.ini $ETC/glance/
  { cat <<EOF
[DEFAULT]
bind_host = 127.0.0.1
bind_port = 9292
workers = 1
enabled_backends = file:file
[database]
connection = $DBURL/glance
[glance_store]
default_backend = file
[file]
filesystem_store_datadir = $DATA/glance/images
[os_glance_staging_store]
filesystem_store_datadir = $DATA/glance/staging
[os_glance_tasks_store]
filesystem_store_datadir = $DATA/glance/tasks
[paste_deploy]
flavor = keystone
config_file = $ETC/glance/glance-api-paste.ini
[oslo_policy]
enforce_new_defaults = false
enforce_scope = false
EOF
  authtoken glance; } >$ETC/glance/glance-api.conf
  glance-manage --config-file $ETC/glance/glance-api.conf db_sync >$LOGS/glance-db_sync.log 2>&1
  start glance-api glance-api --config-file $ETC/glance/glance-api.conf
  wait_http http://127.0.0.1:9292/ 120
}

# ---------------------------------------------------------------- nova
phase_nova() {
  mkdir -p $ETC/nova $DATA/nova/instances $DATA/nova/lock
  cp /etc/nova/api-paste.ini $ETC/nova/api-paste.ini
  { cat <<EOF
[DEFAULT]
debug = false
host = controller
my_ip = 127.0.0.1
transport_url = $RABBIT
compute_driver = fake.FakeDriver
state_path = $DATA/nova
instances_path = $DATA/nova/instances
osapi_compute_listen = 127.0.0.1
metadata_listen = 127.0.0.1
enabled_apis = osapi_compute
# fast feedback for tests
heal_instance_info_cache_interval = -1
sync_power_state_interval = 10
update_resources_interval = 10
# the fake driver plugs nothing and neutron sends no vif-plugged events: never wait for them
vif_plugging_is_fatal = false
vif_plugging_timeout = 0
[api]
auth_strategy = keystone
[wsgi]
api_paste_config = $ETC/nova/api-paste.ini
[conductor]
workers = 1
[scheduler]
workers = 1
discover_hosts_in_cells_interval = 10
[oslo_concurrency]
lock_path = $DATA/nova/lock
[oslo_messaging_notifications]
driver = noop
[oslo_policy]
enforce_new_defaults = false
enforce_scope = false
[vnc]
enabled = false
[glance]
api_servers = http://127.0.0.1:9292
[cinder]
os_region_name = RegionOne
[compute]
live_migration_wait_for_vif_plug = false
EOF
  authtoken nova
  svc_auth placement placement
  svc_auth neutron neutron
  echo "service_metadata_proxy = false"; } >$ETC/nova/nova-cpu.conf   # computes: no DB access
  { cat $ETC/nova/nova-cpu.conf; printf '[api_database]\nconnection = %s\n[database]\nconnection = %s\n' \
      "$DBURL/nova_api" "$DBURL/nova"; } >$ETC/nova/nova.conf
  for h in compute1 compute2; do
    printf '[DEFAULT]\nhost = %s\n' $h >$ETC/nova/$h.conf
  done
  local NM="nova-manage --config-file $ETC/nova/nova.conf"
  $NM api_db sync >$LOGS/nova-db_sync.log 2>&1
  $NM cell_v2 map_cell0 --database_connection $DBURL/nova_cell0 >>$LOGS/nova-db_sync.log 2>&1 || true
  # capture first: `grep -q` in a pipe can SIGPIPE nova-manage, and pipefail then reads that as "no cell1"
  local cells; cells=$($NM cell_v2 list_cells 2>/dev/null || true)
  grep -q ' cell1 ' <<<"$cells" || \
    $NM cell_v2 create_cell --name cell1 --database_connection $DBURL/nova --transport-url $RABBIT >>$LOGS/nova-db_sync.log 2>&1
  $NM db sync >>$LOGS/nova-db_sync.log 2>&1
  uwsgi_start nova-api 8774 /usr/bin/nova-api-wsgi 2 1 --env OS_NOVA_CONFIG_DIR=$ETC/nova
  start nova-conductor nova-conductor --config-file $ETC/nova/nova.conf
  start nova-scheduler nova-scheduler --config-file $ETC/nova/nova.conf
  for h in compute1 compute2; do
    start nova-compute-$h $PY -c 'import sys; sys.argv[0]="nova-compute"; from nova.cmd.compute import main; sys.exit(main())' \
      --config-file $ETC/nova/nova-cpu.conf --config-file $ETC/nova/$h.conf
  done
  wait_http http://127.0.0.1:8774/ 180
  # wait until both computes registered, then map them into cell1
  local i n=0; for i in $(seq 1 120); do
    n=$(psql_ -d nova -c "select count(*) from compute_nodes where deleted=0")
    [ "$n" -ge 2 ] && break; sleep 2; done
  $NM cell_v2 discover_hosts --verbose >>$LOGS/nova-db_sync.log 2>&1
}

# ---------------------------------------------------------------- gnocchi
phase_gnocchi() {
  mkdir -p $ETC/gnocchi $DATA/gnocchi
  # keystonemiddleware must read *our* gnocchi.conf (paste filter otherwise loads /etc/gnocchi/gnocchi.conf)
  sed "/^oslo_config_project = gnocchi/a oslo_config_file = $ETC/gnocchi/gnocchi.conf" /etc/gnocchi/api-paste.ini >$ETC/gnocchi/api-paste.ini
  { cat <<EOF
[DEFAULT]
debug = false
coordination_url = file://$DATA/gnocchi/locks
[api]
auth_mode = keystone
host = 127.0.0.1
port = 8041
paste_config = $ETC/gnocchi/api-paste.ini
[indexer]
url = postgresql://openstack:$PW@127.0.0.1:5432/gnocchi
[storage]
driver = file
file_basepath = $DATA/gnocchi
[incoming]
driver = file
file_basepath = $DATA/gnocchi
[metricd]
workers = 1
metric_processing_delay = 2
EOF
  authtoken gnocchi; } >$ETC/gnocchi/gnocchi.conf
  gnocchi-upgrade --config-file $ETC/gnocchi/gnocchi.conf >$LOGS/gnocchi-upgrade.log 2>&1
  # gnocchi-api's own launcher wants uwsgi's 'http' router plugin (not in Debian's uwsgi-core): run the module ourselves
  uwsgi_start gnocchi-api 8041 /usr/lib/python3/dist-packages/gnocchi/rest/wsgi.py 1 4 \
    --pyargv "--config-file $ETC/gnocchi/gnocchi.conf"
  start gnocchi-metricd gnocchi-metricd --config-file $ETC/gnocchi/gnocchi.conf
  wait_http http://127.0.0.1:8041/ 120
}

# ---------------------------------------------------------------- octavia
phase_octavia() {
  mkdir -p $ETC/octavia $DATA/octavia/certs
  [ -f $DATA/octavia/certs/ca.pem ] || openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj /CN=oslab-octavia-ca \
    -keyout $DATA/octavia/certs/ca.key -out $DATA/octavia/certs/ca.pem >/dev/null 2>&1
  { cat <<EOF
[DEFAULT]
debug = false
transport_url = $RABBIT
[api_settings]
bind_host = 127.0.0.1
bind_port = 9876
auth_strategy = keystone
enabled_provider_drivers = amphora:'Amphora provider with noop compute/network/amphora drivers',noop_driver:'The No-Op driver.'
default_provider_driver = amphora
[database]
connection = mysql+pymysql://openstack:$PW@127.0.0.1:3306/octavia
[controller_worker]
amphora_driver = amphora_noop_driver
compute_driver = compute_noop_driver
network_driver = network_noop_driver
volume_driver = volume_noop_driver
image_driver = image_noop_driver
loadbalancer_topology = SINGLE
amp_image_tag = amphora
amp_flavor_id = 1
amp_boot_network_list = 00000000-0000-0000-0000-000000000000
client_ca = $DATA/octavia/certs/ca.pem
workers = 1
[task_flow]
jobboard_enabled = false
[certificates]
cert_generator = local_cert_generator
ca_certificate = $DATA/octavia/certs/ca.pem
ca_private_key = $DATA/octavia/certs/ca.key
[driver_agent]
status_socket_path = $RUN/octavia-status.sock
stats_socket_path = $RUN/octavia-stats.sock
get_socket_path = $RUN/octavia-get.sock
[oslo_messaging]
topic = octavia_prov
[oslo_policy]
enforce_new_defaults = false
enforce_scope = false
[oslo_concurrency]
lock_path = $DATA/octavia/lock
[health_manager]
heartbeat_key = insecure
[house_keeping]
EOF
  authtoken octavia
  svc_auth service_auth octavia; } >$ETC/octavia/octavia.conf
  octavia-db-manage --config-file $ETC/octavia/octavia.conf upgrade head >$LOGS/octavia-db_sync.log 2>&1
  uwsgi_start octavia-api 9876 /usr/bin/octavia-wsgi 1 4 --pyargv "--config-file $ETC/octavia/octavia.conf"
  start octavia-driver-agent octavia-driver-agent --config-file $ETC/octavia/octavia.conf
  start octavia-worker octavia-worker --config-file $ETC/octavia/octavia.conf
  wait_http http://127.0.0.1:9876/ 120
}

# ---------------------------------------------------------------- data bootstrap (flavor, image, clouds.yaml)
phase_bootstrap() {
  $PY $HERE/os_setup.py >$LOGS/os_setup.log 2>&1 || { cat $LOGS/os_setup.log; return 1; }
  cat $L/env.sh
}

# ---------------------------------------------------------------- IPv6-only variant (tests/lab/README.md, "IPv6 only")
# lab-v6relay: HAProxy (TCP) on [::1]:PORT for every API on 127.0.0.1:PORT, so the region lab-v6 of
# Keystone's catalog (ipv6_setup.py) has its endpoints on [::1]; network lab-net6, IPv6 only.
V6_PORTS="5000 8774 8778 9696 9292 8041 9876"
phase_ipv6() {
  command -v haproxy >/dev/null || { apt-get install -y -q --no-install-recommends haproxy >$LOGS/apt-haproxy.log 2>&1; log "haproxy installed"; }
  { printf 'global\n  maxconn 2000\n  stats socket %s mode 600 level admin\ndefaults\n' "$RUN/v6relay.sock"
    printf '  mode tcp\n  timeout connect 5s\n  timeout client 10m\n  timeout server 10m\n'
    local p; for p in $V6_PORTS; do printf 'listen api-%s\n  bind [::1]:%s v6only\n  server s 127.0.0.1:%s\n' $p $p $p; done
  } >$ETC/v6relay.cfg
  start lab-v6relay haproxy -db -f $ETC/v6relay.cfg
  local i; for i in $(seq 1 60); do curl -gs -o /dev/null --max-time 2 'http://[::1]:5000/' && break; sleep 0.5; done
  curl -gs -o /dev/null --max-time 5 'http://[::1]:5000/' || { tail -20 $LOGS/lab-v6relay.log; return 1; }
  $PY $HERE/ipv6_setup.py >$LOGS/ipv6_setup.log 2>&1 || { cat $LOGS/ipv6_setup.log; return 1; }
  cat $LOGS/ipv6_setup.log
}

# ---------------------------------------------------------------- bodies + load balancer (tests/lab/README.md)
# watcher.py gives every server on lab-net a network namespace with a small web service that follows Nova;
# lbsync.py runs HAProxy on the VIPs of load balancers created inside lab-net, members and weights from Octavia.
phase_bodies() {
  command -v haproxy >/dev/null || { apt-get install -y -q --no-install-recommends haproxy >$LOGS/apt-haproxy.log 2>&1; log "haproxy installed"; }
  local n0=0; [ -f $LOGS/lab-bodies.log ] && n0=$(wc -l <$LOGS/lab-bodies.log)
  alive lab-bodies && n0=0   # already running: its first lines say it is watching
  # cpu.py: each body's CPU time into Gnocchi every second (ceilometer-high-rate, 1 s granularity)
  start lab-bodies env LAB_DIR=$L LAB_CPU_GRANULARITY=${LAB_CPU_GRANULARITY:-1} $PY $HERE/bodies/watcher.py
  start lab-lbsync env LAB_DIR=$L $PY $HERE/bodies/lbsync.py
  local i; for i in $(seq 1 120); do tail -n +$((n0 + 1)) $LOGS/lab-bodies.log | grep -q watching && break; sleep 0.5; done
  tail -n +$((n0 + 1)) $LOGS/lab-bodies.log | grep -q watching || { tail -20 $LOGS/lab-bodies.log; return 1; }
}

# nova-api alone: restarts only the compute API (the e2e fault test stops it with `down.sh nova-api`)
phase_nova-api() {
  uwsgi_start nova-api 8774 /usr/bin/nova-api-wsgi 2 1 --env OS_NOVA_CONFIG_DIR=$ETC/nova
  wait_http http://127.0.0.1:8774/ 120
}

PHASES=${*:-install infra keystone placement neutron glance nova gnocchi octavia bootstrap ipv6}
for p in $PHASES; do log "== phase $p"; phase_$p; done
log "done in $(( $(date +%s) - T0 ))s"
