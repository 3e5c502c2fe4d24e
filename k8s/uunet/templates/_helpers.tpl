{{/* Names, labels and the per-part settings shared by every template. */}}

{{- define "uunet.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* The values block of the part this release installs (public or private). */}}
{{- define "uunet.part" -}}
{{- if not (has .Values.component (list "public" "private")) -}}
{{- fail (printf "component must be public or private, got %q" .Values.component) -}}
{{- end -}}
{{- toYaml (get .Values .Values.component) -}}
{{- end -}}

{{- define "uunet.envPrefix" -}}
{{- printf "UUNET_%s_" (upper .Values.component) -}}
{{- end -}}

{{- define "uunet.module" -}}
{{- if eq .Values.component "public" }}services.public_deid{{ else }}services.private_reid{{ end -}}
{{- end -}}

{{- define "uunet.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
uunet.io/side: {{ .Values.component }}
{{- end -}}

{{- define "uunet.labels" -}}
{{ include "uunet.selectorLabels" . }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* Image reference for a uunet target (public-api, public-worker-gpu, ...), always by digest. */}}
{{- define "uunet.image" -}}
{{- $root := index . 0 -}}
{{- $target := index . 1 -}}
{{- $digest := index ($root.Values.image.digests | default dict) $target | default "" -}}
{{- if not (regexMatch "^sha256:[0-9a-f]{64}$" $digest) -}}
{{- fail (printf "image.digests.%s is required: the sha256:<64 hex> digest of the pushed %s image (scripts/build_images.sh prints it), got %q" $target $target $digest) -}}
{{- end -}}
{{- printf "%s/%s:%s@%s" $root.Values.image.registry $target (default $root.Chart.AppVersion $root.Values.image.tag) $digest -}}
{{- end -}}

{{/* A third-party image reference (value path, reference): refused unless pinned by digest. */}}
{{- define "uunet.pinnedImage" -}}
{{- $what := index . 0 -}}
{{- $ref := index . 1 | default "" -}}
{{- if not (regexMatch "^[^@ ]+@sha256:[0-9a-f]{64}$" $ref) -}}
{{- fail (printf "%s must be pinned by digest (name:tag@sha256:<64 hex>), got %q" $what $ref) -}}
{{- end -}}
{{- $ref -}}
{{- end -}}

{{/* Key of a per-role credential in the credentials Secret: s3-api-access-key, redis-worker-password, ... */}}
{{- define "uunet.credKey" -}}
{{- printf "%s-%s-%s" (index . 0) (index . 1) (index . 2) -}}
{{- end -}}

{{- define "uunet.redisHost" -}}
{{- if .Values.redis.enabled -}}
{{- printf "%s-redis" (include "uunet.fullname" .) -}}
{{- else -}}
{{- required "externalRedis.host is required when redis.enabled=false" .Values.externalRedis.host -}}
{{- end -}}
{{- end -}}

{{- define "uunet.redisPort" -}}
{{- if .Values.redis.enabled }}6379{{ else }}{{ .Values.externalRedis.port }}{{ end -}}
{{- end -}}

{{- define "uunet.s3Endpoint" -}}
{{- if .Values.minio.enabled -}}
{{- printf "%s-minio:9000" (include "uunet.fullname" .) -}}
{{- else -}}
{{- required "externalS3.endpoint is required when minio.enabled=false" .Values.externalS3.endpoint -}}
{{- end -}}
{{- end -}}

{{/* Restricted pod security, shared by every pod of the chart. */}}
{{- define "uunet.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .uid }}
runAsGroup: {{ .uid }}
fsGroup: {{ .uid }}
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "uunet.containerSecurityContext" -}}
runAsNonRoot: true
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "uunet.credentialsSecret" -}}
{{- default (printf "%s-credentials" (include "uunet.fullname" .)) .Values.secrets.credentials.existingSecret -}}
{{- end -}}

{{- define "uunet.keySetSecret" -}}
{{- default (printf "%s-keyset" (include "uunet.fullname" .)) .Values.secrets.keySet.existingSecret -}}
{{- end -}}

{{/* The Redis URL of a role, with its ACL user; the password is substituted by the kubelet. */}}
{{- define "uunet.redisUrl" -}}
{{- $root := index . 0 -}}
{{- $role := index . 1 -}}
{{- $user := ternary $role "" (or $root.Values.redis.enabled $root.Values.externalRedis.aclUsers) -}}
{{- printf "redis://%s:$(REDIS_PASSWORD)@%s:%s/0" $user (include "uunet.redisHost" $root) (include "uunet.redisPort" $root) -}}
{{- end -}}

{{/* SIGTERM budgets, in seconds: API = preStop + in-flight grace + 15; worker = drain + 30. */}}
{{- define "uunet.apiGrace" -}}
{{- add .preStopSleepSeconds .shutdownGraceSeconds 15 -}}
{{- end -}}

{{- define "uunet.workerGrace" -}}
{{- add .drainSeconds 30 -}}
{{- end -}}

{{/* Scratch space of an API pod: maxConcurrentUploads x maxUploadMb + 512 MiB (in Mi). */}}
{{- define "uunet.apiTmpMi" -}}
{{- $part := include "uunet.part" . | fromYaml -}}
{{- add (mul (int $part.api.maxConcurrentUploads) (int $part.maxUploadMb)) 512 -}}
{{- end -}}

{{/* The product's gRPC service (the only one routed from outside). */}}
{{- define "uunet.grpcService" -}}
{{- if eq .Values.component "public" }}uunet.deid.v1.DeidService{{ else }}uunet.reid.v1.ReidService{{ end -}}
{{- end -}}
