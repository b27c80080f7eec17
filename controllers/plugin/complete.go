package plugin

import (
	"context"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
)

// CompletionName is the name the manager's binary answers to as the plugin's completion:
// kubectl (1.26 and later) runs kubectl_complete-opdomain on the PATH to complete
// `kubectl opdomain ...` in every shell kubectl completes.
const CompletionName = "kubectl_complete-opdomain"

// Shell completion directives, as kubectl reads them from the last line.
const (
	filesDefault = 0 // the shell completes file names
	noFiles      = 4 // nothing but what was offered
)

// Complete prints the candidates for the last of args (the word being completed; the ones before
// are the command line so far), one a line, and the directive. Names come from the cluster,
// as the caller may list them; what cannot be listed offers nothing.
func Complete(args []string, stdout io.Writer) int {
	candidates, directive := complete(args)
	for _, c := range candidates {
		_, _ = fmt.Fprintln(stdout, c)
	}
	_, _ = fmt.Fprintf(stdout, ":%d\n", directive)
	return 0
}

func complete(args []string) ([]string, int) {
	if len(args) == 0 {
		return nil, noFiles
	}
	words, word := args[:len(args)-1], args[len(args)-1]
	flags, takesValue := []string{}, map[string]bool{}
	(&invocation{}).flags().VisitAll(func(f *flag.Flag) {
		name := "--" + f.Name
		if len(f.Name) == 1 {
			name = "-" + f.Name
		}
		flags = append(flags, name)
		b, isBool := f.Value.(interface{ IsBoolFlag() bool })
		takesValue[name] = !isBool || !b.IsBoolFlag()
	})
	if strings.HasPrefix(word, "-") {
		return matching(word, flags...), noFiles
	}
	if len(words) > 0 {
		switch last := words[len(words)-1]; {
		case last == "-o":
			return matching(word, "table", "json", "yaml"), noFiles
		case last == "--to", last == "--kubeconfig":
			return nil, filesDefault
		case last == "--workspace", last == "--grant":
			in, err := parse(words[:len(words)-1], io.Discard, io.Discard)
			if err != nil {
				return nil, noFiles
			}
			if last == "--grant" {
				return in.names(word, &opv1.DataGrantList{}, in.namespace), noFiles
			}
			return in.names(word, &opv1.DeveloperWorkspaceList{}, in.namespace), noFiles
		case takesValue[last]:
			return nil, noFiles // nothing to offer for the flag's value
		}
	}
	in, err := parse(words, io.Discard, io.Discard)
	if err != nil {
		return nil, noFiles
	}
	switch p := in.args; {
	case len(p) == 0:
		return matching(word, "status", "kubeconfig", "review", "verify", "records", "help"), noFiles
	case len(p) == 1 && (p[0] == "status" || p[0] == "verify" || p[0] == "records"):
		return in.names(word, &opv1.OperationDomainList{}, ""), noFiles
	case len(p) == 1 && p[0] == "review":
		return matching(word, "grant", "product"), noFiles
	case len(p) == 2 && p[0] == "review" && p[1] == "grant":
		return in.names(word, &opv1.DataGrantList{}, in.namespace), noFiles
	case len(p) == 2 && p[0] == "review" && p[1] == "product":
		return in.names(word, &opv1.DataProductList{}, in.namespace), noFiles
	case len(p) == 1 && p[0] == "kubeconfig":
		return in.names(word, &opv1.DeveloperWorkspaceList{}, in.namespace), noFiles
	case len(p) == 2 && p[0] == "kubeconfig":
		return in.members(word, p[1]), noFiles
	}
	return nil, noFiles
}

// matching is the candidates that start with prefix.
func matching(prefix string, candidates ...string) []string {
	return slices.DeleteFunc(candidates, func(c string) bool { return !strings.HasPrefix(c, prefix) })
}

// names lists the names of list's kind in namespace ("" for a cluster-scoped kind) that start
// with prefix.
func (in *invocation) names(prefix string, list client.ObjectList, namespace string) []string {
	if in.connect() != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if in.client.List(ctx, list, client.InNamespace(namespace)) != nil {
		return nil
	}
	var out []string
	_ = meta.EachListItem(list, func(o runtime.Object) error {
		if name := o.(client.Object).GetName(); strings.HasPrefix(name, prefix) {
			out = append(out, name)
		}
		return nil
	})
	return out
}

// members lists the members of the workspace that start with prefix.
func (in *invocation) members(prefix, workspace string) []string {
	if in.connect() != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var ws opv1.DeveloperWorkspace
	if in.client.Get(ctx, client.ObjectKey{Namespace: in.namespace, Name: workspace}, &ws) != nil {
		return nil
	}
	return matching(prefix, ws.Spec.Members...)
}
