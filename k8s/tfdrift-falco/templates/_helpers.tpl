{{- define "tfdrift.fullname" -}}{{ .Release.Name }}-tfdrift{{- end -}}
{{- define "tfdrift.image" -}}{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}{{- end -}}
{{- define "tfdrift.labels" -}}
app.kubernetes.io/name: tfdrift-falco
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end -}}
{{- define "tfdrift.secretName" -}}{{ .Values.secrets.existingSecret | default (printf "%s-secrets" (include "tfdrift.fullname" .)) }}{{- end -}}
