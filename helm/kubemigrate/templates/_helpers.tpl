{{/* Chart name, overridable. */}}
{{- define "kubemigrate.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* "<release>-<chart>", or the release name when it already contains the chart name;
at most 63 characters (a DNS label), never ending in "-". */}}
{{- define "kubemigrate.fullname" -}}
{{- include "kubemigrate.suffixed" (list . "") }}
{{- end }}

{{/* The full name with a suffix ("-metrics", "-runs" ...), the name cut before the
suffix so that the whole stays within 63 characters (as Helm's own scaffolding cuts
before it appends): cutting after it would drop the suffix, and appending after a
63-character cut made a 71-character Service name the API server refuses. Call as
include "kubemigrate.suffixed" (list . "-metrics"). */}}
{{- define "kubemigrate.suffixed" -}}
{{- $root := index . 0 }}
{{- $suffix := index . 1 }}
{{- $base := "" }}
{{- if $root.Values.fullnameOverride }}
{{- $base = $root.Values.fullnameOverride }}
{{- else }}
{{- $name := default $root.Chart.Name $root.Values.nameOverride }}
{{- if contains $name $root.Release.Name }}
{{- $base = $root.Release.Name }}
{{- else }}
{{- $base = printf "%s-%s" $root.Release.Name $name }}
{{- end }}
{{- end }}
{{- $cut := $base | trunc (int (sub 63 (len $suffix))) }}
{{- printf "%s%s" (regexReplaceAll "[-.]+$" $cut "") $suffix }}
{{- end }}

{{/* The metrics Service's name: a Service's name is a DNS-1035 label (a letter first,
no dots), stricter than the other objects' names. */}}
{{- define "kubemigrate.metricsServiceName" -}}
{{- $name := include "kubemigrate.suffixed" (list . "-metrics") }}
{{- if not (regexMatch "^[a-z]([-a-z0-9]*[a-z0-9])?$" $name) }}
{{- fail (printf "the metrics Service would be named %q, which is no DNS-1035 label (lower-case letters, digits and '-', a letter first, no dots) as a Service's name must be: set fullnameOverride to a name that starts with a letter (the name comes from fullnameOverride, else from the release name %q), or metrics.service.enabled=false" $name .Release.Name) }}
{{- end }}
{{- $name }}
{{- end }}

{{- define "kubemigrate.selectorLabels" -}}
app.kubernetes.io/name: {{ include "kubemigrate.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end }}

{{- define "kubemigrate.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "kubemigrate.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: kubemigrate
{{- end }}

{{/* The operator's ServiceAccount, which its RBAC is bound to. With create=false it must
be named: the pod would otherwise run as the namespace's "default" ServiceAccount, and
the bindings would hand what the operator may do to every pod running as it. */}}
{{- define "kubemigrate.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "kubemigrate.fullname" .) .Values.serviceAccount.name }}
{{- else if .Values.serviceAccount.name }}
{{- .Values.serviceAccount.name }}
{{- else }}
{{- fail (printf "serviceAccount.create=false needs serviceAccount.name, the existing ServiceAccount of namespace %s the operator runs as: without it the operator would run as the namespace's \"default\" ServiceAccount, and the chart's RBAC (creating Jobs, reading Secrets, in every watched namespace) would be bound to every pod running as default; set serviceAccount.name (to \"default\" only if that is meant), or serviceAccount.create=true" .Release.Namespace) }}
{{- end }}
{{- end }}

{{/* The image reference: digest wins over tag; tag defaults to appVersion. */}}
{{- define "kubemigrate.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* A Kubernetes quantity (64Mi, 500m, 1e3, 2) as a number, for comparing a request with
its limit; values.schema.json has made sure it is one. */}}
{{- define "kubemigrate.quantity" -}}
{{- $text := toString . }}
{{- $number := regexFind "^[+-]?([0-9]+([.][0-9]*)?|[.][0-9]+)" $text }}
{{- $suffix := trimPrefix $number $text }}
{{- $factors := dict "" 1.0 "n" 1e-9 "u" 1e-6 "m" 1e-3 "k" 1e3 "M" 1e6 "G" 1e9 "T" 1e12 "P" 1e15 "E" 1e18 "Ki" 1024.0 "Mi" 1048576.0 "Gi" 1073741824.0 "Ti" 1099511627776.0 "Pi" 1125899906842624.0 "Ei" 1152921504606846976.0 }}
{{- if hasKey $factors $suffix }}
{{- mulf (float64 $number) (get $factors $suffix) }}
{{- else }}
{{- mulf (float64 $number) (float64 (printf "1%s" $suffix)) }}
{{- end }}
{{- end }}

{{/* operator.jobResources as the JSON the operator reads. A YAML number that is no whole
number (cpu: 0.5), which Kubernetes takes as a quantity, goes as a string ("0.5"): the
operator's quantities are strings or integers. Call with .Values.operator.jobResources. */}}
{{- define "kubemigrate.jobResources" -}}
{{- $resources := dict }}
{{- range $part, $amounts := . }}
{{- $converted := dict }}
{{- range $name, $amount := $amounts }}
{{- if and (kindIs "float64" $amount) (ne $amount (floor $amount)) }}
{{- $amount = toString $amount }}
{{- end }}
{{- $_ := set $converted $name $amount }}
{{- end }}
{{- $_ := set $resources $part $converted }}
{{- end }}
{{- toJson $resources }}
{{- end }}
