#!/bin/sh
# Start redis-server with one ACL user per process (compose and the Helm chart both run this).
#   REDIS_USERS          e.g. "api worker keda admin"
#   REDIS_PASSWORD_<U>   a user's password (k8s: from the credentials Secret), or
#   REDIS_URL_FILE_<U>   a file holding redis://<user>:<password>@... (compose secrets)
#   REDIS_KEY_PATTERN    keys the services may touch (default uunet:*)
#   REDIS_RUN_AS         started as root (compose): the user redis-server runs as
# The ACL file holds SHA-256 hashes only. The default user can do nothing but PING (probes);
# api/worker may run data, stream, transaction and script commands on the product's keys, nothing
# @dangerous (CONFIG, FLUSHALL, KEYS, ACL, ...); keda may only read stream and group sizes; admin
# (backups, operations) may do anything.
set -eu
acl="${REDIS_ACL_FILE:-/tmp/users.acl}"
keys="${REDIS_KEY_PATTERN:-uunet:*}"
umask 077

password_of() {
  var=$(printf %s "$1" | tr 'a-z-' 'A-Z_')
  file=$(eval "printf %s \"\${REDIS_URL_FILE_${var}:-}\"")
  if [ -n "$file" ]; then
    sed -n 's#^rediss\{0,1\}://[^:/@]*:\([^@]*\)@.*#\1#p' "$file"
  else
    eval "printf %s \"\${REDIS_PASSWORD_${var}:-}\""
  fi
}

{
  echo "user default on nopass resetkeys resetchannels -@all +ping"
  for user in ${REDIS_USERS:?REDIS_USERS is required}; do
    password=$(password_of "$user")
    if [ -z "$password" ]; then
      echo "redis-start: no password for ACL user $user" >&2
      exit 1
    fi
    case "$user" in
      admin) rules="~* &* +@all" ;;
      keda) rules="resetkeys ~$keys resetchannels -@all +@connection +xinfo +xpending +xlen -@dangerous" ;;
      *) rules="resetkeys ~$keys resetchannels -@all +@connection +@read +@write +@stream +@transaction +@scripting -@dangerous" ;;
    esac
    echo "user $user on #$(printf %s "$password" | sha256sum | cut -d' ' -f1) $rules"
  done
} > "$acl"
if [ -n "${REDIS_RUN_AS:-}" ] && [ "$(id -u)" = 0 ]; then
  # compose starts the container as root to read the secret files; Redis itself runs unprivileged.
  chown "$REDIS_RUN_AS" "$acl"
  exec setpriv --reuid="$REDIS_RUN_AS" --regid="$REDIS_RUN_AS" --clear-groups \
    redis-server "$@" --aclfile "$acl"
fi
exec redis-server "$@" --aclfile "$acl"
