#!/bin/sh
# Install genosd as a systemd service from this checkout; run as root. Safe to run again: it never
# overwrites your settings, inventory, templates or credentials.
#
#   sh systemd/install.sh && systemctl daemon-reload && systemctl enable --now genosd
#
# ROOT=/some/dir installs below that directory instead of / (packaging, tests); VENV (default
# $ROOT/opt/genosd) is the virtual environment genosd is installed into (reused if it has genosd).
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
root=${ROOT:-}
venv=${VENV:-$root/opt/genosd}
python=${PYTHON:-python3}

if ! getent passwd genosd >/dev/null; then
  useradd --system --user-group --home-dir /var/lib/genosd --no-create-home \
    --shell /usr/sbin/nologin --comment "genosd network automation daemon" genosd
fi
if [ ! -x "$venv/bin/genosd" ]; then
  "$python" -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "$src"
fi

etc=$root/etc/genosd
# the service reads its settings through group genosd; only root reads the credentials, and
# systemd hands them to the service (LoadCredential=) in a directory only the service sees
install -d -m 0750 -g genosd "$etc" "$etc/inventory" "$etc/templates"
install -d -m 0700 "$etc/credentials"
[ -e "$etc/genosd.yaml" ] || install -m 0640 -g genosd "$src/systemd/genosd.yaml.example" "$etc/genosd.yaml"
[ -e "$etc/genosd.env" ] || install -m 0640 -g genosd "$src/systemd/genosd.env.example" "$etc/genosd.env"
[ -e "$etc/inventory/hosts.yaml" ] || install -m 0640 -g genosd "$src/systemd/hosts.yaml.example" "$etc/inventory/hosts.yaml"
if [ -z "$(ls -A "$etc/templates")" ]; then
  cp -R "$src/templates/." "$etc/templates/"
  chgrp -R genosd "$etc/templates"
  chmod -R u=rwX,g=rX,o= "$etc/templates"
fi
install -d -m 0755 "$root/etc/systemd/system" "$root/usr/share/doc/genosd"
install -m 0644 "$src/systemd/genosd.service" "$root/etc/systemd/system/genosd.service"
install -m 0644 "$src/systemd/genosd@.service" "$root/etc/systemd/system/genosd@.service"
install -m 0644 "$src/README.md" "$src"/docs/*.md "$root/usr/share/doc/genosd/"

cat <<DONE
genosd installed: $venv/bin/genosd, settings in $etc, unit in $root/etc/systemd/system.
Next: put devices in $etc/inventory/hosts.yaml and secrets in $etc/credentials/ (one file per
secret, mode 0600), check them with
  $venv/bin/genosd check-config --config $etc/genosd.yaml
then: systemctl daemon-reload && systemctl enable --now genosd
DONE
