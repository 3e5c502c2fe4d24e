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

{{/* Image reference for a uunet target (public-api, public-worker-gpu, ...). */}}
{{- define "uunet.image" -}}
{{- $root := index . 0 -}}
{{- $target := index . 1 -}}
{{- printf "%s/%s:%s" $root.Values.image.registry $target (default $root.Chart.AppVersion $root.Values.image.tag) -}}
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
