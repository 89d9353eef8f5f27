#!/bin/sh
# The namespace the worker uses and the search attributes it sets (OPSCHAIN_SEARCH_ATTRIBUTES), once
# the server answers. After the official compose's create-namespace
# (temporalio/samples-server compose/scripts/create-namespace.sh); idempotent, so it runs again on
# every `docker compose up`. The temporal CLI reads TEMPORAL_ADDRESS.
set -eu
NAMESPACE=${DEFAULT_NAMESPACE:-default}
export TEMPORAL_ADDRESS=${TEMPORAL_ADDRESS:-temporal:7233}
ATTEMPTS=${ATTEMPTS:-60}

retry() {
  n=1
  until "$@"; do
    if [ "$n" -ge "$ATTEMPTS" ]; then
      echo "gave up after $ATTEMPTS attempts: $*" >&2
      exit 1
    fi
    n=$((n + 1))
    sleep 5
  done
}

namespace() {
  temporal operator namespace describe --namespace "$NAMESPACE" >/dev/null 2>&1 \
    || temporal operator namespace create --namespace "$NAMESPACE"
}

# Keyword, as the workflow upserts them (DbUpgradeWorkflowImpl's search attribute keys).
search_attribute() {
  temporal operator search-attribute list --namespace "$NAMESPACE" | grep -qw "$1" \
    || temporal operator search-attribute create --namespace "$NAMESPACE" --name "$1" --type Keyword
}

retry temporal operator cluster health
retry namespace
retry search_attribute OpsChainNamespace
retry search_attribute UpgradePhase
echo "namespace $NAMESPACE is ready with the search attributes OpsChainNamespace and UpgradePhase"
