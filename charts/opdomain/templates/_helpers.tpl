{{/* With cert-manager, its CA injector fills the webhook configuration's CA bundle. */}}
{{- define "opdomain.webhookAnnotations" -}}
{{- if .Values.webhook.certManager -}}
annotations:
  cert-manager.io/inject-ca-from: {{ .Release.Namespace }}/{{ .Release.Name }}-webhook
{{- end -}}
{{- end -}}
