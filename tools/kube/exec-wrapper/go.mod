// The harness's exec wrapper (main.go): the standard library only, so go.sum stays empty.
module opschain-db-upgrade/exec-wrapper

go 1.26
