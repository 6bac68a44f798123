package deploy_test

import (
	"fmt"
	"net/url"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// --- Kubernetes -------------------------------------------------------------

type k8sObject struct {
	file string
	doc  map[string]any
}

func (o k8sObject) kind() string      { return digString(o.doc, "kind") }
func (o k8sObject) name() string      { return digString(o.doc, "metadata", "name") }
func (o k8sObject) namespace() string { return digString(o.doc, "metadata", "namespace") }
func (o k8sObject) String() string {
	return fmt.Sprintf("%s %s/%s (%s)", o.kind(), o.namespace(), o.name(), o.file)
}

func loadManifests(t *testing.T) []k8sObject {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("kubernetes", "*.y*ml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in deploy/kubernetes: %v", err)
	}
	var objs []k8sObject
	for _, f := range files {
		for _, doc := range yamlDocs(t, f) {
			objs = append(objs, k8sObject{file: filepath.Base(f), doc: doc})
		}
	}
	return objs
}

func byKind(objs []k8sObject, kind string) []k8sObject {
	var out []k8sObject
	for _, o := range objs {
		if o.kind() == kind {
			out = append(out, o)
		}
	}
	return out
}

// podContainers returns the containers of a Deployment-like object.
func podContainers(doc map[string]any) []any {
	return digList(doc, "spec", "template", "spec", "containers")
}

// matchLabels returns a label selector's matchLabels; it fails on
// matchExpressions, which these tests cannot evaluate.
func matchLabels(t *testing.T, where string, selector any) map[string]string {
	t.Helper()
	if dig(selector, "matchExpressions") != nil {
		t.Errorf("%s: matchExpressions are not checked by these tests; use matchLabels", where)
	}
	out := map[string]string{}
	for k, v := range digMap(selector, "matchLabels") {
		out[k] = fmt.Sprint(v)
	}
	return out
}

// labelsMatch reports whether selector (matchLabels) selects labels.
func labelsMatch(selector, labels map[string]string) bool {
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func stringMap(v any) map[string]string {
	out := map[string]string{}
	for k, x := range digMap(v) {
		out[k] = fmt.Sprint(x)
	}
	return out
}

// tracegateDeployment returns the Deployment, its pod labels, its selector,
// the tracegate container and the environment it gets (ConfigMaps by
// envFrom plus literal env values).
type deploymentView struct {
	obj       k8sObject
	podLabels map[string]string
	selector  map[string]string
	container map[string]any
	environ   map[string]string
}

func tracegateDeployment(t *testing.T, objs []k8sObject) deploymentView {
	t.Helper()
	deps := byKind(objs, "Deployment")
	if len(deps) != 1 {
		t.Fatalf("want exactly one Deployment, got %d", len(deps))
	}
	d := deploymentView{obj: deps[0]}
	d.podLabels = stringMap(dig(d.obj.doc, "spec", "template", "metadata", "labels"))
	d.selector = matchLabels(t, d.obj.String(), dig(d.obj.doc, "spec", "selector"))
	cs := podContainers(d.obj.doc)
	if len(cs) != 1 {
		t.Fatalf("%s: want one container, got %d", d.obj, len(cs))
	}
	d.container = digMap(cs[0])
	d.environ = map[string]string{}
	for _, ef := range digList(d.container, "envFrom") {
		name := digString(ef, "configMapRef", "name")
		if name == "" {
			t.Errorf("%s: envFrom %v: only configMapRef is checked", d.obj, ef)
			continue
		}
		found := false
		for _, cm := range byKind(objs, "ConfigMap") {
			if cm.name() == name && cm.namespace() == d.obj.namespace() {
				found = true
				for k, v := range digMap(cm.doc, "data") {
					s, ok := v.(string)
					if !ok {
						t.Errorf("%s: data %s is a YAML %T; ConfigMap values must be strings (quote it)", cm, k, v)
					}
					d.environ[k] = s
				}
			}
		}
		if !found {
			t.Errorf("%s: envFrom ConfigMap %q is not among the manifests (namespace %s)", d.obj, name, d.obj.namespace())
		}
	}
	for _, e := range digList(d.container, "env") {
		if v, ok := dig(e, "value").(string); ok {
			d.environ[digString(e, "name")] = v
		}
	}
	return d
}

func TestDeployKubernetesObjects(t *testing.T) {
	t.Parallel()
	objs := loadManifests(t)
	for _, o := range objs {
		if digString(o.doc, "apiVersion") == "" || o.kind() == "" || o.name() == "" {
			t.Errorf("%s: a document without apiVersion, kind or metadata.name: %v", o.file, o.doc)
		}
		if o.kind() != "Namespace" && o.namespace() == "" {
			t.Errorf("%s: no metadata.namespace (the manifests are applied without kustomize or -n)", o)
		}
	}
	for _, kind := range []string{"Deployment", "Service", "ConfigMap", "PodDisruptionBudget", "NetworkPolicy"} {
		if len(byKind(objs, kind)) == 0 {
			t.Errorf("no %s among the manifests", kind)
		}
	}
	// Every namespace tracegate's objects use is created here (Tempo's is not ours).
	d := tracegateDeployment(t, objs)
	if !slices.ContainsFunc(byKind(objs, "Namespace"), func(o k8sObject) bool { return o.name() == d.obj.namespace() }) {
		t.Errorf("namespace %s of the Deployment is not created by the manifests", d.obj.namespace())
	}
}

func TestDeployKubernetesDeployment(t *testing.T) {
	t.Parallel()
	objs := loadManifests(t)
	d := tracegateDeployment(t, objs)
	spec := digMap(d.obj.doc, "spec")
	pod := digMap(spec, "template", "spec")
	c := d.container

	if replicas, _ := spec["replicas"].(int); replicas < 2 {
		t.Errorf("%s: replicas %v, want at least 2", d.obj, spec["replicas"])
	}
	if len(d.selector) == 0 || !labelsMatch(d.selector, d.podLabels) {
		t.Errorf("%s: selector %v does not select the pod labels %v", d.obj, d.selector, d.podLabels)
	}
	if err := checkConfig(t, d.environ); err != nil {
		t.Errorf("%s: the environment from its ConfigMap is not a valid configuration: %v", d.obj, err)
	}

	// Security context: pod or container level.
	sc := func(key string) any {
		if v := dig(c, "securityContext", key); v != nil {
			return v
		}
		return dig(pod, "securityContext", key)
	}
	if sc("runAsNonRoot") != true {
		t.Errorf("%s: runAsNonRoot must be true", d.obj)
	}
	if uid, ok := sc("runAsUser").(int); ok && uid == 0 {
		t.Errorf("%s: runAsUser 0", d.obj)
	}
	if dig(c, "securityContext", "readOnlyRootFilesystem") != true {
		t.Errorf("%s: readOnlyRootFilesystem must be true", d.obj)
	}
	if dig(c, "securityContext", "allowPrivilegeEscalation") != false {
		t.Errorf("%s: allowPrivilegeEscalation must be false", d.obj)
	}
	if !slices.Contains(digList(c, "securityContext", "capabilities", "drop"), any("ALL")) {
		t.Errorf("%s: capabilities must drop ALL", d.obj)
	}
	if digString(sc("seccompProfile"), "type") != "RuntimeDefault" {
		t.Errorf("%s: seccompProfile RuntimeDefault expected (restricted Pod Security Standard)", d.obj)
	}
	if pod["enableServiceLinks"] != false {
		t.Errorf("%s: enableServiceLinks must be false: service variables of a Service named tracegate fall in the %s prefix", d.obj, envPrefix)
	}
	if pod["automountServiceAccountToken"] != false {
		t.Errorf("%s: automountServiceAccountToken must be false: tracegate does not call the Kubernetes API", d.obj)
	}
	for _, r := range []string{"requests.cpu", "requests.memory", "limits.cpu", "limits.memory"} {
		kind, res, _ := strings.Cut(r, ".")
		if dig(c, "resources", kind, res) == nil {
			t.Errorf("%s: resources.%s missing", d.obj, r)
		}
	}

	// Probes: the right paths, on the port tracegate serves them on (the
	// admin listener when there is one).
	port := listenPort(t, d.environ)
	portNames := map[string]bool{}
	for _, p := range digList(c, "ports") {
		if dig(p, "containerPort") == port {
			portNames[digString(p, "name")] = true
		}
	}
	if len(portNames) == 0 {
		t.Fatalf("%s: no containerPort %d (TRACEGATE_LISTEN_ADDR)", d.obj, port)
	}
	probePort, probePortNames := port, portNames
	if admin := d.environ[envPrefix+"ADMIN_LISTEN_ADDR"]; admin != "" {
		probePort = listenPort(t, map[string]string{envPrefix + "LISTEN_ADDR": admin})
		probePortNames = map[string]bool{}
		for _, p := range digList(c, "ports") {
			if dig(p, "containerPort") == probePort {
				probePortNames[digString(p, "name")] = true
			}
		}
		if len(probePortNames) == 0 {
			t.Fatalf("%s: no containerPort %d (TRACEGATE_ADMIN_LISTEN_ADDR)", d.obj, probePort)
		}
		if scrape := digString(d.obj.doc, "spec", "template", "metadata", "annotations", "prometheus.io/port"); scrape != "" && scrape != strconv.Itoa(probePort) {
			t.Errorf("%s: prometheus.io/port %s, but /metrics is on %d", d.obj, scrape, probePort)
		}
	}
	for probe, want := range map[string]string{"readinessProbe": "/readyz", "livenessProbe": "/healthz"} {
		if got := digString(c, probe, "httpGet", "path"); got != want {
			t.Errorf("%s: %s path %q, want %q", d.obj, probe, got, want)
		}
		scheme := digString(c, probe, "httpGet", "scheme")
		if tls := d.environ[envPrefix+"TLS_CERT_FILE"] != ""; tls != (scheme == "HTTPS") {
			t.Errorf("%s: %s scheme %q, but tracegate serves TLS: %v (TRACEGATE_TLS_CERT_FILE)", d.obj, probe, scheme, tls)
		}
		switch p := dig(c, probe, "httpGet", "port").(type) {
		case int:
			if p != probePort {
				t.Errorf("%s: %s port %d, tracegate serves %s on %d", d.obj, probe, p, want, probePort)
			}
		case string:
			if !probePortNames[p] {
				t.Errorf("%s: %s port %q is not the name of containerPort %d", d.obj, probe, p, probePort)
			}
		default:
			t.Errorf("%s: %s has no httpGet port", d.obj, probe)
		}
	}

	// Graceful shutdown fits in the grace period.
	grace, _ := pod["terminationGracePeriodSeconds"].(int)
	if grace == 0 {
		grace = 30 // Kubernetes' default
	}
	preStop, _ := dig(c, "lifecycle", "preStop", "sleep", "seconds").(int)
	if need := time.Duration(preStop)*time.Second + envDuration(t, d.environ, envPrefix+"SHUTDOWN_TIMEOUT"); time.Duration(grace)*time.Second <= need {
		t.Errorf("%s: terminationGracePeriodSeconds %d must exceed preStop sleep + TRACEGATE_SHUTDOWN_TIMEOUT (%s)", d.obj, grace, need)
	}

	// Service and PodDisruptionBudget select these pods.
	for _, svc := range byKind(objs, "Service") {
		sel := stringMap(dig(svc.doc, "spec", "selector"))
		if len(sel) == 0 || !labelsMatch(sel, d.podLabels) {
			t.Errorf("%s: selector %v does not select tracegate's pods %v", svc, sel, d.podLabels)
		}
		if svc.namespace() != d.obj.namespace() {
			t.Errorf("%s: not in tracegate's namespace %s", svc, d.obj.namespace())
		}
		for _, p := range digList(svc.doc, "spec", "ports") {
			switch tp := dig(p, "targetPort").(type) {
			case string:
				if !portNames[tp] {
					t.Errorf("%s: targetPort %q is not the name of containerPort %d", svc, tp, port)
				}
			case int:
				if tp != port {
					t.Errorf("%s: targetPort %d, tracegate listens on %d", svc, tp, port)
				}
			}
		}
	}
	for _, pdb := range byKind(objs, "PodDisruptionBudget") {
		sel := matchLabels(t, pdb.String(), dig(pdb.doc, "spec", "selector"))
		if len(sel) == 0 || !labelsMatch(sel, d.podLabels) {
			t.Errorf("%s: selector %v does not select tracegate's pods %v", pdb, sel, d.podLabels)
		}
		if pdb.namespace() != d.obj.namespace() {
			t.Errorf("%s: not in tracegate's namespace %s", pdb, d.obj.namespace())
		}
		if min, ok := dig(pdb.doc, "spec", "minAvailable").(int); ok {
			if replicas, _ := spec["replicas"].(int); min >= replicas {
				t.Errorf("%s: minAvailable %d with %d replicas blocks every node drain", pdb, min, replicas)
			}
		}
	}
}

// tempoTarget is where TRACEGATE_TEMPO_URL points: a Service in a namespace, a port.
type tempoTarget struct {
	service, namespace string
	port               int
}

func tempoURLTarget(t *testing.T, d deploymentView) tempoTarget {
	t.Helper()
	raw := d.environ[envPrefix+"TEMPO_URL"]
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("TRACEGATE_TEMPO_URL %q: %v", raw, err)
	}
	labels := strings.Split(u.Hostname(), ".")
	port, err := strconv.Atoi(u.Port())
	if len(labels) < 3 || labels[2] != "svc" || err != nil {
		t.Fatalf("TRACEGATE_TEMPO_URL %q: want http://<service>.<namespace>.svc[.cluster.local]:<port>", raw)
	}
	return tempoTarget{service: labels[0], namespace: labels[1], port: port}
}

// rulePorts reports whether a NetworkPolicy rule's ports admit port/protocol
// (no ports = every port). Named ports cannot be resolved here: an error.
func rulePorts(t *testing.T, where string, rule any, port int, protocol string) bool {
	t.Helper()
	ports := digList(rule, "ports")
	if ports == nil {
		return true
	}
	for _, p := range ports {
		proto := digString(p, "protocol")
		if proto == "" {
			proto = "TCP"
		}
		if proto != protocol {
			continue
		}
		switch n := dig(p, "port").(type) {
		case nil:
			return true // every port of that protocol
		case int:
			end, ok := dig(p, "endPort").(int)
			if n == port || (ok && n <= port && port <= end) {
				return true
			}
		default:
			t.Errorf("%s: port %v: named ports are not checked by these tests; use numbers", where, n)
		}
	}
	return false
}

// TestDeployTempoNetworkPolicy checks that Tempo's query port admits only
// tracegate's pods: every ingress rule of every NetworkPolicy in Tempo's
// namespace that admits the port must name, as its only peers, tracegate's
// pods (by the Deployment's own selector labels) in tracegate's namespace.
func TestDeployTempoNetworkPolicy(t *testing.T) {
	t.Parallel()
	objs := loadManifests(t)
	d := tracegateDeployment(t, objs)
	target := tempoURLTarget(t, d)

	guarding := 0
	var tempoSelectors []map[string]string
	for _, np := range byKind(objs, "NetworkPolicy") {
		if np.namespace() != target.namespace {
			continue
		}
		types := digList(np.doc, "spec", "policyTypes")
		if types != nil && !slices.Contains(types, any("Ingress")) {
			continue
		}
		for i, rule := range digList(np.doc, "spec", "ingress") {
			where := fmt.Sprintf("%s ingress[%d]", np, i)
			if !rulePorts(t, where, rule, target.port, "TCP") {
				continue
			}
			guarding++
			from := digList(rule, "from")
			if len(from) == 0 {
				t.Errorf("%s: admits port %d from everywhere", where, target.port)
			}
			for j, peer := range from {
				pw := fmt.Sprintf("%s from[%d]", where, j)
				if dig(peer, "ipBlock") != nil {
					t.Errorf("%s: an ipBlock admits more than tracegate's pods", pw)
				}
				ps, present := digMap(peer)["podSelector"]
				pods := matchLabels(t, pw, ps)
				if !present || len(pods) == 0 {
					t.Errorf("%s: no podSelector (or an empty one): admits every pod", pw)
				} else if !labelsMatch(d.selector, pods) || !labelsMatch(pods, d.podLabels) {
					t.Errorf("%s: podSelector %v must contain the Deployment's selector %v and select its pods %v", pw, pods, d.selector, d.podLabels)
				}
				nsSel, hasNS := digMap(peer)["namespaceSelector"]
				switch {
				case hasNS:
					ns := matchLabels(t, pw, nsSel)
					if ns["kubernetes.io/metadata.name"] != d.obj.namespace() {
						t.Errorf("%s: namespaceSelector %v must select tracegate's namespace %s by kubernetes.io/metadata.name", pw, ns, d.obj.namespace())
					}
				case np.namespace() != d.obj.namespace():
					t.Errorf("%s: without a namespaceSelector the podSelector selects pods of %s, not tracegate's namespace %s", pw, np.namespace(), d.obj.namespace())
				}
			}
		}
		tempoSelectors = append(tempoSelectors, matchLabels(t, np.String(), dig(np.doc, "spec", "podSelector")))
	}
	if guarding == 0 {
		t.Fatalf("no NetworkPolicy in namespace %s restricts ingress to port %d (TRACEGATE_TEMPO_URL)", target.namespace, target.port)
	}

	// tracegate's own policy lets it out to exactly those Tempo pods, to DNS,
	// and in on its port.
	var own []k8sObject
	for _, np := range byKind(objs, "NetworkPolicy") {
		if np.namespace() == d.obj.namespace() && labelsMatch(matchLabels(t, np.String(), dig(np.doc, "spec", "podSelector")), d.podLabels) {
			own = append(own, np)
		}
	}
	if len(own) == 0 {
		t.Fatal("no NetworkPolicy selects tracegate's pods")
	}
	var toTempo, toDNS, in bool
	for _, np := range own {
		for _, rule := range digList(np.doc, "spec", "egress") {
			if rulePorts(t, np.String(), rule, 53, "UDP") && len(digList(rule, "to")) > 0 {
				toDNS = true
			}
			if !rulePorts(t, np.String(), rule, target.port, "TCP") {
				continue
			}
			for _, peer := range digList(rule, "to") {
				ns := matchLabels(t, np.String(), dig(peer, "namespaceSelector"))
				pods := matchLabels(t, np.String(), dig(peer, "podSelector"))
				if ns["kubernetes.io/metadata.name"] == target.namespace &&
					slices.ContainsFunc(tempoSelectors, func(s map[string]string) bool { return reflect.DeepEqual(s, pods) }) {
					toTempo = true
				}
			}
		}
		for _, rule := range digList(np.doc, "spec", "ingress") {
			if rulePorts(t, np.String(), rule, listenPort(t, d.environ), "TCP") {
				in = true
			}
		}
	}
	if !toTempo {
		t.Errorf("tracegate's NetworkPolicy has no egress rule to the Tempo pods the Tempo policy guards (namespace %s, port %d)", target.namespace, target.port)
	}
	if !toDNS {
		t.Error("tracegate's NetworkPolicy has no egress rule for DNS (UDP 53)")
	}
	if !in {
		t.Error("tracegate's NetworkPolicy admits no ingress on tracegate's port")
	}
}
