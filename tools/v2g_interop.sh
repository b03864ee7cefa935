#!/usr/bin/env bash
# Run two independent ISO 15118 implementations against each other and capture link A.
#
#   tools/v2g_interop.sh SCENARIO OUTDIR
#
# Josev's SECC and EVCC (PyPI package iso15118, simulated EV/EVSE controllers) run in two
# network namespaces joined by a veth pair (IPv6 link-local, SDP multicast like on PLC);
# tcpdump captures on the SECC side. OUTDIR gets cap.pcap, secc.log and evcc.log (the truth
# the analyser is checked against). Needs root, java, tcpdump and a venv with iso15118:
#   python3 -m venv /tmp/josev-venv && /tmp/josev-venv/bin/pip install iso15118 aiofile
# (iso15118 0.31.2 forgets to declare aiofile).
#
# Scenarios: din-dc, iso2-ac, iso2-dc, iso20-dc, iso20-ac, no-common-protocol, evcc-killed.
set -euo pipefail
SCENARIO=${1:?scenario}
OUT=${2:?outdir}
JOSEV=${JOSEV_VENV:-/tmp/josev-venv}
PY=$JOSEV/bin/python
EX=$($PY -c 'import iso15118, os; print(os.path.dirname(iso15118.__file__))')/shared/examples/evcc
EV=v2gev EVSE=v2gevse

SESSIONS=1
case "$SCENARIO" in
  din-dc)   PROTOCOLS=DIN_SPEC_70121;  EVCFG=$EX/DIN/evcc_config.json ;;
  iso2-ac)  PROTOCOLS=ISO_15118_2;     EVCFG=$EX/iso15118_2/evcc_config_eim_ac.json ;;
  iso2-dc)  PROTOCOLS=ISO_15118_2;     EVCFG=$EX/iso15118_2/evcc_config_eim_dc.json ;;
  # the SECC's EXI codec (Java) loads the -20 grammars on first use, too slowly for the
  # EV's 2 s SessionSetup timeout: the EV retries SDP and the second session runs warm
  iso20-dc) PROTOCOLS=ISO_15118_20_DC; EVCFG=$EX/iso15118_20/evcc_config_dc.json; SESSIONS=2 ;;
  iso20-ac) PROTOCOLS=ISO_15118_20_AC; EVCFG=$EX/iso15118_20/evcc_config_ac.json; SESSIONS=2 ;;
  no-common-protocol) PROTOCOLS=ISO_15118_2; EVCFG=$EX/DIN/evcc_config.json ;;
  # the EV process dies in the middle of the AC charging loop
  evcc-killed) PROTOCOLS=ISO_15118_2; EVCFG=$EX/iso15118_2/evcc_config_eim_ac.json
               KILL_ON="Sent ChargingStatusReq"; SESSIONS=2 ;;
  *) echo "unknown scenario $SCENARIO" >&2; exit 2 ;;
esac

setup_net() {
  ip netns del $EV 2>/dev/null || true
  ip netns del $EVSE 2>/dev/null || true
  ip netns add $EV && ip netns add $EVSE
  ip link add v2g-ev type veth peer name v2g-evse
  ip link set v2g-ev netns $EV && ip link set v2g-evse netns $EVSE
  for pair in "$EV v2g-ev" "$EVSE v2g-evse"; do
    set -- $pair
    ip netns exec "$1" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
    ip netns exec "$1" ip link set lo up
    ip netns exec "$1" sysctl -qw "net.ipv6.conf.$2.accept_dad=0"
    ip netns exec "$1" ip link set "$2" up
  done
  sleep 2
}

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
if [ "$SESSIONS" -gt 1 ]; then  # let the EV retry SDP after a failed session
  "$PY" -c 'import json, sys; c = json.load(open(sys.argv[1])); c["sdpRetryCycles"] = int(sys.argv[2]); json.dump(c, open(sys.argv[3], "w"))' \
    "$EVCFG" "$SESSIONS" "$OUT/evcc_config.json"
  EVCFG=$OUT/evcc_config.json
fi
setup_net
cd "$OUT"
ip netns exec $EVSE tcpdump -i v2g-evse -U -w "$OUT/cap.pcap" ip6 >"$OUT/tcpdump.log" 2>&1 &
TCPDUMP=$!
sleep 1
ip netns exec $EVSE env NETWORK_INTERFACE=v2g-evse PROTOCOLS=$PROTOCOLS AUTH_MODES=EIM \
  LOG_LEVEL=DEBUG "$PY" -m iso15118.secc.main >"$OUT/secc.log" 2>&1 &
SECC=$!
sleep 6
ip netns exec $EV env NETWORK_INTERFACE=v2g-ev EVCC_CONFIG_PATH="$EVCFG" LOG_LEVEL=DEBUG \
  "$PY" -m iso15118.evcc.main >"$OUT/evcc.log" 2>&1 &
EVCC=$!
if [ -n "${KILL_ON:-}" ]; then
  for _ in $(seq 1 300); do
    [ "$(grep -c "$KILL_ON" "$OUT/evcc.log" || true)" -ge 3 ] && break
    sleep 0.2
  done
  pkill -9 -P $EVCC 2>/dev/null || true; kill -9 $EVCC 2>/dev/null || true  # the EV dies
  sleep 8
else
  # the EVCC retries SDP after a session ends; stop after the sessions we want
  for _ in $(seq 1 120); do
    kill -0 $EVCC 2>/dev/null || break
    [ "$(grep -c "TCP connection closed to peer" "$OUT/evcc.log" || true)" -ge "$SESSIONS" ] \
      && { sleep 2; break; }
    sleep 1
  done
  kill $EVCC 2>/dev/null || true
  sleep 2
fi
kill $SECC 2>/dev/null || true
sleep 1
kill $TCPDUMP 2>/dev/null || true
wait $TCPDUMP 2>/dev/null || true
# py4j gateways die with their parent's pipe; make sure none is left in our namespaces
for ns in $EV $EVSE; do ip netns pids $ns | xargs -r kill 2>/dev/null || true; done
ip netns del $EV; ip netns del $EVSE
echo "$SCENARIO: $(stat -c %s "$OUT/cap.pcap") bytes captured in $OUT"
