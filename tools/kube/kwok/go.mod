// Wrapper module for bin/ensure-kube: builds kwok v0.8.0 (fake kubelets) with the fixes of
// ../kwok-exec.patch. bin/ensure-kube copies this go.mod and go.sum into a build directory
// beside ./src, a copy of the sigs.k8s.io/kwok@v0.8.0 module source (as the proxy serves it,
// checked against go.sum's hash of it) with the patch applied, and builds there. go.sum is
// checked in: the build runs with -mod=readonly and verifies every module against it.
module opschain-db-upgrade/tools/kube/kwok

go 1.26.0

require sigs.k8s.io/kwok v0.8.0

replace sigs.k8s.io/kwok v0.8.0 => ./src

tool sigs.k8s.io/kwok/cmd/kwok
