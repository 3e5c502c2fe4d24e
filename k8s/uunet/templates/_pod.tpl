{{/* Env, volumes and mounts of the uunet containers. Called with (list $root "api"|"worker"). */}}

{{- define "uunet.env" -}}
{{- $root := index . 0 -}}
{{- $role := index . 1 -}}
{{- $part := include "uunet.part" $root | fromYaml -}}
{{- $p := include "uunet.envPrefix" $root -}}
{{- $secretDir := "/var/run/secrets/uunet" -}}
# Not read by the services: substituted into the Redis URL below by the kubelet.
- name: REDIS_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "uunet.credentialsSecret" $root }}
      key: {{ include "uunet.credKey" (list "redis" $role "password") }}
- name: {{ $p }}REDIS_URL
  value: {{ include "uunet.redisUrl" (list $root $role) | quote }}
- name: {{ $p }}S3_ENDPOINT
  value: {{ include "uunet.s3Endpoint" $root | quote }}
- name: {{ $p }}S3_SECURE
  value: {{ ternary "false" (toString $root.Values.externalS3.secure) $root.Values.minio.enabled | quote }}
- name: {{ $p }}S3_REGION
  value: {{ $root.Values.externalS3.region | quote }}
- name: {{ $p }}S3_BUCKET
  value: {{ $part.bucket | quote }}
# The bucket and its expiry rule are made by the bucket job (or the operator, for an external S3):
# this process's S3 user may only touch objects.
- name: {{ $p }}S3_MANAGE_BUCKET
  value: "false"
- name: {{ $p }}S3_ACCESS_KEY_FILE
  value: {{ $secretDir }}/credentials/s3-access-key
- name: {{ $p }}S3_SECRET_KEY_FILE
  value: {{ $secretDir }}/credentials/s3-secret-key
{{- if get $part.keyFiles $role }}
- name: {{ $p }}KEYS_DIR
  value: {{ $secretDir }}/keys
{{- end }}
- name: {{ $p }}STREAM
  value: {{ $part.stream | quote }}
- name: {{ $p }}GROUP
  value: {{ $part.group | quote }}
- name: {{ $p }}HTTP_PORT
  value: {{ $part.api.httpPort | quote }}
- name: {{ $p }}GRPC_PORT
  value: {{ $part.api.grpcPort | quote }}
- name: {{ $p }}METRICS_PORT
  value: {{ (get $part $role).metricsPort | quote }}
- name: {{ $p }}MAX_UPLOAD_MB
  value: {{ $part.maxUploadMb | quote }}
- name: {{ $p }}JOB_TIMEOUT_S
  value: {{ $part.jobTimeoutSeconds | quote }}
- name: {{ $p }}DEVICE
  value: {{ ternary "cuda" "cpu" (and (eq $role "worker") (gt (int $part.worker.gpu) 0)) | quote }}
{{- if eq $role "api" }}
- name: {{ $p }}MAX_CONCURRENT_UPLOADS
  value: {{ $part.api.maxConcurrentUploads | quote }}
- name: {{ $p }}SHUTDOWN_GRACE_S
  value: {{ $part.api.shutdownGraceSeconds | quote }}
{{- else }}
- name: {{ $p }}SHUTDOWN_DRAIN_S
  value: {{ $part.worker.drainSeconds | quote }}
{{- end }}
{{- with $part.checkpoint }}
- name: {{ $p }}CHECKPOINT
  value: {{ . | quote }}
{{- end }}
{{- if eq $root.Values.component "public" }}
{{- if eq $role "api" }}
- name: {{ $p }}API_KEYS_FILE
  value: {{ $secretDir }}/api-keys/api_keys.json
- name: {{ $p }}RATE_LIMIT_PER_MINUTE
  value: {{ $part.rateLimitPerMinute | quote }}
{{- end }}
{{- if $part.s3PublicEndpoint }}
- name: {{ $p }}S3_PUBLIC_ENDPOINT
  value: {{ $part.s3PublicEndpoint | quote }}
- name: {{ $p }}S3_PUBLIC_SECURE
  value: {{ $part.s3PublicSecure | toString | quote }}
{{- end }}
{{- else }}
{{- if eq $role "api" }}
{{- if $part.jwt.jwksUrl }}
- name: {{ $p }}JWKS_URL
  value: {{ $part.jwt.jwksUrl | quote }}
{{- else }}
- name: {{ $p }}JWT_PUBLIC_KEY_FILE
  value: {{ $secretDir }}/jwt/jwt_public.pem
{{- end }}
{{- end }}
- name: {{ $p }}JWT_ISSUER
  value: {{ $part.jwt.issuer | quote }}
- name: {{ $p }}JWT_AUDIENCE
  value: {{ $part.jwt.audience | quote }}
- name: {{ $p }}AUDIT_KEY_FILE
  value: {{ $secretDir }}/audit/audit-key
- name: {{ $p }}AUDIT_ANCHOR_BUCKET
  value: {{ $part.audit.anchorBucket | quote }}
- name: {{ $p }}AUDIT_ANCHOR_INTERVAL_S
  value: {{ $part.audit.anchorIntervalS | quote }}
- name: {{ $p }}AUDIT_ANCHOR_RETENTION_DAYS
  value: {{ $part.audit.anchorRetentionDays | quote }}
{{- if eq $role "worker" }}
- name: {{ $p }}WEIGHTS_KEY_FILE
  value: {{ $secretDir }}/weights/weights.key
- name: {{ $p }}ENCRYPTED_WEIGHTS
  value: {{ include "uunet.weightsPath" $root | quote }}
{{- end }}
{{- end }}
{{- range $k, $v := $part.extraEnv }}
- name: {{ $p }}{{ $k }}
  value: {{ $v | quote }}
{{- end }}
{{- end -}}

{{- define "uunet.volumeMounts" -}}
{{- $root := index . 0 -}}
{{- $role := index . 1 -}}
- name: tmp
  mountPath: /tmp
{{- if get (get $root.Values $root.Values.component).keyFiles $role }}
- name: keys
  mountPath: /var/run/secrets/uunet/keys
  readOnly: true
{{- end }}
- name: credentials
  mountPath: /var/run/secrets/uunet/credentials
  readOnly: true
{{- if and (eq $root.Values.component "public") (eq $role "api") }}
- name: api-keys
  mountPath: /var/run/secrets/uunet/api-keys
  readOnly: true
{{- else if and (eq $root.Values.component "private") (eq $role "api") }}
- name: jwt
  mountPath: /var/run/secrets/uunet/jwt
  readOnly: true
{{- else if eq $root.Values.component "private" }}
- name: weights-key
  mountPath: /var/run/secrets/uunet/weights
  readOnly: true
{{- if not $root.Values.private.weights.path }}
- name: weights
  mountPath: /var/lib/uunet/weights
  readOnly: true
{{- end }}
{{- end }}
{{- if eq $root.Values.component "private" }}
- name: audit-key
  mountPath: /var/run/secrets/uunet/audit
  readOnly: true
{{- end }}
{{- end -}}

{{- define "uunet.volumes" -}}
{{- $root := index . 0 -}}
{{- $role := index . 1 -}}
{{- $part := include "uunet.part" $root | fromYaml -}}
{{- $s := $root.Values.secrets -}}
- name: tmp
  emptyDir:
    sizeLimit: {{ include "uunet.tmpSize" (list $root $role) }}
{{- with get $part.keyFiles $role }}
- name: keys
  secret:
    secretName: {{ include "uunet.keySetSecret" $root }}
    defaultMode: 0440
    items:
      {{- range . }}
      - {key: {{ . | quote }}, path: {{ . | quote }}}
      {{- end }}
{{- end }}
# Only this role's own S3 user (its policy: files/s3-policies/<part>-<role>.json).
- name: credentials
  secret:
    secretName: {{ include "uunet.credentialsSecret" $root }}
    defaultMode: 0440
    items:
      - {key: {{ include "uunet.credKey" (list "s3" $role "access-key") }}, path: s3-access-key}
      - {key: {{ include "uunet.credKey" (list "s3" $role "secret-key") }}, path: s3-secret-key}
{{- if and (eq $root.Values.component "public") (eq $role "api") }}
- name: api-keys
  secret:
    secretName: {{ default (printf "%s-api-keys" (include "uunet.fullname" $root)) $s.apiKeys.existingSecret }}
    defaultMode: 0440
    items:
      - {key: api_keys.json, path: api_keys.json}
{{- else if and (eq $root.Values.component "private") (eq $role "api") }}
- name: jwt
  secret:
    secretName: {{ default (printf "%s-jwt" (include "uunet.fullname" $root)) $s.jwt.existingSecret }}
    defaultMode: 0440
    optional: {{ not (empty $part.jwt.jwksUrl) }}
    items:
      - {key: jwt_public.pem, path: jwt_public.pem}
{{- else if eq $root.Values.component "private" }}
- name: weights-key
  secret:
    secretName: {{ default (printf "%s-weights-key" (include "uunet.fullname" $root)) $s.weightsKey.existingSecret }}
    defaultMode: 0440
    items:
      - {key: weights.key, path: weights.key}
{{- if not $root.Values.private.weights.path }}
- name: weights
  emptyDir:
    sizeLimit: 1Gi
{{- end }}
{{- end }}
{{- if eq $root.Values.component "private" }}
# The audit key on its own volume: the weights init container (which mounts credentials) never sees it.
- name: audit-key
  secret:
    secretName: {{ include "uunet.credentialsSecret" $root }}
    defaultMode: 0440
    items:
      - {key: audit-key, path: audit-key}
{{- end }}
{{- end -}}

{{/* /tmp of a role: the API's from its upload slots, the worker's from worker.tmpSize. */}}
{{- define "uunet.tmpSize" -}}
{{- $root := index . 0 -}}
{{- if eq (index . 1) "api" -}}
{{- printf "%dMi" (int (include "uunet.apiTmpMi" $root)) -}}
{{- else -}}
{{- printf "%dGi" (int (include "uunet.part" $root | fromYaml).worker.tmpSizeGi) -}}
{{- end -}}
{{- end -}}

{{/* Where the private worker finds the encrypted private-module weights. */}}
{{- define "uunet.weightsPath" -}}
{{- default "/var/lib/uunet/weights/private-weights.enc" .Values.private.weights.path -}}
{{- end -}}

{{/*
Init container of the private worker: copies the encrypted weights (encrypted at rest, so they may
sit in the part's own bucket) into an emptyDir with the worker's own S3 user (read-only on
models/); only the worker's weights key opens them.
*/}}
{{- define "uunet.weightsInit" -}}
{{- $part := .Values.private -}}
- name: fetch-weights
  image: {{ include "uunet.pinnedImage" (list "minio.mcImage" .Values.minio.mcImage) }}
  imagePullPolicy: {{ .Values.image.pullPolicy }}
  command: ["/bin/sh", "-ec"]
  args:
    - >-
      mc alias set --api S3v4 uunet {{ ternary "https" "http" (and (not .Values.minio.enabled) .Values.externalS3.secure) }}://{{ include "uunet.s3Endpoint" . }}
      "$(cat /var/run/secrets/uunet/credentials/s3-access-key)"
      "$(cat /var/run/secrets/uunet/credentials/s3-secret-key)"
      && mc cp uunet/{{ $part.bucket }}/{{ $part.weights.objectKey }} /var/lib/uunet/weights/private-weights.enc
  env:
    - {name: MC_CONFIG_DIR, value: /tmp/.mc}
  resources:
    requests: {cpu: 10m, memory: 32Mi}
    limits: {cpu: 500m, memory: 256Mi}
  securityContext:
    {{- include "uunet.containerSecurityContext" . | nindent 4 }}
  volumeMounts:
    - {name: tmp, mountPath: /tmp}
    - {name: credentials, mountPath: /var/run/secrets/uunet/credentials, readOnly: true}
    - {name: weights, mountPath: /var/lib/uunet/weights}
{{- end -}}

{{/* Requests and limits of a role: the values' cpu/memory, ephemeral storage covering /tmp (so
a full scratch volume cannot get the pod evicted), and the worker's GPUs. */}}
{{- define "uunet.resources" -}}
{{- $root := index . 0 -}}
{{- $role := index . 1 -}}
{{- $r := (get (include "uunet.part" $root | fromYaml) $role) -}}
{{- $requests := deepCopy $r.resources.requests -}}
{{- $limits := deepCopy $r.resources.limits -}}
{{- if eq $role "api" -}}
{{- $mi := int (include "uunet.apiTmpMi" $root) -}}
{{- $_ := set $requests "ephemeral-storage" (printf "%dMi" $mi) -}}
{{- $_ := set $limits "ephemeral-storage" (printf "%dMi" (add $mi 1024)) -}}
{{- else -}}
{{- $_ := set $requests "ephemeral-storage" (printf "%dGi" (int $r.tmpSizeGi)) -}}
{{- $_ := set $limits "ephemeral-storage" (printf "%dGi" (add (int $r.tmpSizeGi) 1)) -}}
{{- if gt (int $r.gpu) 0 -}}
{{- $_ := set $limits "nvidia.com/gpu" (int $r.gpu) -}}
{{- end -}}
{{- end -}}
requests:
  {{- toYaml $requests | nindent 2 }}
limits:
  {{- toYaml $limits | nindent 2 }}
{{- end -}}
