// Command exec-wrapper runs a pod's `kubectl exec` command on this machine as the test harness says
// that pod would run it. kwok (patched by tools/kube/kwok-exec.patch) starts it as
// `exec-wrapper -- <argv...>` with the pod's identity in KWOK_POD_NAMESPACE, KWOK_POD_NAME and
// KWOK_CONTAINER, and the harness's exec broker at KWOK_EXEC_BROKER (http://127.0.0.1:<port>,
// testkit ExecBroker).
//
// It asks the broker for the plan (POST /plan), which gives the argv to run (the pod's PostgreSQL
// port, volumes and user mapped), extra environment, and the faults a test set: a delay before the
// start, stdout cut after N bytes with exit 0 reported, or an answer given without running
// anything. It runs the command with its stdin, stdout and stderr copied, tells the broker its
// pid (POST /started: the harness may stop it with SIGSTOP) and its end (POST /ended, answered
// once the test's after-exec hooks ran), and exits with the command's exit code, as the kubelet
// reports it.
//
// The command is not in the wrapper's process group, and a SIGKILLed wrapper does not kill it: as
// under a container runtime, an exec's process outlives the stream that started it (its stdin
// ends; its output goes nowhere).
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

type plan struct {
	ID          string   `json:"id"`
	Argv        []string `json:"argv"`
	Env         []string `json:"env"`
	Dir         string   `json:"dir"`
	DelayMillis int64    `json:"delayMillis"`
	CutAfter    int64    `json:"cutAfter"`
	Inline      bool     `json:"inline"`
	Stdout      []byte   `json:"stdout"`
	Stderr      []byte   `json:"stderr"`
	Exit        int      `json:"exit"`
}

func main() {
	argv := os.Args[1:]
	if len(argv) > 0 && argv[0] == "--" {
		argv = argv[1:]
	}
	if len(argv) == 0 {
		fail(127, "exec-wrapper: no command")
	}
	broker := os.Getenv("KWOK_EXEC_BROKER")
	p := plan{CutAfter: -1}
	if err := post(broker+"/plan", map[string]any{
		"namespace": os.Getenv("KWOK_POD_NAMESPACE"),
		"pod":       os.Getenv("KWOK_POD_NAME"),
		"container": os.Getenv("KWOK_CONTAINER"),
		"argv":      argv,
	}, &p); err != nil {
		fail(126, "exec-wrapper: no plan from the harness's exec broker: "+err.Error())
	}
	if p.DelayMillis > 0 {
		time.Sleep(time.Duration(p.DelayMillis) * time.Millisecond)
	}
	if p.Inline {
		os.Stderr.Write(p.Stderr)
		os.Stdout.Write(p.Stdout)
		end(broker, p.ID, p.Exit)
		os.Exit(p.Exit)
	}
	cmd := exec.Command(p.Argv[0], p.Argv[1:]...)
	cmd.Env = append(os.Environ(), p.Env...)
	cmd.Dir = p.Dir
	// Its own process group: a signal to the wrapper's group (kwok's cancel) does not reach it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		end(broker, p.ID, 127)
		fail(127, "exec-wrapper: "+err.Error())
	}
	post(broker+"/started", map[string]any{"id": p.ID, "pid": cmd.Process.Pid}, nil)
	go func() {
		io.Copy(stdin, os.Stdin)
		stdin.Close()
	}()
	var copies sync.WaitGroup
	copies.Add(1)
	go func() {
		defer copies.Done()
		io.Copy(os.Stderr, stderr)
	}()
	if p.CutAfter >= 0 {
		// The known `kubectl cp` failure: the stream ends early, yet the status says success.
		io.CopyN(os.Stdout, stdout, p.CutAfter)
		cmd.Process.Kill()
		end(broker, p.ID, 0)
		os.Exit(0)
	}
	io.Copy(os.Stdout, stdout)
	copies.Wait()
	code := 0
	if err := cmd.Wait(); err != nil {
		code = 1
		if exit, ok := err.(*exec.ExitError); ok {
			if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				code = 128 + int(ws.Signal())
			} else {
				code = exit.ExitCode()
			}
		}
	}
	end(broker, p.ID, code)
	os.Exit(code)
}

func end(broker, id string, code int) {
	post(broker+"/ended", map[string]any{"id": id, "exit": code}, nil)
}

func post(url string, body any, into any) error {
	b, _ := json.Marshal(body)
	resp, err := http.Post(url, "application/json", bytes.NewReader(b))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("%s: %d %s", url, resp.StatusCode, msg)
	}
	if into == nil {
		return nil
	}
	return json.NewDecoder(resp.Body).Decode(into)
}

func fail(code int, msg string) {
	fmt.Fprintln(os.Stderr, msg)
	os.Exit(code)
}
