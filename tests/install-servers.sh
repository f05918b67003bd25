#!/usr/bin/env bash
# The servers the integration tests start on 127.0.0.1: Debian packages, installed when missing.
set -euo pipefail
need=()
command -v influxd >/dev/null || need+=(influxdb)
command -v victoria-metrics >/dev/null || need+=(victoria-metrics)
[ -x /usr/sbin/snmpd ] || need+=(snmpd)
command -v snmpbulkwalk >/dev/null || need+=(snmp)
command -v prometheus-snmp-exporter >/dev/null || need+=(prometheus-snmp-exporter)
command -v chromium >/dev/null || need+=(chromium)  # the web console's browser tests (headless)
command -v ip >/dev/null || need+=(iproute2)  # a veth pair whose link the alert tests take down
command -v logger >/dev/null || need+=(bsdutils)  # syslog messages as util-linux sends them
command -v openssl >/dev/null || need+=(openssl)  # the syslog TLS test certificate
command -v redis-server >/dev/null || need+=(redis-server)  # scale-out: the cluster tests
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then echo "need root to apt-get install: ${need[*]}" >&2; exit 1; fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# Debian's packages start their services; the tests run their own copies on free ports.
for svc in influxdb snmpd prometheus-snmp-exporter victoria-metrics redis-server; do
  systemctl stop "$svc" >/dev/null 2>&1 || true
done
