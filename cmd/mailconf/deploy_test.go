package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/mailconf/mailconf"
	"go.yaml.in/yaml/v3"
)

// checkServeArgs parses args (after "serve") with the real flag set.
func checkServeArgs(t *testing.T, where string, args []string) {
	t.Helper()
	fs, _ := newServeFlags(io.Discard)
	if err := parseFlags(fs, args); err != nil {
		t.Errorf("%s: serve flags %q: %v", where, args, err)
	}
}

// TestKubernetesManifests parses every document of the manifests and checks what
// operators rely on: probes on the admin port, the Service ports, the embedded
// configuration and the container arguments.
func TestKubernetesManifests(t *testing.T) {
	data, err := os.ReadFile("../../deploy/kubernetes/mailconf.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	kinds := map[string]map[string]any{}
	for {
		var doc map[string]any
		if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		if doc["apiVersion"] == nil || doc["metadata"] == nil {
			t.Fatalf("document without apiVersion or metadata: %v", doc)
		}
		kinds[doc["kind"].(string)] = doc
	}
	for _, k := range []string{"ConfigMap", "Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget"} {
		if kinds[k] == nil {
			t.Errorf("no %s", k)
		}
	}
	cfg := kinds["ConfigMap"]["data"].(map[string]any)["mailconf.yaml"].(string)
	if _, err := mailconf.Parse("configmap", []byte(cfg)); err != nil {
		t.Errorf("ConfigMap configuration: %v", err)
	}
	container := dig(kinds["Deployment"], "spec", "template", "spec", "containers").([]any)[0].(map[string]any)
	var args []string
	for _, a := range container["args"].([]any) {
		args = append(args, a.(string))
	}
	if args[0] != "serve" {
		t.Fatalf("args %v", args)
	}
	checkServeArgs(t, "Deployment", args[1:])
	for _, probe := range []string{"livenessProbe", "readinessProbe"} {
		if port := dig(container, probe, "httpGet", "port"); port != "admin" {
			t.Errorf("%s on port %v, want admin", probe, port)
		}
	}
	var ports []string
	for _, p := range dig(kinds["Service"], "spec", "ports").([]any) {
		pm := p.(map[string]any)
		ports = append(ports, strings.Join([]string{itoa(pm["port"]), pm["protocol"].(string)}, "/"))
	}
	if got := strings.Join(ports, " "); got != "80/TCP 443/TCP 53/UDP 53/TCP" {
		t.Errorf("Service ports %s", got)
	}
}

func itoa(v any) string {
	if n, ok := v.(int); ok {
		return strconv.Itoa(n)
	}
	return fmt.Sprint(v)
}

func dig(m any, keys ...string) any {
	for _, k := range keys {
		mm, ok := m.(map[string]any)
		if !ok {
			return nil
		}
		m = mm[k]
	}
	return m
}

// TestDeployCommandLines checks that the systemd unit and the container image start
// mailconf with flags it knows.
func TestDeployCommandLines(t *testing.T) {
	unit, err := os.ReadFile("../../deploy/mailconf.service")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^ExecStart=\S+ serve (.*)$`).FindSubmatch(unit)
	if m == nil {
		t.Fatal("no ExecStart with serve")
	}
	checkServeArgs(t, "mailconf.service", strings.Fields(string(m[1])))
	for _, want := range []string{"DynamicUser=yes", "AmbientCapabilities=CAP_NET_BIND_SERVICE", "CapabilityBoundingSet=CAP_NET_BIND_SERVICE", "ProtectSystem=strict", "StateDirectory=mailconf", "ExecReload=/bin/kill -HUP $MAINPID"} {
		if !bytes.Contains(unit, []byte(want)) {
			t.Errorf("unit lacks %s", want)
		}
	}
	cf, err := os.ReadFile("../../deploy/Containerfile")
	if err != nil {
		t.Fatal(err)
	}
	cm := regexp.MustCompile(`(?m)^CMD \["serve", (.*)\]$`).FindSubmatch(cf)
	if cm == nil {
		t.Fatal("no CMD with serve")
	}
	var args []string
	for _, a := range strings.Split(string(cm[1]), ",") {
		args = append(args, strings.Trim(strings.TrimSpace(a), `"`))
	}
	checkServeArgs(t, "Containerfile", args)
	for _, want := range []string{"FROM scratch", "CGO_ENABLED=0", "USER 65532:65532"} {
		if !bytes.Contains(cf, []byte(want)) {
			t.Errorf("Containerfile lacks %s", want)
		}
	}
}
