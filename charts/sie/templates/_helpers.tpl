{{/*
Names, labels and shared pieces of every SIE template.
Component templates call these with (dict "root" $ "component" "<name>") where a component is needed.
*/}}

{{/* The chart name, or nameOverride. */}}
{{- define "sie.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* `<release>-<chart>` cut to 63 characters (DNS names); the release name alone if it already contains the chart name. */}}
{{- define "sie.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* The name of one component's resources: `<fullname>-<component>`. */}}
{{- define "sie.componentName" -}}
{{- printf "%s-%s" (include "sie.fullname" .root | trunc 50 | trimSuffix "-") .component }}
{{- end }}

{{- define "sie.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels that never change for a component's pods: Deployments select on these. */}}
{{- define "sie.selectorLabels" -}}
app.kubernetes.io/name: {{ include "sie.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* The standard app.kubernetes.io labels of every resource. */}}
{{- define "sie.labels" -}}
helm.sh/chart: {{ include "sie.chart" .root }}
{{ include "sie.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: sie
{{- with .root.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "sie.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "sie.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "sie.operatorServiceAccountName" -}}
{{- if .Values.operator.serviceAccount.create }}
{{- default (include "sie.componentName" (dict "root" . "component" "operator")) .Values.operator.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.operator.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* `repository:tag`, the tag defaulting to the chart's appVersion. Call with (dict "root" $ "image" .Values.x.image). */}}
{{- define "sie.image" -}}
{{- printf "%s:%s" .image.repository (default .root.Chart.AppVersion .image.tag) }}
{{- end }}

{{- define "sie.configMapName" -}}
{{- include "sie.fullname" . }}-config
{{- end }}

{{/* The Secret holding DATABASE_URL, REDIS_URL, API_SECRET_KEY, ...: yours (existingSecret) or the chart's. */}}
{{- define "sie.secretName" -}}
{{- default (include "sie.fullname" .) .Values.secrets.existingSecret }}
{{- end }}

{{/*
The dev profile's passwords and keys, kept the way Bitnami charts keep generated secrets: a value you
set wins; else the one already in the release's Secret (`lookup` reads the cluster during install
and upgrade); else a new random one. Worked out once per render and kept in .Values (one map that
every template of the render shares), so the Secret, the migration hook's copy and the checksum
annotations agree. `helm template` and `--dry-run` cannot read the cluster: they show new values.
*/}}
{{- define "sie.resolveDevSecrets" -}}
{{- $dev := .Values.dev }}
{{- if not (hasKey $dev "resolvedSecrets") }}
{{- $existing := (lookup "v1" "Secret" .Release.Namespace (include "sie.secretName" .)).data | default dict }}
{{- $chosen := dict "API_SECRET_KEY" (default $dev.apiSecretKey .Values.secrets.apiSecretKey) "POSTGRES_PASSWORD" $dev.postgresql.password "MEILISEARCH_KEY" $dev.meilisearch.masterKey }}
{{- $resolved := dict }}
{{- range $key, $value := $chosen }}
{{- if $value }}
{{- $_ := set $resolved $key $value }}
{{- else if index $existing $key }}
{{- $_ := set $resolved $key (index $existing $key | b64dec) }}
{{- else }}
{{- $_ := set $resolved $key (randAlphaNum 32) }}
{{- end }}
{{- end }}
{{- $_ := set $dev "resolvedSecrets" $resolved }}
{{- end }}
{{- end }}

{{/* The chart's secret values; the dev profile points every URL at its own StatefulSets. */}}
{{- define "sie.secretData" -}}
{{- $secrets := .Values.secrets }}
{{- $databaseUrl := $secrets.databaseUrl }}
{{- if .Values.dev.enabled }}
{{- include "sie.resolveDevSecrets" . }}
{{- $dev := .Values.dev.resolvedSecrets }}
{{- $databaseUrl = printf "postgresql://sie:%s@%s:5432/sie" $dev.POSTGRES_PASSWORD (include "sie.componentName" (dict "root" . "component" "postgresql")) }}
DATABASE_URL: {{ $databaseUrl | b64enc | quote }}
REDIS_URL: {{ printf "redis://%s:6379/0" (include "sie.componentName" (dict "root" . "component" "redis")) | b64enc | quote }}
API_SECRET_KEY: {{ $dev.API_SECRET_KEY | b64enc | quote }}
MEILISEARCH_KEY: {{ $dev.MEILISEARCH_KEY | b64enc | quote }}
POSTGRES_PASSWORD: {{ $dev.POSTGRES_PASSWORD | b64enc | quote }}
{{- else }}
DATABASE_URL: {{ $secrets.databaseUrl | b64enc | quote }}
REDIS_URL: {{ $secrets.redisUrl | b64enc | quote }}
API_SECRET_KEY: {{ $secrets.apiSecretKey | b64enc | quote }}
{{- with $secrets.meilisearchKey }}
MEILISEARCH_KEY: {{ . | b64enc | quote }}
{{- end }}
{{- end }}
{{- with $secrets.sentryDsn }}
SENTRY_DSN: {{ . | b64enc | quote }}
{{- end }}
{{- with $secrets.databaseReadUrl }}
DATABASE_READ_URL: {{ . | b64enc | quote }}
{{- end }}
{{- if .Values.pgbouncer.enabled }}
DATABASE_POOLED_URL: {{ include "sie.pooledDatabaseUrl" (dict "root" . "url" $databaseUrl) | b64enc | quote }}
{{- end }}
{{- end }}

{{/*
DATABASE_URL with PgBouncer's Service as host and port: same user, password, database and parameters.
Call with (dict "root" $ "url" <DATABASE_URL>).
*/}}
{{- define "sie.pooledDatabaseUrl" -}}
{{- $pgbouncer := printf "%s:%d" (include "sie.componentName" (dict "root" .root "component" "pgbouncer")) (int .root.Values.pgbouncer.port) }}
{{- regexReplaceAll "^([^:/]+://([^@/]*@)?)[^/?]*" .url (printf "${1}%s" $pgbouncer) }}
{{- end }}

{{/*
The API's, workers' and scheduler's way to the database when PgBouncer runs: DATABASE_URL replaced
by PgBouncer's URL, and DATABASE_POOL_MODE, so that in transaction pooling SIE never prepares a
statement on a server connection that the next transaction may not get. Migrations go direct.
*/}}
{{- define "sie.pooledDatabaseEnv" -}}
{{- if .Values.pgbouncer.enabled }}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "sie.secretName" . }}
      key: DATABASE_POOLED_URL
- name: DATABASE_POOL_MODE
  value: {{ .Values.pgbouncer.poolMode | quote }}
{{- end }}
{{- end }}

{{/* ENVIRONMENT: development with the dev profile; else config.environment, production when empty. */}}
{{- define "sie.environment" -}}
{{- if .Values.dev.enabled }}development{{ else }}{{ default "production" .Values.config.environment }}{{ end }}
{{- end }}

{{/* The password part of a URL's user information, if any. */}}
{{- define "sie.urlPassword" -}}
{{- $userinfo := (urlParse .).userinfo }}
{{- if contains ":" $userinfo }}{{ regexReplaceAll "^[^:]*:" $userinfo "" }}{{ end }}
{{- end }}

{{/* The handbook's non-secret environment variables: the ConfigMap, and the migration hook's env before it exists. */}}
{{- define "sie.configData" -}}
ENVIRONMENT: {{ include "sie.environment" . | quote }}
DEBUG: {{ .Values.config.debug | quote }}
LOG_LEVEL: {{ .Values.config.logLevel | quote }}
{{- with .Values.config.searchBackend }}
SEARCH_BACKEND: {{ . | quote }}
{{- end }}
{{- if .Values.dev.enabled }}
MEILISEARCH_URL: {{ printf "http://%s:7700" (include "sie.componentName" (dict "root" . "component" "meilisearch")) | quote }}
{{- else if .Values.config.meilisearchUrl }}
MEILISEARCH_URL: {{ .Values.config.meilisearchUrl | quote }}
{{- end }}
MEILISEARCH_INDEX: {{ .Values.config.meilisearchIndex | quote }}
{{- with .Values.config.fetchAllowedNetworks }}
FETCH_ALLOWED_NETWORKS: {{ . | quote }}
{{- end }}
TASK_SOFT_TIME_LIMIT: {{ .Values.config.taskSoftTimeLimit | quote }}
TASK_TIME_LIMIT: {{ .Values.config.taskTimeLimit | quote }}
TASK_MAX_RETRIES: {{ .Values.config.taskMaxRetries | quote }}
TASK_RETRY_BACKOFF_MAX: {{ .Values.config.taskRetryBackoffMax | quote }}
CELERY_VISIBILITY_TIMEOUT: {{ .Values.config.celeryVisibilityTimeout | quote }}
WORKER_MAX_TASKS_PER_CHILD: {{ .Values.config.workerMaxTasksPerChild | quote }}
WORKER_BATCH_SIZE: {{ .Values.config.workerBatchSize | quote }}
NLP_BATCH_SIZE: {{ .Values.config.nlpBatchSize | quote }}
RELAY_PENDING_RESEND_SECONDS: {{ .Values.config.relayPendingResendSeconds | quote }}
{{- with .Values.config.retentionDays }}
RETENTION_DAYS: {{ . | quote }}
{{- end }}
{{- with .Values.config.archiveUrl }}
ARCHIVE_URL: {{ . | quote }}
{{- end }}
{{- range $name, $value := .Values.config.extraEnv }}
{{ $name }}: {{ $value | quote }}
{{- end }}
{{- end }}

{{/*
When the migration hook runs. Before install and upgrade, so new code never meets an old schema;
with the dev profile the database is part of the release, so the first run waits until after install.
*/}}
{{- define "sie.migrationHookEvents" -}}
{{- if .Values.dev.enabled }}post-install,pre-upgrade{{ else }}pre-install,pre-upgrade{{ end }}
{{- end }}

{{/* The Secret and key holding the operator's system API key: yours, or the one the bootstrap hook makes. */}}
{{- define "sie.operatorKeySecretName" -}}
{{- default (printf "%s-key" (include "sie.componentName" (dict "root" . "component" "operator"))) .Values.operator.apiKeySecret.name }}
{{- end }}

{{/* kopf's peering object: namespaced when the operator watches its namespace, cluster-wide otherwise. */}}
{{- define "sie.operatorPeeringName" -}}
{{- if eq .Values.operator.watch "cluster" }}
{{- printf "%s-%s" .Release.Namespace (include "sie.componentName" (dict "root" . "component" "operator")) | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- include "sie.componentName" (dict "root" . "component" "operator") }}
{{- end }}
{{- end }}

{{/* What the operator does where it watches: a Role's rules (watch=namespace) or a ClusterRole's (watch=cluster). */}}
{{- define "sie.operatorWatchRules" -}}
# Its custom resources: watch them, patch finalizers and kopf's annotations, and report status.
- apiGroups: ["sie.example.com"]
  resources: ["ingestionsources", "workerscalers", "deadletterreplays"]
  verbs: ["get", "list", "watch", "patch"]
- apiGroups: ["sie.example.com"]
  resources: ["ingestionsources/status", "workerscalers/status", "deadletterreplays/status"]
  verbs: ["patch"]
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create"]
# The Secrets IngestionSources name for their feeds' auth headers.
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get"]
{{- end }}

{{/* A hook's annotations: Helm replaces it on the next run, and deletes it once all hooks succeeded. */}}
{{- define "sie.hookAnnotations" -}}
helm.sh/hook: {{ .events }}
helm.sh/hook-weight: {{ .weight | quote }}
helm.sh/hook-delete-policy: before-hook-creation,hook-succeeded
{{- end }}

{{/* Every SIE container reads the handbook's variables from the ConfigMap and the Secret. */}}
{{- define "sie.envFrom" -}}
- configMapRef:
    name: {{ include "sie.configMapName" . }}
- secretRef:
    name: {{ include "sie.secretName" . }}
{{- end }}

{{/* Pod-level settings shared by every SIE pod. Call with (dict "root" $ "values" .Values.<component>). */}}
{{- define "sie.podSpecCommon" -}}
securityContext:
  {{- toYaml .root.Values.podSecurityContext | nindent 2 }}
{{- with .root.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* Writable scratch space under a read-only root filesystem. */}}
{{- define "sie.tmpVolume" -}}
- name: tmp
  emptyDir:
    sizeLimit: 1Gi
{{- end }}

{{- define "sie.tmpVolumeMount" -}}
- name: tmp
  mountPath: /tmp
{{- end }}

{{/* Resources, leaving out limits set to "" (no limit). */}}
{{- define "sie.resources" -}}
{{- $limits := dict }}
{{- range $name, $value := .limits }}
{{- if $value }}{{ $_ := set $limits $name $value }}{{ end }}
{{- end -}}
requests:
  {{- toYaml .requests | nindent 2 }}
{{- with $limits }}
limits:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* A headless Service: the ServiceMonitor finds every pod's metrics endpoint through it (worker pools, scheduler). */}}
{{- define "sie.metricsService" -}}
apiVersion: v1
kind: Service
metadata:
  name: {{ include "sie.componentName" . }}-metrics
  labels:
    {{- include "sie.labels" . | nindent 4 }}
    sie.example.com/scrape-job: sie-{{ .component }}
spec:
  clusterIP: None
  selector:
    {{- include "sie.selectorLabels" . | nindent 4 }}
  ports:
    - name: metrics
      port: {{ .values.metricsPort }}
      targetPort: metrics
      protocol: TCP
{{- end }}

{{/* Probes of a process whose only endpoint is its metrics server (workers, scheduler). */}}
{{- define "sie.metricsProbes" -}}
startupProbe:
  httpGet:
    path: /metrics
    port: metrics
  periodSeconds: 5
  failureThreshold: 60
livenessProbe:
  httpGet:
    path: /metrics
    port: metrics
  periodSeconds: 20
  timeoutSeconds: 5
  failureThreshold: 3
readinessProbe:
  httpGet:
    path: /metrics
    port: metrics
  periodSeconds: 10
  timeoutSeconds: 5
{{- end }}

{{/* Checks the schema cannot express; every problem in one message. */}}
{{- define "sie.validateValues" -}}
{{- $messages := list }}
{{- $v := .Values }}
{{- if and (not $v.dev.enabled) (not $v.secrets.existingSecret) }}
{{- range $key, $env := dict "databaseUrl" "DATABASE_URL" "redisUrl" "REDIS_URL" "apiSecretKey" "API_SECRET_KEY" }}
{{- if not (index $v.secrets $key) }}
{{- $messages = append $messages (printf "secrets.%s (%s) is required: set it, set secrets.existingSecret, or enable the dev profile (dev.enabled=true)" $key $env) }}
{{- end }}
{{- end }}
{{- end }}
{{- if and $v.dev.enabled $v.secrets.existingSecret }}
{{- $messages = append $messages "dev.enabled makes its own Secret for its own services: unset secrets.existingSecret" }}
{{- end }}
{{- if and $v.dev.enabled (not (has $v.config.environment (list "" "development"))) }}
{{- $messages = append $messages (printf "dev.enabled runs ENVIRONMENT=development: unset config.environment (%s), or turn the dev profile off" $v.config.environment) }}
{{- end }}
{{- $environment := include "sie.environment" . }}
{{- if ne $environment "development" }}
{{- $published := list }}
{{- range splitList "\n" (.Files.Get "files/published-secrets.txt") }}
{{- if and (trim .) (not (hasPrefix "#" (trim .))) }}{{ $published = append $published (trim . | lower) }}{{ end }}
{{- end }}
{{- $given := dict "secrets.apiSecretKey" $v.secrets.apiSecretKey "secrets.meilisearchKey" $v.secrets.meilisearchKey "the password in secrets.databaseUrl" (include "sie.urlPassword" $v.secrets.databaseUrl) "the password in secrets.databaseReadUrl" (include "sie.urlPassword" $v.secrets.databaseReadUrl) "the password in secrets.redisUrl" (include "sie.urlPassword" $v.secrets.redisUrl) }}
{{- with $v.secrets.existingSecret }}
{{- /* Read during install and upgrade; `helm template` cannot, and the API refuses placeholders at start. */}}
{{- $stored := (lookup "v1" "Secret" $.Release.Namespace .).data | default dict }}
{{- range $key := list "API_SECRET_KEY" "MEILISEARCH_KEY" }}
{{- $_ := set $given (printf "%s in Secret %s" $key $v.secrets.existingSecret) (index $stored $key | default "" | b64dec) }}
{{- end }}
{{- range $key := list "DATABASE_URL" "DATABASE_READ_URL" "REDIS_URL" }}
{{- $_ := set $given (printf "the password in %s in Secret %s" $key $v.secrets.existingSecret) (include "sie.urlPassword" (index $stored $key | default "" | b64dec)) }}
{{- end }}
{{- end }}
{{- range $name, $value := $given }}
{{- if and $value (has (lower $value) $published) }}
{{- $messages = append $messages (printf "%s is published in the SIE repository (compose.yaml, values.yaml, docs or examples) or is a placeholder: ENVIRONMENT=%s needs a secret of its own" $name $environment) }}
{{- end }}
{{- end }}
{{- end }}
{{- if and (not $v.dev.enabled) (ne $v.config.searchBackend "database") (not $v.config.meilisearchUrl) }}
{{- $messages = append $messages "config.meilisearchUrl is required for the meilisearch search backend: set it, or set config.searchBackend=database" }}
{{- end }}
{{- range $pool := list "worker" "ocrWorker" }}
{{- $values := index $v $pool }}
{{- if le (int $values.terminationGracePeriodSeconds) (int $v.config.taskTimeLimit) }}
{{- $messages = append $messages (printf "%s.terminationGracePeriodSeconds (%d) must exceed config.taskTimeLimit (%d), or scale-down cuts running jobs" $pool (int $values.terminationGracePeriodSeconds) (int $v.config.taskTimeLimit)) }}
{{- end }}
{{- if gt (int $values.scaler.minReplicas) (int $values.scaler.maxReplicas) }}
{{- $messages = append $messages (printf "%s.scaler.minReplicas (%d) is above maxReplicas (%d)" $pool (int $values.scaler.minReplicas) (int $values.scaler.maxReplicas)) }}
{{- end }}
{{- $fallback := int $values.scaler.metricsUnavailable.fallbackReplicas }}
{{- if or (lt $fallback (int $values.scaler.minReplicas)) (gt $fallback (int $values.scaler.maxReplicas)) }}
{{- $messages = append $messages (printf "%s.scaler.metricsUnavailable.fallbackReplicas (%d) must lie within minReplicas and maxReplicas" $pool $fallback) }}
{{- end }}
{{- end }}
{{- if lt (int $v.worker.scaler.minReplicas) 1 }}
{{- $messages = append $messages "worker.scaler.minReplicas must be at least 1: only the OCR pool may scale to zero" }}
{{- end }}
{{- if and $v.ocrWorker.gpu.enabled (eq $v.ocrWorker.device "cpu") }}
{{- $messages = append $messages "ocrWorker.gpu.enabled requests GPUs but ocrWorker.device is cpu: use auto or cuda" }}
{{- end }}
{{- if gt (int $v.api.autoscaling.minReplicas) (int $v.api.autoscaling.maxReplicas) }}
{{- $messages = append $messages (printf "api.autoscaling.minReplicas (%d) is above maxReplicas (%d)" (int $v.api.autoscaling.minReplicas) (int $v.api.autoscaling.maxReplicas)) }}
{{- end }}
{{- if and $v.api.ingress.enabled (not $v.api.ingress.hosts) }}
{{- $messages = append $messages "api.ingress.enabled needs at least one entry in api.ingress.hosts" }}
{{- end }}
{{- if $messages }}
{{- fail (printf "\n\nINVALID VALUES:\n- %s" (join "\n- " $messages)) }}
{{- end }}
{{- end }}
