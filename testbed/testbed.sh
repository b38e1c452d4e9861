#!/usr/bin/env bash
# Mercador K2K testbed: two real OpenStack Keystones on one machine.
#
#   Keystone A = SAML2 identity provider : uwsgi --http             127.0.0.1:$A_PORT   (5001)
#                and $A_IDPS-1 more SAML identities of A: one uwsgi each over A's database, fernet
#                and credential keys, with its own [saml] idp_entity_id and signing key
#                                                                   127.0.0.1:$A_IDP_PORT.. (5021..)
#                (Keystone B accepts one identity provider per remote id: tests that subscribe
#                with a real identity of A each take one, so they run side by side).
#   Keystone B = SAML2 service provider  : uwsgi --socket (uwsgi)   127.0.0.1:$B_UWSGI  (5012)
#                behind Apache 2.4 + mod_shib (Shibboleth SP 3, ECP) + mod_proxy_uwsgi
#                                                                   127.0.0.1:$B_PORT   (5002)
#                shibd talks to mod_shib over a unix socket inside the state dir.
#   PostgreSQL (Debian's)                : 127.0.0.1:$PG_PORT (5003), database mercador, for Mercador's
#                publisher store; database mercador_b: the store of B's publisher that Keystone B's
#                catalog driver `mercador` reads (the demo's and the catalog tests' publisher use it); a private cluster in $STATE/pg run as user postgres (initdb once,
#                reused by later starts), its unix socket inside the state dir.
#   Horizon (OpenStack Dashboard) for A  : uwsgi --http             127.0.0.1:$H_PORT   (5004)
#                in its own venv ($VENV-horizon), settings horizon/local_settings.py.
#   Horizon for B (the publisher's panels): uwsgi --http            127.0.0.1:$HB_PORT  (5006)
#                the same venv and plugin, its own secret key, sessions and log.
#   Glance (image service) on B          : uwsgi --http             127.0.0.1:$G_PORT   (5005)
#                in its own venv ($VENV-glance); SQLite, file store, auth_token against B, unified
#                limits (oslo.limit) on; service `image` in B's catalog (region of B).
#   Keystone B's catalog driver is Mercador's (`[catalog] driver = mercador`, the wheel built from
#                mercador-py/ with maturin and installed into Keystone's venv): a token of a project
#                of a vregion's domain lists only the vregion's services (docs/catalog-plugin.md).
#
# Deliberately NOT created here: identity providers, mappings, protocols, service providers
# and Shibboleth trust. Mercador configures those; `check` creates temporary ones and deletes
# them again. B's shibd trusts exactly the IdPs whose metadata files are in
# $STATE/b/shib/metadata (LocalDynamic provider, see README.md), which starts empty.
#
# Usage: testbed.sh start|stop|restart|status|check [--measure-revocation]|env|shibd stop|start
#                   |horizon stop|start|horizon-b stop|start|glance stop|start
#                   |sp-instance start DIR PORT|sp-instance stop DIR [shibd|apache]
# Knobs (env): MERCADOR_TESTBED_STATE  (default <repo>/testbed/state, or /var/lib/mercador-testbed/...: README.md)
#              MERCADOR_TESTBED_VENV   (default <repo>/testbed/.venv, may be shared)
#              MERCADOR_TESTBED_A_PORT=5001 MERCADOR_TESTBED_B_PORT=5002
#              MERCADOR_TESTBED_B_UWSGI_PORT=5012 MERCADOR_TESTBED_PG_PORT=5003
#              MERCADOR_TESTBED_HORIZON_PORT=5004 MERCADOR_TESTBED_GLANCE_PORT=5005
#              MERCADOR_TESTBED_HORIZON_B_PORT=5006
#              MERCADOR_TESTBED_A_IDENTITIES=4 (SAML identities of A, the first on A_PORT)
#              MERCADOR_TESTBED_A_IDP_PORT=A_PORT+20 (first port of the other identities)
#
# Derived from the proven reference recipe in shared/reference/k2k-testbed; its gotchas are
# repeated in comments where they matter.
set -Eeuo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
abspath() { case $1 in /*) printf '%s\n' "$1" ;; *) printf '%s\n' "$PWD/$1" ;; esac; }

# The state dir. MERCADOR_TESTBED_STATE wins. Else <checkout>/testbed/state, unless (as root) the
# users that run services from it (postgres, Apache's www-data) cannot reach it (tried as user
# nobody: postgres may not exist yet), as in a checkout under root's mode-700 home: then
# /var/lib/mercador-testbed/<checkout name>-<hash of its path>, with testbed/state a symlink to it
# (made by start). A checkout whose testbed/state links into /var/lib/mercador-testbed (a copied
# checkout) also gets its own dir there. See README.md.
STATE_HOME=/var/lib/mercador-testbed
STATE_OUTSIDE=0    # 1: the default state dir is under $STATE_HOME (start links testbed/state to it)
CHECKOUT=$(cd "$HERE/.." && pwd -P)
if [ -n "${MERCADOR_TESTBED_STATE:-}" ]; then
  STATE=$(abspath "$MERCADOR_TESTBED_STATE"); STATE_WHY="MERCADOR_TESTBED_STATE"
elif [ "$(id -u)" = 0 ] && ! runuser -u nobody -- test -x "$HERE" 2>/dev/null; then
  STATE_OUTSIDE=1
  STATE_WHY="default for the checkout $CHECKOUT, whose testbed/ users postgres and www-data cannot reach"
elif [ "$(id -u)" = 0 ] && [[ $(readlink "$HERE/state" 2>/dev/null || true) == "$STATE_HOME"/* ]]; then
  STATE_OUTSIDE=1
  STATE_WHY="default for the checkout $CHECKOUT, whose testbed/state is a link into $STATE_HOME"
else
  STATE=$HERE/state; STATE_WHY="default: in the checkout"
fi
if [ "$STATE_OUTSIDE" = 1 ]; then
  STATE=$STATE_HOME/$(basename "$CHECKOUT" | tr -c 'A-Za-z0-9._\n-' _)-$(printf %s "$CHECKOUT" | sha256sum | cut -c1-12)
fi
STATE=${STATE%/}
VENV=$(abspath "${MERCADOR_TESTBED_VENV:-$HERE/.venv}"); VENV=${VENV%/}
A_PORT=${MERCADOR_TESTBED_A_PORT:-5001}
B_PORT=${MERCADOR_TESTBED_B_PORT:-5002}
B_UWSGI=${MERCADOR_TESTBED_B_UWSGI_PORT:-5012}
PG_PORT=${MERCADOR_TESTBED_PG_PORT:-5003}
H_PORT=${MERCADOR_TESTBED_HORIZON_PORT:-5004}
G_PORT=${MERCADOR_TESTBED_GLANCE_PORT:-5005}
HB_PORT=${MERCADOR_TESTBED_HORIZON_B_PORT:-5006}
A_IDPS=${MERCADOR_TESTBED_A_IDENTITIES:-4}
A_IDP_PORT=${MERCADOR_TESTBED_A_IDP_PORT:-$(( ${A_PORT//[^0-9]/} + 20 ))}

KEYSTONE_VERSION=30.0.0
# Pinned so that CI resolves the same set every time (what an unpinned install resolved with
# keystone 30.0.0 on Debian 12 when this was written; pip picks the rest, see $VENV/.testbed-freeze.txt).
# pymemcache: the client of Keystone's cache (oslo.cache's dogpile.cache.pymemcache backend).
PIP_PACKAGES=("keystone==$KEYSTONE_VERSION" "python-openstackclient==10.5.0" "keystoneauth1==5.18.1"
              "pymemcache==4.0.0")
# Test tools kept out of Keystone's venv (their dependencies would clash).
TOOLS_PACKAGES=("schemathesis==4.32.5")
TOOLS_VENV=$VENV-tools
# Horizon in a venv of its own (Django and its pins stay out of Keystone's); served by the Keystone
# venv's uwsgi (built against Debian's libpython, the same interpreter) with --virtualenv.
# horizon 27.0.0 goes with keystone 30.0.0 (same keystoneauth1 and oslo.* versions).
HORIZON_PACKAGES=("horizon==27.0.0")
HORIZON_VENV=$VENV-horizon
# Glance in a venv of its own too, served the same way (the Keystone venv's uwsgi, --virtualenv).
GLANCE_PACKAGES=("glance==33.0.0")
GLANCE_VENV=$VENV-glance
# Registered limits (Keystone B, Glance's service, B's region): the default of every project.
# Sizes in MiB, as Glance counts them.
GLANCE_REGISTERED_LIMITS="image_size_total=1000,image_stage_total=1000,image_count_total=100,image_count_uploading=10"
APT_PACKAGES=(xmlsec1 apache2 libapache2-mod-shib python3-venv python3-dev gcc libc6-dev curl openssl iproute2
              procps    # procps: ps, used to find the children of a service when stopping it
              postgresql
              memcached)   # Keystone's cache, one memcached per Keystone (as deployments run it)

V=$VENV/bin
A=$STATE/a
B=$STATE/b
S=$B/shib
MD_DIR=$S/metadata           # LocalDynamic metadata directory (Mercador writes <sha1(entityID)>.xml here)
LOGS=$STATE/logs
PIDS=$STATE/pids
ENV_FILE=$STATE/testbed.env
MARKER=$STATE/.mercador-testbed

A_URL=http://127.0.0.1:$A_PORT/v3
B_URL=http://127.0.0.1:$B_PORT/v3
IDP_ENTITY_ID=$A_URL/OS-FEDERATION/saml2/idp
SP_ENTITY_ID=http://127.0.0.1:$B_PORT/shibboleth
SP_ECP_URL=http://127.0.0.1:$B_PORT/Shibboleth.sso/SAML2/ECP
H_URL=http://127.0.0.1:$H_PORT/
H=$STATE/horizon             # Horizon's secret key and session files
H_IDP_ID=localkeystone       # Horizon's id and name of A itself in its keystone-provider menu
H_IDP_NAME="Keystone A"
HB_URL=http://127.0.0.1:$HB_PORT/
HB=$STATE/horizon-b          # Horizon B's secret key and session files
G_URL=http://127.0.0.1:$G_PORT
G=$B/glance                  # Glance's configuration, database, image store
# The other SAML identities of A: identity i (1..A_IDPS-1) is uwsgi-a$i on port A_IDP_PORT+i-1.
A_EXTRA=()
for ((i = 1; i < ${A_IDPS//[^0-9]/}; i++)); do A_EXTRA+=("$i"); done
a_idp_port() { echo $(( A_IDP_PORT + $1 - 1 )); }
a_idp_url() { echo "http://127.0.0.1:$(a_idp_port "$1")/v3"; }
A_IDP_SERVICES=(); for i in "${A_EXTRA[@]}"; do A_IDP_SERVICES+=("uwsgi-a$i"); done
SERVICES=(horizon horizon-b glance apache-b shibd uwsgi-b uwsgi-a "${A_IDP_SERVICES[@]}" memcached-b memcached-a)   # stop order: front to back
# PostgreSQL is not in SERVICES: it is stopped with pg_ctl (a fast shutdown; SIGTERM would wait
# for every client to disconnect) and its cluster outlives wipe_state.
PG=$STATE/pg                 # the cluster's dir (kept across starts)
PG_DATA=$PG/data             # data directory, owned by the server's user
PG_RUN=$PG/run               # unix socket directory (mode 700: only that user and root get in)
PG_LOG=$LOGS/postgres.log

# ------------------------------------------------------------------------------ helpers
T0=$(date +%s.%N)
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN{printf "%.1f", b-a}'; }
log() { echo "[testbed +$(since "$T0")s] $*"; }
die() { echo "[testbed] ERROR: $*" >&2; exit 1; }

STEP="init"
STEP_LOGS=()       # logs whose tail is printed if the current step fails
STARTING=0         # 1 while `start` builds; a failure then stops what was already started
step() { STEP=$1; shift; STEP_LOGS=("$@"); log "$STEP"; }

on_error() {
  local rc=$? line=$1
  trap - ERR
  echo "[testbed] FAILED (exit $rc, line $line) during: $STEP" >&2
  local f
  for f in "${STEP_LOGS[@]}"; do
    [ -s "$f" ] || continue
    echo "----- last 30 lines of $f -----" >&2
    tail -n 30 "$f" >&2
  done
  if [ "$STARTING" = 1 ]; then
    echo "[testbed] stopping the processes this failed start had launched (logs kept in $LOGS)" >&2
    stop_all >&2 || true
  fi
  exit "$rc"
}
trap 'on_error $LINENO' ERR

check_port_number() {
  [[ $2 =~ ^[0-9]+$ ]] && [ "$2" -ge 1 ] && [ "$2" -le 65535 ] || die "$1=$2 is not a valid port"
}
validate_settings() {
  check_port_number MERCADOR_TESTBED_A_PORT "$A_PORT"
  check_port_number MERCADOR_TESTBED_B_PORT "$B_PORT"
  check_port_number MERCADOR_TESTBED_B_UWSGI_PORT "$B_UWSGI"
  check_port_number MERCADOR_TESTBED_PG_PORT "$PG_PORT"
  check_port_number MERCADOR_TESTBED_HORIZON_PORT "$H_PORT"
  check_port_number MERCADOR_TESTBED_GLANCE_PORT "$G_PORT"
  check_port_number MERCADOR_TESTBED_HORIZON_B_PORT "$HB_PORT"
  [[ $A_IDPS =~ ^[0-9]+$ ]] && [ "$A_IDPS" -ge 1 ] && [ "$A_IDPS" -le 16 ] \
    || die "MERCADOR_TESTBED_A_IDENTITIES=$A_IDPS: give 1 to 16"
  check_port_number MERCADOR_TESTBED_A_IDP_PORT "$A_IDP_PORT"
  local i; for i in "${A_EXTRA[@]}"; do check_port_number "MERCADOR_TESTBED_A_IDP_PORT+$((i - 1))" "$(a_idp_port "$i")"; done
  local all; all=$(all_ports)
  [ "$(printf '%s\n' $all | sort -u | wc -l)" = "$(printf '%s\n' $all | wc -l)" ] \
    || die "ports must be distinct (A=$A_PORT B=$B_PORT B_UWSGI=$B_UWSGI PG=$PG_PORT HORIZON=$H_PORT HORIZON_B=$HB_PORT GLANCE=$G_PORT, A's other identities from $A_IDP_PORT: $all)"
}
all_ports() {  # every port this testbed listens on
  local i; echo "$A_PORT" "$B_PORT" "$B_UWSGI" "$PG_PORT" "$H_PORT" "$HB_PORT" "$G_PORT"
  for i in "${A_EXTRA[@]}"; do a_idp_port "$i"; done
}

# One lock per state dir so that two concurrent start/stop on the same state cannot interleave.
# fd 9 is closed (9>&-) for every daemon we launch, or the daemons would hold the lock forever.
take_state_lock() {
  if [ "$STATE_OUTSIDE" = 1 ]; then install -d -m 755 "$STATE_HOME"; fi
  mkdir -p "$STATE"
  exec 9>"$STATE/.lock"
  flock -w 900 9 || die "could not lock $STATE/.lock (another testbed.sh on this state dir?)"
}

# A default state dir outside the checkout (STATE_OUTSIDE): $STATE/checkout names the checkout, and
# the checkout's testbed/state becomes a symlink to $STATE, so that paths under testbed/state keep
# working. A directory there is never replaced, except what an earlier start that could not run
# there left (marked as ours, no saved PID, no PostgreSQL cluster).
link_state() {
  [ "$STATE_OUTSIDE" = 1 ] || return 0
  printf '%s\n' "$CHECKOUT" >"$STATE/checkout"
  local old=$HERE/state
  if [ -d "$old" ] && [ ! -L "$old" ] && [ -f "$old/$(basename "$MARKER")" ] \
     && ! ls "$old"/pids/*.pid >/dev/null 2>&1 && [ ! -e "$old/pg/data" ]; then
    log "removing $old: an earlier start that could not run there left it"
    rm -rf "$old"
  fi
  if [ -L "$old" ] || [ ! -e "$old" ]; then
    ln -sfn "$STATE" "$old"
  else
    log "note: $old is a directory, left as it is; this testbed's state dir is $STATE"
  fi
}

# ------------------------------------------------------------------------------ processes
expected_cmdline() {  # unique substring of the command line of each service (and its children)
  case $1 in
    uwsgi-a)  echo "OS_KEYSTONE_CONFIG_FILES=$A/keystone.conf" ;;
    uwsgi-a*) echo "OS_KEYSTONE_CONFIG_FILES=$A/idp-${1#uwsgi-a}/keystone.conf" ;;
    uwsgi-b)  echo "OS_KEYSTONE_CONFIG_FILES=$B/keystone.conf" ;;
    shibd)    echo "-c $S/shibboleth2.xml" ;;
    apache-b) echo "-f $B/apache/httpd.conf" ;;
    horizon)  echo "--pidfile $PIDS/horizon.pid" ;;
    horizon-b) echo "--pidfile $PIDS/horizon-b.pid" ;;
    glance)   echo "--pidfile $PIDS/glance.pid" ;;
    postgres) echo "-D $PG_DATA" ;;   # the postmaster (its children rename themselves)
    memcached-a) echo "-s $A/memcached.sock" ;;
    memcached-b) echo "-s $B/memcached.sock" ;;
  esac
}
pid_matches() {  # $1=pid $2=expected substring; true if alive (not zombie) and cmdline matches
  local pid=$1
  [[ $pid =~ ^[0-9]+$ ]] && [ -r "/proc/$pid/cmdline" ] || return 1
  grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null && return 1
  tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -F -- "$2" >/dev/null
}
saved_pid() { if [ -f "$PIDS/$1.pid" ]; then tr -dc '0-9' <"$PIDS/$1.pid"; fi; }
service_alive() { local pid; pid=$(saved_pid "$1"); [ -n "$pid" ] && pid_matches "$pid" "$(expected_cmdline "$1")"; }
descendants() {  # all descendant pids of $1
  ps -e -o pid=,ppid= | awk -v root="$1" '
    { kids[$2] = kids[$2] " " $1 }
    END { n = split(kids[root], q, " "); i = 1
          while (i <= n) { p = q[i++]; print p; m = split(kids[p], c, " "); for (j = 1; j <= m; j++) q[++n] = c[j] } }'
}

# Stop one service by its saved PID (after checking the command line), then wait until the
# process and every child it had (uwsgi workers/http router, Apache workers) are gone.
# uwsgi runs with --die-on-term; TERM stops Apache (and its children) and shibd.
stop_one() {
  local name=$1 pid expect victims p i alive
  pid=$(saved_pid "$name")
  expect=$(expected_cmdline "$name")
  if [ -z "$pid" ]; then rm -f "$PIDS/$name.pid"; return 0; fi
  if ! pid_matches "$pid" "$expect"; then
    echo "  $name: pid $pid not running (or not ours); skipping"
    rm -f "$PIDS/$name.pid"; return 0
  fi
  victims="$pid $(descendants "$pid" | tr '\n' ' ')"
  local t; t=$(now)
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 150); do             # up to 15 s
    alive=""
    for p in $victims; do pid_matches "$p" "$expect" && alive="$alive $p"; done
    [ -z "$alive" ] && break
    sleep 0.1
  done
  if [ -n "$alive" ]; then
    echo "  $name: still alive after TERM + 15 s:$alive; sending KILL to exactly these"
    for p in $alive; do pid_matches "$p" "$expect" && kill -KILL "$p" 2>/dev/null || true; done
    sleep 0.5
  fi
  echo "  stopped $name in $(since "$t")s (pid $pid; children that went with it:${victims#"$pid"})"
  rm -f "$PIDS/$name.pid"
}
stop_all() {
  local n jobs=()
  [ -d "$PIDS" ] || return 0
  # The four services are independent: stop them in parallel (uwsgi needs ~2 s to go).
  for n in "${SERVICES[@]}"; do ( trap - ERR; stop_one "$n" ) & jobs+=($!); done
  ( trap - ERR; stop_postgres ) & jobs+=($!)
  for n in "${jobs[@]}"; do wait "$n" || true; done
  # shibd leaves its socket behind; harmless (next start uses -f) but tidy up.
  rm -f "$S/shibd.sock"
}

http_ok() { curl -sf -o /dev/null --max-time 5 "$1"; }
wait_http() {  # $1=url $2=what $3=timeout seconds
  local i
  for i in $(seq 1 $(( ${3:-60} * 10 ))); do http_ok "$1" && return 0; sleep 0.1; done
  echo "timeout after ${3:-60}s waiting for $2 at $1" >&2
  return 1
}
wait_socket() { local i; for i in $(seq 1 $(( ${2:-10} * 10 ))); do [ -S "$1" ] && return 0; sleep 0.1; done; return 1; }
wait_file() { local i; for i in $(seq 1 $(( ${2:-30} * 10 ))); do [ -s "$1" ] && return 0; sleep 0.1; done
              echo "timeout waiting for $1" >&2; return 1; }
port_in_use() {  # ss comes with iproute2, which may only be installed later on a fresh machine
  if command -v ss >/dev/null; then ss -Hltn "( sport = :$1 )" 2>/dev/null | grep . >/dev/null
  else (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; fi
}

# (Pipelines into grep never use -q: with pipefail, an early grep exit SIGPIPEs the writer
# and turns a match into a failure.)
# Healthy = this state dir was built for the current settings, every saved PID is alive with
# the expected command line, both Keystones answer and shibd answers through Apache, and
# PostgreSQL answers on its port with the env file naming it, and so do Glance's healthcheck and
# Horizon's login page.
# On failure the reason is left in HEALTH_REASON (no output, so it can be used in conditions).
HEALTH_REASON=""
healthy() { keystones_healthy && glance_healthy && postgres_healthy && horizon_healthy && horizon_healthy b; }
keystones_healthy() {
  local n
  HEALTH_REASON=""
  if [ ! -f "$STATE/settings" ] || [ ! -f "$ENV_FILE" ]; then
    HEALTH_REASON="not built (no $ENV_FILE)"; return 1
  fi
  if [ "$(cat "$STATE/settings")" != "$(settings_line)" ]; then
    HEALTH_REASON="state dir was built for other settings: $(cat "$STATE/settings")"; return 1
  fi
  for n in "${SERVICES[@]}"; do
    case $n in horizon|horizon-b|glance) continue ;; esac   # horizon_healthy [b], glance_healthy
    service_alive "$n" || { HEALTH_REASON="$n is not running"; return 1; }
  done
  http_ok "$A_URL" || { HEALTH_REASON="Keystone A does not answer at $A_URL"; return 1; }
  for n in "${A_EXTRA[@]}"; do
    http_ok "$(a_idp_url "$n")" || { HEALTH_REASON="Keystone A's identity $n does not answer at $(a_idp_url "$n")"; return 1; }
  done
  http_ok "$B_URL" || { HEALTH_REASON="Keystone B does not answer at $B_URL"; return 1; }
  http_ok "http://127.0.0.1:$B_PORT/Shibboleth.sso/Status" \
    || { HEALTH_REASON="the Shibboleth status handler (shibd) does not answer"; return 1; }
}
postgres_healthy() {
  HEALTH_REASON=""
  service_alive postgres || { HEALTH_REASON="postgres is not running"; return 1; }
  [ "$(sed -n 4p "$PG_DATA/postmaster.pid" 2>/dev/null)" = "$PG_PORT" ] \
    || { HEALTH_REASON="postgres does not listen on port $PG_PORT"; return 1; }
  "$(pg_bin)/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -d mercador -U mercador \
    || { HEALTH_REASON="PostgreSQL does not answer on 127.0.0.1:$PG_PORT"; return 1; }
  grep -x "MERCADOR_POSTGRES_URL=$(postgres_url)" "$ENV_FILE" >/dev/null 2>&1 \
    || { HEALTH_REASON="$ENV_FILE has no MERCADOR_POSTGRES_URL for port $PG_PORT"; return 1; }
}
glance_healthy() {  # Glance answers, and the env file names it (start registered it in B's catalog)
  HEALTH_REASON=""
  service_alive glance || { HEALTH_REASON="glance is not running"; return 1; }
  http_ok "$G_URL/healthcheck" || { HEALTH_REASON="Glance does not answer at $G_URL/healthcheck"; return 1; }
  grep -x "GLANCE_URL=$G_URL" "$ENV_FILE" >/dev/null 2>&1 \
    || { HEALTH_REASON="$ENV_FILE has no GLANCE_URL for port $G_PORT"; return 1; }
}
horizon_healthy() {  # [b]: Horizon B
  HEALTH_REASON=""
  horizon_side "${1:-a}"
  service_alive "$HZ" || { HEALTH_REASON="$HZ is not running"; return 1; }
  http_ok "${HZ_URL}auth/login/" || { HEALTH_REASON="$HZ_TITLE does not answer at ${HZ_URL}auth/login/"; return 1; }
  grep -x "$HZ_ENV=$HZ_URL" "$ENV_FILE" >/dev/null 2>&1 \
    || { HEALTH_REASON="$ENV_FILE has no $HZ_ENV for port $HZ_PORT"; return 1; }
}
settings_line() { echo "A_PORT=$A_PORT B_PORT=$B_PORT B_UWSGI_PORT=$B_UWSGI GLANCE_PORT=$G_PORT A_IDENTITIES=$A_IDPS A_IDP_PORT=$A_IDP_PORT VENV=$VENV"; }

# ------------------------------------------------------------------------------ build steps
ensure_apt_packages() {
  local p missing=()
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep 'install ok installed' >/dev/null || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && { log "apt packages present"; return 0; }
  step "apt-get install ${missing[*]}" "$LOGS/apt.log"
  export DEBIAN_FRONTEND=noninteractive
  # Installing apache2 / libapache2-mod-shib would start the system-wide apache2 and shibd
  # services on machines without systemd (containers); forbid that for the duration with
  # Debian's policy-rc.d hook (exit 101 = action forbidden), unless the machine already has one.
  local own_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d && own_policy=1
  fi
  local rc=0
  { apt-get update && apt-get install -y --no-install-recommends "${missing[@]}"; } >"$LOGS/apt.log" 2>&1 || rc=$?
  [ "$own_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
  [ "$rc" = 0 ]
}

uwsgi_ok() {  # uwsgi present and linked against Debian's libpython (see ensure_venv)
  [ -x "$V/uwsgi" ] && ldd "$V/uwsgi" 2>/dev/null | grep 'libpython3[^ ]* => /usr/lib/' >/dev/null
}
packages_ok() {
  [ -x "$V/keystone-manage" ] && [ -x "$V/openstack" ] \
    && [ "$(cat "$VENV/.testbed-ready" 2>/dev/null || true)" = "${PIP_PACKAGES[*]}" ]
}
ensure_venv() {
  mkdir -p "$VENV"
  # The venv may be shared between state dirs: serialize its creation.
  exec 8>"$VENV/.install.lock"
  flock -w 900 8 || die "could not lock $VENV/.install.lock"
  # Debian's interpreter, not pyenv's or /usr/local's: uwsgi embeds the libpython of the
  # venv's base interpreter, and Debian's is the one with a shared libpython3.11.
  if ! grep -qx 'home = /usr/bin' "$VENV/pyvenv.cfg" 2>/dev/null; then
    step "creating venv $VENV (Debian /usr/bin/python3)" "$LOGS/pip.log"
    if [ ! -f "$VENV/pyvenv.cfg" ] && [ -n "$(ls -A "$VENV" | grep -vx '.install.lock' || true)" ]; then
      die "$VENV is neither empty nor a venv; refusing to replace it (set MERCADOR_TESTBED_VENV)"
    fi
    find "$VENV" -mindepth 1 -maxdepth 1 ! -name .install.lock -exec rm -rf {} +
    /usr/bin/python3 -m venv "$VENV" >"$LOGS/pip.log" 2>&1
  fi
  if ! packages_ok; then
    step "pip install ${PIP_PACKAGES[*]} into $VENV" "$LOGS/pip.log"
    rm -f "$VENV/.testbed-ready"
    "$V/pip" install -q "${PIP_PACKAGES[@]}" >>"$LOGS/pip.log" 2>&1
    "$V/pip" freeze >"$VENV/.testbed-freeze.txt" 2>>"$LOGS/pip.log"
    printf '%s\n' "${PIP_PACKAGES[*]}" >"$VENV/.testbed-ready"
  fi
  if ! uwsgi_ok; then
    # Gotcha: uwsgi has no wheel on PyPI; a wheel that pip cached after building it with another
    # interpreter (pyenv...) links the wrong libpython and fails with "No module named '_socket'".
    # So build it here, without the cache.
    step "building uwsgi against Debian's libpython (pip --no-cache-dir)" "$LOGS/pip.log"
    "$V/pip" install -q --no-cache-dir --force-reinstall --no-deps uwsgi >>"$LOGS/pip.log" 2>&1
    uwsgi_ok || { echo "uwsgi still not linked against /usr/lib/.../libpython3" >>"$LOGS/pip.log"; false; }
  fi
  log "venv ready ($VENV)"
  if [ "$(cat "$TOOLS_VENV/.testbed-ready" 2>/dev/null)" != "${TOOLS_PACKAGES[*]}" ]; then
    step "pip install ${TOOLS_PACKAGES[*]} into $TOOLS_VENV (test tools)" "$LOGS/pip.log"
    rm -rf "$TOOLS_VENV"
    /usr/bin/python3 -m venv "$TOOLS_VENV" >>"$LOGS/pip.log" 2>&1
    "$TOOLS_VENV/bin/pip" install -q "${TOOLS_PACKAGES[@]}" >>"$LOGS/pip.log" 2>&1
    printf '%s\n' "${TOOLS_PACKAGES[*]}" >"$TOOLS_VENV/.testbed-ready"
  fi
  exec 8>&-
}

# Stop leftovers of an earlier run (saved PIDs only), then delete every generated file.
# Only a directory carrying our marker file (or an empty/new one) is ever wiped.
wipe_state() {
  if [ -d "$PIDS" ] && ls "$PIDS"/*.pid >/dev/null 2>&1; then
    step "stopping processes of a previous run (saved PIDs)"
    stop_all
  fi
  if [ ! -f "$MARKER" ] && [ -n "$(ls -A "$STATE" 2>/dev/null | grep -vx -e '.lock' -e checkout || true)" ]; then
    die "$STATE is not empty and not a testbed state dir (no $(basename "$MARKER")); refusing to wipe it"
  fi
  rm -rf "$A" "$B" "$H" "$LOGS" "$PIDS" "$STATE/secrets.env" "$ENV_FILE" "$STATE/clouds.yaml" \
         "$STATE"/openrc-* "$STATE/settings"
  mkdir -p "$STATE" "$LOGS" "$PIDS"
  : >"$MARKER"
  # Apache workers (www-data) must reach the shibd socket under $S: keep the dirs traversable.
  chmod 755 "$STATE"
}

check_ports_free() {
  local p
  for p in $(all_ports); do
    if port_in_use "$p"; then
      echo "[testbed] ERROR: port $p is already in use by a process this state dir did not start:" >&2
      ss -Hltnp "( sport = :$p )" >&2 2>/dev/null || true
      echo "[testbed] choose other ports with MERCADOR_TESTBED_A_PORT / _B_PORT / _B_UWSGI_PORT / _PG_PORT / _HORIZON_PORT / _HORIZON_B_PORT / _GLANCE_PORT / _A_IDP_PORT" >&2
      exit 1
    fi
  done
}

gen_secrets() {
  # Random passwords, kept only in files of mode 600.
  ( umask 077
    cat >"$STATE/secrets.env" <<EOF
KEYSTONE_A_ADMIN_PASSWORD=$(openssl rand -hex 16)
KEYSTONE_B_ADMIN_PASSWORD=$(openssl rand -hex 16)
KEYSTONE_A_DEMO_PASSWORD=$(openssl rand -hex 16)
GLANCE_SERVICE_PASSWORD=$(openssl rand -hex 16)
EOF
  )
  # shellcheck disable=SC1091
  . "$STATE/secrets.env"
}

write_keystone_conf() {  # $1=dir $2=name
  mkdir -p "$1"
  cat >"$1/keystone.conf" <<EOF
[DEFAULT]
log_file = $LOGS/keystone-$2.log
[database]
connection = sqlite:///$1/keystone.db
[token]
provider = fernet
[fernet_tokens]
key_repository = $1/fernet-keys
[fernet_receipts]
key_repository = $1/fernet-keys
[credential]
key_repository = $1/credential-keys
[identity]
# Testbed only: bcrypt's cheapest cost. Tests create many users and log in
# often; the default (12) makes each password hash ~0.3 s of CPU.
password_hash_rounds = 4
[cache]
# Keystone's cache in memcached, as production deployments (and devstack) run it: without it
# every request recomputes the caller's role assignments from SQL, about 3/4 of Keystone's
# CPU in the test suite. One memcached per Keystone, shared by all its processes (A's other
# SAML identities use A's), so an invalidation in one process holds for all.
enabled = true
backend = dogpile.cache.pymemcache
memcache_servers = unix:$1/memcached.sock
EOF
}

configure_keystone_a() {
  write_keystone_conf "$A" a
  mkdir -p "$A/saml"
  # A signs its SAML assertions by running the xmlsec1 binary with this key pair.
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=keystone-a-idp" \
    -keyout "$A/saml/idp.key" -out "$A/saml/idp.crt" 2>/dev/null
  cat >>"$A/keystone.conf" <<EOF
[saml]
idp_entity_id = $IDP_ENTITY_ID
idp_sso_endpoint = $A_URL/OS-FEDERATION/saml2/sso
certfile = $A/saml/idp.crt
keyfile = $A/saml/idp.key
idp_metadata_path = $A/saml/idp_metadata.xml
EOF
}

# Identity $1 of A: another Keystone over A's database and keys, with its own SAML identity
# (entity id, SSO URL, signing key pair, metadata) and log.
configure_keystone_a_identity() {
  local i=$1 d=$A/idp-$1 url; url=$(a_idp_url "$1")
  mkdir -p "$d"
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=keystone-a-idp-$i" \
    -keyout "$d/idp.key" -out "$d/idp.crt" 2>/dev/null
  sed -e "s|^log_file = .*|log_file = $LOGS/keystone-a$i.log|" -e '/^\[saml\]/,$d' "$A/keystone.conf" >"$d/keystone.conf"
  cat >>"$d/keystone.conf" <<EOF
[saml]
idp_entity_id = $url/OS-FEDERATION/saml2/idp
idp_sso_endpoint = $url/OS-FEDERATION/saml2/sso
certfile = $d/idp.crt
keyfile = $d/idp.key
idp_metadata_path = $d/idp_metadata.xml
EOF
}

configure_keystone_b() {
  write_keystone_conf "$B" b
  # The protocol id (saml2) is the auth method name, so it must be listed; 'external' is left
  # out because mod_shib sets REMOTE_USER. Keystone reads the IdP's entityID from the variable
  # mod_shib exports (Shib-Identity-Provider) and matches it against the IdP's remote_ids.
  cat >>"$B/keystone.conf" <<EOF
[auth]
methods = password,token,saml2,mapped,application_credential
[saml2]
remote_id_attribute = Shib-Identity-Provider
[catalog]
# Mercador's catalog driver (Keystone's SQL driver, confining vregion tokens): docs/catalog-plugin.md
driver = mercador
# Keystone's cache (memcached, above) would keep computed catalogs for up to [cache]
# expiration_time: off for catalogs, so a vregion's change shows within the driver's refresh.
caching = false
[mercador]
store_url = $(b_store_url)
refresh_interval = 2
max_staleness = 10
EOF
  chmod 600 "$B/keystone.conf"
}

# The mercador wheel (mercador-py/, maturin, dev profile) in Keystone's venv, for B's catalog
# driver. Built again only when its sources changed (a hash of them is kept next to the wheel).
install_catalog_plugin() {
  local root; root=$(cd "$HERE/.." && pwd)
  local dir=$VENV/.mercador-wheel hash
  hash=$(cd "$root" && find mercador-py/src mercador-py/python mercador-py/Cargo.toml mercador-py/pyproject.toml \
           mercador-core/src mercador-core/Cargo.toml Cargo.lock -type f -print0 | sort -z | xargs -0 sha256sum \
           | sha256sum | cut -c1-16)
  if [ "$(cat "$dir/hash" 2>/dev/null)" = "$hash" ] && "$V/python" -c 'import mercador.keystone.catalog' 2>/dev/null; then
    log "Keystone B's catalog driver: wheel up to date in $VENV"
    return 0
  fi
  step "building the mercador wheel (maturin, for Keystone B's catalog driver) into $VENV" "$LOGS/wheel.log"
  "$V/pip" install -q --disable-pip-version-check "maturin==1.16.0" >"$LOGS/wheel.log" 2>&1
  rm -rf "$dir"; mkdir -p "$dir"
  (cd "$root/mercador-py" && "$V/maturin" build --locked -i "$V/python" --out "$dir") >>"$LOGS/wheel.log" 2>&1
  "$V/pip" install -q --disable-pip-version-check --force-reinstall --no-deps "$dir"/mercador-*.whl >>"$LOGS/wheel.log" 2>&1
  "$V/python" -c 'import mercador.keystone.catalog' >>"$LOGS/wheel.log" 2>&1
  echo "$hash" >"$dir/hash"
}

# db_sync + fernet + credential keys + bootstrap (+ IdP metadata for A). $1=dir $2=name
keystone_manage_all() {
  local d=$1 name=$2 pw region url
  local klog="$LOGS/keystone-manage-$name.log"
  km() { "$V/keystone-manage" --config-file "$d/keystone.conf" "$@" >>"$klog" 2>&1; }
  if [ "$name" = a ]; then pw=$KEYSTONE_A_ADMIN_PASSWORD region=RegionOne url=$A_URL
  else pw=$KEYSTONE_B_ADMIN_PASSWORD region=RegionTwo url=$B_URL; fi
  km db_sync
  km fernet_setup --keystone-user root --keystone-group root
  km credential_setup --keystone-user root --keystone-group root
  km bootstrap --bootstrap-password "$pw" --bootstrap-region-id "$region" \
     --bootstrap-public-url "$url" --bootstrap-internal-url "$url" --bootstrap-admin-url "$url"
  if [ "$name" = a ]; then
    "$V/keystone-manage" --config-file "$d/keystone.conf" saml_idp_metadata \
      >"$A/saml/idp_metadata.xml" 2>>"$klog"
    local i; for i in "${A_EXTRA[@]}"; do
      "$V/keystone-manage" --config-file "$A/idp-$i/keystone.conf" saml_idp_metadata \
        >"$A/idp-$i/idp_metadata.xml" 2>>"$klog" &
    done
    wait
    for i in "${A_EXTRA[@]}"; do [ -s "$A/idp-$i/idp_metadata.xml" ]; done
  fi
  # WAL journal: with the default rollback journal, concurrent federated logins
  # (two uwsgi workers writing expiring_user_group_membership) fail with
  # "database is locked" (HTTP 500). WAL lets readers and one writer coexist.
  # The mode is stored in the database file, so Keystone needs no setting.
  "$V/python" -c 'import sqlite3, sys; sqlite3.connect(sys.argv[1]).execute("PRAGMA journal_mode=WAL")' "$d/keystone.db"
  chmod 600 "$d/keystone.db"
}

init_keystones() {
  step "keystone-manage db_sync/fernet/credential/bootstrap on A and B (in parallel)" \
       "$LOGS/keystone-manage-a.log" "$LOGS/keystone-manage-b.log"
  configure_keystone_a
  local i; for i in "${A_EXTRA[@]}"; do configure_keystone_a_identity "$i"; done
  configure_keystone_b
  local pa pb rc=0
  # Subshells without the ERR trap: the parent reports a failure once, after wait.
  ( trap - ERR; keystone_manage_all "$A" a ) & pa=$!
  ( trap - ERR; keystone_manage_all "$B" b ) & pb=$!
  wait "$pa" || rc=1
  wait "$pb" || rc=1
  [ "$rc" = 0 ]
  [ -s "$A/saml/idp_metadata.xml" ]
}

# One memcached per Keystone on a unix socket in its dir (mode 700: only this user connects).
# memcached refuses to run as root without -u. Started before keystone-manage, which uses the
# cache too (bootstrap invalidates it).
start_memcached() {  # $1=dir $2=service name
  local as_root=(); [ "$(id -u)" = 0 ] && as_root=(-u root)
  mkdir -p "$1"
  rm -f "$1/memcached.sock"
  setsid memcached "${as_root[@]}" -s "$1/memcached.sock" -a 0700 -m 64 \
    </dev/null >>"$LOGS/$2.log" 2>&1 9>&- &
  echo $! >"$PIDS/$2.pid"
}
start_memcacheds() {
  step "starting memcached for Keystone A and B (unix sockets $A/memcached.sock, $B/memcached.sock)" \
       "$LOGS/memcached-a.log" "$LOGS/memcached-b.log"
  start_memcached "$A" memcached-a
  start_memcached "$B" memcached-b
  local s
  for s in "$A" "$B"; do
    wait_socket "$s/memcached.sock" 10 || { echo "memcached did not create $s/memcached.sock" >&2; false; }
  done
}

UWSGI_COMMON=()
start_keystones() {
  # Gotcha: Keystone 30 ships no keystone-wsgi-public script; serve the module
  # keystone.wsgi.api:application and point it at the config with OS_KEYSTONE_CONFIG_FILES.
  # --die-on-term: SIGTERM stops the master and its workers (uwsgi's default is a reload).
  # lib/keystone_wsgi.py wraps keystone.wsgi.api:application so that requests which may
  # write to SQLite take turns across the workers (see that file).
  UWSGI_COMMON=(--pythonpath "$HERE/lib" --module keystone_wsgi:application --master
                --threads 1 --die-on-term --lazy-apps --virtualenv "$VENV")
  step "starting Keystone A (uwsgi --http 127.0.0.1:$A_PORT) and B's uwsgi (127.0.0.1:$B_UWSGI)" \
       "$LOGS/uwsgi-a.log" "$LOGS/uwsgi-b.log" "$LOGS/keystone-a.log" "$LOGS/keystone-b.log"
  # Gotcha: --http needs --http-keepalive, or the http router answers HTTP/1.1 without
  # "Connection: close" and then closes, and clients that reuse connections get ECONNRESET.
  setsid "$V/uwsgi" --http "127.0.0.1:$A_PORT" --http-keepalive "${UWSGI_COMMON[@]}" --processes 2 \
    --env OS_KEYSTONE_CONFIG_FILES="$A/keystone.conf" --env MERCADOR_KEYSTONE_WRITE_LOCK="$A/write.lock" \
    --pidfile "$PIDS/uwsgi-a.pid" \
    --logto "$LOGS/uwsgi-a.log" </dev/null >/dev/null 2>&1 9>&- &
  # A's other identities: one worker each (a test holds an identity for itself); A's write
  # lock, since they write to A's database.
  local i
  for i in "${A_EXTRA[@]}"; do
    setsid "$V/uwsgi" --http "127.0.0.1:$(a_idp_port "$i")" --http-keepalive "${UWSGI_COMMON[@]}" --processes 1 \
      --env OS_KEYSTONE_CONFIG_FILES="$A/idp-$i/keystone.conf" --env MERCADOR_KEYSTONE_WRITE_LOCK="$A/write.lock" \
      --pidfile "$PIDS/uwsgi-a$i.pid" \
      --logto "$LOGS/uwsgi-a$i.log" </dev/null >/dev/null 2>&1 9>&- &
  done
  # --enable-threads: the catalog driver reads the vregions in a thread of each worker.
  setsid "$V/uwsgi" --socket "127.0.0.1:$B_UWSGI" "${UWSGI_COMMON[@]}" --processes 2 --enable-threads \
    --env OS_KEYSTONE_CONFIG_FILES="$B/keystone.conf" --env MERCADOR_KEYSTONE_WRITE_LOCK="$B/write.lock" \
    --pidfile "$PIDS/uwsgi-b.pid" \
    --logto "$LOGS/uwsgi-b.log" </dev/null >/dev/null 2>&1 9>&- &
  wait_file "$PIDS/uwsgi-a.pid" 30
  wait_file "$PIDS/uwsgi-b.pid" 30
  wait_http "$A_URL" "Keystone A" 60
  for i in "${A_EXTRA[@]}"; do
    wait_file "$PIDS/uwsgi-a$i.pid" 30
    wait_http "$(a_idp_url "$i")" "Keystone A's identity $i" 90
  done
  log "Keystone A answers at $A_URL${A_EXTRA[*]:+ (and as ${#A_EXTRA[@]} more SAML identities from port $A_IDP_PORT)}"
}

configure_shibboleth() {
  step "configuring Shibboleth SP for B (LocalDynamic metadata dir $MD_DIR)"
  mkdir -p "$S" "$MD_DIR"
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=127.0.0.1" \
    -keyout "$S/sp-key.pem" -out "$S/sp-cert.pem" 2>/dev/null
  cp /etc/shibboleth/attribute-policy.xml /etc/shibboleth/security-policy.xml \
     /etc/shibboleth/protocols.xml "$S/"
  # Keystone's assertions carry these attributes (names, not ids; no NameFormat).
  cat >"$S/attribute-map.xml" <<'EOF'
<Attributes xmlns="urn:mace:shibboleth:2.0:attribute-map" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
    <Attribute name="openstack_user" id="openstack_user"/>
    <Attribute name="openstack_user_domain" id="openstack_user_domain"/>
    <Attribute name="openstack_roles" id="openstack_roles"/>
    <Attribute name="openstack_project" id="openstack_project"/>
    <Attribute name="openstack_project_domain" id="openstack_project_domain"/>
    <Attribute name="openstack_groups" id="openstack_groups"/>
</Attributes>
EOF
  # Trust: the LocalDynamic provider looks an IdP up, when an assertion from it arrives, in
  # $MD_DIR/<lowercase hex SHA-1 of the entityID>.xml (one EntityDescriptor per file). No
  # restart is needed to add one (negativeCache is off by default, so a miss is not cached).
  # A resolved entity is re-checked (file mtime) after min/maxCacheDuration = 30 s (30 is the
  # smallest value this OpenSAML accepts); when the file has gone, the stale entry is dropped by
  # the cleanup thread (every cleanupInterval s, cleanupTimeout 0) - see README.md for timings.
  # <SSO> has no entityID: K2K posts an unsolicited ECP response, no IdP is preselected.
  write_shibboleth2 "$S" "$MD_DIR" "$SP_ENTITY_ID"
  mklogger "$S/shibd.logger" "$LOGS/shibd.log"
  mklogger "$S/native.logger" "$LOGS/shib-native.log"
  # The native log is written by the Apache workers (www-data).
  touch "$LOGS/shib-native.log" "$LOGS/shibd-transaction.log"
  chown www-data:www-data "$LOGS/shib-native.log" "$LOGS/shibd-transaction.log"
}

# shibboleth2.xml of an SP in dir $1 (socket, loggers, keys, attribute map and policies there),
# trusting the LocalDynamic metadata dir $2, entityID $3. The testbed's SP and `sp-instance` share it.
write_shibboleth2() {
  cat >"$1/shibboleth2.xml" <<EOF
<SPConfig xmlns="urn:mace:shibboleth:3.0:native:sp:config"
    xmlns:conf="urn:mace:shibboleth:3.0:native:sp:config" clockSkew="180">
    <OutOfProcess logger="$1/shibd.logger"/>
    <InProcess logger="$1/native.logger"/>
    <UnixListener address="$1/shibd.sock"/>

    <ApplicationDefaults entityID="$3" REMOTE_USER="openstack_user">
        <!-- plain http testbed: cookies must not be 'secure' or the client never sends the session back.
             A K2K client needs its Shibboleth session only for the GET of the federated auth URL
             right after the ECP POST: keep sessions short so a revoked IdP's sessions die soon. -->
        <Sessions lifetime="300" timeout="120" relayState="ss:mem" checkAddress="false"
                  handlerSSL="false" cookieProps="http" redirectLimit="exact">
            <SSO ECP="true">SAML2</SSO>
            <Logout>SAML2 Local</Logout>
            <Handler type="Status" Location="/Status" acl="127.0.0.1 ::1"/>
            <Handler type="Session" Location="/Session" showAttributeValues="true"/>
        </Sessions>
        <Errors supportContact="root@localhost" styleSheet="/shibboleth-sp/main.css"/>
        <MetadataProvider type="LocalDynamic" id="trusted-idps" sourceDirectory="$2"
                          validate="true" minCacheDuration="30" maxCacheDuration="30"
                          cleanupInterval="5" cleanupTimeout="0"/>
        <AttributeExtractor type="XML" validate="true" reloadChanges="false" path="$1/attribute-map.xml"/>
        <AttributeFilter type="XML" validate="true" path="$1/attribute-policy.xml"/>
        <CredentialResolver type="File" key="$1/sp-key.pem" certificate="$1/sp-cert.pem"/>
    </ApplicationDefaults>
    <SecurityPolicyProvider type="XML" validate="true" path="$1/security-policy.xml"/>
    <ProtocolProvider type="XML" validate="true" reloadChanges="false" path="$1/protocols.xml"/>
</SPConfig>
EOF
}
mklogger() {  # $1=logger file $2=log file [$3=transaction log, default $LOGS/shibd-transaction.log]
  cat >"$1" <<EOF
log4j.rootCategory=INFO, f
log4j.category.OpenSAML.MetadataProvider=INFO
log4j.category.Shibboleth-TRANSACTION=INFO, tran
log4j.additivity.Shibboleth-TRANSACTION=false
log4j.appender.f=org.apache.log4j.FileAppender
log4j.appender.f.fileName=$2
log4j.appender.f.layout=org.apache.log4j.PatternLayout
log4j.appender.f.layout.ConversionPattern=%d{%Y-%m-%d %H:%M:%S} %p %c %x: %m%n
log4j.appender.tran=org.apache.log4j.FileAppender
log4j.appender.tran.fileName=${3:-$LOGS/shibd-transaction.log}
log4j.appender.tran.layout=org.apache.log4j.PatternLayout
log4j.appender.tran.layout.ConversionPattern=%d{%Y-%m-%d %H:%M:%S}|%c|%m%n
EOF
}

start_shibd() {
  step "starting shibd (config $S/shibboleth2.xml)" "$LOGS/shibd-configtest.log" "$LOGS/shibd.log" "$LOGS/shibd.out"
  shibd -t -c "$S/shibboleth2.xml" >"$LOGS/shibd-configtest.log" 2>&1
  # -c private config (nothing in /etc is used or edited), -f removes a stale socket,
  # -p pid file in the state dir, -w waits until the daemon is ready.
  shibd -f -c "$S/shibboleth2.xml" -p "$PIDS/shibd.pid" -w 30 </dev/null >"$LOGS/shibd.out" 2>&1 9>&-
  wait_file "$PIDS/shibd.pid" 30
  service_alive shibd
}

configure_apache() {
  step "configuring Apache for B"
  mkdir -p "$B/apache"
  local M=/usr/lib/apache2/modules
  # Everything (pid file, mutexes, runtime dir, logs) lives in the state dir, so that several
  # testbeds can run side by side and nothing under /etc, /run or /var/run is touched.
  write_apache_conf "$B/apache" "$B_PORT" "$PIDS/apache-b.pid" "$LOGS/apache-b" "$S"
}

# httpd.conf in dir $1 (its ServerRoot, mutexes and runtime dir): Apache + mod_shib on
# 127.0.0.1:$2 in front of Keystone B's uwsgi socket, pid file $3, logs $4-error.log and
# $4-access.log, mod_shib with the SP of dir $5. The testbed's and `sp-instance`'s Apache.
write_apache_conf() {
  local M=/usr/lib/apache2/modules
  cat >"$1/httpd.conf" <<EOF
ServerRoot $1
ServerName 127.0.0.1
Listen 127.0.0.1:$2
PidFile $3
Mutex file:$1
DefaultRuntimeDir $1
User www-data
Group www-data
ErrorLog $4-error.log
LogLevel warn
LogFormat "%h %l %u %t \"%r\" %>s %b %Dus" common
CustomLog $4-access.log common

LoadModule mpm_event_module $M/mod_mpm_event.so
LoadModule authn_core_module $M/mod_authn_core.so
LoadModule authz_core_module $M/mod_authz_core.so
LoadModule authz_user_module $M/mod_authz_user.so
LoadModule proxy_module $M/mod_proxy.so
LoadModule proxy_uwsgi_module $M/mod_proxy_uwsgi.so
LoadModule mod_shib $M/mod_shib.so

ShibConfig $5/shibboleth2.xml
ShibCompatValidUser Off

# mod_proxy_uwsgi passes Apache's subprocess_env to uwsgi as request variables, so the
# attributes mod_shib exports (Shib-Identity-Provider, openstack_user, ...) reach Keystone's
# WSGI environ as with mod_wsgi, while client-sent headers only appear as HTTP_*.
# The Shibboleth handler must be excluded before the catch-all ProxyPass.
ProxyPass /Shibboleth.sso !
ProxyPass / uwsgi://127.0.0.1:$B_UWSGI/

<Location /Shibboleth.sso>
    SetHandler shib
    Require all granted
</Location>

<LocationMatch "^/v3/OS-FEDERATION/identity_providers/[^/]+/protocols/saml2/auth\$">
    AuthType shibboleth
    ShibRequestSetting requireSession 1
    ShibExportAssertion Off
    Require shib-session
</LocationMatch>
EOF
}

start_apache() {
  step "starting Apache + mod_shib on 127.0.0.1:$B_PORT" \
       "$LOGS/apache-configtest.log" "$LOGS/apache-b-error.log" "$LOGS/shib-native.log" "$LOGS/uwsgi-b.log" "$LOGS/keystone-b.log"
  # The workers run as www-data and must reach the shibd socket and the native log.
  if ! runuser -u www-data -- test -x "$S" || ! runuser -u www-data -- test -w "$LOGS/shib-native.log"; then
    die "user www-data cannot reach $S or write $LOGS/shib-native.log: put MERCADOR_TESTBED_STATE under world-traversable dirs"
  fi
  /usr/sbin/apache2 -f "$B/apache/httpd.conf" -t >"$LOGS/apache-configtest.log" 2>&1
  /usr/sbin/apache2 -f "$B/apache/httpd.conf" -k start </dev/null >>"$LOGS/apache-b-error.log" 2>&1 9>&-
  wait_file "$PIDS/apache-b.pid" 30
  wait_http "$B_URL" "Keystone B through Apache" 60
  wait_http "http://127.0.0.1:$B_PORT/Shibboleth.sso/Status" "Shibboleth status handler" 30
  log "Keystone B answers at $B_URL (Apache + mod_shib -> uwsgi 127.0.0.1:$B_UWSGI)"
}

provision_demo_user() {
  step "creating demo user alice / project demo / role member on A" "$LOGS/provision.log"
  KEYSTONE_A_URL=$A_URL KEYSTONE_A_ADMIN_PASSWORD=$KEYSTONE_A_ADMIN_PASSWORD \
  KEYSTONE_A_DEMO_PASSWORD=$KEYSTONE_A_DEMO_PASSWORD \
    "$V/python" "$HERE/lib/provision.py" >"$LOGS/provision.log" 2>&1
  cat "$LOGS/provision.log"
}

write_client_files() {
  step "writing $ENV_FILE, clouds.yaml and openrc files"
  ( umask 077
    cat >"$ENV_FILE" <<EOF
MERCADOR_TESTBED_STATE=$STATE
MERCADOR_TESTBED_VENV=$VENV
OPENSTACK_CLI=$V/openstack
SCHEMATHESIS=$TOOLS_VENV/bin/schemathesis
TESTBED_PYTHON=$V/python
OS_CLIENT_CONFIG_FILE=$STATE/clouds.yaml
KEYSTONE_A_URL=$A_URL
KEYSTONE_A_ADMIN_USER=admin
KEYSTONE_A_ADMIN_PASSWORD=$KEYSTONE_A_ADMIN_PASSWORD
KEYSTONE_A_ADMIN_PROJECT=admin
KEYSTONE_A_ADMIN_DOMAIN=Default
KEYSTONE_A_REGION=RegionOne
KEYSTONE_A_IDP_ENTITY_ID=$IDP_ENTITY_ID
KEYSTONE_A_IDP_SSO_URL=$A_URL/OS-FEDERATION/saml2/sso
KEYSTONE_A_IDP_METADATA_URL=$A_URL/OS-FEDERATION/saml2/metadata
KEYSTONE_A_DEMO_USER=alice
KEYSTONE_A_DEMO_PASSWORD=$KEYSTONE_A_DEMO_PASSWORD
KEYSTONE_A_DEMO_PROJECT=demo
KEYSTONE_A_DEMO_DOMAIN=Default
KEYSTONE_A_IDENTITIES=$A_IDPS
$(for i in "${A_EXTRA[@]}"; do u=$(a_idp_url "$i"); printf 'KEYSTONE_A_IDP_%s_URL=%s\nKEYSTONE_A_IDP_%s_ENTITY_ID=%s\nKEYSTONE_A_IDP_%s_METADATA_URL=%s\n' "$i" "$u" "$i" "$u/OS-FEDERATION/saml2/idp" "$i" "$u/OS-FEDERATION/saml2/metadata"; done)
KEYSTONE_B_URL=$B_URL
KEYSTONE_B_ADMIN_USER=admin
KEYSTONE_B_ADMIN_PASSWORD=$KEYSTONE_B_ADMIN_PASSWORD
KEYSTONE_B_ADMIN_PROJECT=admin
KEYSTONE_B_ADMIN_DOMAIN=Default
KEYSTONE_B_REGION=RegionTwo
KEYSTONE_B_UWSGI_ADDR=127.0.0.1:$B_UWSGI
KEYSTONE_B_CONFIG=$B/keystone.conf
KEYSTONE_B_WRITE_LOCK=$B/write.lock
KEYSTONE_A_CONFIG=$A/keystone.conf
KEYSTONE_A_WRITE_LOCK=$A/write.lock
$(for i in "${A_EXTRA[@]}"; do printf 'KEYSTONE_A_IDP_%s_CONFIG=%s\n' "$i" "$A/idp-$i/keystone.conf"; done)
KEYSTONE_UWSGI=$V/uwsgi
KEYSTONE_WSGI_PYTHONPATH=$HERE/lib
KEYSTONE_B_SHIB_ENTITY_ID=$SP_ENTITY_ID
KEYSTONE_B_ECP_URL=$SP_ECP_URL
KEYSTONE_B_SHIB_METADATA_DIR=$MD_DIR
KEYSTONE_B_SHIB_METADATA_MODE=local-dynamic
KEYSTONE_B_SHIB_METADATA_FILENAME=sha1-hex-of-entityID.xml
KEYSTONE_B_SHIB_METADATA_RECHECK_SECONDS=30
KEYSTONE_B_SHIB_METADATA_REVOKED_WITHIN_SECONDS=40
KEYSTONE_B_SHIB_STATUS_URL=http://127.0.0.1:$B_PORT/Shibboleth.sso/Status
MERCADOR_POSTGRES_URL=$(postgres_url)
MERCADOR_B_PUBLISHER_DATABASE_URL=$(b_store_url)
MERCADOR_B_PUBLISHER_KEY_FILE=$B_STORE_KEY
HORIZON_URL=$H_URL
HORIZON_KEYSTONE_PROVIDER_IDP_ID=$H_IDP_ID
HORIZON_B_URL=$HB_URL
GLANCE_URL=$G_URL
$(cat "$G/catalog.env")
GLANCE_REGISTERED_LIMITS=$GLANCE_REGISTERED_LIMITS
EOF
    cat >"$STATE/clouds.yaml" <<EOF
clouds:
  testbed-a:
    auth:
      auth_url: $A_URL
      username: admin
      password: $KEYSTONE_A_ADMIN_PASSWORD
      project_name: admin
      user_domain_name: Default
      project_domain_name: Default
    region_name: RegionOne
    identity_api_version: 3
    interface: public
  testbed-b:
    auth:
      auth_url: $B_URL
      username: admin
      password: $KEYSTONE_B_ADMIN_PASSWORD
      project_name: admin
      user_domain_name: Default
      project_domain_name: Default
    region_name: RegionTwo
    identity_api_version: 3
    interface: public
  testbed-a-alice:
    auth:
      auth_url: $A_URL
      username: alice
      password: $KEYSTONE_A_DEMO_PASSWORD
      project_name: demo
      user_domain_name: Default
      project_domain_name: Default
    region_name: RegionOne
    identity_api_version: 3
    interface: public
EOF
    write_openrc "$STATE/openrc-a" "$A_URL" admin "$KEYSTONE_A_ADMIN_PASSWORD" admin RegionOne
    write_openrc "$STATE/openrc-b" "$B_URL" admin "$KEYSTONE_B_ADMIN_PASSWORD" admin RegionTwo
    write_openrc "$STATE/openrc-alice" "$A_URL" alice "$KEYSTONE_A_DEMO_PASSWORD" demo RegionOne
  )
  settings_line >"$STATE/settings"
}
write_openrc() {  # $1=file $2=url $3=user $4=password $5=project $6=region
  cat >"$1" <<EOF
# source me; generated by testbed/testbed.sh
unset OS_CLOUD OS_TOKEN OS_AUTH_TYPE
export OS_AUTH_URL=$2
export OS_IDENTITY_API_VERSION=3
export OS_USERNAME=$3
export OS_PASSWORD=$4
export OS_PROJECT_NAME=$5
export OS_USER_DOMAIN_NAME=Default
export OS_PROJECT_DOMAIN_NAME=Default
export OS_REGION_NAME=$6
export OS_INTERFACE=public
EOF
}

# ------------------------------------------------------------------------------ PostgreSQL
# A private cluster (Debian's server binaries, no pg_ctlcluster, nothing under /etc or /var):
# initdb once into $PG_DATA, reused by every later start (`restart` keeps the data). initdb and
# the server refuse to run as root, so as root they run as the `postgres` user the package
# created, owning $PG_DATA; otherwise as the calling user. Loopback TCP needs the password of
# role `mercador` (scram-sha-256; it may create databases, which the store tests do); the unix
# socket (in $PG_RUN, mode 700) trusts the server's own user, for the setup below.
pg_user() { if [ "$(id -u)" = 0 ]; then echo postgres; else id -un; fi; }
# (In /: the caller's cwd, e.g. a checkout in root's home, may be out of postgres' reach.)
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- env -C / "$@"; else "$@"; fi; }
pg_bin() {  # binaries of the cluster's version, or the newest installed for a new cluster
  local v
  v=$(cat "$PG_DATA/PG_VERSION" 2>/dev/null || true)
  if [ -n "$v" ] && [ -x "/usr/lib/postgresql/$v/bin/pg_ctl" ]; then echo "/usr/lib/postgresql/$v/bin"; return; fi
  find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin 2>/dev/null | sort -V | tail -n 1
}
postgres_url() { echo "postgres://mercador:$(cat "$PG/password" 2>/dev/null)@127.0.0.1:$PG_PORT/mercador"; }
# The store of B's publisher (database mercador_b), read by Keystone B's catalog driver, and the
# key its sealed secrets are sealed with (kept with the cluster, which outlives wipe_state).
b_store_url() { echo "postgres://mercador:$(cat "$PG/password" 2>/dev/null)@127.0.0.1:$PG_PORT/mercador_b"; }
B_STORE_KEY=$PG/b-publisher.key
pg_psql() {  # superuser psql over the unix socket
  as_pg "$(pg_bin)/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_RUN" -p "$PG_PORT" -U postgres -d postgres "$@"
}

init_postgres() {
  local bin; bin=$(pg_bin)
  [ -n "$bin" ] && [ -x "$bin/initdb" ] || die "no PostgreSQL server under /usr/lib/postgresql/*/bin (apt package postgresql)"
  step "initdb of a private PostgreSQL cluster in $PG_DATA (as user $(pg_user))" "$LOGS/postgres-initdb.log"
  rm -rf "$PG"
  mkdir -p "$PG_DATA" "$PG_RUN"
  ( umask 077; openssl rand -hex 16 >"$PG/password" )
  chown "$(pg_user)" "$PG_DATA" "$PG_RUN"
  chmod 700 "$PG_DATA" "$PG_RUN"
  # C locale: byte-order text comparisons, as in SQLite.
  as_pg "$bin/initdb" -D "$PG_DATA" -U postgres -E UTF8 --locale=C \
    --auth-local=trust --auth-host=scram-sha-256 </dev/null >"$LOGS/postgres-initdb.log" 2>&1
  # Settings that change with the knobs live in a file rewritten by every start.
  echo "include_if_exists = 'mercador-testbed.conf'" | as_pg tee -a "$PG_DATA/postgresql.conf" >/dev/null
}

start_postgres() {
  if [ "$(id -u)" = 0 ] && ! runuser -u postgres -- test -x "$STATE"; then
    die "user postgres cannot reach $STATE: put MERCADOR_TESTBED_STATE under world-traversable dirs"
  fi
  [ -f "$PG_DATA/PG_VERSION" ] && [ -s "$PG/password" ] && [ -x "$(pg_bin)/pg_ctl" ] || init_postgres
  step "starting PostgreSQL $(cat "$PG_DATA/PG_VERSION") on 127.0.0.1:$PG_PORT (cluster $PG_DATA)" "$PG_LOG"
  # fsync off: the testbed's data is disposable, and tests create and drop databases.
  as_pg tee "$PG_DATA/mercador-testbed.conf" >/dev/null <<EOF
# written by testbed/testbed.sh at every start
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$PG_RUN'
unix_socket_permissions = 0700
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
cluster_name = 'mercador-testbed-$PG_PORT'
EOF
  touch "$PG_LOG" && chown "$(pg_user)" "$PG_LOG"
  as_pg "$(pg_bin)/pg_ctl" start -D "$PG_DATA" -l "$PG_LOG" -w -t 60 -s </dev/null >/dev/null 2>&1 9>&-
  sed -n 1p "$PG_DATA/postmaster.pid" >"$PIDS/postgres.pid"
  service_alive postgres
  # Role and database (once per cluster; the role's password is in $PG/password).
  if [ "$(pg_psql -tA -c "SELECT 1 FROM pg_roles WHERE rolname = 'mercador'")" != 1 ]; then
    echo "CREATE ROLE mercador LOGIN CREATEDB PASSWORD '$(cat "$PG/password")'" | pg_psql
  fi
  if [ "$(pg_psql -tA -c "SELECT 1 FROM pg_database WHERE datname = 'mercador'")" != 1 ]; then
    pg_psql -c "CREATE DATABASE mercador OWNER mercador"
  fi
  if [ "$(pg_psql -tA -c "SELECT 1 FROM pg_database WHERE datname = 'mercador_b'")" != 1 ]; then
    pg_psql -c "CREATE DATABASE mercador_b OWNER mercador"
  fi
  # A test makes the store unreachable (ALLOW_CONNECTIONS false): a start makes it reachable again.
  pg_psql -c "ALTER DATABASE mercador_b ALLOW_CONNECTIONS true"
  [ -s "$B_STORE_KEY" ] || ( umask 077; openssl rand -base64 32 >"$B_STORE_KEY" )
  # Tests drop their databases WITH (FORCE), which must also end autovacuum workers there.
  pg_psql -c "SET client_min_messages = warning; GRANT pg_signal_backend TO mercador"
  log "PostgreSQL answers on 127.0.0.1:$PG_PORT (pid $(saved_pid postgres), user $(pg_user))"
}

# Stops the PostgreSQL of this state dir (saved PID or the cluster's postmaster.pid, command line
# checked) with a fast shutdown: open sessions are ended, not waited for.
stop_postgres() {
  local pid="" p t
  for p in "$(saved_pid postgres)" "$(sed -n 1p "$PG_DATA/postmaster.pid" 2>/dev/null || true)"; do
    if pid_matches "$p" "$(expected_cmdline postgres)"; then pid=$p; break; fi
  done
  rm -f "$PIDS/postgres.pid"
  [ -n "$pid" ] || return 0
  t=$(now)
  if ! as_pg "$(pg_bin)/pg_ctl" stop -D "$PG_DATA" -m fast -w -t 30 -s </dev/null >/dev/null 2>&1; then
    echo "  postgres: pg_ctl stop failed; immediate shutdown (SIGQUIT) of pid $pid"
    kill -QUIT "$pid" 2>/dev/null || true
    for p in $(seq 1 100); do pid_matches "$pid" "$(expected_cmdline postgres)" || break; sleep 0.1; done
  fi
  echo "  stopped postgres in $(since "$t")s (pid $pid)"
}

# Starts only PostgreSQL next to running Keystones (a testbed started before PostgreSQL was part
# of it, a changed MERCADOR_TESTBED_PG_PORT, or a stopped server), and updates the env file.
start_postgres_alone() {
  step "Keystones healthy; (re)starting only PostgreSQL ($1)"
  ensure_apt_packages
  stop_postgres
  if port_in_use "$PG_PORT"; then
    die "port $PG_PORT is already in use by a process this state dir did not start; choose another with MERCADOR_TESTBED_PG_PORT"
  fi
  start_postgres
  ( umask 077
    grep -v '^MERCADOR_POSTGRES_URL=' "$ENV_FILE" >"$ENV_FILE.new" || true
    echo "MERCADOR_POSTGRES_URL=$(postgres_url)" >>"$ENV_FILE.new"
    mv "$ENV_FILE.new" "$ENV_FILE" )
}

# ------------------------------------------------------------------------------ Horizon
# A real OpenStack Dashboard in front of Keystone A, as A's users would use it: its region menu
# (the regions of the catalog's non-identity endpoints) and its keystone-provider menu (the token's
# service providers; choosing one is a K2K login there). Settings: horizon/local_settings.py, linked
# into the venv; what depends on the state dir and ports comes in as uwsgi --env variables.
horizon_dashboard_dir() {  # openstack_dashboard/ inside the Horizon venv
  local d
  for d in "$HORIZON_VENV"/lib/python3*/site-packages/openstack_dashboard; do
    [ -d "$d" ] && { echo "$d"; return 0; }
  done
  return 1
}
link_horizon_settings() {  # Horizon reads openstack_dashboard/local/local_settings.py
  local dash plugin f
  dash=$(horizon_dashboard_dir)
  ln -sfn "$HERE/horizon/local_settings.py" "$dash/local/local_settings.py"
  # Mercador's Horizon plugin (mercador.horizon, in the mercador wheel that scripts/lib/browser-tests.sh
  # installs into this venv): its enabled/ file and settings snippet, linked when it is installed.
  rm -f "$dash"/local/enabled/_61??_mercador*.py "$dash"/local/local_settings.d/_61??_mercador*.py
  plugin=$(dirname "$dash")/mercador/horizon
  if [ -d "$plugin/enabled" ]; then
    mkdir -p "$dash/local/enabled" "$dash/local/local_settings.d"
    for f in "$plugin"/enabled/_61*.py; do ln -sfn "$f" "$dash/local/enabled/$(basename "$f")"; done
    for f in "$plugin"/local_settings.d/_61*.py; do ln -sfn "$f" "$dash/local/local_settings.d/$(basename "$f")"; done
  fi
}
# Two Horizons from the one venv: A's (service horizon) and B's (service horizon-b, the
# publisher's panels for B's admins). horizon_side a|b sets HZ (the service), HZ_PORT, HZ_URL,
# HZ_DIR (secret key, sessions), HZ_ENV (its URL's name in the env file) and what its settings read.
horizon_side() {
  case $1 in
    a) HZ=horizon HZ_PORT=$H_PORT HZ_URL=$H_URL HZ_DIR=$H HZ_ENV=HORIZON_URL HZ_KNOB=MERCADOR_TESTBED_HORIZON_PORT
       HZ_KEYSTONE=$A_URL HZ_REGION=RegionOne HZ_IDP_NAME=$H_IDP_NAME HZ_COOKIE=sessionid HZ_TITLE="Horizon" ;;
    b) HZ=horizon-b HZ_PORT=$HB_PORT HZ_URL=$HB_URL HZ_DIR=$HB HZ_ENV=HORIZON_B_URL HZ_KNOB=MERCADOR_TESTBED_HORIZON_B_PORT
       HZ_KEYSTONE=$B_URL HZ_REGION=RegionTwo HZ_IDP_NAME="Keystone B" HZ_COOKIE=sessionid_b HZ_TITLE="Horizon B" ;;
    *) die "horizon_side: a or b, not $1" ;;
  esac
}
horizon_env() {  # $1=state dir for sessions $2=secret key file $3=log file: the settings' variables (of HZ)
  printf '%s\n' "MERCADOR_HORIZON_KEYSTONE_URL=$HZ_KEYSTONE" "MERCADOR_HORIZON_STATE=$1" \
    "MERCADOR_HORIZON_SECRET_KEY_FILE=$2" "MERCADOR_HORIZON_LOG=$3" \
    "MERCADOR_HORIZON_STATIC_ROOT=$HORIZON_VENV/static" \
    "MERCADOR_HORIZON_IDP_ID=$H_IDP_ID" "MERCADOR_HORIZON_IDP_NAME=$HZ_IDP_NAME" \
    "MERCADOR_HORIZON_HOME_REGION=$HZ_REGION" "MERCADOR_HORIZON_SESSION_COOKIE=$HZ_COOKIE" \
    "MERCADOR_HORIZON_BRANDING=Mercador testbed ($HZ_IDP_NAME)"
}

# The venv, and the static files collected and compressed once (offline): at run time uwsgi serves
# them as files and nothing is compiled. Serialized like the Keystone venv (which exists by then).
ensure_horizon_venv() {
  exec 8>"$VENV/.install.lock"
  flock -w 900 8 || die "could not lock $VENV/.install.lock"
  if [ "$(cat "$HORIZON_VENV/.testbed-ready" 2>/dev/null)" != "${HORIZON_PACKAGES[*]}" ]; then
    step "pip install ${HORIZON_PACKAGES[*]} into $HORIZON_VENV; collectstatic, compress" \
         "$LOGS/pip.log" "$LOGS/horizon-static.log"
    rm -rf "$HORIZON_VENV"
    /usr/bin/python3 -m venv "$HORIZON_VENV" >>"$LOGS/pip.log" 2>&1
    "$HORIZON_VENV/bin/pip" install -q "${HORIZON_PACKAGES[@]}" >>"$LOGS/pip.log" 2>&1
    "$HORIZON_VENV/bin/pip" freeze >"$HORIZON_VENV/.testbed-freeze.txt" 2>>"$LOGS/pip.log"
    link_horizon_settings
    # The management commands need the settings' variables; a throwaway key and session dir.
    local tmp; tmp=$(mktemp -d)
    horizon_side a
    openssl rand -hex 32 >"$tmp/key"
    local -a envs; mapfile -t envs < <(horizon_env "$tmp" "$tmp/key" "$tmp/horizon.log")
    local rc=0
    { env "${envs[@]}" DJANGO_SETTINGS_MODULE=openstack_dashboard.settings \
        "$HORIZON_VENV/bin/django-admin" collectstatic --noinput -v0 \
      && env "${envs[@]}" DJANGO_SETTINGS_MODULE=openstack_dashboard.settings \
        "$HORIZON_VENV/bin/django-admin" compress --force; } >"$LOGS/horizon-static.log" 2>&1 || rc=$?
    rm -rf "$tmp"
    [ "$rc" = 0 ]
    printf '%s\n' "${HORIZON_PACKAGES[*]}" >"$HORIZON_VENV/.testbed-ready"
  fi
  exec 8>&-
  log "Horizon venv ready ($HORIZON_VENV)"
}

# Launches Horizon a|b (uwsgi of the Keystone venv with --virtualenv of Horizon's); wait_horizon
# a|b waits for it, so the rest of a start runs meanwhile.
launch_horizon() {
  horizon_side "$1"
  step "starting $HZ_TITLE for Keystone ${1^^} (uwsgi --http 127.0.0.1:$HZ_PORT)" "$LOGS/uwsgi-$HZ.log" "$LOGS/$HZ.log"
  mkdir -p "$HZ_DIR/sessions"
  chmod 700 "$HZ_DIR"
  [ -s "$HZ_DIR/secret_key" ] || ( umask 077; openssl rand -hex 32 >"$HZ_DIR/secret_key" )
  link_horizon_settings
  local -a envs=() e
  while IFS= read -r e; do envs+=(--env "$e"); done < <(horizon_env "$HZ_DIR" "$HZ_DIR/secret_key" "$LOGS/$HZ.log")
  setsid "$V/uwsgi" --http "127.0.0.1:$HZ_PORT" --http-keepalive --master --processes 2 --threads 1 \
    --die-on-term --lazy-apps --virtualenv "$HORIZON_VENV" --module openstack_dashboard.wsgi:application \
    --static-map "/static=$HORIZON_VENV/static" "${envs[@]}" \
    --pidfile "$PIDS/$HZ.pid" --logto "$LOGS/uwsgi-$HZ.log" </dev/null >/dev/null 2>&1 9>&- &
}
wait_horizon() {
  horizon_side "$1"
  step "waiting for $HZ_TITLE at $HZ_URL" "$LOGS/uwsgi-$HZ.log" "$LOGS/$HZ.log"
  wait_file "$PIDS/$HZ.pid" 30
  wait_http "${HZ_URL}auth/login/" "$HZ_TITLE's login page" 60
  service_alive "$HZ"
  log "$HZ_TITLE answers at $HZ_URL (pid $(saved_pid "$HZ"))"
}

# Starts only Horizon a|b next to a healthy rest (a testbed started before it was part of it, a
# stopped Horizon, another port), and updates the env file. $2: why.
start_horizon_alone() {
  horizon_side "$1"
  step "Keystones and PostgreSQL healthy; (re)starting only $HZ_TITLE ($2)"
  stop_one "$HZ"
  if port_in_use "$HZ_PORT"; then
    die "port $HZ_PORT is already in use by a process this state dir did not start; choose another with $HZ_KNOB"
  fi
  ensure_horizon_venv
  launch_horizon "$1"
  wait_horizon "$1"
  ( umask 077
    { grep -v -e "^$HZ_ENV=" -e '^HORIZON_KEYSTONE_PROVIDER_IDP_ID=' "$ENV_FILE" || true
      echo "$HZ_ENV=$HZ_URL"
      echo "HORIZON_KEYSTONE_PROVIDER_IDP_ID=$H_IDP_ID"; } >"$ENV_FILE.new"
    mv "$ENV_FILE.new" "$ENV_FILE" )
}

# ------------------------------------------------------------------------------ Glance
# A real image service on B (issue 15): Glance 33 under uWSGI (Glance 33 has no glance-api server:
# glance.wsgi.api:application, its config dir from OS_GLANCE_CONFIG_DIR), SQLite, the `file` store,
# keystonemiddleware's auth_token against Keystone B, and unified limits on (use_keystone_limits:
# oslo.limit reads the registered limits and the project's limits from Keystone B at each check).

# The venv, and a migrated empty database kept in it as a template, so that a start copies a file
# instead of running glance-manage db_sync (about 5 s of CPU). Its own lock (inside the venv dir),
# so that a fresh start installs it while the Keystone and Horizon venvs are being installed.
glance_ready_line() { printf '%s\n' "${GLANCE_PACKAGES[*]} db-template"; }
ensure_glance_venv() {
  mkdir -p "$GLANCE_VENV"
  exec 7>"$GLANCE_VENV/.install.lock"
  flock -w 900 7 || die "could not lock $GLANCE_VENV/.install.lock"
  if [ "$(cat "$GLANCE_VENV/.testbed-ready" 2>/dev/null)" != "$(glance_ready_line)" ]; then
    local glog=$LOGS/pip-glance.log t; t=$(now)
    step "pip install ${GLANCE_PACKAGES[*]} into $GLANCE_VENV; template database" "$glog"
    find "$GLANCE_VENV" -mindepth 1 -maxdepth 1 ! -name .install.lock -exec rm -rf {} +
    /usr/bin/python3 -m venv "$GLANCE_VENV" >"$glog" 2>&1
    "$GLANCE_VENV/bin/pip" install -q "${GLANCE_PACKAGES[@]}" >>"$glog" 2>&1
    "$GLANCE_VENV/bin/pip" freeze >"$GLANCE_VENV/.testbed-freeze.txt" 2>>"$glog"
    local tmp; tmp=$(mktemp -d)
    printf '[database]\nconnection = sqlite:///%s/glance.db\n' "$tmp" >"$tmp/glance.conf"
    "$GLANCE_VENV/bin/glance-manage" --config-file "$tmp/glance.conf" db_sync >>"$glog" 2>&1
    mv "$tmp/glance.db" "$GLANCE_VENV/testbed-template.db"
    rm -rf "$tmp"
    glance_ready_line >"$GLANCE_VENV/.testbed-ready"
    log "Glance venv installed in $(since "$t")s"
  fi
  exec 7>&-
  log "Glance venv ready ($GLANCE_VENV)"
}

# Configuration (without [oslo_limit] endpoint_id, known once Glance is in B's catalog) and the
# database (a copy of the venv's migrated template, in WAL mode as Keystone's).
init_glance() {
  mkdir -p "$G"/{images,staging,tasks,locks,uploads}
  cp "$GLANCE_VENV/testbed-template.db" "$G/glance.db"
  "$V/python" -c 'import sqlite3, sys; sqlite3.connect(sys.argv[1]).execute("PRAGMA journal_mode=WAL")' "$G/glance.db"
  chmod 600 "$G/glance.db"
  cp "$GLANCE_VENV/etc/glance/glance-api-paste.ini" "$G/glance-api-paste.ini"
  ( umask 077
    cat >"$G/glance-api.conf" <<EOF
# written by testbed/testbed.sh at every fresh start
[DEFAULT]
log_file = $LOGS/glance-api.log
# Per-project quotas from Keystone's unified limits (oslo.limit, [oslo_limit] below).
use_keystone_limits = True
enabled_backends = fs:file
[database]
connection = sqlite:///$G/glance.db
[glance_store]
default_backend = fs
[fs]
filesystem_store_datadir = $G/images
[os_glance_staging_store]
filesystem_store_datadir = $G/staging
[os_glance_tasks_store]
filesystem_store_datadir = $G/tasks
[oslo_concurrency]
lock_path = $G/locks
[paste_deploy]
flavor = keystone
config_file = $G/glance-api-paste.ini
[keystone_authtoken]
www_authenticate_uri = $B_URL
auth_url = $B_URL
auth_type = password
username = glance
user_domain_name = Default
project_name = service
project_domain_name = Default
password = $GLANCE_SERVICE_PASSWORD
region_name = RegionTwo
[oslo_limit]
# The glance user is a system reader (Keystone's policy for reading the endpoint and every
# project's limits); endpoint_id names the endpoint whose service and region the limits are of.
auth_url = $B_URL
auth_type = password
username = glance
user_domain_name = Default
system_scope = all
password = $GLANCE_SERVICE_PASSWORD
region_name = RegionTwo
EOF
  )
}

# Glance's service user, catalog entry and registered limits on Keystone B (lib/provision_glance.py),
# then the endpoint id into [oslo_limit]. Needs Keystone B up.
provision_glance() {
  local out
  out=$(KEYSTONE_B_URL=$B_URL KEYSTONE_B_ADMIN_PASSWORD=$KEYSTONE_B_ADMIN_PASSWORD KEYSTONE_B_REGION=RegionTwo \
        GLANCE_URL=$G_URL GLANCE_SERVICE_PASSWORD=$GLANCE_SERVICE_PASSWORD \
        GLANCE_REGISTERED_LIMITS=$GLANCE_REGISTERED_LIMITS \
        "$V/python" "$HERE/lib/provision_glance.py" 2>"$LOGS/provision-glance.log")
  echo "$out" >>"$LOGS/provision-glance.log"
  GLANCE_SERVICE_ID=$("$V/python" -c 'import json, sys; print(json.loads(sys.argv[1])["service_id"])' "$out")
  GLANCE_ENDPOINT_ID=$("$V/python" -c 'import json, sys; print(json.loads(sys.argv[1])["endpoint_id"])' "$out")
  printf 'GLANCE_SERVICE_ID=%s\nGLANCE_ENDPOINT_ID=%s\n' "$GLANCE_SERVICE_ID" "$GLANCE_ENDPOINT_ID" >"$G/catalog.env"
  echo "endpoint_id = $GLANCE_ENDPOINT_ID" >>"$G/glance-api.conf"
}

# Launches Glance (uwsgi of the Keystone venv with --virtualenv of Glance's: the same interpreter);
# wait_glance waits for it. uwsgi options after Glance's own sample (doc/source/admin/apache-httpd.rst):
# native threads (Glance 33's task pool), chunked input for uploads of unknown size, and
# "Connection: close" on every answer (clients never reuse a connection the router closes).
# One process: SQLite refuses a transaction that upgrades from read to write while another
# process has written ("database is locked" at once, whatever the busy timeout); with two
# workers an upload failed so (HTTP 500) while a publisher's enforcement pass wrote.
# --post-buffering: the worker reads a request's whole body (beyond 64 KiB into a temporary file in
# $G/uploads, uwsgi's TMPDIR) before Glance sees it, so that an upload Glance refuses at once (413 over quota) is
# answered after the client has sent it: otherwise the client, still sending, gets a broken pipe
# instead of Glance's answer. The cost: an upload is on disk twice for a moment.
launch_glance() {
  mkdir -p "$G/uploads"
  TMPDIR=$G/uploads setsid "$V/uwsgi" --http "127.0.0.1:$G_PORT" --add-header "Connection: close" \
    --http-auto-chunked --http-chunked-input --http-raw-body --post-buffering 65536 \
    --master --processes 1 --threads 1 --enable-threads --thunder-lock --buffer-size 65535 \
    --die-on-term --lazy-apps --virtualenv "$GLANCE_VENV" --module glance.wsgi.api:application \
    --env OS_GLANCE_CONFIG_DIR="$G" \
    --pidfile "$PIDS/glance.pid" --logto "$LOGS/uwsgi-glance.log" </dev/null >/dev/null 2>&1 9>&- 8>&- 7>&- &
}
wait_glance() {
  step "waiting for Glance at $G_URL" "$LOGS/uwsgi-glance.log" "$LOGS/glance-api.log"
  wait_file "$PIDS/glance.pid" 30
  wait_http "$G_URL/healthcheck" "Glance's healthcheck" 90
  service_alive glance
  log "Glance answers at $G_URL (pid $(saved_pid glance))"
}

# ------------------------------------------------------------------------------ subcommands
print_status() {
  local n pid
  echo "state dir : $STATE ($STATE_WHY)"
  echo "venv      : $VENV"
  for n in uwsgi-a "${A_IDP_SERVICES[@]}" uwsgi-b shibd apache-b memcached-a memcached-b; do
    pid=$(saved_pid "$n")
    if service_alive "$n"; then
      echo "  $n: running, pid $pid (children: $(descendants "$pid" | tr '\n' ' '))"
    else
      echo "  $n: not running${pid:+ (stale pid $pid)}"
    fi
  done
  echo "Keystone A: $A_URL ($(http_ok "$A_URL" && echo answers || echo 'no answer'))"
  for n in "${A_EXTRA[@]}"; do
    echo "  identity $n: $(a_idp_url "$n") ($(http_ok "$(a_idp_url "$n")" && echo answers || echo 'no answer')), entity $(a_idp_url "$n")/OS-FEDERATION/saml2/idp"
  done
  echo "Keystone B: $B_URL ($(http_ok "$B_URL" && echo answers || echo 'no answer'))  [Apache+mod_shib -> uwsgi 127.0.0.1:$B_UWSGI]"
  echo "Shibboleth: $SP_ENTITY_ID, ECP $SP_ECP_URL, trusted IdP metadata in $MD_DIR ($(ls "$MD_DIR" 2>/dev/null | grep -c '\.xml$' || true) file(s))"
  pid=$(saved_pid postgres)
  if service_alive postgres; then echo "  postgres: running, pid $pid (cluster $PG_DATA, user $(pg_user))"
  else echo "  postgres: not running${pid:+ (stale pid $pid)}"; fi
  echo "PostgreSQL: postgres://mercador:***@127.0.0.1:$PG_PORT/mercador ($(
    [ -n "$(pg_bin)" ] && "$(pg_bin)/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" 2>/dev/null && echo answers || echo 'no answer'
  )) [MERCADOR_POSTGRES_URL in the env file]"
  pid=$(saved_pid horizon)
  if service_alive horizon; then echo "  horizon: running, pid $pid (children: $(descendants "$pid" | tr '\n' ' '))"
  else echo "  horizon: not running${pid:+ (stale pid $pid)}"; fi
  echo "Horizon   : $H_URL ($(http_ok "${H_URL}auth/login/" && echo answers || echo 'no answer')) [for Keystone A; venv $HORIZON_VENV]"
  pid=$(saved_pid horizon-b)
  if service_alive horizon-b; then echo "  horizon-b: running, pid $pid (children: $(descendants "$pid" | tr '\n' ' '))"
  else echo "  horizon-b: not running${pid:+ (stale pid $pid)}"; fi
  echo "Horizon B : $HB_URL ($(http_ok "${HB_URL}auth/login/" && echo answers || echo 'no answer')) [for Keystone B, the publisher's panels; same venv]"
  pid=$(saved_pid glance)
  if service_alive glance; then echo "  glance: running, pid $pid (children: $(descendants "$pid" | tr '\n' ' '))"
  else echo "  glance: not running${pid:+ (stale pid $pid)}"; fi
  echo "Glance    : $G_URL ($(http_ok "$G_URL/healthcheck" && echo answers || echo 'no answer')) [image service of B, $G; venv $GLANCE_VENV]"
  echo "env file  : $ENV_FILE"
}

cmd_start() {
  validate_settings
  take_state_lock
  log "state dir $STATE ($STATE_WHY)"
  link_state
  if healthy; then
    log "testbed already running and healthy ($STATE); nothing to do"
    echo "env file: $ENV_FILE"
    return 0
  fi
  if keystones_healthy && glance_healthy; then
    postgres_healthy || start_postgres_alone "$HEALTH_REASON"
    horizon_healthy || start_horizon_alone a "$HEALTH_REASON"
    horizon_healthy b || start_horizon_alone b "$HEALTH_REASON"
    healthy || { echo "$HEALTH_REASON" >&2; false; }
    log "testbed up (what was not running (re)started alone; total: $(since "$T0")s)"
    print_status
    return 0
  fi
  STARTING=1
  wipe_state
  check_ports_free
  ensure_apt_packages
  # Glance's venv installs meanwhile (its own lock); a no-op when it is there.
  local glance_venv_job
  ( trap - ERR; ensure_glance_venv ) & glance_venv_job=$!
  ensure_venv
  ensure_horizon_venv
  step "waiting for Glance's venv" "$LOGS/pip-glance.log"
  wait "$glance_venv_job"
  local t_up; t_up=$(now)
  gen_secrets
  start_postgres
  init_glance
  start_memcacheds
  install_catalog_plugin
  init_keystones
  start_keystones
  launch_horizon a
  launch_horizon b
  configure_shibboleth
  start_shibd
  configure_apache
  start_apache
  # Glance's registration on B and alice's on A meanwhile.
  local glance_job
  ( trap - ERR; provision_glance && launch_glance ) & glance_job=$!
  provision_demo_user
  step "registering Glance in Keystone B (user glance, service image, endpoint, registered limits), launching it" \
       "$LOGS/provision-glance.log" "$LOGS/uwsgi-glance.log"
  wait "$glance_job"
  wait_horizon a
  wait_horizon b
  wait_glance
  write_client_files
  healthy || { echo "$HEALTH_REASON" >&2; false; }
  STARTING=0
  log "testbed up (services: $(since "$t_up")s; total: $(since "$T0")s)"
  print_status
}

# Any process whose command line is one of this state dir's services (read only; the
# process list is captured first so that grep does not see its own arguments).
our_processes() {
  local procs n pats=()
  procs=$(ps -e -o pid=,args=)
  for n in "${SERVICES[@]}" postgres; do pats+=(-e "$(expected_cmdline "$n")"); done
  grep -F "${pats[@]}" <<<"$procs" || true
}

cmd_stop() {
  if [ ! -d "$STATE" ]; then echo "no state dir $STATE: nothing to stop"; return 0; fi
  take_state_lock
  step "stopping testbed of $STATE (saved PIDs only)"
  stop_all
  local leftovers
  leftovers=$(our_processes)
  if [ -n "$leftovers" ]; then
    echo "[testbed] WARNING: processes of $STATE still exist (not started from its saved PIDs?):" >&2
    echo "$leftovers" >&2
    return 1
  fi
  log "stopped; no process of $STATE left"
}

cmd_status() {
  print_status
  if healthy; then echo "HEALTHY"; return 0; fi
  echo "NOT HEALTHY: $HEALTH_REASON"
  return 1
}

cmd_check() {
  [ -f "$ENV_FILE" ] || die "no $ENV_FILE: run '$0 start' first"
  healthy || die "testbed is not healthy: $HEALTH_REASON (run '$0 start')"
  STEP="self-check"; STEP_LOGS=("$LOGS/shibd.log" "$LOGS/shib-native.log" "$LOGS/apache-b-error.log" "$LOGS/keystone-b.log" "$LOGS/keystone-a.log")
  log "self-check: temporary K2K federation, real K2K login, cleanup"
  local rc=0
  "$V/python" "$HERE/lib/selfcheck.py" --env-file "$ENV_FILE" "$@" || rc=$?
  if [ "$rc" != 0 ]; then
    trap - ERR
    echo "[testbed] self-check FAILED (exit $rc)" >&2
    local f; for f in "${STEP_LOGS[@]}"; do
      [ -s "$f" ] && { echo "----- last 15 lines of $f -----" >&2; tail -n 15 "$f" >&2; }
    done
    exit "$rc"
  fi
  log "self-check passed"
}

# Outage drills for tests: stop or start B's shibd alone (Apache and the
# Keystones stay up), so K2K through a dead SAML SP daemon can be observed.
cmd_shibd() {
  [ -f "$ENV_FILE" ] || die "no $ENV_FILE: run '$0 start' first"
  case ${1:-} in
    stop)  stop_one shibd; rm -f "$S/shibd.sock" ;;
    start) service_alive shibd && { log "shibd already running"; return 0; }
           start_shibd; log "shibd running again (pid $(saved_pid shibd))" ;;
    *) die "usage: $0 shibd stop|start" ;;
  esac
}

# A private SAML SP for fault-injection tests (issue 19): its own shibd (socket, pid file, logs,
# LocalDynamic metadata dir DIR/metadata, entityID http://127.0.0.1:PORT/shibboleth) and its own
# Apache + mod_shib on 127.0.0.1:PORT in front of this testbed's Keystone B uwsgi socket, from the
# same templates as the testbed's SP. A test stops and starts its shibd or Apache without
# touching the testbed's, which other tests K2K-login through.
#   sp-instance start DIR PORT        configures DIR once (made world-traversable for www-data),
#                                     starts whatever of shibd and Apache is not running
#   sp-instance stop DIR [shibd|apache]  stops both (or one) by the pid files in DIR
# Pid files: DIR/shibd.pid, DIR/apache.pid. Logs: DIR/logs/.
cmd_sp_instance() {
  [ -f "$ENV_FILE" ] || die "no $ENV_FILE: run '$0 start' first"
  local action=${1:-} dir=${2:-} port=${3:-}
  [ -n "$dir" ] || die "usage: $0 sp-instance start DIR PORT | stop DIR [shibd|apache]"
  dir=$(abspath "$dir"); dir=${dir%/}
  case $action in
    start)
      [[ $port =~ ^[0-9]+$ ]] || die "usage: $0 sp-instance start DIR PORT (PORT: a free port on 127.0.0.1)"
      [ -f "$S/sp-key.pem" ] || die "the testbed's SP is not configured ($S): run '$0 start' first"
      if [ ! -f "$dir/shibboleth2.xml" ]; then
        mkdir -p "$dir/metadata" "$dir/logs" "$dir/apache"
        chmod 755 "$dir" "$dir/metadata" "$dir/logs" "$dir/apache"
        cp "$S/sp-key.pem" "$S/sp-cert.pem" "$S/attribute-map.xml" "$S/attribute-policy.xml" \
           "$S/security-policy.xml" "$S/protocols.xml" "$dir/"
        write_shibboleth2 "$dir" "$dir/metadata" "http://127.0.0.1:$port/shibboleth"
        mklogger "$dir/shibd.logger" "$dir/logs/shibd.log" "$dir/logs/shibd-transaction.log"
        mklogger "$dir/native.logger" "$dir/logs/shib-native.log" "$dir/logs/shibd-transaction.log"
        touch "$dir/logs/shib-native.log" "$dir/logs/shibd-transaction.log"
        chown www-data:www-data "$dir/logs/shib-native.log" "$dir/logs/shibd-transaction.log"
        write_apache_conf "$dir/apache" "$port" "$dir/apache.pid" "$dir/logs/apache" "$dir"
        runuser -u www-data -- test -x "$dir" || die "user www-data cannot reach $dir: put it under world-traversable dirs"
      fi
      if ! sp_instance_alive "$dir" shibd; then
        shibd -f -c "$dir/shibboleth2.xml" -p "$dir/shibd.pid" -w 30 </dev/null >"$dir/logs/shibd.out" 2>&1 9>&- \
          || die "shibd of $dir did not start: $(tail -5 "$dir/logs/shibd.log" 2>/dev/null)"
        wait_file "$dir/shibd.pid" 30
      fi
      if ! sp_instance_alive "$dir" apache; then
        /usr/sbin/apache2 -f "$dir/apache/httpd.conf" -k start </dev/null >>"$dir/logs/apache-error.log" 2>&1 9>&- \
          || die "Apache of $dir did not start: $(tail -5 "$dir/logs/apache-error.log")"
        wait_file "$dir/apache.pid" 30
      fi
      wait_http "http://127.0.0.1:$port/Shibboleth.sso/Status" "the private SP's status handler" 30
      echo "sp-instance $dir: shibd $(tr -dc 0-9 <"$dir/shibd.pid"), Apache $(tr -dc 0-9 <"$dir/apache.pid") on 127.0.0.1:$port" ;;
    stop)
      local what
      for what in ${port:-apache shibd}; do
        case $what in shibd|apache) ;; *) die "usage: $0 sp-instance stop DIR [shibd|apache]" ;; esac
        sp_instance_stop "$dir" "$what"
      done ;;
    *) die "usage: $0 sp-instance start DIR PORT | stop DIR [shibd|apache]" ;;
  esac
}
sp_instance_expect() {  # $1=dir $2=shibd|apache: a unique part of its command line
  case $2 in shibd) echo "-c $1/shibboleth2.xml" ;; apache) echo "-f $1/apache/httpd.conf" ;; esac
}
sp_instance_alive() {
  local pid; pid=$(tr -dc 0-9 2>/dev/null <"$1/$2.pid" || true)
  [ -n "$pid" ] && pid_matches "$pid" "$(sp_instance_expect "$1" "$2")"
}
sp_instance_stop() {  # by the pid file, the command line checked; waits until it and its children are gone
  local dir=$1 what=$2 pid expect victims p i alive
  pid=$(tr -dc 0-9 2>/dev/null <"$dir/$what.pid" || true)
  expect=$(sp_instance_expect "$dir" "$what")
  if [ -z "$pid" ] || ! pid_matches "$pid" "$expect"; then rm -f "$dir/$what.pid"; return 0; fi
  victims="$pid $(descendants "$pid" | tr '\n' ' ')"
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 150); do
    alive=""
    for p in $victims; do pid_matches "$p" "$expect" && alive="$alive $p"; done
    [ -z "$alive" ] && break
    sleep 0.1
  done
  for p in $alive; do pid_matches "$p" "$expect" && kill -KILL "$p" 2>/dev/null || true; done
  rm -f "$dir/$what.pid"
  [ "$what" = shibd ] && rm -f "$dir/shibd.sock"
  echo "sp-instance $dir: stopped $what (pid $pid)"
}

# Stop or start Horizon a|b alone (the Keystones and the rest keep running), by saved PID.
cmd_horizon() {
  local side=$1; shift
  [ -f "$ENV_FILE" ] || die "no $ENV_FILE: run '$0 start' first"
  take_state_lock
  horizon_side "$side"
  case ${1:-} in
    stop)  stop_one "$HZ" ;;
    start) if horizon_healthy "$side"; then log "$HZ_TITLE already running at $HZ_URL"; return 0; fi
           local why=$HEALTH_REASON
           keystones_healthy || die "the testbed is not healthy ($HEALTH_REASON): run '$0 start'"
           start_horizon_alone "$side" "${why:-asked to}"; print_status ;;
    *) die "usage: $0 $HZ stop|start" ;;
  esac
}

# Stop or start Glance alone (the rest keeps running), by saved PID; start relaunches it with the
# configuration, database and registration of this testbed's last fresh start.
cmd_glance() {
  [ -f "$ENV_FILE" ] || die "no $ENV_FILE: run '$0 start' first"
  take_state_lock
  case ${1:-} in
    stop)  stop_one glance ;;
    start) if glance_healthy; then log "Glance already running at $G_URL"; return 0; fi
           keystones_healthy || die "the testbed is not healthy ($HEALTH_REASON): run '$0 start'"
           grep '^endpoint_id = ' "$G/glance-api.conf" >/dev/null 2>&1 \
             || die "Glance of $STATE was never registered in Keystone B: run '$0 restart'"
           stop_one glance
           port_in_use "$G_PORT" && die "port $G_PORT is already in use by a process this state dir did not start"
           step "starting Glance alone (uwsgi --http 127.0.0.1:$G_PORT)" "$LOGS/uwsgi-glance.log" "$LOGS/glance-api.log"
           launch_glance
           wait_glance ;;
    *) die "usage: $0 glance stop|start" ;;
  esac
}

usage() {
  sed -n '2,40p' "$0" | sed 's/^# \{0,1\}//'
  exit "${1:-2}"
}

main() {
  local cmd=${1:-}
  [ $# -gt 0 ] && shift
  case $cmd in
    start)   cmd_start ;;
    stop)    cmd_stop || exit 1 ;;
    restart) cmd_stop; T0=$(now); cmd_start ;;
    status)  cmd_status || exit 1 ;;
    check)   cmd_check "$@" ;;
    shibd)   cmd_shibd "$@" ;;
    sp-instance) cmd_sp_instance "$@" ;;
    horizon) cmd_horizon a "$@" ;;
    horizon-b) cmd_horizon b "$@" ;;
    glance)  cmd_glance "$@" ;;
    env)     echo "$ENV_FILE"; [ -f "$ENV_FILE" ] || { echo "(not written yet: run '$0 start')" >&2; exit 1; } ;;
    -h|--help|help) usage 0 ;;
    *) usage 2 ;;
  esac
}
main "$@"
