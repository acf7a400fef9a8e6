{{/* <release>-tfdrift, or fullnameOverride; at most 40 characters so
     "<fullname>-state-loader-metrics" stays within 63. */}}
{{- define "tfdrift.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (.Values.nameOverride | default "tfdrift") | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "tfdrift.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{- define "tfdrift.selectorLabels" -}}
app.kubernetes.io/name: tfdrift-falco
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "tfdrift.labels" -}}
{{ include "tfdrift.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "tfdrift.secretName" -}}
{{- .Values.secrets.existingSecret | default (printf "%s-secrets" (include "tfdrift.fullname" .)) -}}
{{- end -}}

{{- define "tfdrift.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- .Values.serviceAccount.name | default (include "tfdrift.fullname" .) -}}
{{- else -}}
{{- .Values.serviceAccount.name | default "default" -}}
{{- end -}}
{{- end -}}

{{/* The process name of a components.<key>. */}}
{{- define "tfdrift.process" -}}
{{- get (dict "ingest" "ingest" "stateLoader" "state-loader" "correlator" "correlator" "persistence" "persistence" "apiGateway" "api-gateway" "notifier" "notifier") . -}}
{{- end -}}

{{/*
The pod template of one process.  Argument: dict "root" $ "key" <components key>.
ingest and persistence (StatefulSets) mount the PVC "data" at /var/lib/tfdrift;
the others an emptyDir.
*/}}
{{- define "tfdrift.podTemplate" -}}
{{- $root := .root -}}
{{- $key := .key -}}
{{- $c := index $root.Values.components $key -}}
{{- $name := include "tfdrift.process" $key -}}
{{- $secret := include "tfdrift.secretName" $root -}}
{{- $keys := $root.Values.secrets.keys -}}
metadata:
  labels:
    {{- include "tfdrift.labels" $root | nindent 4 }}
    app.kubernetes.io/component: {{ $name }}
    {{- with $root.Values.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  annotations:
    checksum/config: {{ include (print $root.Template.BasePath "/configmap.yaml") $root | sha256sum }}
    {{- with $root.Values.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  serviceAccountName: {{ include "tfdrift.serviceAccountName" $root }}
  automountServiceAccountToken: {{ $root.Values.serviceAccount.automountToken }}
  securityContext:
    {{- toYaml $root.Values.podSecurityContext | nindent 4 }}
  {{- with $root.Values.image.pullSecrets }}
  imagePullSecrets:
    {{- range . }}
    - name: {{ . }}
    {{- end }}
  {{- end }}
  {{- with $root.Values.priorityClassName }}
  priorityClassName: {{ . }}
  {{- end }}
  {{- with $root.Values.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $root.Values.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $root.Values.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  # SIGTERM: each process finishes or hands back what it holds within
  # shared.shutdown_timeout (4 s by default)
  terminationGracePeriodSeconds: 30
  containers:
    - name: {{ $name }}
      image: {{ include "tfdrift.image" $root }}
      imagePullPolicy: {{ $root.Values.image.pullPolicy }}
      command: ["tfdrift-{{ $name }}"]
      args: ["--config", "/etc/tfdrift/config.yaml"]
      env:
        - name: TFDRIFT_POSTGRES_DSN
          valueFrom: { secretKeyRef: { name: {{ $secret }}, key: {{ $keys.postgresDsn }} } }
        - name: TFDRIFT_REDIS_PASSWORD
          valueFrom: { secretKeyRef: { name: {{ $secret }}, key: {{ $keys.redisPassword }}, optional: true } }
        {{- if eq $name "api-gateway" }}
        - name: TFDRIFT_API_GATEWAY_TOKENS
          valueFrom: { secretKeyRef: { name: {{ $secret }}, key: {{ $keys.apiTokens }}, optional: true } }
        {{- end }}
        {{- if eq $name "ingest" }}
        - name: TFDRIFT_INGEST_HTTP_TOKEN
          valueFrom: { secretKeyRef: { name: {{ $secret }}, key: {{ $keys.falcoHttpToken }}, optional: true } }
        {{- end }}
        {{- if eq $name "notifier" }}
        - name: SLACK_WEBHOOK_URL
          valueFrom: { secretKeyRef: { name: {{ $secret }}, key: {{ $keys.slackWebhookUrl }}, optional: true } }
        {{- end }}
        {{- if and (eq $name "state-loader") $root.Values.aws.region }}
        - name: AWS_REGION
          value: {{ $root.Values.aws.region | quote }}
        {{- end }}
      {{- if and (eq $name "state-loader") $root.Values.aws.existingSecret }}
      envFrom:
        - secretRef: { name: {{ $root.Values.aws.existingSecret }} }
      {{- end }}
      ports:
        - { name: admin, containerPort: {{ $root.Values.adminPort }} }
        {{- range $pn, $pv := ($c.ports | default dict) }}
        - { name: {{ $pn | kebabcase | trunc 15 }}, containerPort: {{ $pv }} }
        {{- end }}
      startupProbe:
        httpGet: { path: /healthz, port: admin }
        periodSeconds: 2
        failureThreshold: 60
      livenessProbe:
        httpGet: { path: /healthz, port: admin }
        periodSeconds: 10
        failureThreshold: 3
      readinessProbe:
        httpGet: { path: /readyz, port: admin }
        periodSeconds: 5
        failureThreshold: 2
      resources:
        {{- toYaml $c.resources | nindent 8 }}
      securityContext:
        {{- toYaml $root.Values.securityContext | nindent 8 }}
      volumeMounts:
        - { name: config, mountPath: /etc/tfdrift, readOnly: true }
        - { name: data, mountPath: /var/lib/tfdrift }
        - { name: tmp, mountPath: /tmp }
  volumes:
    - name: config
      configMap: { name: {{ include "tfdrift.fullname" $root }}-config }
    - name: tmp
      emptyDir: { sizeLimit: 64Mi }
    {{- if not (has $key (list "ingest" "persistence")) }}
    - name: data
      emptyDir: { sizeLimit: 256Mi }
    {{- end }}
{{- end -}}
