{{/*
The two Celery worker pools (worker, ocr-worker) share one shape: these helpers render it.
Call with (dict "root" $ "component" "worker" "values" .Values.worker "queues" (list ...)), optionally
with "extraEnv" (a name-to-value map) and "resources" (to replace values.resources, e.g. with a GPU limit).
*/}}

{{/* The operator scales a pool when its scaler is on and the operator runs; the Deployment then leaves replicas alone. */}}
{{- define "sie.scalerActive" -}}
{{- if and .values.scaler.enabled .root.Values.operator.enabled }}true{{ end }}
{{- end }}

{{/* Config and Secret checksums, so pods restart when their environment changes. */}}
{{- define "sie.configChecksums" -}}
checksum/config: {{ include (print .root.Template.BasePath "/configmap.yaml") .root | sha256sum }}
{{- if not .root.Values.secrets.existingSecret }}
checksum/secret: {{ include (print .root.Template.BasePath "/secret.yaml") .root | sha256sum }}
{{- end }}
{{- end }}

{{- define "sie.workerPoolDeployment" -}}
{{- $values := .values -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "sie.componentName" . }}
  labels:
    {{- include "sie.labels" . | nindent 4 }}
spec:
  {{- if not (include "sie.scalerActive" .) }}
  replicas: {{ $values.replicaCount }}
  {{- end }}
  revisionHistoryLimit: 5
  selector:
    matchLabels:
      {{- include "sie.selectorLabels" . | nindent 6 }}
  strategy:
    type: RollingUpdate
    rollingUpdate:
      # Start the new pod before stopping an old one: a stopping worker may take its grace period.
      maxSurge: 1
      maxUnavailable: 0
  template:
    metadata:
      labels:
        {{- include "sie.labels" . | nindent 8 }}
      annotations:
        {{- include "sie.configChecksums" . | nindent 8 }}
        {{- with $values.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      serviceAccountName: {{ include "sie.serviceAccountName" .root }}
      automountServiceAccountToken: false
      # SIGTERM starts Celery's warm shutdown: no new jobs, running ones finish within the hard limit.
      terminationGracePeriodSeconds: {{ $values.terminationGracePeriodSeconds }}
      {{- include "sie.podSpecCommon" . | nindent 6 }}
      containers:
        - name: {{ .component }}
          image: {{ include "sie.image" (dict "root" .root "image" $values.image) | quote }}
          imagePullPolicy: {{ $values.image.pullPolicy }}
          command:
            - sie
            - worker
            - --queues
            - {{ join "," .queues | quote }}
            - --concurrency
            - {{ $values.concurrency | quote }}
          envFrom:
            {{- include "sie.envFrom" .root | nindent 12 }}
          env:
            - name: METRICS_PORT
              value: {{ $values.metricsPort | quote }}
            # Celery's pool processes write their metrics here; the main process serves the sum.
            - name: PROMETHEUS_MULTIPROC_DIR
              value: /var/run/sie/metrics
            {{- include "sie.pooledDatabaseEnv" .root | nindent 12 }}
            {{- range $name, $value := .extraEnv }}
            - name: {{ $name }}
              value: {{ $value | quote }}
            {{- end }}
            {{- with $values.extraEnv }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
          ports:
            - name: metrics
              containerPort: {{ $values.metricsPort }}
              protocol: TCP
          # The main process serves /metrics once the pool is up (models loaded).
          {{- include "sie.metricsProbes" . | nindent 10 }}
          resources:
            {{- include "sie.resources" (default $values.resources .resources) | nindent 12 }}
          securityContext:
            {{- toYaml .root.Values.containerSecurityContext | nindent 12 }}
          volumeMounts:
            {{- include "sie.tmpVolumeMount" . | nindent 12 }}
            - name: metrics
              mountPath: /var/run/sie/metrics
      volumes:
        {{- include "sie.tmpVolume" . | nindent 8 }}
        - name: metrics
          emptyDir:
            sizeLimit: 256Mi
{{- end }}

{{/* The operator's scaling policy for one pool (group sie.example.com, kind WorkerScaler). */}}
{{- define "sie.workerScaler" -}}
{{- $scaler := .values.scaler -}}
apiVersion: sie.example.com/v1alpha1
kind: WorkerScaler
metadata:
  name: {{ include "sie.componentName" . }}
  labels:
    {{- include "sie.labels" . | nindent 4 }}
spec:
  targetRef:
    name: {{ include "sie.componentName" . }}
  queues:
    {{- toYaml .queues | nindent 4 }}
  minReplicas: {{ $scaler.minReplicas }}
  maxReplicas: {{ $scaler.maxReplicas }}
  backlogPerReplica: {{ $scaler.backlogPerReplica }}
  activationBacklog: {{ $scaler.activationBacklog }}
  pollIntervalSeconds: {{ $scaler.pollIntervalSeconds }}
  scaleUp:
    {{- toYaml $scaler.scaleUp | nindent 4 }}
  scaleDown:
    {{- toYaml $scaler.scaleDown | nindent 4 }}
  metricsUnavailable:
    {{- toYaml $scaler.metricsUnavailable | nindent 4 }}
{{- end }}

{{/* A PodDisruptionBudget for one component. Call with (dict "root" $ "component" "api" "values" .Values.api). */}}
{{- define "sie.podDisruptionBudget" -}}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "sie.componentName" . }}
  labels:
    {{- include "sie.labels" . | nindent 4 }}
spec:
  maxUnavailable: {{ .values.pdb.maxUnavailable }}
  selector:
    matchLabels:
      {{- include "sie.selectorLabels" . | nindent 6 }}
{{- end }}
