{{/*
The pod template shared by the API and the worker Deployments:
(dict "root" $ "component" "api" "role" "api" "settings" .Values.api)
*/}}
{{- define "srp.podTemplate" -}}
{{- $root := .root }}
{{- $values := $root.Values }}
{{- $fullname := include "srp.fullname" $root }}
metadata:
  labels:
    {{- include "srp.componentLabels" (dict "root" $root "component" .component) | nindent 4 }}
    {{- with .settings.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  annotations:
    {{- include "srp.checksumAnnotations" $root | nindent 4 }}
    {{- with .settings.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  serviceAccountName: {{ include "srp.serviceAccountName" $root }}
  automountServiceAccountToken: {{ $values.serviceAccount.automountToken }}
  {{- with $values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  securityContext:
    {{- toYaml $values.podSecurityContext | nindent 4 }}
  terminationGracePeriodSeconds: {{ $values.terminationGracePeriodSeconds }}
  {{- include "srp.topologySpread" (dict "root" $root "component" .component) | trim | nindent 2 }}
  containers:
    - name: {{ .component }}
      image: {{ include "srp.image" $root }}
      imagePullPolicy: {{ $values.image.pullPolicy }}
      securityContext:
        {{- toYaml $values.securityContext | nindent 8 }}
      ports:
        - name: http
          containerPort: {{ $values.containerPort }}
          protocol: TCP
        - name: metrics
          containerPort: {{ $values.metricsPort }}
          protocol: TCP
      envFrom:
        - configMapRef:
            name: {{ $fullname }}
      env:
        - name: ROLE
          value: {{ .role }}
        {{- include "srp.secretEnv" (dict "root" $root "secretName" (include "srp.secretName" $root)) | trim | nindent 8 }}
        {{- include "srp.otelEnv" (dict "root" $root "deployment" (printf "%s-%s" $fullname .component)) | trim | nindent 8 }}
        {{- with $values.extraEnv }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- include "srp.probes" $root | trim | nindent 6 }}
      lifecycle:
        preStop:
          exec:
            command: ["sleep", {{ $values.preStopSleepSeconds | quote }}]
      resources:
        {{- toYaml .settings.resources | nindent 8 }}
      volumeMounts:
        - name: data
          mountPath: /data
        - name: tmp
          mountPath: /tmp
  volumes:
    - name: data
      {{- if and $values.persistence.enabled (eq .component "api") (include "srp.embeddedStores" $root) }}
      persistentVolumeClaim:
        claimName: {{ default (printf "%s-data" $fullname) $values.persistence.existingClaim }}
      {{- else }}
      emptyDir: {}
      {{- end }}
    - name: tmp
      emptyDir:
        sizeLimit: {{ $values.tmpVolume.sizeLimit }}
  {{- with .settings.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .settings.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .settings.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}
