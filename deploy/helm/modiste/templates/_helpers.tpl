{{- define "modiste.fullname" -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "modiste.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "modiste.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag }}
{{- end -}}

{{- define "modiste.qdrantHeadless" -}}
{{ include "modiste.fullname" . }}-qdrant-headless
{{- end -}}

{{/* The environment of every Modiste pod: settings by URL, secrets from Secrets. */}}
{{- define "modiste.env" -}}
- name: MODISTE_DATA_DIR
  value: /data
- name: MODISTE_IMAGE_STORE
  value: {{ .Values.imageStore.url | quote }}
{{- with .Values.imageStore.endpointUrl }}
- name: MODISTE_S3_ENDPOINT_URL
  value: {{ . | quote }}
{{- end }}
- name: AWS_DEFAULT_REGION
  value: {{ .Values.imageStore.region | quote }}
- name: MODISTE_VECTOR_INDEX_URL
  value: "http://{{ include "modiste.fullname" . }}-qdrant:6333"
- name: MODISTE_QDRANT_COLLECTION
  value: {{ .Values.qdrant.collection | quote }}
- name: MODISTE_QDRANT_SHARDS
  value: {{ .Values.qdrant.shards | quote }}
- name: MODISTE_QDRANT_REPLICATION_FACTOR
  value: {{ .Values.qdrant.replicationFactor | quote }}
- name: MODISTE_RAY_ADDRESS
  value: "ray://{{ include "modiste.fullname" . }}-ray-head:10001"
- name: MODISTE_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ .Values.database.existingSecret | default (printf "%s-database" (include "modiste.fullname" .)) }}
      key: MODISTE_DATABASE_URL
- name: MODISTE_QDRANT_API_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "modiste.fullname" . }}-qdrant
      key: api-key
- name: AWS_ACCESS_KEY_ID
  valueFrom:
    secretKeyRef:
      name: {{ .Values.imageStore.existingSecret | default (printf "%s-image-store" (include "modiste.fullname" .)) }}
      key: AWS_ACCESS_KEY_ID
- name: AWS_SECRET_ACCESS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ .Values.imageStore.existingSecret | default (printf "%s-image-store" (include "modiste.fullname" .)) }}
      key: AWS_SECRET_ACCESS_KEY
{{- end -}}

{{- define "modiste.volumes" -}}
- name: data
  emptyDir: {}
{{- if .Values.sharedData.enabled }}
- name: shared
  persistentVolumeClaim:
    claimName: {{ include "modiste.fullname" . }}-shared
{{- end }}
{{- end -}}

{{- define "modiste.volumeMounts" -}}
- name: data
  mountPath: /data
{{- if .Values.sharedData.enabled }}
- name: shared
  mountPath: /data/models
  subPath: models
- name: shared
  mountPath: /data/regulations
  subPath: regulations
{{- end }}
{{- end -}}

{{- define "modiste.secretHook" -}}
helm.sh/hook: pre-install,pre-upgrade
helm.sh/hook-weight: "-5"
helm.sh/hook-delete-policy: before-hook-creation
{{- end -}}
