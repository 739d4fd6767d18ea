{{- define "srp.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "srp.fullname" -}}
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

{{- define "srp.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "srp.selectorLabels" -}}
app.kubernetes.io/name: {{ include "srp.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "srp.labels" -}}
helm.sh/chart: {{ include "srp.chart" . }}
{{ include "srp.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: self-rag-pipeline
{{- end }}

{{/* Selector labels of one component: (dict "root" $ "component" "api") */}}
{{- define "srp.componentSelectorLabels" -}}
{{ include "srp.selectorLabels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "srp.componentLabels" -}}
{{ include "srp.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "srp.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "srp.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "srp.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{- define "srp.secretName" -}}
{{- default (printf "%s-secrets" (include "srp.fullname" .)) .Values.secrets.existingSecret }}
{{- end }}

{{- define "srp.workerEnabled" -}}
{{- if and .Values.redis.enabled .Values.worker.enabled }}true{{- end }}
{{- end }}

{{- define "srp.embeddedStores" -}}
{{- if or (eq .Values.database.type "embedded") (eq .Values.vectorStore.type "embedded") }}true{{- end }}
{{- end }}

{{/* Refuses combinations that would install but not work. */}}
{{- define "srp.validate" -}}
{{- if include "srp.embeddedStores" . }}
{{- if or (gt (int .Values.api.replicaCount) 1) .Values.api.autoscaling.enabled }}
{{- fail "the embedded database or vector store lives in one pod's volume: keep api.replicaCount 1 and api.autoscaling off, or use database.type=postgres and vectorStore.type=qdrant" }}
{{- end }}
{{- if include "srp.workerEnabled" . }}
{{- fail "ingestion workers need the shared stores: set database.type=postgres and vectorStore.type=qdrant, or worker.enabled=false" }}
{{- end }}
{{- end }}
{{- if and (eq .Values.vectorStore.type "qdrant") (not .Values.vectorStore.qdrant.url) }}
{{- fail "vectorStore.qdrant.url is required when vectorStore.type=qdrant" }}
{{- end }}
{{- if not .Values.secrets.existingSecret }}
{{- if and (eq .Values.database.type "postgres") (not .Values.secrets.databaseUrl) }}
{{- fail "database.type=postgres needs secrets.databaseUrl or secrets.existingSecret" }}
{{- end }}
{{- if and (eq .Values.database.type "postgres") (not .Values.secrets.adminApiKey) }}
{{- fail "database.type=postgres needs secrets.adminApiKey (replicas must share one admin key) or secrets.existingSecret" }}
{{- end }}
{{- if and .Values.redis.enabled (not .Values.secrets.redisUrl) }}
{{- fail "redis.enabled needs secrets.redisUrl or secrets.existingSecret" }}
{{- end }}
{{- end }}
{{- if eq (int .Values.metricsPort) (int .Values.containerPort) }}
{{- fail "metricsPort must differ from containerPort: /metrics is not served on the API port" }}
{{- end }}
{{- $drainSeconds := add .Values.preStopSleepSeconds (div (add .Values.config.shutdownTimeoutMs 999) 1000) }}
{{- if le (int .Values.terminationGracePeriodSeconds) (int $drainSeconds) }}
{{- fail (printf "terminationGracePeriodSeconds (%v) must exceed preStopSleepSeconds + config.shutdownTimeoutMs (%v s)" .Values.terminationGracePeriodSeconds $drainSeconds) }}
{{- end }}
{{- end }}

{{/* Non-secret settings, as environment variables; the ConfigMap and the migrations Job share them. */}}
{{- define "srp.configData" -}}
HOST: "0.0.0.0"
PORT: {{ .Values.containerPort | quote }}
METRICS_PORT: {{ .Values.metricsPort | quote }}
DATA_DIR: "/data"
DATABASE_POOL_SIZE: {{ .Values.database.poolSize | quote }}
SLOW_QUERY_MS: {{ .Values.database.slowQueryMs | quote }}
VECTOR_STORE: {{ .Values.vectorStore.type | quote }}
{{- if eq .Values.vectorStore.type "qdrant" }}
QDRANT_URL: {{ .Values.vectorStore.qdrant.url | quote }}
{{- end }}
EMBEDDING_PROVIDER: {{ .Values.embedding.provider | quote }}
{{- with .Values.embedding.model }}
EMBEDDING_MODEL: {{ . | quote }}
{{- end }}
{{- with .Values.embedding.baseUrl }}
EMBEDDING_BASE_URL: {{ . | quote }}
{{- end }}
LLM_PROVIDER: {{ .Values.llm.provider | quote }}
{{- with .Values.llm.model }}
LLM_MODEL: {{ . | quote }}
{{- end }}
{{- with .Values.llm.baseUrl }}
LLM_BASE_URL: {{ . | quote }}
{{- end }}
RERANK_PROVIDER: {{ .Values.rerank.provider | quote }}
{{- with .Values.rerank.model }}
RERANK_MODEL: {{ . | quote }}
{{- end }}
{{- with .Values.rerank.baseUrl }}
RERANK_BASE_URL: {{ . | quote }}
{{- end }}
SELF_RAG_MAX_ROUNDS: {{ .Values.config.selfRagMaxRounds | quote }}
MAX_UPLOAD_BYTES: {{ .Values.config.maxUploadBytes | int64 | quote }}
BODY_LIMIT_BYTES: {{ .Values.config.bodyLimitBytes | int64 | quote }}
{{- if not (kindIs "invalid" .Values.config.tenantMaxDocuments) }}
TENANT_MAX_DOCUMENTS: {{ .Values.config.tenantMaxDocuments | int64 | quote }}
{{- end }}
INGESTION_CONCURRENCY: {{ .Values.config.ingestionConcurrency | quote }}
PARSE_MAX_HEAP_MB: {{ .Values.config.parseMaxHeapMb | int64 | quote }}
PARSE_TIMEOUT_MS: {{ .Values.config.parseTimeoutMs | int64 | quote }}
INGESTION_MAX_CONCURRENT_JOBS_PER_TENANT: {{ .Values.config.ingestionMaxConcurrentJobsPerTenant | int64 | quote }}
INGESTION_MAX_PENDING_JOBS_PER_TENANT: {{ .Values.config.ingestionMaxPendingJobsPerTenant | int64 | quote }}
RATE_LIMIT_RPS: {{ .Values.config.rateLimitRps | quote }}
{{- with .Values.config.corsOrigins }}
CORS_ORIGINS: {{ join "," . | quote }}
{{- end }}
LOG_LEVEL: {{ .Values.config.logLevel | quote }}
SHUTDOWN_TIMEOUT_MS: {{ .Values.config.shutdownTimeoutMs | int64 | quote }}
OTEL_SERVICE_NAME: {{ .Values.otel.serviceName | quote }}
OTEL_SDK_DISABLED: {{ .Values.otel.sdkDisabled | quote }}
OTEL_EXPORTER_OTLP_PROTOCOL: {{ .Values.otel.exporterProtocol | quote }}
{{- with .Values.otel.exporterEndpoint }}
OTEL_EXPORTER_OTLP_ENDPOINT: {{ . | quote }}
{{- end }}
{{- with .Values.otel.tracesSampler }}
OTEL_TRACES_SAMPLER: {{ . | quote }}
{{- end }}
{{- with .Values.otel.tracesSamplerArg }}
OTEL_TRACES_SAMPLER_ARG: {{ . | quote }}
{{- end }}
{{- end }}

{{/* Secret data (chart-managed Secret only); empty values are left out so the defaults apply. */}}
{{- define "srp.secretData" -}}
{{- $keys := dict "DATABASE_URL" .Values.secrets.databaseUrl "ADMIN_API_KEY" .Values.secrets.adminApiKey "REDIS_URL" .Values.secrets.redisUrl "QDRANT_API_KEY" .Values.secrets.qdrantApiKey "EMBEDDING_API_KEY" .Values.secrets.embeddingApiKey "LLM_API_KEY" .Values.secrets.llmApiKey "RERANK_API_KEY" .Values.secrets.rerankApiKey }}
{{- range $key := keys $keys | sortAlpha }}
{{- with get $keys $key }}
{{ $key }}: {{ . | b64enc | quote }}
{{- end }}
{{- end }}
{{- end }}

{{/* Secret environment variables; the ones the chosen mode needs are not optional. */}}
{{- define "srp.secretEnv" -}}
{{- $root := .root }}
{{- $secretName := .secretName }}
{{- $postgres := eq $root.Values.database.type "postgres" }}
{{- $required := dict "DATABASE_URL" $postgres "ADMIN_API_KEY" $postgres "REDIS_URL" $root.Values.redis.enabled "QDRANT_API_KEY" false "EMBEDDING_API_KEY" false "LLM_API_KEY" false "RERANK_API_KEY" false }}
{{- range $key := list "DATABASE_URL" "ADMIN_API_KEY" "REDIS_URL" "QDRANT_API_KEY" "EMBEDDING_API_KEY" "LLM_API_KEY" "RERANK_API_KEY" }}
- name: {{ $key }}
  valueFrom:
    secretKeyRef:
      name: {{ $secretName }}
      key: {{ $key }}
      optional: {{ not (get $required $key) }}
{{- end }}
{{- end }}

{{/* The downward API and the OpenTelemetry resource attributes built from it. */}}
{{- define "srp.otelEnv" -}}
- name: K8S_POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: K8S_NAMESPACE_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
- name: K8S_NODE_NAME
  valueFrom:
    fieldRef:
      fieldPath: spec.nodeName
- name: K8S_POD_UID
  valueFrom:
    fieldRef:
      fieldPath: metadata.uid
{{- $attributes := list "k8s.pod.name=$(K8S_POD_NAME)" "k8s.namespace.name=$(K8S_NAMESPACE_NAME)" "k8s.node.name=$(K8S_NODE_NAME)" "k8s.pod.uid=$(K8S_POD_UID)" (printf "k8s.deployment.name=%s" .deployment) (printf "service.version=%s" .root.Chart.AppVersion) }}
{{- range $key, $value := .root.Values.otel.resourceAttributes }}
{{- $attributes = append $attributes (printf "%s=%s" $key $value) }}
{{- end }}
- name: OTEL_RESOURCE_ATTRIBUTES
  value: {{ join "," $attributes | quote }}
{{- end }}

{{- define "srp.probes" -}}
{{- $port := .Values.containerPort }}
{{- range $kind := list "liveness" "readiness" "startup" }}
{{- $probe := get $.Values.probes $kind }}
{{ $kind }}Probe:
  httpGet:
    path: {{ $probe.path }}
    port: {{ $port }}
  initialDelaySeconds: {{ $probe.initialDelaySeconds }}
  periodSeconds: {{ $probe.periodSeconds }}
  timeoutSeconds: {{ $probe.timeoutSeconds }}
  failureThreshold: {{ $probe.failureThreshold }}
{{- end }}
{{- end }}

{{- define "srp.topologySpread" -}}
{{- if .root.Values.topologySpread.enabled }}
topologySpreadConstraints:
{{- range $key := .root.Values.topologySpread.topologyKeys }}
  - maxSkew: {{ $.root.Values.topologySpread.maxSkew }}
    topologyKey: {{ $key }}
    whenUnsatisfiable: {{ $.root.Values.topologySpread.whenUnsatisfiable }}
    labelSelector:
      matchLabels:
        {{- include "srp.componentSelectorLabels" (dict "root" $.root "component" $.component) | nindent 8 }}
    matchLabelKeys:
      - pod-template-hash
{{- end }}
{{- end }}
{{- end }}

{{/* Annotations that roll the pods when the configuration or the chart-managed secret changes. */}}
{{- define "srp.checksumAnnotations" -}}
checksum/config: {{ include "srp.configData" . | sha256sum }}
{{- if not .Values.secrets.existingSecret }}
checksum/secret: {{ include "srp.secretData" . | sha256sum }}
{{- end }}
{{- end }}
