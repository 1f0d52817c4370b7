{{/*
The dev profile's backing services (dev.enabled): one single-replica StatefulSet and one Service each,
from the official images, running as the images' own non-root users.
Call with (dict "root" $ "component" "redis" "image" "..." "port" 6379 "uid" 999 "dataPath" "/data"
"container" "<yaml: command, env, probes>" "scratch" (list "/tmp" ...)).
*/}}
{{- define "sie.devStatefulSet" -}}
{{- $name := include "sie.componentName" . -}}
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: {{ $name }}
  labels:
    {{- include "sie.labels" . | nindent 4 }}
spec:
  serviceName: {{ $name }}
  replicas: 1
  selector:
    matchLabels:
      {{- include "sie.selectorLabels" . | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "sie.labels" . | nindent 8 }}
    spec:
      automountServiceAccountToken: false
      securityContext:
        runAsNonRoot: true
        runAsUser: {{ .uid }}
        runAsGroup: {{ .uid }}
        fsGroup: {{ .uid }}
        seccompProfile:
          type: RuntimeDefault
      containers:
        - name: {{ .component }}
          image: {{ .image | quote }}
          imagePullPolicy: IfNotPresent
          {{- .container | nindent 10 }}
          ports:
            - name: {{ .component }}
              containerPort: {{ .port }}
              protocol: TCP
          resources:
            requests:
              cpu: 50m
              memory: 128Mi
            limits:
              memory: 1Gi
          securityContext:
            {{- toYaml .root.Values.containerSecurityContext | nindent 12 }}
          volumeMounts:
            - name: data
              mountPath: {{ .dataPath }}
            {{- range $index, $path := .scratch }}
            - name: scratch-{{ $index }}
              mountPath: {{ $path }}
            {{- end }}
      volumes:
        {{- range $index, $path := .scratch }}
        - name: scratch-{{ $index }}
          emptyDir: {}
        {{- end }}
  volumeClaimTemplates:
    - metadata:
        name: data
      spec:
        accessModes: ["ReadWriteOnce"]
        {{- with .root.Values.dev.storageClassName }}
        storageClassName: {{ . }}
        {{- end }}
        resources:
          requests:
            storage: {{ .root.Values.dev.storageSize }}
{{- end }}

{{- define "sie.devService" -}}
apiVersion: v1
kind: Service
metadata:
  name: {{ include "sie.componentName" . }}
  labels:
    {{- include "sie.labels" . | nindent 4 }}
spec:
  type: ClusterIP
  selector:
    {{- include "sie.selectorLabels" . | nindent 4 }}
  ports:
    - name: {{ .component }}
      port: {{ .port }}
      targetPort: {{ .component }}
      protocol: TCP
{{- end }}
