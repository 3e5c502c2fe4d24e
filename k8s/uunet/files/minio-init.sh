#!/bin/bash
# Prepare one part's MinIO with its root user (compose and the Helm chart both run this, in the
# pgsty/mc image: bash and coreutils, no sed or grep): the bucket, its raw/ expiry rule, and one
# user per process (api, worker) whose policy, s3-policies/<part>-<role>.json, limits it to the
# bucket's prefixes and the actions that process performs. Safe to run again (upgrades).
#   S3_URL, BUCKET, PART (public|private), RAW_EXPIRY_DAYS (default 1), POLICY_DIR
#   AUDIT_BUCKET, AUDIT_RETENTION_DAYS (private part): the audit-anchor bucket, made with object
#   lock and a COMPLIANCE default retention (nobody, root included, can delete an anchor early)
#   S3_ROOT_ACCESS_KEY_FILE, S3_ROOT_SECRET_KEY_FILE
#   S3_API_ACCESS_KEY_FILE, S3_API_SECRET_KEY_FILE, S3_WORKER_ACCESS_KEY_FILE, S3_WORKER_SECRET_KEY_FILE
set -euo pipefail

secret() {
  local value
  value=$(cat "$1")
  printf %s "${value//[$'\r\n']/}"
}

mc alias set --api S3v4 uunet "$S3_URL" "$(secret "$S3_ROOT_ACCESS_KEY_FILE")" \
  "$(secret "$S3_ROOT_SECRET_KEY_FILE")" >/dev/null
mc mb --ignore-existing "uunet/$BUCKET"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf '{"Rules":[{"ID":"expire-raw","Status":"Enabled","Filter":{"Prefix":"raw/"},"Expiration":{"Days":%d}}]}\n' \
  "${RAW_EXPIRY_DAYS:-1}" > "$work/lifecycle.json"
mc ilm import "uunet/$BUCKET" < "$work/lifecycle.json"
if [ -n "${AUDIT_BUCKET:-}" ]; then
  mc mb --ignore-existing --with-lock "uunet/$AUDIT_BUCKET"
  mc retention set --default COMPLIANCE "${AUDIT_RETENTION_DAYS:-365}d" "uunet/$AUDIT_BUCKET"
fi

for role in api worker; do
  upper=${role^^}
  key_file="S3_${upper}_ACCESS_KEY_FILE"
  secret_file="S3_${upper}_SECRET_KEY_FILE"
  access=$(secret "${!key_file}")
  name="uunet-$PART-$role"
  policy=$(cat "$POLICY_DIR/$PART-$role.json")
  policy=${policy//AUDIT_BUCKET/${AUDIT_BUCKET:-none}}
  printf '%s\n' "${policy//BUCKET/$BUCKET}" > "$work/$name.json"
  mc admin policy create uunet "$name" "$work/$name.json" >/dev/null
  mc admin user add uunet "$access" "$(secret "${!secret_file}")" >/dev/null
  # attach fails when the policy is attached already (a re-run): check the result instead.
  mc admin policy attach uunet "$name" --user "$access" >/dev/null 2>&1 || true
  info=$(mc admin user info uunet "$access" --json)
  if [[ $info != *"\"$name\""* ]]; then
    echo "minio-init: policy $name is not attached to the $role user" >&2
    exit 1
  fi
done
echo "minio-init: bucket $BUCKET ready (raw/ expires after ${RAW_EXPIRY_DAYS:-1} day(s)); api and worker users limited by uunet-$PART-api / uunet-$PART-worker"
