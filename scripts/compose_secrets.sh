#!/bin/sh
# Make the random credentials docker-compose.yml mounts, under ./secrets/ (mode 0600, never
# overwriting a file that exists): per side, the MinIO root user and one S3 user per process
# (api, worker), one Redis ACL user per process (api, worker, admin) as a redis:// URL, and the
# private side's audit key.
# The key set, API keys, token key and encrypted weights come from the uunet CLI
# (docs/DEPLOY.md, "Secrets").
#   scripts/compose_secrets.sh [DIR]      (default: ./secrets)
set -eu
dir="${1:-secrets}"
umask 077
mkdir -p "$dir/public" "$dir/private" "$dir/keys"
chmod 700 "$dir"

put() {  # put FILE VALUE: write once
  if [ -e "$1" ]; then
    echo "kept    $1"
  else
    printf '%s\n' "$2" > "$1"
    echo "created $1"
  fi
}

hex() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }

for side in public private; do
  host=redis short=pub
  [ "$side" = private ] && host=redis-private short=priv
  for who in root api worker; do
    # MinIO: access keys of 3-20 characters, secret keys of 8-40.
    put "$dir/$side/s3_${who}_access_key" "$short-$who-$(hex 4)"
    put "$dir/$side/s3_${who}_secret_key" "$(hex 16)"
  done
  for user in api worker admin; do
    put "$dir/$side/redis_url_$user" "redis://$user:$(hex 24)@$host:6379/0"
  done
done
# The audit key of the private side (MACs every audit entry; Redis never holds it).
put "$dir/private/audit_key" "$(hex 32)"
