{{/* Chart name. */}}
{{- define "facefleet.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Fully qualified name prefix. */}}
{{- define "facefleet.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "facefleet.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "facefleet.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: facefleet
{{- end -}}

{{- define "facefleet.selectorLabels" -}}
app.kubernetes.io/name: {{ include "facefleet.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "facefleet.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "facefleet.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "facefleet.image" -}}
{{- printf "%s:%s" .image.repository (default .root.Chart.AppVersion .image.tag) -}}
{{- end -}}

{{/* Environment shared by every component: connection settings and secrets by reference. */}}
{{- define "facefleet.commonEnv" -}}
- name: FACEFLEET_S3_ACCESS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ required "s3.existingSecret is required (a Secret with the S3 credentials)" .Values.s3.existingSecret }}
      key: {{ .Values.s3.accessKeyKey }}
- name: FACEFLEET_S3_SECRET_KEY
  valueFrom:
    secretKeyRef:
      name: {{ .Values.s3.existingSecret }}
      key: {{ .Values.s3.secretKeyKey }}
{{- if .Values.redis.existingSecret }}
- name: FACEFLEET_REDIS_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ .Values.redis.existingSecret }}
      key: {{ .Values.redis.passwordKey }}
{{- end }}
{{- if .Values.nats.existingSecret }}
- name: FACEFLEET_NATS_CREDS
  value: /etc/facefleet/nats/{{ .Values.nats.credsKey }}
{{- end }}
{{- end -}}

{{- define "facefleet.natsCredsVolume" -}}
{{- if .Values.nats.existingSecret }}
- name: nats-creds
  secret:
    secretName: {{ .Values.nats.existingSecret }}
{{- end }}
{{- end -}}

{{- define "facefleet.natsCredsMount" -}}
{{- if .Values.nats.existingSecret }}
- name: nats-creds
  mountPath: /etc/facefleet/nats
  readOnly: true
{{- end }}
{{- end -}}
